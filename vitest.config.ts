import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { ENTRY_POINTS } from './src/entry-points.js';

// `npuser`, `npuser/testing`, … resolve to their sources, from the one list of entry points.
// Exact matches (regular expressions), so `npuser` never swallows `npuser/testing`.
const alias = Object.entries(ENTRY_POINTS).map(([subpath, source]) => ({
  find: new RegExp(`^npuser${subpath === '.' ? '' : subpath.slice(1).replace(/\//g, '\\/')}$`),
  replacement: fileURLToPath(new URL(`./${source}`, import.meta.url)),
}));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/**/*.test.ts'],
    // The packaging and browser tests build, pack and launch processes.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    allowOnly: false,
  },
});
