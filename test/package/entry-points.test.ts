import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import ts from 'typescript';
import { readRecordConstant } from '../../scripts/read-constant.js';
import { ENTRY_POINTS } from '../../src/entry-points.js';
import typedoc from '../../typedoc.config.js';
import { ROOT } from '../support/dist.js';

// One list of entry points (src/entry-points.ts) feeds tsup, vitest's aliases and
// typedoc.config.js; the exports map, the legacy fields and tsconfig's `paths` are
// JSON, written by hand, and must not drift from it.

type Conditions = Record<string, string>;
type ExportEntry = string | Record<string, Conditions>;

interface PackageJson {
  type?: string;
  main?: string;
  module?: string;
  types?: string;
  files?: string[];
  sideEffects?: boolean;
  exports: Record<string, ExportEntry>;
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
}

const pkg = readJson('package.json') as PackageJson;
/** tsconfig.json as TypeScript reads it (comments, `extends`, relative paths resolved). */
function compilerOptions(): ts.CompilerOptions {
  const file = join(ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(file, (path) => ts.sys.readFile(path));
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, file).options;
}
const subpaths = Object.keys(ENTRY_POINTS) as (keyof typeof ENTRY_POINTS)[];

/** The file stem tsup writes for a subpath: `.` → `index`, `./testing` → `testing/index`. */
function distStem(subpath: string): string {
  return subpath === '.' ? './dist/index' : `./dist/${subpath.slice(2)}/index`;
}

/** The exports entry one subpath must have: nested conditions, `types` first. */
function expectedExport(subpath: string): Record<string, Conditions> {
  const stem = distStem(subpath);
  return {
    import: { types: `${stem}.d.ts`, default: `${stem}.js` },
    require: { types: `${stem}.d.cts`, default: `${stem}.cjs` },
  };
}

/** Every file path named anywhere in the exports map. */
function exportTargets(entry: ExportEntry): string[] {
  if (typeof entry === 'string') return [entry];
  return Object.values(entry).flatMap((conditions) => Object.values(conditions));
}

describe('entry points', () => {
  it('lists the root entry and only existing source files', () => {
    expect(subpaths).toContain('.');
    for (const subpath of subpaths) {
      expect(subpath === '.' || /^\.\/[a-z][a-z0-9-]*(\/[a-z][a-z0-9-]*)*$/.test(subpath), subpath).toBe(true);
      expect(existsSync(join(ROOT, ENTRY_POINTS[subpath])), ENTRY_POINTS[subpath]).toBe(true);
    }
  });

  it('matches the package.json exports map, subpath for subpath', () => {
    const exported = Object.keys(pkg.exports).filter((subpath) => subpath !== './package.json');
    expect(exported.sort()).toEqual([...subpaths].sort());
    expect(pkg.exports['./package.json']).toBe('./package.json');
    for (const subpath of subpaths) {
      const entry = pkg.exports[subpath];
      expect(entry, subpath).toEqual(expectedExport(subpath));
      // Condition order matters to resolvers: `import` before `require`, `types` before `default`.
      if (typeof entry === 'string' || entry === undefined) throw new Error(`${subpath}: expected nested conditions`);
      expect(Object.keys(entry), subpath).toEqual(['import', 'require']);
      for (const conditions of Object.values(entry)) expect(Object.keys(conditions), subpath).toEqual(['types', 'default']);
    }
  });

  it('points the legacy top-level fields at the root entry', () => {
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.files).toEqual(['dist', 'bin']);
    expect(pkg.main).toBe('./dist/index.cjs');
    expect(pkg.module).toBe('./dist/index.js');
    expect(pkg.types).toBe('./dist/index.d.cts');
  });

  it('is read by typedoc.config.js, so every public subpath is documented', () => {
    // The reader sees what the compiler compiles: the same list as the import.
    expect(readRecordConstant(join(ROOT, 'src/entry-points.ts'), 'ENTRY_POINTS')).toEqual(ENTRY_POINTS);
    expect(typedoc.entryPoints).toEqual(Object.values(ENTRY_POINTS));
    expect(existsSync(join(ROOT, 'typedoc.json')), 'a typedoc.json would take precedence over typedoc.config.js').toBe(false);
    expect(typedoc.out).toBe('docs/api');
    expect(typedoc.treatWarningsAsErrors).toBe(true);
    expect(typedoc.excludeInternal).toBe(true);
    expect(typedoc.validation).toMatchObject({ notDocumented: true });
  });

  it('matches tsconfig paths, so `npuser/…` type-checks against the sources it names', () => {
    const paths = compilerOptions().paths ?? {};
    const expected = Object.fromEntries(
      Object.entries(ENTRY_POINTS).map(([subpath, source]) => [`npuser${subpath.slice(1)}`, [`./${source}`]]),
    );
    expect(paths).toEqual(expected);
  });

  it('names only files that the build wrote to dist/', () => {
    const targets = Object.values(pkg.exports).flatMap(exportTargets);
    for (const field of [pkg.main, pkg.module, pkg.types]) if (field !== undefined) targets.push(field);
    for (const target of targets) {
      expect(target.startsWith('./'), target).toBe(true);
      expect(existsSync(join(ROOT, target)), `${target} is missing: run npm run build`).toBe(true);
    }
  });
});
