import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { NpUser, type SigningKeyInput } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET } from './helpers.js';

const run = promisify(execFile);
// The built command, as `npx npuser` runs it (npm test builds before the suite).
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

async function npuser(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npuser keys generate', () => {
  it.each(['EdDSA', 'ES256'])('prints a %s key pair that NpUser signs with and jwks() publishes', async (alg) => {
    const { code, stdout } = await npuser('keys', 'generate', '--alg', alg);
    expect(code).toBe(0);
    const pair = JSON.parse(stdout) as { privateKey: SigningKeyInput & { d: string; kid: string }; publicKey: { kid: string } };
    expect(pair.privateKey).toMatchObject({ alg, use: 'sig' });
    expect(pair.privateKey.d).toBeTypeOf('string');
    expect(pair.publicKey).not.toHaveProperty('d');
    // Loaded the way the README shows: one line of JSON from the environment.
    const fromEnv = JSON.parse(JSON.stringify(pair.privateKey)) as SigningKeyInput;
    const mailer = memoryMailer();
    const np = new NpUser({ secret: SECRET, mailer, signingKeys: [fromEnv] });
    expect(np.jwks().keys).toEqual([pair.publicKey]);
    await np.requestCode(EMAIL);
    const { token } = await np.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    await expect(np.validateToken(token)).resolves.toBeDefined();
  });

  it('defaults to EdDSA and honours --kid', async () => {
    const { stdout } = await npuser('keys', 'generate', '--kid', '2026-11');
    expect(JSON.parse(stdout)).toMatchObject({ privateKey: { alg: 'EdDSA', kid: '2026-11' }, publicKey: { kid: '2026-11' } });
  });

  it('prints a new key each time', async () => {
    const [a, b] = await Promise.all([npuser('keys', 'generate'), npuser('keys', 'generate')]);
    expect(a.stdout).not.toBe(b.stdout);
  });

  it('refuses unknown algorithms and commands with usage and exit code 2', async () => {
    for (const args of [['keys', 'generate', '--alg', 'HS256'], ['keys'], ['serve-me'], ['keys', 'generate', '--bogus']]) {
      const result = await npuser(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/npuser/);
    }
    expect((await npuser('--help')).stdout).toMatch(/Usage: npuser keys generate/);
  });

  it('refuses an empty or over-long --kid in its own words', async () => {
    for (const kid of ['', 'k'.repeat(129)]) {
      const result = await npuser('keys', 'generate', '--kid', kid);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('npuser: --kid must be 1–128 characters\n');
    }
  });
});
