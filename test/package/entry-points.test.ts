import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { ENTRY_POINTS } from '../../src/entry-points.js';
import { ROOT } from '../support/dist.js';

// One list of entry points (src/entry-points.ts) feeds tsup; the exports map,
// the legacy fields and typedoc.json are written by hand and must not drift from it.

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

interface TypedocJson {
  entryPoints: string[];
  out?: string;
  treatWarningsAsErrors?: boolean;
  excludeInternal?: boolean;
  validation?: { notDocumented?: boolean };
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
}

const pkg = readJson('package.json') as PackageJson;
const typedoc = readJson('typedoc.json') as TypedocJson;
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
    expect(pkg.files).toEqual(['dist']);
    expect(pkg.main).toBe('./dist/index.cjs');
    expect(pkg.module).toBe('./dist/index.js');
    expect(pkg.types).toBe('./dist/index.d.cts');
  });

  it('matches the typedoc entry points, so every public subpath is documented', () => {
    expect([...typedoc.entryPoints].sort()).toEqual(Object.values(ENTRY_POINTS).sort());
    expect(typedoc.out).toBe('docs/api');
    expect(typedoc.treatWarningsAsErrors).toBe(true);
    expect(typedoc.excludeInternal).toBe(true);
    expect(typedoc.validation?.notDocumented).toBe(true);
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
