import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ROOT, assertBuilt } from '../support/dist.js';

// Installs the packed tarball into an empty project and uses it the way a user
// would: Node's own ESM and CJS loaders, and tsc under nodenext. `npm test`
// builds dist/ first; dependencies come from the npm cache that `npm ci` filled.

const run = promisify(execFile);
const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');

const SECRET = 'pack test secret, at least 32 bytes long!!';

/** What the tarball may hold besides dist/ (npm adds these when they exist). */
// bin/npuser.js: the command's two-line launcher for dist/cli.js.
const ALLOWED_TOP_LEVEL = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/npuser.js']);

/**
 * What the unpacked package may weigh. Without source maps it is about 390 kB; the maps
 * tsup used to write (every source embedded) took it to 978 kB.
 */
// ESM, CommonJS and types (twice: .d.ts and .d.cts) for six entry points, readable and
// unminified, about 0.9 MB; source maps, which carried every source, were 600 kB of the core alone
// before they were dropped. The ceiling catches maps or sources coming back, not growth by a file.
const MAX_UNPACKED_BYTES = 1_100_000;

interface PackResult {
  filename: string;
  unpackedSize: number;
  files: { path: string }[];
}

interface Output {
  stdout: string;
  stderr: string;
}

// `npm test` exports npm_config_*, npm_package_* and friends describing this repo;
// the nested npm and node processes must see a plain user environment instead.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') && name !== 'NODE_OPTIONS'),
);

async function exec(file: string, args: string[], cwd: string, timeout = 60_000): Promise<Output> {
  try {
    return await run(file, args, { cwd, env, timeout, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & Partial<Output>;
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

/** Run tsc on `files` in the project; resolves with the exit code and output instead of throwing. */
async function typecheck(cwd: string, files: string[]): Promise<{ code: number; output: string }> {
  const args = ['--module', 'nodenext', '--moduleResolution', 'nodenext', '--strict', '--noEmit', ...files];
  try {
    const { stdout, stderr } = await run(tsc, args, { cwd, env, timeout: 60_000, encoding: 'utf8' });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as Error & Partial<Output> & { code?: unknown };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

let tmp = '';
let project = '';
let packed: PackResult;

beforeAll(async () => {
  assertBuilt(['index.js']);
  tmp = await mkdtemp(join(tmpdir(), 'npuser-pack-'));
  const { stdout } = await exec('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT);
  const results = JSON.parse(stdout) as PackResult[];
  if (results.length !== 1 || results[0] === undefined) throw new Error(`npm pack: unexpected output ${stdout}`);
  packed = results[0];

  project = join(tmp, 'project');
  await mkdir(project);
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'npuser-pack-consumer', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  await exec(
    'npm',
    ['install', join(tmp, packed.filename), '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'],
    project,
    90_000,
  );
}, 120_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// The same sign-in, written once for each module system.
const FLOW = `
  const mailer = memoryMailer();
  const np = new NpUser({ secret: ${JSON.stringify(SECRET)}, mailer });
  await np.requestCode('ada@example.com');
  const code = mailer.lastCodeFor('ada@example.com');
  const { token, subject } = await np.verifyCode('ada@example.com', code);
  const checked = await np.validateToken(token);
  if (checked.subject !== subject) throw new Error('subject mismatch');
  const bad = await np.validateToken('x.y.z').catch((err) => err);
  if (!isNpUserError(bad, 'ERR_NPUSER_INVALID_TOKEN')) throw new Error('expected ERR_NPUSER_INVALID_TOKEN');
  console.log(JSON.stringify({ ok: true, subject }));
`;

describe('npm pack', () => {
  it('ships only dist/, the command launcher and the package documents', () => {
    const paths = packed.files.map((f) => f.path);
    const stray = paths.filter((p) => !p.startsWith('dist/') && !ALLOWED_TOP_LEVEL.has(p));
    expect(stray, 'files outside dist/ in the tarball').toEqual([]);
    expect(paths).toContain('package.json');
    expect(paths).toContain('LICENSE');
    for (const file of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'testing/index.js', 'testing/index.cjs']) {
      expect(paths).toContain(`dist/${file}`);
    }
    expect(paths.some((p) => p.startsWith('src/') || p.startsWith('test/'))).toBe(false);
  });

  it('ships no source maps and no reference to one', async () => {
    // The build is readable as it is; a map without src/ beside it would only make
    // bundlers and debuggers warn about sources they cannot find.
    const paths = packed.files.map((f) => f.path);
    expect(paths.filter((p) => p.endsWith('.map'))).toEqual([]);
    const installed = join(project, 'node_modules', 'npuser');
    for (const path of paths.filter((p) => /\.[cm]?js$/.test(p))) {
      expect(await readFile(join(installed, path), 'utf8'), path).not.toMatch(/[#@] sourceMappingURL=/);
    }
    expect(packed.unpackedSize).toBeLessThan(MAX_UNPACKED_BYTES);
  });

  it('ships the repository, homepage and bugs links the registry page shows', async () => {
    const manifest = JSON.parse(await readFile(join(project, 'node_modules', 'npuser', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      repository: { type: 'git', url: 'git+https://github.com/npuserauth/npuser.git' },
      homepage: 'https://github.com/npuserauth/npuser#readme',
      bugs: { url: 'https://github.com/npuserauth/npuser/issues' },
    });
  });

  it('works from an installed tarball through Node’s ESM loader', async () => {
    const script = `
      import { NpUser, isNpUserError } from 'npuser';
      import { memoryMailer } from 'npuser/testing';
      ${FLOW}`;
    const { stdout, stderr } = await exec(process.execPath, ['--input-type=module', '-e', script], project);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true });
    // No ExperimentalWarning or similar for the user to see.
    expect(stderr).toBe('');
  }, 30_000);

  it('works from an installed tarball through require()', async () => {
    const script = `
      const { NpUser, isNpUserError } = require('npuser');
      const { memoryMailer } = require('npuser/testing');
      (async () => { ${FLOW} })().catch((err) => { console.error(err); process.exit(1); });`;
    const { stdout, stderr } = await exec(process.execPath, ['-e', script], project);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true });
    expect(stderr).toBe('');
  }, 30_000);

  it('type-checks as .mts and .cts under nodenext, and reports a type error', async () => {
    await writeFile(
      join(project, 'consumer.mts'),
      `import { NpUser, isNpUserError, type NpUserOptions } from 'npuser';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';

const mailer: MemoryMailer = memoryMailer();
const options: NpUserOptions = { secret: ${JSON.stringify(SECRET)}, mailer, codeLength: 8 };
const np = new NpUser(options);

export async function signIn(email: string): Promise<string> {
  await np.requestCode(email, { clientKey: '203.0.113.7' });
  const { token } = await np.verifyCode(email, mailer.lastCodeFor(email) ?? '');
  try {
    const { subject, expiresAt }: { subject: string; expiresAt: Date } = await np.validateToken(token);
    return subject + expiresAt.toISOString();
  } catch (err) {
    if (isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')) return err.code;
    throw err;
  }
}
`,
    );
    await writeFile(
      join(project, 'consumer.cts'),
      `import npuser = require('npuser');
import testing = require('npuser/testing');

const mailer = testing.memoryMailer();
const options: npuser.NpUserOptions = { secret: ${JSON.stringify(SECRET)}, mailer };
const np: npuser.NpUser = new npuser.NpUser(options);

export async function signIn(email: string): Promise<string> {
  await np.requestCode(email);
  const { token } = await np.verifyCode(email, mailer.lastCodeFor(email) ?? '');
  return (await np.validateToken(token)).subject;
}
`,
    );
    const good = await typecheck(project, ['consumer.mts', 'consumer.cts']);
    expect(good.output).toBe('');
    expect(good.code).toBe(0);

    // The check must be able to fail: a wrong option type, found through the package's own types.
    await writeFile(
      join(project, 'wrong.mts'),
      `import { NpUser, type NpUserOptions } from 'npuser';
const options: NpUserOptions = { secret: ${JSON.stringify(SECRET)}, codeLength: '6' };
export const np = new NpUser(options);
`,
    );
    await writeFile(
      join(project, 'wrong.cts'),
      `import npuser = require('npuser');
export const np = new npuser.NpUser({ secret: 42 });
`,
    );
    const bad = await typecheck(project, ['wrong.mts', 'wrong.cts']);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/wrong\.mts\(2,\d+\): error TS2322/);
    expect(bad.output).toMatch(/wrong\.cts\(2,\d+\): error TS2322/);
    // Not a resolution failure, which would also fail the check but prove nothing.
    expect(bad.output).not.toMatch(/TS2307|TS7016|TS1479/);
  }, 60_000);
});
