import type { IncomingMessage, ServerResponse } from 'node:http';
import { NpUserError } from '../errors.js';
import { BODY_SOURCE, type BodySource } from './body.js';
import { newRequestId, problemResponse } from './problem.js';
import { NODE_REQUEST, StringResponse } from './response.js';

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
        discardUnread(request);
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
  if (method === 'GET' || method === 'HEAD') return lazyRequest(req, url.href, method, headers, undefined);

  const parsed = read === undefined ? (req as { body?: unknown }).body : read.body;
  if (parsed !== undefined || read !== undefined) {
    // The stream is gone: the body goes on as the parser left it, re-encoded, with its own length.
    headers.delete('content-length');
    headers.delete('transfer-encoding');
    return lazyRequest(
      req,
      url.href,
      method,
      headers,
      parsed === undefined ? undefined : encodeParsed(parsed, headers.get('content-type')),
    );
  }
  return lazyRequest(req, url.href, method, headers, 'stream');
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

// ----- the request, made lazily -----

/** The methods the platform's `Request` refuses to be made with (Fetch's forbidden methods). */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

interface LazyState {
  readonly req: IncomingMessage;
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  /** The request stream, bytes a parser left, or no body (GET, HEAD, a parser that found none). */
  readonly body: 'stream' | Uint8Array<ArrayBuffer> | undefined;
  /** The body was handed over through BODY_SOURCE. */
  taken: boolean;
  /** The platform's Request, once something beyond method, URL, headers and the body source is asked for. */
  real: Request | undefined;
}

const STATE = Symbol('npuser lazy request state');

/**
 * A `Request` (`instanceof Request`, every property and method) whose
 * platform object, with its body stream and its `AbortSignal`, is made only
 * when something other than method, URL and headers is asked of it: the
 * handlers read the body through {@link BODY_SOURCE}, straight from the
 * IncomingMessage, and most requests never need the rest.
 */
class LazyRequest {
  readonly [STATE]: LazyState;

  constructor(state: LazyState) {
    this[STATE] = state;
  }

  get method(): string {
    return this[STATE].method;
  }

  get url(): string {
    return this[STATE].url;
  }

  get headers(): Headers {
    return this[STATE].headers;
  }

  get [NODE_REQUEST](): true {
    return true;
  }

  [BODY_SOURCE](): BodySource | undefined {
    const state = this[STATE];
    if (state.real !== undefined || state.taken) return undefined;
    state.taken = true;
    const { body, req } = state;
    if (body === undefined) return () => Promise.resolve();
    if (body instanceof Uint8Array) {
      return (onChunk) => {
        onChunk(body);
        return Promise.resolve();
      };
    }
    return (onChunk) => pump(req, onChunk);
  }
}
Object.setPrototypeOf(LazyRequest.prototype, Request.prototype);

function realRequest(request: LazyRequest): Request {
  const state = request[STATE];
  if (state.real !== undefined) return state.real;
  const init: RequestInit & { duplex?: 'half' } = { method: state.method, headers: state.headers };
  if (state.taken && state.body !== undefined) {
    // Read through the body source already: what remains is a used body, as after reading a stream.
    init.body = new Uint8Array(0);
  } else if (state.body === 'stream') {
    init.body = streamOf(state.req);
    init.duplex = 'half';
  } else if (state.body !== undefined) {
    init.body = state.body;
  }
  const real = new Request(state.url, init);
  if (state.taken && state.body !== undefined) real.arrayBuffer().catch(() => undefined);
  state.real = real;
  return real;
}

// Everything else a Request has, answered by the platform's own.
for (const key of Reflect.ownKeys(Request.prototype)) {
  if (key === 'constructor' || key === Symbol.toStringTag || Object.hasOwn(LazyRequest.prototype, key)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, key);
  if (descriptor?.get !== undefined) {
    Object.defineProperty(LazyRequest.prototype, key, {
      configurable: true,
      enumerable: descriptor.enumerable ?? false,
      get(this: LazyRequest) {
        return Reflect.get(realRequest(this), key) as unknown;
      },
    });
  } else if (typeof descriptor?.value === 'function') {
    const method = descriptor.value as (...args: unknown[]) => unknown;
    Object.defineProperty(LazyRequest.prototype, key, {
      configurable: true,
      writable: true,
      enumerable: descriptor.enumerable ?? false,
      value(this: LazyRequest, ...args: unknown[]) {
        return method.apply(realRequest(this), args);
      },
    });
  }
}

/**
 * A `Request` for a Node.js request whose URL and headers are already made:
 * method, URL and headers are read as they are; the body comes from the
 * IncomingMessage (`'stream'`) or from bytes a parser left.
 * @throws NpUserError `ERR_NPUSER_BAD_REQUEST` for a method the platform's `Request` refuses.
 * @internal
 */
export function lazyRequest(
  req: IncomingMessage,
  url: string,
  method: string,
  headers: Headers,
  body: 'stream' | Uint8Array<ArrayBuffer> | undefined,
): Request {
  if (FORBIDDEN_METHODS.has(method.toUpperCase())) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  return new LazyRequest({ req, url, method, headers, body, taken: false, real: undefined }) as unknown as Request;
}

/**
 * Drop what is left of a body nobody read (capped at MAX_DRAIN_BYTES), so a
 * kept-alive connection can serve its next request.
 * @internal
 */
export function discardUnread(request: Request): void {
  if (!(request instanceof LazyRequest)) {
    if (request.body !== null && !request.body.locked) request.body.cancel().catch(() => undefined);
    return;
  }
  const state = request[STATE];
  if (state.real !== undefined) {
    const body = state.real.body;
    if (body !== null && !body.locked) body.cancel().catch(() => undefined);
  } else if (!state.taken && state.body === 'stream') {
    state.taken = true;
    drain(state.req);
  }
}

/** Feed `onChunk` the IncomingMessage's chunks (see BodySource): the fast way in, no web stream. */
function pump(req: IncomingMessage, onChunk: (chunk: Uint8Array) => boolean): Promise<void> {
  // Read already (by a middleware that left nothing in req.body): nothing more will come.
  if (req.readableEnded) return Promise.resolve();
  if (req.destroyed) return Promise.reject(new Error('npuser: the request was cut off'));
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      if (onChunk(chunk)) return;
      done();
      drain(req);
      resolve();
    };
    const onEnd = () => {
      done();
      resolve();
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    // Closed before its end: the client went away mid-body.
    const onClose = () => {
      done();
      reject(new Error('npuser: the request was cut off'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

/**
 * Read and drop the rest of a refused or unread body, so the client gets to
 * read the answer instead of a reset; past MAX_DRAIN_BYTES the connection is cut.
 */
function drain(req: IncomingMessage): void {
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.byteLength;
    if (drained > MAX_DRAIN_BYTES) req.socket.destroy();
  });
  req.resume();
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
        drain(req);
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}

// ----- the response -----

/** What is ready of a body within one turn of the event loop goes out with a Content-Length; past this, it streams. */
const BUFFERED_BYTES = 64 * 1024;
const NOT_YET = Symbol('not yet');

/** `promise`'s value if it settles within this turn of the event loop, else NOT_YET. */
function withinTurn<T>(promise: Promise<T>): Promise<T | typeof NOT_YET> {
  return new Promise((resolve, reject) => {
    const timer = setImmediate(() => {
      resolve(NOT_YET);
    });
    promise.then(
      (value) => {
        clearImmediate(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearImmediate(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function nodeHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name] = value;
  });
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

/**
 * Write a web `Response` to a Node.js response: status, headers (each
 * `Set-Cookie` on its own line) and body. A string body the handler made
 * (a StringResponse) is written as it is; any other body is read as far as
 * it is ready within this turn of the event loop: all of it goes out with a
 * `Content-Length`, else the rest streams as it comes, as fast as the client
 * reads, and is cancelled if the client goes away. `extra` headers (serve's
 * `Connection: close` while draining) are added.
 * @internal
 */
export async function writeResponse(res: ServerResponse, response: Response, extra?: Readonly<Record<string, string>>): Promise<void> {
  const text = StringResponse.take(response);
  if (text !== undefined) {
    if (res.headersSent || res.destroyed) return;
    const headers = nodeHeaders(response.headers);
    headers['content-length'] = String(Buffer.byteLength(text));
    if (extra !== undefined) Object.assign(headers, extra);
    res.writeHead(response.status, headers);
    res.end(text);
    return;
  }
  const body = response.body;
  if (body === null) {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(response.status, extra === undefined ? nodeHeaders(response.headers) : { ...nodeHeaders(response.headers), ...extra });
    res.end();
    return;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let next = reader.read();
  let ended = false;
  try {
    while (size <= BUFFERED_BYTES) {
      const read = await withinTurn(next);
      if (read === NOT_YET) break;
      if (read.done) {
        ended = true;
        break;
      }
      chunks.push(checkedChunk(read.value));
      size += read.value.byteLength;
      next = reader.read();
    }
  } catch (err) {
    reader.cancel().catch(() => undefined);
    throw err;
  }
  if (res.headersSent || res.destroyed) {
    reader.cancel().catch(() => undefined);
    return;
  }
  const headers = nodeHeaders(response.headers);
  if (extra !== undefined) Object.assign(headers, extra);
  if (ended) {
    headers['content-length'] = String(size);
    res.writeHead(response.status, headers);
    res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    return;
  }
  res.writeHead(response.status, headers);
  for (const chunk of chunks) res.write(chunk);
  await stream(res, reader, next);
}

function checkedChunk(value: unknown): Uint8Array {
  // As the platform's own body readers do: a stream of anything but bytes is the handler's bug.
  if (!(value instanceof Uint8Array)) throw new TypeError('npuser: a response body stream must give Uint8Array chunks');
  return value;
}

/** The rest of a body, chunk by chunk, at the client's pace; a client that goes away cancels it. */
async function stream(
  res: ServerResponse,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Promise<ReadableStreamReadResult<Uint8Array>>,
): Promise<void> {
  const client = { gone: false };
  const onClose = () => {
    client.gone = true;
    reader.cancel().catch(() => undefined);
  };
  res.once('close', onClose);
  try {
    let next = first;
    for (;;) {
      const read = await next;
      if (client.gone) return;
      if (read.done) {
        res.end();
        return;
      }
      if (!res.write(checkedChunk(read.value))) {
        await new Promise<void>((resolve) => {
          const resume = () => {
            res.off('drain', resume);
            res.off('close', resume);
            resolve();
          };
          res.on('drain', resume);
          res.on('close', resume);
        });
      }
      // A client gone meanwhile has cancelled the reader: this read is its end, seen above.
      next = reader.read();
    }
  } catch {
    // The body broke off after the head went out: all the client can be told is a cut connection.
    reader.cancel().catch(() => undefined);
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}
