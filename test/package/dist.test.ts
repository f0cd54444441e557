import { execFileSync } from 'node:child_process';
import { createRequire, isBuiltin } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it, expect, beforeAll } from 'vitest';
import { DIST, ROOT, assertBuilt, bareSpecifiers } from '../support/dist.js';

// These tests run against the built output (`npm test` builds first), not src/:
// what users load is what tsup wrote.

type RootModule = typeof import('npuser');
type TestingModule = typeof import('npuser/testing');

const requireCjs = createRequire(import.meta.url);

const SECRET = 'package test secret, at least 32 bytes long';
const EMAIL = 'ada@example.com';

/** Runtime dependencies the root entry may load; peers (ioredis, nodemailer) never. */
const ROOT_DEPENDENCIES = new Set(['lru-cache']);

interface Build {
  name: 'esm' | 'cjs';
  core: RootModule;
  testing: TestingModule;
}

const builds: Record<'esm' | 'cjs', Build> = {} as Record<'esm' | 'cjs', Build>;

beforeAll(async () => {
  assertBuilt(['index.js', 'index.cjs', 'testing/index.js', 'testing/index.cjs']);
  builds.esm = {
    name: 'esm',
    core: (await import(pathToFileURL(join(DIST, 'index.js')).href)) as RootModule,
    testing: (await import(pathToFileURL(join(DIST, 'testing/index.js')).href)) as TestingModule,
  };
  builds.cjs = {
    name: 'cjs',
    core: requireCjs(join(DIST, 'index.cjs')) as RootModule,
    testing: requireCjs(join(DIST, 'testing/index.cjs')) as TestingModule,
  };
});

function exportNames(mod: object): string[] {
  return Object.keys(mod)
    .filter((name) => name !== 'default' && name !== '__esModule')
    .sort();
}

/** The package name of a bare specifier: `@scope/name/x` → `@scope/name`, `name/x` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

describe('dist: ESM and CJS builds', () => {
  it('expose the same export names from the root entry', () => {
    const names = exportNames(builds.esm.core);
    expect(names).toEqual(exportNames(builds.cjs.core));
    for (const name of ['NpUser', 'NpUserError', 'isNpUserError', 'NP_USER_ERROR_CODES', 'memoryCodeStore', 'consoleMailer']) {
      expect(names).toContain(name);
    }
  });

  it('expose the same export names from npuser/testing', () => {
    const names = exportNames(builds.esm.testing);
    expect(names).toEqual(exportNames(builds.cjs.testing));
    for (const name of ['memoryMailer', 'runCodeStoreContract', 'codeStoreContractCases']) expect(names).toContain(name);
  });

  it('loads natively in Node as ESM with the same names as the CJS build', () => {
    // Vitest transforms what it imports; a child process shows what Node itself does.
    const script = `
      const core = await import(${JSON.stringify(pathToFileURL(join(DIST, 'index.js')).href)});
      const testing = await import(${JSON.stringify(pathToFileURL(join(DIST, 'testing/index.js')).href)});
      console.log(JSON.stringify({ core: Object.keys(core).sort(), testing: Object.keys(testing).sort() }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: ROOT });
    const names = JSON.parse(out) as { core: string[]; testing: string[] };
    expect(names.core).toEqual(exportNames(builds.cjs.core));
    expect(names.testing).toEqual(exportNames(builds.cjs.testing));
  });

  for (const name of ['esm', 'cjs'] as const) {
    it(`runs requestCode → verifyCode → validateToken on the ${name} build`, async () => {
      const { core, testing } = builds[name];
      const mailer = testing.memoryMailer();
      const np = new core.NpUser({ secret: SECRET, mailer, appName: 'Package test' });

      const { expiresAt } = await np.requestCode(EMAIL);
      expect(expiresAt).toBeInstanceOf(Date);
      const code = mailer.lastCodeFor(EMAIL);
      expect(code).toMatch(/^[0-9]{6}$/);

      const verified = await np.verifyCode(EMAIL, code!);
      expect(verified.email).toBe(EMAIL);
      const validated = await np.validateToken(verified.token);
      expect(validated.subject).toBe(verified.subject);

      // A code works once.
      const again = await np.verifyCode(EMAIL, code!).catch((err: unknown) => err);
      expect(core.isNpUserError(again, 'ERR_NPUSER_INVALID_CODE')).toBe(true);
    });
  }

  it('agrees on subjects and tokens between the builds', async () => {
    const subjects: string[] = [];
    for (const { core, testing } of [builds.esm, builds.cjs]) {
      const mailer = testing.memoryMailer();
      const np = new core.NpUser({ secret: SECRET, mailer });
      await np.requestCode(EMAIL);
      subjects.push((await np.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!)).subject);
    }
    expect(subjects[0]).toBe(subjects[1]);
  });

  it('recognises an error thrown by the CJS build with the ESM isNpUserError (Symbol.for brand)', async () => {
    const np = new builds.cjs.core.NpUser({ secret: SECRET, mailer: builds.cjs.testing.memoryMailer() });
    const err = await np.validateToken('not.a.token').catch((error: unknown) => error);
    // Two copies of the class: instanceof cannot work across them, the brand must.
    expect(err).toBeInstanceOf(builds.cjs.core.NpUserError);
    expect(err).not.toBeInstanceOf(builds.esm.core.NpUserError);
    expect(builds.esm.core.isNpUserError(err)).toBe(true);
    expect(builds.esm.core.isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
    expect(builds.esm.core.isNpUserError(err, 'ERR_NPUSER_INVALID_CODE')).toBe(false);

    const fromEsm = new builds.esm.core.NpUserError('ERR_NPUSER_RATE_LIMITED', { retryAfterSeconds: 5 });
    expect(builds.cjs.core.isNpUserError(fromEsm, 'ERR_NPUSER_RATE_LIMITED')).toBe(true);
    expect(builds.esm.core.isNpUserError(new Error('plain'))).toBe(false);
  });

  it('root entry loads nothing but lru-cache and Node builtins', () => {
    for (const file of ['index.js', 'index.cjs']) {
      const specifiers = [...bareSpecifiers(join(DIST, file))];
      expect(specifiers.length, file).toBeGreaterThan(0);
      const foreign = specifiers.filter((s) => !isBuiltin(s) && !ROOT_DEPENDENCIES.has(packageName(s)));
      expect(foreign, `${file} loads more than its dependencies`).toEqual([]);
    }
  });

  it('testing entry loads no test framework, only builtins and the runtime dependencies', () => {
    for (const file of ['testing/index.js', 'testing/index.cjs']) {
      const specifiers = [...bareSpecifiers(join(DIST, file))];
      const foreign = specifiers.filter((s) => !isBuiltin(s) && !ROOT_DEPENDENCIES.has(packageName(s)));
      expect(foreign, `${file}: the runner is injected (TestRunner), never imported`).toEqual([]);
    }
  });
});
