// toNodeHandler's own ways in and out, on node:http on 127.0.0.1: the request body read straight from the
// IncomingMessage (chunked, cut off, over the limit, read already by a middleware), the Request a handler
// gets behaving as a Request, and answers written as strings, streamed, or with their length.
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { toNodeHandler, type NodeFetchHandler } from 'npuser/http';
import { serviceSetup } from '../support/service.js';
import { listenOnLoopback } from '../support/loopback.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  text: string;
}

/** One request by hand: `send` writes the body (and ends it) as it likes. */
function exchange(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string | string[]> },
  send: (req: ReturnType<typeof httpRequest>) => void = (req) => req.end(),
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: options.method ?? 'POST', path: options.path, headers: options.headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, text });
        });
      },
    );
    req.on('error', reject);
    send(req);
  });
}

const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

describe('toNodeHandler: the request body, straight from the IncomingMessage', () => {
  it('reads a chunked body that comes in pieces', async () => {
    const s = serviceSetup();
    const port = await listenOnLoopback(createServer(toNodeHandler(s.service)));
    const body = JSON.stringify({ email: 'ada@example.com' });
    const answer = await exchange(
      port,
      { path: '/v1/request-code', headers: { authorization: `Bearer ${s.keys.blog}`, 'content-type': 'application/json' } },
      (req) => {
        void (async () => {
          for (const piece of [body.slice(0, 3), body.slice(3, 11), body.slice(11)]) {
            req.write(piece);
            await tick();
          }
          req.end();
        })();
      },
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ email: 'ada@example.com' });
    expect(s.mailer.messages).toHaveLength(1);
  });

  it('refuses a body over the limit with a 413 as soon as the limit is passed, while the client is still sending', async () => {
    const s = serviceSetup();
    const port = await listenOnLoopback(createServer(toNodeHandler(s.service)));
    let stillSending = true;
    const answer = await exchange(
      port,
      { path: '/v1/request-code', headers: { authorization: `Bearer ${s.keys.blog}`, 'content-type': 'application/json' } },
      (req) => {
        // 9 KiB, then nothing more until the answer is in: a server that waited for the whole body would never answer.
        req.write(`{"email":"${'x'.repeat(9 * 1024)}`);
        req.on('response', () => {
          stillSending = false;
          req.end('"}');
        });
      },
    );
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'ERR_NPUSER_PAYLOAD_TOO_LARGE' });
    expect(stillSending).toBe(false);
    expect(s.store.total()).toBe(0);
  });

  it('a client that goes away mid-body is a 400 in the log, and the server goes on serving', async () => {
    const s = serviceSetup();
    const port = await listenOnLoopback(createServer(toNodeHandler(s.service)));
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/request-code',
        headers: { authorization: `Bearer ${s.keys.blog}`, 'content-type': 'application/json', 'content-length': '100' },
      });
      req.on('error', () => {
        resolve();
      });
      req.write('{"email":');
      setTimeout(() => req.destroy(), 50);
    });
    await expect.poll(() => s.logs.map((entry) => [entry.status, entry.code])).toEqual([[400, 'ERR_NPUSER_BAD_REQUEST']]);
    expect(s.mailer.messages).toEqual([]);
    const health = await exchange(port, { method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
  });

  it('a body some middleware has read without leaving req.body is an empty body (400), not a wait forever', async () => {
    const s = serviceSetup();
    const app = express();
    app.use((req, _res, next) => {
      req.resume();
      req.on('end', () => {
        next();
      });
    });
    app.use(toNodeHandler(s.service));
    const port = await listenOnLoopback(createServer(app));
    const answer = await exchange(
      port,
      { path: '/v1/request-code', headers: { authorization: `Bearer ${s.keys.blog}`, 'content-type': 'application/json' } },
      (req) => req.end('{"email":"ada@example.com"}'),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'ERR_NPUSER_BAD_REQUEST' });
  });

  it('GET and HEAD have no body; HEAD answers the same head without one', async () => {
    const seen: { method: string; body: unknown }[] = [];
    const handler: NodeFetchHandler = (request) => {
      seen.push({ method: request.method, body: request.body });
      return new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
    };
    const port = await listenOnLoopback(createServer(toNodeHandler(handler)));
    const get = await exchange(port, { method: 'GET', path: '/x' });
    const head = await exchange(port, { method: 'HEAD', path: '/x' });
    expect(seen).toEqual([
      { method: 'GET', body: null },
      { method: 'HEAD', body: null },
    ]);
    expect([get.status, get.text, get.headers['content-length']]).toEqual([200, '{"ok":true}', '11']);
    expect([head.status, head.text, head.headers['content-length']]).toEqual([200, '', '11']);
  });
});

describe('toNodeHandler: the Request a handler gets', () => {
  it('is a Request in every way: URL, repeated headers joined, body methods, clone, signal', async () => {
    const seen: unknown[] = [];
    const handler: NodeFetchHandler = async (request) => {
      const copy = request.clone();
      seen.push({
        isRequest: request instanceof Request,
        tag: Object.prototype.toString.call(request),
        url: request.url,
        method: request.method,
        repeated: request.headers.get('x-repeated'),
        aborted: request.signal.aborted,
        text: await request.text(),
        used: request.bodyUsed,
        copy: await copy.text(),
      });
      return new Response(null, { status: 204 });
    };
    const port = await listenOnLoopback(createServer(toNodeHandler(handler)));
    const answer = await exchange(port, { method: 'PUT', path: '/a/b?c=d', headers: { 'x-repeated': ['one', 'two'] } }, (req) =>
      req.end('the body'),
    );
    expect(answer.status).toBe(204);
    expect(seen).toEqual([
      {
        isRequest: true,
        tag: '[object Request]',
        url: `http://127.0.0.1:${port}/a/b?c=d`,
        method: 'PUT',
        repeated: 'one, two',
        aborted: false,
        text: 'the body',
        used: true,
        copy: 'the body',
      },
    ]);
  });

  it('after the handler read the body itself, the Request says it is used', async () => {
    const s = serviceSetup();
    const used: boolean[] = [];
    const port = await listenOnLoopback(
      createServer(
        toNodeHandler(async (request) => {
          const response = await s.service(request);
          used.push(request.bodyUsed);
          return response;
        }),
      ),
    );
    const answer = await exchange(
      port,
      { path: '/v1/validate-token', headers: { authorization: `Bearer ${s.keys.blog}`, 'content-type': 'application/json' } },
      (req) => req.end('{"token":"not.a.token"}'),
    );
    expect(JSON.parse(answer.text)).toEqual({ active: false, reason: 'invalid' });
    expect(used).toEqual([true]);
  });

  it('a method the platform’s Request refuses is a 400 problem', async () => {
    const port = await listenOnLoopback(createServer(toNodeHandler(() => new Response('never'))));
    const answer = await exchange(port, { method: 'TRACE', path: '/x' });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  });
});

describe('toNodeHandler: the answer', () => {
  it('keeps every Set-Cookie apart and joins nothing else', async () => {
    const handler: NodeFetchHandler = () => {
      const headers = new Headers({ 'x-one': 'a' });
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; Path=/');
      return new Response('hi', { headers });
    };
    const port = await listenOnLoopback(createServer(toNodeHandler(handler)));
    const answer = await exchange(port, { method: 'GET', path: '/' });
    expect(answer.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect([answer.headers['x-one'], answer.headers['content-length'], answer.text]).toEqual(['a', '2', 'hi']);
  });

  it('the handlers’ own string answers go out whole, with their length', async () => {
    const s = serviceSetup();
    const port = await listenOnLoopback(createServer(toNodeHandler(s.service)));
    const answer = await exchange(port, { method: 'GET', path: '/healthz' });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('{"status":"ok"}');
    expect(answer.headers['content-length']).toBe('15');
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['transfer-encoding']).toBeUndefined();
  });

  it('a body that is still being made streams: the client reads the first part before the rest exists', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const encoder = new TextEncoder();
    const handler: NodeFetchHandler = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(encoder.encode('first;'));
            await released;
            controller.enqueue(encoder.encode('second'));
            controller.close();
          },
        }),
        { headers: { 'content-type': 'text/plain' } },
      );
    const port = await listenOnLoopback(createServer(toNodeHandler(handler)));
    const answer = await new Promise<{ headers: IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          // Only once the first part has arrived is the rest made: a buffering adapter would wait forever.
          if (text === 'first;') release();
        });
        res.on('end', () => {
          resolve({ headers: res.headers, text });
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.text).toBe('first;second');
    expect(answer.headers['transfer-encoding']).toBe('chunked');
    expect(answer.headers['content-length']).toBeUndefined();
  });

  it('a stream whose client goes away is cancelled', async () => {
    let cancelled: (reason: unknown) => void = () => undefined;
    const wasCancelled = new Promise((resolve) => (cancelled = resolve));
    const handler: NodeFetchHandler = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('tick\n'));
          },
          cancel(reason) {
            cancelled(reason);
          },
        }),
      );
    const port = await listenOnLoopback(createServer(toNodeHandler(handler)));
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end();
    });
    await wasCancelled;
  });

  it('a stream body that fails before anything is sent is the handler’s failure: a 500', async () => {
    const handler: NodeFetchHandler = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            controller.error(new Error('broken'));
          },
        }),
      );
    const port = await listenOnLoopback(createServer(toNodeHandler(handler)));
    const warned = new Promise((resolve) => process.once('warning', resolve));
    const answer = await exchange(port, { method: 'GET', path: '/' });
    expect([answer.status, answer.text]).toEqual([500, 'Internal Server Error']);
    await warned;
  });
});
