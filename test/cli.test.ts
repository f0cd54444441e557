import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { NpUser, type SigningKeyInput } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET } from './support/helpers.js';

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const USAGE_LINE = 'Usage: npuser keys generate [--alg EdDSA|ES256] [--kid <id>]';
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

  it('refuses an empty or over-long --kid in its own words', async () => {
    for (const kid of ['', 'k'.repeat(129)]) {
      const result = await npuser('keys', 'generate', '--kid', kid);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.split('\n', 2)).toEqual(['npuser: --kid must be 1–128 characters', USAGE_LINE]);
    }
  });
});

/** The commands the top-level help lists, as the words that run them. */
function listedCommands(help: string): string[] {
  const section = help.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return section.split('\n').map((line) =>
    line
      .trim()
      .split(/\s{2,}/)[0]!
      .replace(/ \[.*$/, ''),
  );
}

describe('npuser: help and version', () => {
  it.each([['--help'], ['-h'], ['help']])('`npuser %s` prints the usage and every command on stdout', async (arg) => {
    const { code, stdout, stderr } = await npuser(arg);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Usage: npuser <command> \[options\]\n/);
    expect(listedCommands(stdout)).toEqual(['serve', 'keys create', 'keys generate', 'help']);
    expect(stdout).toContain('-v, --version');
  });

  it.each([['--version'], ['-v']])('`npuser %s` prints the version from package.json', async (arg) => {
    expect(await npuser(arg)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('answers --help, -h and `npuser help <command>` alike for every listed command', async () => {
    const commands = listedCommands((await npuser('--help')).stdout);
    expect(commands.length).toBeGreaterThan(1);
    for (const command of commands) {
      const words = command.split(' ');
      const answers = await Promise.all([npuser(...words, '--help'), npuser(...words, '-h'), npuser('help', ...words)]);
      for (const answer of answers) {
        expect(answer.code, command).toBe(0);
        expect(answer.stderr, command).toBe('');
        expect(answer.stdout, command).toMatch(new RegExp(`^Usage: npuser ${command}\\b`));
        expect(answer.stdout, command).toContain('-h, --help');
      }
      expect(answers[1].stdout).toBe(answers[0].stdout);
      expect(answers[2].stdout).toBe(answers[0].stdout);
    }
  });

  it('documents every option of keys generate', async () => {
    const { stdout } = await npuser('help', 'keys', 'generate');
    expect(stdout.split('\n', 1)[0]).toBe(USAGE_LINE);
    expect(stdout).toMatch(/--alg EdDSA\|ES256 +Ed25519 \(the default\) or P-256/);
    expect(stdout).toMatch(/--kid <id> +the key id/);
    expect(stdout).toContain('process.env.NPUSER_SIGNING_KEY');
  });

  it('lists a group of commands: `npuser keys --help`, `npuser help keys`', async () => {
    const [flag, word] = await Promise.all([npuser('keys', '--help'), npuser('help', 'keys')]);
    expect(flag.code).toBe(0);
    expect(flag.stdout).toMatch(/^Usage: npuser keys <command> \[options\]\n/);
    expect(listedCommands(flag.stdout)).toEqual(['keys create', 'keys generate']);
    expect(word).toEqual(flag);
  });
});

describe('npuser: misuse', () => {
  // Each answer: exit code 2, nothing on stdout, the problem then the usage on stderr.
  it.each([
    [[], 'npuser: no command given', 'Usage: npuser <command> [options]'],
    [['serve-me'], "npuser: unknown command 'serve-me'", 'Usage: npuser <command> [options]'],
    [['help', 'serve-me'], "npuser: unknown command 'serve-me'", 'Usage: npuser <command> [options]'],
    [['--bogus'], "npuser: unknown option '--bogus'", 'Usage: npuser <command> [options]'],
    [['keys'], "npuser: 'keys' needs a command", 'Usage: npuser keys <command> [options]'],
    [['keys', 'bogus'], "npuser: unknown command 'keys bogus'", 'Usage: npuser keys <command> [options]'],
    [['keys', '-v'], "npuser: unknown option '-v'", 'Usage: npuser keys <command> [options]'],
    [['keys', 'generate', '--bogus'], "npuser: unknown option '--bogus'", USAGE_LINE],
    [['keys', 'generate', '-x'], "npuser: unknown option '-x'", USAGE_LINE],
    [['keys', 'generate', 'extra'], "npuser: unexpected argument 'extra'", USAGE_LINE],
    [['keys', 'generate', '--alg'], "npuser: option '--alg' needs a value", USAGE_LINE],
    // The forgotten id is reported, not `--alg` taken as the id.
    [['keys', 'generate', '--kid', '--alg', 'ES256'], "npuser: option '--kid' needs a value", USAGE_LINE],
    [['keys', 'generate', '--alg', 'HS256'], 'npuser: unknown --alg HS256: use EdDSA or ES256', USAGE_LINE],
  ])('npuser %j', async (args, problem, usage) => {
    const result = await npuser(...args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const [first, second] = result.stderr.split('\n');
    expect(first).toBe(problem);
    expect(second).toBe(usage);
  });
});
