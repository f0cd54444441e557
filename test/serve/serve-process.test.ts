import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpUserClient } from 'npuser/client';
import { assertBuilt } from '../support/dist.js';
import { REDIS_URL, connect, deleteKeys, probeRedis, testPrefix } from '../support/redis.js';
import { CLI, ServeProcess } from '../support/serve-process.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

// The real thing: `npuser serve` (the built command) as processes on
// 127.0.0.1, on Redis and a real SMTP capture, driven by NpUserClient.

const run = promisify(execFile);
const redisUp = await probeRedis();
const EMAIL = 'ada@example.com';

async function createKey(app: string): Promise<{ key: string; entry: { id: string; sha256: string } }> {
  const { stdout } = await run(process.execPath, [CLI, 'keys', 'create', '--app', app, '--json']);
  return JSON.parse(stdout) as { key: string; entry: { id: string; sha256: string } };
}

function codeIn(text: string): string {
  const match = /\b([0-9]{3}) ?([0-9]{3})\b/.exec(text);
  if (match === null) throw new Error('no code in the message');
  return `${match[1]!}${match[2]!}`;
}

describe.skipIf(!redisUp)('npuser serve on Redis and SMTP', () => {
  const prefix = testPrefix('serve');
  const folder = mkdtempSync(join(tmpdir(), 'npuser-serve-'));
  const configPath = join(folder, 'npuser.json');
  let smtp: TestSmtpServer;
  let blog: { key: string; entry: { id: string; sha256: string } };
  let shop: { key: string; entry: { id: string; sha256: string } };
  const env = { BLOG_SECRET: 'blog secret for the serve tests, 32+ bytes', SHOP_SECRET: 'shop secret for the serve tests, 32+ bytes' };
  const running: ServeProcess[] = [];

  const start = async (extraEnv: Record<string, string> = {}) => {
    const server = new ServeProcess(['--config', configPath], { ...env, ...extraEnv });
    running.push(server);
    return { server, baseUrl: await server.listening() };
  };
  const client = (baseUrl: string, apiKey = blog.key) => new NpUserClient({ baseUrl, apiKey, retries: 0 });
  const mailsTo = (address: string) => smtp.received.filter((mail) => mail.rcptTo.includes(address));

  beforeAll(async () => {
    assertBuilt(['cli.js', 'client/index.js']);
    smtp = await startSmtpServer({ plain: true });
    [blog, shop] = await Promise.all([createKey('blog'), createKey('shop')]);
    writeFileSync(
      configPath,
      JSON.stringify({
        apps: [
          { id: 'blog', name: 'My blog', secretEnv: 'BLOG_SECRET', from: 'My blog <no-reply@blog.example>', apiKeys: [blog.entry] },
          { id: 'shop', name: 'The shop', secretEnv: 'SHOP_SECRET', from: 'Shop <no-reply@shop.example>', apiKeys: [shop.entry] },
        ],
        store: { redis: REDIS_URL, keyPrefix: prefix },
        mailer: { smtp: `smtp://127.0.0.1:${smtp.port}` },
      }),
    );
  });

  afterAll(async () => {
    await Promise.all(running.map((server) => server.stop()));
    await smtp.close();
    const redis = await connect();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    rmSync(folder, { recursive: true, force: true });
  });

  it('signs a user in through NpUserClient: the code by SMTP, the token validated and revoked', async () => {
    const { server, baseUrl } = await start();
    const auth = client(baseUrl);
    const email = `flow-${prefix.slice(-13, -1)}@example.com`;
    const { expiresAt } = await auth.requestCode(email, { clientKey: '203.0.113.7' });
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now());
    const [mail] = mailsTo(email);
    expect(mail?.parsed.from?.value[0]).toMatchObject({ name: 'My blog', address: 'no-reply@blog.example' });
    const code = codeIn(mail!.parsed.text ?? '');
    await expect(auth.verifyCode(email, '000000')).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    const { token, subject } = await auth.verifyCode(email, code, { clientKey: '203.0.113.7' });
    await expect(auth.validateToken(token)).resolves.toMatchObject({ subject });
    await expect(client(baseUrl, shop.key).validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    await auth.revokeToken(token);
    await expect(auth.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    await expect(client(baseUrl, `npu_sk_${'A'.repeat(43)}`).validateToken(token)).rejects.toMatchObject({
      code: 'ERR_NPUSER_UNAUTHENTICATED',
    });

    // One JSON line per request, none with an address, a code, a token or a key.
    const access = server.lines().filter((line) => 'requestId' in line);
    expect(access.length).toBeGreaterThanOrEqual(7);
    for (const line of server.stdout.split('\n')) {
      for (const secret of [email, code, token, blog.key, shop.key, '203.0.113.7']) expect(line).not.toContain(secret);
    }
    expect(access.map((line) => line.route)).toContain('/v1/verify-code');
  });

  it('shares codes, attempt counters and limits between two processes on one Redis', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const viaA = client(a.baseUrl);
    const viaB = client(b.baseUrl);
    const email = `shared-${prefix.slice(-13, -1)}@example.com`;
    await viaA.requestCode(email);
    await expect(viaB.requestCode(email)).rejects.toMatchObject({ code: 'ERR_NPUSER_RATE_LIMITED' });
    const code = codeIn(mailsTo(email)[0]!.parsed.text ?? '');
    // Four wrong tries on A, the fifth on B: one counter, so the code is burned.
    for (let i = 0; i < 4; i += 1)
      await expect(viaA.verifyCode(email, '000000')).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    await expect(viaB.verifyCode(email, '000000')).rejects.toMatchObject({ code: 'ERR_NPUSER_TOO_MANY_ATTEMPTS' });
    await expect(viaA.verifyCode(email, code)).rejects.toMatchObject({ code: 'ERR_NPUSER_TOO_MANY_ATTEMPTS' });

    const other = `other-${prefix.slice(-13, -1)}@example.com`;
    await viaB.requestCode(other);
    const { token } = await viaA.verifyCode(other, codeIn(mailsTo(other)[0]!.parsed.text ?? ''));
    await expect(viaB.validateToken(token)).resolves.toBeDefined();
    await viaB.revokeToken(token);
    await expect(viaA.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
  });

  it('on SIGTERM finishes requests in flight, refuses new ones and exits 0', async () => {
    const { server, baseUrl } = await start();
    const { port } = new URL(baseUrl);
    const email = `drain-${prefix.slice(-13, -1)}@example.com`;
    const body = JSON.stringify({ email });
    // A request whose body is still on its way when SIGTERM arrives: in flight.
    let resolveAnswer: (answer: { status: number; text: string }) => void = () => undefined;
    const answered = new Promise<{ status: number; text: string }>((resolve) => (resolveAnswer = resolve));
    const inFlight = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/request-code',
        headers: {
          authorization: `Bearer ${blog.key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          expect: '100-continue',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          resolveAnswer({ status: res.statusCode ?? 0, text });
        });
      },
    );
    // The server answers `100 Continue` once it has parsed the headers and taken the request in:
    // from then on the request is in flight, whatever the load on the machine.
    inFlight.flushHeaders();
    await new Promise((resolve) => inFlight.once('continue', resolve));
    inFlight.write(body.slice(0, 5));
    server.child.kill('SIGTERM');
    await server.waitFor(() => server.lines().some((line) => line.event === 'shutdown'), 'shutdown line');
    expect(server.lines().find((line) => line.event === 'shutdown')).toMatchObject({ inFlight: 1 });
    await expect(fetch(`${baseUrl}/healthz`)).rejects.toThrow();
    inFlight.end(body.slice(5));
    const answer = await answered;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ email });
    expect(mailsTo(email)).toHaveLength(1);
    expect(await server.exited).toBe(0);
    expect(server.lines().at(-1)).toMatchObject({ event: 'stopped', forced: false });
  });
});

describe('npuser serve: configuration', () => {
  const folder = mkdtempSync(join(tmpdir(), 'npuser-serve-config-'));
  let configs = 0;
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it('starts from the environment alone for one app, answers readyz, and stops on SIGTERM with 0', async () => {
    const { key, entry } = await createKey('app');
    const server = new ServeProcess([], {
      NPUSER_SECRET: 'an environment-only secret of 32+ bytes',
      NPUSER_API_KEYS: entry.sha256,
      NPUSER_MODE: 'live',
    });
    try {
      const baseUrl = await server.listening();
      expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
      await expect(new NpUserClient({ baseUrl, apiKey: key }).requestCode(EMAIL)).resolves.toMatchObject({ email: EMAIL });
      // The console mailer prints to stderr: stdout stays JSON lines.
      expect(server.stderr).toContain(EMAIL);
      for (const line of server.lines()) expect(JSON.stringify(line)).not.toContain(EMAIL);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it.each([
    ['no configuration at all', {}, undefined, /^npuser serve: no configuration: pass --config npuser\.json/],
    [
      'a missing secret variable',
      {},
      { apps: [{ id: 'blog', secretEnv: 'NOT_SET', apiKeys: [] }] },
      /^npuser serve: bad configuration: apps\[0\]\.secretEnv names NOT_SET, which is not set$/,
    ],
    [
      'a secret in the file',
      {},
      { apps: [{ id: 'blog', secret: 'x'.repeat(40), apiKeys: [] }] },
      /^npuser serve: bad configuration: apps\[0\]\.secret does not belong in the file/,
    ],
    [
      'a typo',
      { S: 's'.repeat(40) },
      { apps: [{ id: 'blog', secretEnv: 'S', apiKeys: [], tokenTTL: 60 }] },
      /^npuser serve: bad configuration: apps\[0\]\.tokenTTL is not a configuration field$/,
    ],
    [
      'a bad app id',
      { S: 's'.repeat(40) },
      { apps: [{ id: 'Blog!', secretEnv: 'S', apiKeys: [] }] },
      /^npuser serve: bad configuration: apps\[0\]\.id must be 1–63 lowercase/,
    ],
    [
      'SMTP without from',
      { S: 's'.repeat(40) },
      { apps: [{ id: 'blog', secretEnv: 'S', apiKeys: [] }], mailer: { smtp: 'smtp://127.0.0.1:2525' } },
      /^npuser serve: bad configuration: apps\[0\]\.from is required when mail goes out by SMTP/,
    ],
    [
      'a bad port',
      { S: 's'.repeat(40), PORT: 'http' },
      { apps: [{ id: 'blog', secretEnv: 'S', apiKeys: [] }] },
      /^npuser serve: bad configuration: PORT must be an integer from 0 to 65535$/,
    ],
    [
      'the console mailer in production',
      { S: 's'.repeat(40), NODE_ENV: 'production' },
      { apps: [{ id: 'blog', secretEnv: 'S', apiKeys: [] }] },
      /^npuser serve: bad configuration: mailer is the console, which is refused when NODE_ENV=production/,
    ],
  ])('stops on %s with one clear line and exit code 2', async (_name, env, config, message) => {
    const args: string[] = [];
    if (config !== undefined) {
      configs += 1;
      const path = join(folder, `config-${configs}.json`);
      writeFileSync(path, JSON.stringify(config));
      args.push('--config', path);
    }
    const server = new ServeProcess(args, env);
    expect(await server.exited).toBe(2);
    const lines = server.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(server.stdout).toBe('');
  });

  it('takes the JSON itself in NPUSER_CONFIG', async () => {
    const { entry } = await createKey('inline');
    const server = new ServeProcess([], {
      S: 's'.repeat(40),
      NPUSER_CONFIG: JSON.stringify({ apps: [{ id: 'inline', secretEnv: 'S', apiKeys: [entry] }] }),
    });
    try {
      const baseUrl = await server.listening();
      expect(server.lines()[0]).toMatchObject({ event: 'listening', config: 'inline', store: 'memory', mailer: 'console' });
      expect((await fetch(`${baseUrl}/v1/apps/inline/jwks.json`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe('npuser keys create', () => {
  it('prints a new key once, and the entry that holds only its SHA-256', async () => {
    const { stdout } = await run(process.execPath, [
      CLI,
      'keys',
      'create',
      '--app',
      'blog',
      '--id',
      'k7',
      '--not-after',
      '2027-06-01T00:00:00Z',
    ]);
    const key = /^ {2}(npu_sk_[A-Za-z0-9_-]{43})$/m.exec(stdout)?.[1];
    expect(key).toBeDefined();
    const entry = JSON.parse(/^ {2}(\{.*\})$/m.exec(stdout)![1]!) as Record<string, string>;
    const { createHash } = await import('node:crypto');
    expect(entry).toEqual({ id: 'k7', sha256: createHash('sha256').update(key!).digest('hex'), notAfter: '2027-06-01T00:00:00Z' });
    const test = JSON.parse((await run(process.execPath, [CLI, 'keys', 'create', '--app', 'sandbox', '--test', '--json'])).stdout) as {
      key: string;
    };
    expect(test.key).toMatch(/^npu_test_/);
  });

  it('refuses a bad app id with exit code 2', async () => {
    const failed = await run(process.execPath, [CLI, 'keys', 'create', '--app', 'No Such App']).catch(
      (err: unknown) => err as { code: number; stderr: string },
    );
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toMatch(/^npuser: --app must be the app's id/);
  });
});
