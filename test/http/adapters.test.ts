// The handler mounted on node:http, Express 5, Fastify 5 and Hono, on 127.0.0.1: each
// framework's body parsing respected, the connection's address passed on, cookies kept apart.
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fastifySignIn, toNodeHandler } from 'npuser/http';
import { EMAIL } from '../support/helpers.js';
import { handlerSetup, type HandlerSetup } from './support.js';
import { listenOnLoopback } from '../support/loopback.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** The base URL of `server`, listening on loopback until the test ends. */
async function listen(server: Server): Promise<string> {
  return `http://127.0.0.1:${await listenOnLoopback(server)}`;
}

function form(base: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

function json(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
  });
}

/** Sign in by form through a mounted app: code, then verify with the pending cookie; the session cookie comes back. */
async function formSignIn(base: string, h: HandlerSetup): Promise<string> {
  const sent = await form(base, '/auth/code', { email: EMAIL });
  expect(sent.status).toBe(303);
  expect(sent.headers.get('location')).toBe('/?npuser=sent');
  const pending = sent.headers.getSetCookie()[0]!.split(';', 1)[0]!;
  const verified = await form(base, '/auth/verify', { code: h.mailer.lastCodeFor(EMAIL)! }, { cookie: pending });
  expect(verified.status).toBe(303);
  // Two Set-Cookie lines, kept apart: the session, and the pending sign-in cleared.
  const cookies = verified.headers.getSetCookie();
  expect(cookies.map((c) => c.split('=', 1)[0])).toEqual(['npuser_session', 'npuser_session_pending']);
  expect(cookies[0]).not.toContain('Secure'); // 127.0.0.1 is this machine
  return cookies[0]!.split(';', 1)[0]!;
}

describe('toNodeHandler on node:http', () => {
  it('signs in by form and by JSON, with the connection’s address as the client key', async () => {
    const h = handlerSetup();
    const base = await listen(createServer(toNodeHandler(h.signIn.fetch)));
    const cookie = await formSignIn(base, h);
    const session = await fetch(`${base}/auth/session`, { headers: { cookie } });
    expect(session.status).toBe(200);
    expect(h.contexts.map((c) => c.context?.clientKey)).toEqual(['127.0.0.1', '127.0.0.1']);

    const code = await json(base, '/auth/code', { email: 'bob@example.com' });
    expect(code.status).toBe(200);
    expect(await code.json()).toMatchObject({ email: 'bob@example.com' });
  });

  it('an oversized body is refused at the limit and the client still reads the 413', async () => {
    const h = handlerSetup();
    const base = await listen(createServer(toNodeHandler(h.signIn.fetch)));
    const { port } = new URL(base);
    // Chunked, no Content-Length: the handler must stop reading by itself.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: '/auth/code', headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(`{"email":"${'x'.repeat(100_000)}`);
      req.end('"}');
    });
    expect(status).toBe(413);
    expect(h.mailer.messages).toEqual([]);
  });

  it('what the handler rejects with goes to next(err), or without next to a bare 500 and a process warning', async () => {
    const failing = vi.fn(() => Promise.reject(new TypeError('npuser: misconfigured')));
    const errors: unknown[] = [];
    const withNext = await listen(
      createServer((req, res) => {
        toNodeHandler(failing)(req, res, (err) => {
          errors.push(err);
          res.writeHead(418).end();
        });
      }),
    );
    expect((await fetch(`${withNext}/auth/code`, { method: 'POST' })).status).toBe(418);
    expect(errors).toEqual([new TypeError('npuser: misconfigured')]);

    const warnings: unknown[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const bare = await listen(createServer(toNodeHandler(failing)));
      const response = await fetch(`${bare}/auth/code`, { method: 'POST' });
      expect(response.status).toBe(500);
      expect(await response.text()).toBe('Internal Server Error');
      await vi.waitFor(() => {
        expect(warnings).toEqual([new TypeError('npuser: misconfigured')]);
      });
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a body the handler never reads (a 404, a 403) is drained: the kept-alive connection serves the next request', async () => {
    const h = handlerSetup();
    const base = await listen(createServer(toNodeHandler(h.signIn.fetch)));
    const { port } = new URL(base);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (path: string, headers: Record<string, string>, body: string) =>
      new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method: 'POST', path, agent, headers: { 'content-type': 'application/json', ...headers } },
          (res) => {
            res.resume();
            res.on('end', () => {
              resolve({ status: res.statusCode ?? 0, socket: req.socket });
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const body = JSON.stringify({ email: EMAIL, pad: 'x'.repeat(300_000) });
      const notFound = await send('/auth/nope', {}, body);
      const forbidden = await send('/auth/code', { 'sec-fetch-site': 'cross-site' }, body);
      const next = await send('/auth/code', {}, JSON.stringify({ email: EMAIL }));
      expect([notFound.status, forbidden.status, next.status]).toEqual([404, 403, 200]);
      expect(next.socket).toBe(notFound.socket);
    } finally {
      agent.destroy();
    }
  });

  it('a Host header that makes no URL is a 400 problem', async () => {
    const h = handlerSetup();
    const base = await listen(createServer(toNodeHandler(h.signIn.fetch)));
    const { port } = new URL(base);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/auth/session', headers: { host: 'exa mple' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });
});

describe('toNodeHandler on Express 5', () => {
  it('mounted with app.use(basePath): the full URL reaches the handler', async () => {
    const h = handlerSetup();
    const app = express();
    app.use('/auth', toNodeHandler(h.signIn.fetch));
    const base = await listen(createServer(app));
    const cookie = await formSignIn(base, h);
    expect((await fetch(`${base}/auth/session`, { headers: { cookie } })).status).toBe(200);
  });

  it('a body express.json() or express.urlencoded() has already read still works', async () => {
    const h = handlerSetup();
    const app = express();
    app.use(express.json(), express.urlencoded({ extended: false }));
    app.use('/auth', toNodeHandler(h.signIn.fetch));
    const base = await listen(createServer(app));
    await formSignIn(base, h);
    const code = await json(base, '/auth/code', { email: 'bob@example.com', locale: 'fr' });
    expect(code.status).toBe(200);
    expect(h.mailer.messages.at(-1)?.locale).toBe('fr');
    // Already parsed or not, the handler's own rules hold: an unknown field, a repeated one.
    expect((await json(base, '/auth/code', { email: 'cy@example.com', admin: true })).status).toBe(400);
    const repeated = await fetch(`${base}/auth/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email": 1}',
    });
    expect(repeated.status).toBe(400);
  });

  it('a body express.text() or express.raw() has read is passed on as it came', async () => {
    const h = handlerSetup();
    const app = express();
    app.use(express.text({ type: 'application/json' }));
    app.use(express.raw({ type: 'application/x-www-form-urlencoded' }));
    app.use('/auth', toNodeHandler(h.signIn.fetch));
    const base = await listen(createServer(app));
    expect((await json(base, '/auth/code', { email: EMAIL })).status).toBe(200);
    expect((await form(base, '/auth/code', { email: 'bob@example.com' })).status).toBe(303);
    expect(h.mailer.messages.map((m) => m.to)).toEqual([EMAIL, 'bob@example.com']);
  });

  it('express.urlencoded({ extended: true }) nesting is no form field: 400', async () => {
    const h = handlerSetup();
    const app = express();
    app.use(express.urlencoded({ extended: true }));
    app.use('/auth', toNodeHandler(h.signIn.fetch));
    const base = await listen(createServer(app));
    const response = await fetch(`${base}/auth/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email[a]=1',
      redirect: 'manual',
    });
    expect(response.status).toBe(400);
  });

  it('the handler’s rejections reach Express’s error handling', async () => {
    const h = handlerSetup();
    const app = express();
    // No address at all: the handler's TypeError about it.
    app.use('/auth', (req, res, next) => {
      void h.signIn
        .fetch(
          new Request(`http://127.0.0.1${req.originalUrl}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"email":"ada@example.com"}',
          }),
        )
        .catch(next);
    });
    const caught: unknown[] = [];
    // Express tells an error handler by its four parameters.
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      caught.push(err);
      res.status(500).end();
    });
    const base = await listen(createServer(app));
    expect((await fetch(`${base}/auth/code`, { method: 'POST' })).status).toBe(500);
    expect(caught).toEqual([expect.objectContaining({ name: 'TypeError' })]);
  });
});

describe('fastifySignIn on Fastify 5', () => {
  async function start(
    h: HandlerSetup,
    setup?: (app: FastifyInstance) => void | Promise<void>,
  ): Promise<{ app: FastifyInstance; base: string }> {
    const app = Fastify();
    await setup?.(app);
    await app.register(fastifySignIn, { signIn: h.signIn });
    app.post('/elsewhere', (request) => ({ got: request.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return { app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
  }

  it('signs in by form (read in the plugin’s scope only) and by JSON (parsed by Fastify)', async () => {
    const h = handlerSetup();
    const { base } = await start(h);
    const cookie = await formSignIn(base, h);
    expect((await fetch(`${base}/auth/session`, { headers: { cookie } })).status).toBe(200);
    expect((await json(base, '/auth/code', { email: 'bob@example.com' })).status).toBe(200);
    expect(h.contexts.map((c) => c.context?.clientKey)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    // The app's own routes keep Fastify's behaviour: no form parser leaked out of the plugin.
    const elsewhere = await form(base, '/elsewhere', { a: '1' });
    expect(elsewhere.status).toBe(415);
  });

  it('answers bodies in the handler’s words: wrong type 415, oversized 413, bad JSON 400, unknown route 404', async () => {
    const h = handlerSetup();
    const { base } = await start(h);
    const post = (body: string, type: string) => fetch(`${base}/auth/code`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const [response, status, code] of [
      [await post('x', 'text/plain'), 415, 'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE'],
      [await post('--x--', 'multipart/form-data; boundary=x'), 415, 'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE'],
      [await post(JSON.stringify({ email: 'x'.repeat(20_000) }), 'application/json'), 413, 'ERR_NPUSER_PAYLOAD_TOO_LARGE'],
      [await post('{"email":', 'application/json'), 400, 'ERR_NPUSER_BAD_REQUEST'],
      [await fetch(`${base}/auth/nope`), 404, 'ERR_NPUSER_NOT_FOUND'],
      [await fetch(`${base}/auth/session`, { method: 'DELETE' }), 405, 'ERR_NPUSER_METHOD_NOT_ALLOWED'],
    ] as const) {
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(((await response.json()) as { code: string }).code).toBe(code);
    }
    expect(h.mailer.messages).toEqual([]);
  });

  it('uses a form parser the app registered itself', async () => {
    const h = handlerSetup();
    const parsed: unknown[] = [];
    const { base } = await start(h, (app) => {
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
        const fields = Object.fromEntries(new URLSearchParams(body as string));
        parsed.push(fields);
        done(null, fields);
      });
    });
    await formSignIn(base, h);
    expect(parsed).toHaveLength(2);
  });

  it('refuses to be registered under a prefix, and options without a handler', async () => {
    const h = handlerSetup();
    const app = Fastify();
    await expect(app.register(fastifySignIn, { signIn: h.signIn, prefix: '/auth' }).ready()).rejects.toThrow(/without a prefix/);
    await expect(
      Fastify()
        .register(fastifySignIn, {} as never)
        .ready(),
    ).rejects.toThrow(/options\.signIn/);
  });

  it('getSession takes Fastify’s request as it is', async () => {
    const h = handlerSetup();
    const app = Fastify();
    await app.register(fastifySignIn, { signIn: h.signIn });
    app.get('/account', async (request, reply) => {
      const session = await h.signIn.getSession(request);
      if (!session) return reply.code(401).send('signed out');
      return `hello ${session.subject}`;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const cookie = await formSignIn(base, h);
    expect(await (await fetch(`${base}/account`, { headers: { cookie } })).text()).toMatch(/^hello [\w-]{43}$/);
    expect((await fetch(`${base}/account`)).status).toBe(401);
  });
});

describe('Hono mounts fetch as it is', () => {
  it('app.all(basePath/*) with c.env: the Node.js connection’s address reaches the handler', async () => {
    const h = handlerSetup();
    const app = new Hono();
    app.all('/auth/*', (c) => h.signIn.fetch(c.req.raw, c.env as never));
    app.get('/account', async (c) => {
      const session = await h.signIn.getSession(c.req.raw);
      return session ? c.text(`hello ${session.subject}`) : c.text('signed out', 401);
    });
    const sent = await app.request(
      '/auth/code',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL }) },
      {
        incoming: { socket: { remoteAddress: '198.51.100.9' } },
      },
    );
    expect(sent.status).toBe(200);
    expect(h.contexts.map((c) => c.context?.clientKey)).toEqual(['198.51.100.9']);
    const verified = await app.request(
      '/auth/verify',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: EMAIL, code: h.mailer.lastCodeFor(EMAIL) }),
      },
      {
        incoming: { socket: { remoteAddress: '198.51.100.9' } },
      },
    );
    const cookie = verified.headers.getSetCookie()[0]!.split(';', 1)[0]!;
    expect(await (await app.request('/account', { headers: { cookie } })).text()).toMatch(/^hello /);
  });
});
