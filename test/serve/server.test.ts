// `npuser serve`'s server in this process, on 127.0.0.1 with the memory store: bodies read from the socket
// (over the limit, unread, repeated headers), answers written whole, and the access log's lines (gathered
// and written once per turn of the event loop): none lost and none out of order.
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { loadServePlan } from '../../src/serve/config.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.shutdown()));
});

async function start(): Promise<{
  server: RunningServer;
  port: number;
  key: string;
  writes: string[];
  lines: () => Record<string, unknown>[];
}> {
  const key = `npu_test_${randomBytes(32).toString('base64url')}`;
  const plan = loadServePlan(undefined, {
    NPUSER_SECRET: 'a secret for the in-process serve tests, 32+ bytes',
    NPUSER_API_KEYS: createHash('sha256').update(key).digest('hex'),
    NPUSER_MODE: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'development',
  });
  const writes: string[] = [];
  const server = await startServer(plan, { out: (text) => writes.push(text), err: () => undefined });
  running.push(server);
  const lines = () =>
    writes
      .join('')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { server, port: server.port, key, writes, lines };
}

function send(
  port: number,
  path: string,
  headers: Record<string, string | string[]>,
  body: string | undefined,
  agent?: Agent,
): Promise<{ status: number; headers: Record<string, unknown>; text: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: body === undefined ? 'GET' : 'POST', path, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, socket: req.socket });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('npuser serve: requests and answers', () => {
  it('validates a token through the whole server, with the quota headers and the length of the answer', async () => {
    const { port, key } = await start();
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const requested = await send(port, '/v1/request-code', auth, JSON.stringify({ email: 'ada@example.com' }));
    const { code } = JSON.parse(requested.text) as { code: string };
    const verified = await send(port, '/v1/verify-code', auth, JSON.stringify({ email: 'ada@example.com', code }));
    const { token } = JSON.parse(verified.text) as { token: string };
    const valid = await send(port, '/v1/validate-token', auth, JSON.stringify({ token }));
    expect(valid.status).toBe(200);
    expect(JSON.parse(valid.text)).toMatchObject({ active: true });
    expect(valid.headers['content-length']).toBe(String(Buffer.byteLength(valid.text)));
    expect(valid.headers.ratelimit).toMatch(/^"key";r=\d+;t=\d+$/);
    expect(valid.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a body over the limit with a 413 the client gets to read', async () => {
    const { port, key } = await start();
    const answer = await send(
      port,
      '/v1/request-code',
      { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      JSON.stringify({ email: `${'x'.repeat(100_000)}@example.com` }),
    );
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'ERR_NPUSER_PAYLOAD_TOO_LARGE' });
  });

  it('a body it never reads (a 401, a 404) is drained: the kept-alive connection serves the next request', async () => {
    const { port } = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = JSON.stringify({ pad: 'x'.repeat(300_000) });
      const unknown = await send(port, '/v1/nope', { 'content-type': 'application/json' }, big, agent);
      const unauthenticated = await send(port, '/v1/request-code', { 'content-type': 'application/json' }, big, agent);
      const next = await send(port, '/healthz', {}, undefined, agent);
      expect([unknown.status, unauthenticated.status, next.status]).toEqual([404, 401, 200]);
      expect(next.socket).toBe(unknown.socket);
    } finally {
      agent.destroy();
    }
  });

  it('takes a repeated Authorization header as Node.js does: the first one', async () => {
    const { port, key } = await start();
    const answer = await send(
      port,
      '/v1/validate-token',
      { authorization: [`Bearer ${key}`, 'Bearer npu_test_x'], 'content-type': 'application/json' },
      '{"token":"x"}',
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ active: false, reason: 'invalid' });
  });
});

describe('npuser serve: the access log', () => {
  it('one line per request, none lost, every one out before the server says it stopped', async () => {
    const { server, port, key, lines } = await start();
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const answers = await Promise.all(Array.from({ length: 40 }, () => send(port, '/v1/validate-token', auth, '{"token":"x"}')));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    await expect.poll(() => lines().filter((line) => 'requestId' in line).length).toBe(40);
    const ids = new Set(answers.map((answer) => answer.headers['x-request-id']));
    expect(
      new Set(
        lines()
          .map((line) => line.requestId)
          .filter((id) => id !== undefined),
      ),
    ).toEqual(ids);

    // A request answered just before the shutdown: its line comes before the server's own last ones.
    await send(port, '/healthz', {}, undefined);
    running.splice(running.indexOf(server), 1);
    expect(await server.shutdown()).toBe(0);
    const events = lines().map((line) => line.event ?? line.route);
    expect(events.slice(-3)).toEqual(['/healthz', 'shutdown', 'stopped']);
  });
});
