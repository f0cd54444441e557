// @ts-check
// The documented entry points are the package's: src/entry-points.ts, read as the build reads it.
import { readRecordConstant } from './scripts/read-constant.js';

const ENTRY_POINTS = readRecordConstant(new URL('./src/entry-points.ts', import.meta.url), 'ENTRY_POINTS');

/** @type {Partial<import('typedoc').TypeDocOptions>} */
const config = {
  name: 'npuser',
  entryPoints: Object.values(ENTRY_POINTS),
  entryPointStrategy: 'resolve',
  out: 'docs/api',
  tsconfig: 'tsconfig.json',
  readme: 'none',
  excludeInternal: true,
  excludePrivate: true,
  excludeExternals: true,
  includeVersion: true,
  sort: ['source-order'],
  validation: {
    notExported: true,
    invalidLink: true,
    invalidPath: true,
    rewrittenLink: true,
    notDocumented: true,
    unusedMergeModuleWith: true,
  },
  treatWarningsAsErrors: true,
  disableSources: true,
  skipErrorChecking: true,
};

export default config;
