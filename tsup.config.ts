import { defineConfig } from 'tsup';
import { ENTRY_POINTS } from './src/entry-points.js';

// `./testing` → `testing/index`, `.` → `index`: the dist layout the exports map names.
const entry = Object.fromEntries(
  Object.entries(ENTRY_POINTS).map(([subpath, source]) => [
    subpath === '.' ? 'index' : `${subpath.slice(2)}/index`,
    source,
  ]),
);

export default defineConfig({
  entry,
  format: ['esm', 'cjs'],
  dts: true,
  // Shared chunks keep one copy of NpUserError across entry points in each format.
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  treeshake: true,
});
