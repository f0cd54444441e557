import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, assertBuilt } from '../support/dist.js';
import { ENTRY_POINTS } from '../../src/entry-points.js';

// `npm run check:packaging` runs scripts/check-packaging.js after the build. These tests run
// the script on a copy of the built package, so the repository's own files are never at stake.

const run = promisify(execFile);
const script = join(ROOT, 'scripts', 'check-packaging.js');

interface Manifest {
  name: string;
  version: string;
  main?: string;
  scripts: Record<string, string>;
}

const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest;
/** The name `npm pack` gives the tarball, and so the name a user's own tarball has. */
const tarballName = `${manifest.name}-${manifest.version}.tgz`;
const USERS_TARBALL = 'the tarball the user packed and means to keep';

// Nested npm must see a user's environment, not the npm_* variables of `npm test`.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') && name !== 'NODE_OPTIONS'),
);

const copies: string[] = [];

/** A copy of the built package, with the user's own tarball beside its package.json. */
async function packageCopy(edit: (m: Manifest) => Manifest = (m) => m): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'npuser-check-copy-'));
  copies.push(dir);
  await cp(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  for (const file of ['README.md', 'LICENSE']) await cp(join(ROOT, file), join(dir, file));
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(edit(manifest), null, 2)}\n`);
  await writeFile(join(dir, tarballName), USERS_TARBALL);
  return dir;
}

async function check(dir: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [script, dir], { env, timeout: 90_000, encoding: 'utf8' });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

beforeAll(() => {
  assertBuilt(['index.js', 'index.d.ts', 'cli.js']);
});

afterEach(async () => {
  await Promise.all(copies.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npm run check:packaging', () => {
  it('runs the script, never attw --pack', () => {
    const command = manifest.scripts['check:packaging'] ?? '';
    expect(command).toContain('node scripts/check-packaging.js');
    expect(command).not.toMatch(/--pack\b|-P\b/);
  });

  // Regression: `attw --pack .` packed into the package directory and deleted
  // <name>-<version>.tgz afterwards, taking the user's own tarball with it.
  it('passes publint and attw and leaves a tarball of the same name untouched', async () => {
    const dir = await packageCopy();
    const { code, output } = await check(dir);
    expect(code, output).toBe(0);
    expect(output).toContain('All good!'); // publint
    // attw ran on every entry point (its exit code, checked above, says it found no problem);
    // it prints a table or a list depending on the terminal, so only the names are looked for.
    for (const subpath of Object.keys(ENTRY_POINTS)) expect(output).toContain(`"npuser${subpath.slice(1)}"`);
    expect(await readFile(join(dir, tarballName), 'utf8')).toBe(USERS_TARBALL);
    expect((await readdir(dir)).sort()).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'package.json', tarballName].sort());
  }, 120_000);

  it('fails on a broken package, and still leaves the tarball untouched', async () => {
    const dir = await packageCopy((m) => ({ ...m, main: './dist/missing.cjs' }));
    const { code, output } = await check(dir);
    expect(code, output).toBe(1);
    expect(output).toMatch(/missing\.cjs/);
    expect(await readFile(join(dir, tarballName), 'utf8')).toBe(USERS_TARBALL);
  }, 120_000);
});
