import type { IncomingMessage, ServerResponse } from 'node:http';
import { NpUserError } from '../errors.js';
import { newRequestId, problemResponse } from './problem.js';

/**
 * A web-standard handler as the Node.js adapters call it: the request, and
 * the connection's address (what the sign-in handler needs for its
 * per-client limits).
 *
 * @example
 * ```ts
 * import type { NodeFetchHandler } from 'npuser/http';
 * const hello: NodeFetchHandler = (request, { remoteAddress }) => new Response(`Hello ${remoteAddress ?? 'stranger'}`);
 * ```
 */
export type NodeFetchHandler = (
  request: Request,
  connection: { readonly remoteAddress: string | undefined },
) => Response | Promise<Response>;

/**
 * A node:http request listener that is also Express middleware: `next`,
 * when given, receives what the handler rejects with.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { toNodeHandler, type NodeHandler } from 'npuser/http';
 * const listener: NodeHandler = toNodeHandler(signIn.fetch);
 * createServer(listener).listen(3000);
 * ```
 */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

// Past a refused body, this much more is read and dropped, so the client
// gets to read the answer instead of a reset; then the connection is cut.
const MAX_DRAIN_BYTES = 1024 * 1024;

/**
 * Mount a web-standard `fetch` handler (such as `createSignInHandler(…).fetch`)
 * on node:http or Express 5:
 *
 * - the request's URL is the one the client asked for (`req.originalUrl`
 *   under an Express mount path), with the `Host` header's host;
 * - a body Express (or any middleware) has already parsed into `req.body`
 *   (`express.json()`, `express.urlencoded()`, `express.text()`,
 *   `express.raw()`) is passed on as it arrived; otherwise the stream is
 *   read by the handler, which stops at its own limit;
 * - the connection's address goes along as the second argument;
 * - every `Set-Cookie` is kept apart.
 *
 * A handler that rejects goes to `next(err)` (Express's error handling),
 * or, without `next`, gets a bare 500 and a process warning.
 *
 * @param fetch - The handler.
 * @returns A `(req, res, next?)` listener.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createSignInHandler, toNodeHandler } from 'npuser/http';
 * const signIn = createSignInHandler(np, { basePath: '/auth' });
 * const app = express();
 * app.use(express.json()); // fine: the handler reads req.body then
 * app.use('/auth', toNodeHandler(signIn.fetch));
 * ```
 */
export function toNodeHandler(fetch: NodeFetchHandler): NodeHandler {
  if (typeof fetch !== 'function') throw new TypeError('npuser: toNodeHandler(fetch) takes a function (request) => Response');
  return (req, res, next) => {
    // Read now: once the socket closes, Node.js forgets the address.
    const remoteAddress = req.socket.remoteAddress;
    let request: Request;
    try {
      request = nodeRequest(req);
    } catch (err) {
      const code = err instanceof NpUserError ? err.code : 'ERR_NPUSER_BAD_REQUEST';
      void writeResponse(res, problemResponse(code, { requestId: newRequestId() })).catch(() => undefined);
      req.resume();
      return;
    }
    Promise.resolve()
      .then(() => fetch(request, { remoteAddress }))
      .then((response) => {
        // A body the handler never read (a 404, a 403) is drained, so the connection can serve the next request.
        if (request.body !== null && !request.body.locked) request.body.cancel().catch(() => undefined);
        return writeResponse(res, response);
      })
      .catch((err: unknown) => {
        if (next !== undefined) {
          next(err);
          return;
        }
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
          res.end('Internal Server Error');
        } else {
          res.destroy();
        }
        process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'NPUSER_HANDLER_FAILED' });
      });
  };
}

/**
 * The web `Request` for a Node.js request: its URL, headers and body. With
 * `read`, a framework has read the body already: `read.body` is what its
 * parser made of it (`undefined`: there was none) and `read.url` the URL it
 * routed. Without it, a body some middleware parsed into `req.body` is used,
 * or else the stream.
 * @internal
 */
export function nodeRequest(req: IncomingMessage, read?: { readonly url: string; readonly body: unknown }): Request {
  const path = read?.url ?? (req as { originalUrl?: unknown }).originalUrl ?? req.url ?? '/';
  const scheme = (req.socket as { encrypted?: unknown }).encrypted === true ? 'https' : 'http';
  const host = req.headers.host ?? 'localhost';
  if (typeof path !== 'string' || !path.startsWith('/')) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  let url: URL;
  try {
    url = new URL(`${scheme}://${host}${path}`);
  } catch {
    throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  }
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (name.startsWith(':')) continue;
    try {
      headers.append(name, raw[i + 1] ?? '');
    } catch {
      throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
    }
  }
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return new Request(url, { method, headers });

  const parsed = read === undefined ? (req as { body?: unknown }).body : read.body;
  if (parsed !== undefined || read !== undefined) {
    // The stream is gone: the body goes on as the parser left it, re-encoded, with its own length.
    headers.delete('content-length');
    headers.delete('transfer-encoding');
    return new Request(url, {
      method,
      headers,
      ...(parsed === undefined ? {} : { body: encodeParsed(parsed, headers.get('content-type')) }),
    });
  }
  return new Request(url, { method, headers, body: streamOf(req), duplex: 'half' } as RequestInit);
}

/** A parsed body back in bytes, as its `Content-Type` says it came. */
function encodeParsed(body: unknown, contentType: string | null): Uint8Array<ArrayBuffer> {
  if (body instanceof Uint8Array) return new Uint8Array(body);
  if (typeof body === 'string') return new TextEncoder().encode(body);
  const type = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded' && typeof body === 'object' && body !== null) {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(body)) {
      // A repeated field stays repeated (and is refused as such); a nested one cannot be a form field.
      for (const item of Array.isArray(value) ? (value as unknown[]) : [value]) {
        if (typeof item !== 'string') throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
        form.append(name, item);
      }
    }
    return new TextEncoder().encode(form.toString());
  }
  // JSON, or whatever another parser made of a type the handler will refuse anyway
  // (what JSON cannot hold, `undefined`, encodes as no bytes).
  return new TextEncoder().encode(JSON.stringify(body));
}

/**
 * The request's body as a web stream that reads only as far as its reader
 * does: cancelling (the handler's limit) leaves the rest to be drained, up
 * to MAX_DRAIN_BYTES, rather than destroying the socket under the answer.
 */
function streamOf(req: IncomingMessage): ReadableStream<Uint8Array> {
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.on('data', (chunk: Buffer) => {
          if (cancelled) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.once('end', () => {
          if (!cancelled) controller.close();
        });
        req.once('error', (err) => {
          if (!cancelled) controller.error(err);
        });
      },
      pull() {
        req.resume();
      },
      cancel() {
        cancelled = true;
        let drained = 0;
        req.on('data', (chunk: Buffer) => {
          drained += chunk.byteLength;
          if (drained > MAX_DRAIN_BYTES) req.socket.destroy();
        });
        req.resume();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}

/**
 * Write a web `Response` to a Node.js response: status, headers (each
 * `Set-Cookie` on its own line) and body.
 * @internal
 */
export async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = response.body === null ? undefined : new Uint8Array(await response.arrayBuffer());
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  if (body !== undefined) headers['content-length'] = String(body.byteLength);
  res.writeHead(response.status, headers);
  res.end(body);
}
