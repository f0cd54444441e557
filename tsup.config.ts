import { defineConfig } from 'tsup';
import { ENTRY_POINTS } from './src/entry-points.js';

// `./testing` → `testing/index`, `.` → `index`: the dist layout the exports map names.
const entry = Object.fromEntries(
  Object.entries(ENTRY_POINTS).map(([subpath, source]) => [subpath === '.' ? 'index' : `${subpath.slice(2)}/index`, source]),
);

const shared = {
  target: 'node20',
  platform: 'node',
  // No source maps. The output is unminified, names and `// src/…` markers intact, so
  // stack traces and debuggers read it as it is; maps embedding every source were 600 of
  // the 978 kB unpacked, and maps without them would point at src/, which is not shipped.
  sourcemap: false,
  treeshake: true,
} as const;

export default defineConfig([
  {
    ...shared,
    // The `npuser` command (bin/npuser.js loads dist/cli.js) is built with the ES modules,
    // so `npuser serve`, which cli.js imports only when it runs, shares their chunks.
    entry: { ...entry, cli: 'src/cli.ts' },
    format: ['esm'],
    dts: { entry },
    // Shared chunks keep one copy of NpUserError across entry points.
    splitting: true,
    clean: true,
  },
  {
    ...shared,
    entry,
    format: ['cjs'],
    dts: { entry },
    splitting: true,
  },
]);
