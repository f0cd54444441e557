import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { ENTRY_POINTS } from './src/entry-points.js';

// `npuser`, `npuser/testing`, … resolve to their sources, from the one list of entry points.
// Exact matches (regular expressions), so `npuser` never swallows `npuser/testing`.
const alias = Object.entries(ENTRY_POINTS).map(([subpath, source]) => ({
  find: new RegExp(`^npuser${subpath === '.' ? '' : subpath.slice(1).replace(/\//g, '\\/')}$`),
  replacement: fileURLToPath(new URL(`./${source}`, import.meta.url)),
}));

// The token suite, run a second time with the jose-based reference verifier in
// place of npuser's own (test/support/jose-token.ts): both must pass it alike.
const TOKEN_SUITE = ['test/tokens/**/*.test.ts'];
// What only npuser's verifier has (its cache), or compares the two itself.
const NATIVE_ONLY = ['test/tokens/native-verifier.test.ts', 'test/tokens/verifier-equivalence.test.ts'];
const joseReference = { find: /^\.\/token\.js$/, replacement: fileURLToPath(new URL('./test/support/jose-token.ts', import.meta.url)) };

export default defineConfig({
  resolve: { alias },
  test: {
    // The packaging and browser tests build, pack and launch processes.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    allowOnly: false,
    projects: [
      { extends: true, test: { name: 'npuser', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        resolve: { alias: [joseReference] },
        test: { name: 'tokens: jose reference', include: TOKEN_SUITE, exclude: NATIVE_ONLY },
      },
    ],
  },
});
