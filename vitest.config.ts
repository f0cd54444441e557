import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  resolve: {
    alias: {
      'npuser/testing': fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      npuser: fileURLToPath(new URL('./src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The packaging and browser tests build, pack and launch processes.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    allowOnly: false,
  },
});
