/**
 * The package's public entry points: one list read by tsup, typedoc and the
 * packaging test, so the exports map cannot drift from what is built.
 *
 * Each key is the subpath after `npuser` (`.` is the root) and each value the
 * source file that implements it.
 *
 * @internal
 */
export const ENTRY_POINTS = {
  '.': 'src/index.ts',
  './testing': 'src/testing/index.ts',
  './mailers/nodemailer': 'src/mailers/nodemailer.ts',
  './stores/redis': 'src/stores/redis.ts',
  './http': 'src/http/index.ts',
  './client': 'src/client/index.ts',
} as const;
