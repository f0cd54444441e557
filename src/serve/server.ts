import { type IncomingMessage, type Server, createServer } from 'node:http';
import { discardUnread, lazyRequest, writeResponse } from '../http/node.js';
import { createService, type Service } from '../http/service.js';
import type { ServiceAppInfo } from '../http/service-config.js';
import { consoleMailer } from '../mailers/console.js';
import { nodemailerMailer, type NodemailerTransporter } from '../mailers/nodemailer.js';
import { redisCodeStore } from '../stores/redis.js';
import type { CodeStore, Mailer } from '../types.js';
import { ConfigError, type ServePlan, configErrorOf } from './config.js';

/**
 * `npuser serve`: node:http around the service handler, with the store and
 * the mailer the plan names (ioredis and nodemailer loaded only when named),
 * timeouts, one JSON line per request, and a graceful SIGTERM.
 * @internal
 * @module
 */

/** Where the server writes: JSON lines to `out`, the console mailer's messages to `err`. @internal */
export interface ServeOutput {
  readonly out: (line: string) => void;
  readonly err: (text: string) => void;
}

/** A running server. @internal */
export interface RunningServer {
  readonly server: Server;
  readonly service: Service;
  readonly port: number;
  /** Drain, finish what is in flight (bounded), close the store and mailer; resolves with the exit code. */
  shutdown(): Promise<number>;
}

interface Closeable {
  close(): Promise<void> | void;
}

// While draining, every answer says the connection ends with it.
const CLOSE: Readonly<Record<string, string>> = { connection: 'close' };

// Fail fast while Redis is away (docs/scaling-with-redis.md): a refusal now
// beats a request that hangs, and nothing npuser gave up on is replayed later.
const REDIS_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  commandTimeout: 2000,
  connectTimeout: 5000,
  retryStrategy: (times: number) => Math.min(times * 100, 2000),
} as const;

async function optionalPeer(name: 'ioredis' | 'nodemailer', field: string): Promise<Record<string, unknown>> {
  try {
    return (await import(name)) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`npuser serve: ${field} needs the ${name} package: npm install ${name}`);
  }
}

async function buildStore(
  plan: ServePlan,
  log: (entry: Record<string, unknown>) => void,
): Promise<{ store: CodeStore | undefined; close: Closeable | undefined }> {
  if (plan.store.kind === 'memory') return { store: undefined, close: undefined };
  const ioredis = await optionalPeer('ioredis', 'store.redis');
  const Redis = (ioredis.Redis ?? ioredis.default) as new (url: string, options: object) => import('ioredis').Redis;
  const client = new Redis(plan.store.url, { ...REDIS_OPTIONS, lazyConnect: true });
  let reported = false;
  client.on('error', (err: unknown) => {
    // Once per outage: a reconnecting client repeats itself many times a second.
    if (reported) return;
    reported = true;
    const code = (err as { code?: unknown }).code;
    log({ event: 'store.error', ...(typeof code === 'string' ? { error: code } : {}) });
  });
  client.on('ready', () => {
    if (reported) log({ event: 'store.ready' });
    reported = false;
  });
  // Started without Redis, the server still comes up: readyz says 503 until it answers.
  await client.connect().catch(() => undefined);
  const keyPrefix = plan.store.keyPrefix;
  return {
    store: redisCodeStore(keyPrefix === undefined ? { client } : { client, keyPrefix }),
    close: {
      close: () =>
        client.quit().then(
          () => undefined,
          () => {
            client.disconnect();
          },
        ),
    },
  };
}

async function buildMailer(
  plan: ServePlan,
  output: ServeOutput,
): Promise<{ mailer: Mailer | ((app: ServiceAppInfo) => Mailer); close: Closeable | undefined }> {
  if (plan.mailer.kind === 'console') {
    try {
      // Stdout is the access log's: the printed messages go to stderr.
      return { mailer: consoleMailer({ write: output.err }), close: undefined };
    } catch (err) {
      throw new ConfigError(
        err instanceof TypeError && /NODE_ENV=production/.test(err.message)
          ? 'npuser serve: bad configuration: mailer is the console, which is refused when NODE_ENV=production; set mailer.smtp or SMTP_URL'
          : `npuser serve: ${String(err)}`,
      );
    }
  }
  const nodemailer = await optionalPeer('nodemailer', 'mailer.smtp');
  const createTransport = (nodemailer.createTransport ?? (nodemailer.default as Record<string, unknown> | undefined)?.createTransport) as
    ((url: string) => NodemailerTransporter & { close(): void }) | undefined;
  if (createTransport === undefined)
    throw new ConfigError('npuser serve: mailer.smtp needs the nodemailer package: npm install nodemailer');
  const transporter = createTransport(plan.mailer.url);
  const mailers = new Map<string, Mailer>();
  const mailer = (app: ServiceAppInfo): Mailer => {
    // `from` was checked for every live app with the configuration.
    const made = mailers.get(app.id) ?? nodemailerMailer({ transporter, from: app.from ?? '' });
    mailers.set(app.id, made);
    return made;
  };
  return {
    mailer,
    close: {
      close: () => {
        transporter.close();
      },
    },
  };
}

// The host is the caller's to claim: the service reads only the path.
const ORIGIN = 'http://npuser.local';

/** The service's `Request`: method, the path on a fixed origin, the headers as Node.js joined them, the body read from the socket when asked for. */
function requestOf(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (typeof value === 'string') headers.append(name, value);
    else for (const one of value) headers.append(name, one);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const url = new URL(req.url ?? '/', ORIGIN);
  return lazyRequest(req, url.href, method, headers, hasBody ? 'stream' : undefined);
}

/** Above this, gathered log lines are written at once rather than at the end of the turn. */
const LOG_BATCH_CHARS = 64 * 1024;

/**
 * Lines for `write`, gathered and written once per turn of the event loop:
 * a write to a pipe is synchronous in Node.js and costs more than answering
 * a request, so many requests share one. `flush()` writes what is gathered now.
 */
function lineBatcher(write: (text: string) => void): { add(line: string): void; flush(): void } {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  return {
    add(line) {
      pending += line;
      if (pending.length > LOG_BATCH_CHARS) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

/**
 * Start `npuser serve` from a plan: resolves once the server listens.
 * @throws ConfigError for a configuration that cannot start.
 * @internal
 */
export async function startServer(plan: ServePlan, output: ServeOutput): Promise<RunningServer> {
  const lines = lineBatcher(output.out);
  const log = (entry: Record<string, unknown>) => {
    // The server's own events go out at once, after the access lines before them.
    lines.flush();
    output.out(`${JSON.stringify({ ts: new Date().toISOString(), ...entry })}\n`);
  };
  const { mailer, close: closeMailer } = await buildMailer(plan, output);
  const { store, close: closeStore } = await buildStore(plan, log);
  let service: Service;
  try {
    service = createService({
      ...plan.service,
      ...(store === undefined ? {} : { store }),
      mailer,
      onAccess: (entry) => {
        lines.add(`${JSON.stringify(entry)}\n`);
      },
    });
  } catch (err) {
    await closeStore?.close();
    await closeMailer?.close();
    if (err instanceof TypeError) throw configErrorOf(err, plan.source);
    throw err;
  }

  let inFlight = 0;
  let draining = false;
  const server = createServer(
    {
      headersTimeout: plan.timeouts.headersTimeoutMs,
      requestTimeout: plan.timeouts.requestTimeoutMs,
      keepAliveTimeout: plan.timeouts.keepAliveTimeoutMs,
      // Far above any request npuser takes; a flood of headers is refused early.
      maxHeaderSize: 16 * 1024,
    },
    (req, res) => {
      inFlight += 1;
      let request: Request;
      try {
        request = requestOf(req);
      } catch {
        inFlight -= 1;
        res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('bad request');
        return;
      }
      service(request)
        .then((response) => {
          // A body the service never read (a 404, a 401) is drained, so the connection can serve the next request.
          discardUnread(request);
          return writeResponse(res, response, draining ? CLOSE : undefined);
        })
        .catch(() => {
          if (!res.headersSent) res.writeHead(500, { connection: 'close' });
          res.end();
        })
        .finally(() => {
          inFlight -= 1;
        });
    },
  );
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ConfigError(`npuser serve: cannot listen on ${plan.host}:${plan.port} (${err.code ?? err.message})`));
    });
    server.listen(plan.port, plan.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : plan.port;
  log({
    event: 'listening',
    host: plan.host,
    port,
    apps: plan.service.apps.length,
    store: plan.store.kind,
    mailer: plan.mailer.kind,
    config: plan.source,
  });

  let shutdown: Promise<number> | undefined;
  return {
    server,
    service,
    port,
    shutdown: () => {
      shutdown ??= (async () => {
        draining = true;
        service.drain();
        log({ event: 'shutdown', inFlight });
        const closed = new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
        server.closeIdleConnections();
        const state = { forced: false };
        const timer = setTimeout(() => {
          state.forced = true;
          server.closeAllConnections();
        }, plan.timeouts.shutdownTimeoutMs);
        await closed;
        clearTimeout(timer);
        await Promise.allSettled([closeStore?.close(), closeMailer?.close()]);
        log({ event: 'stopped', forced: state.forced });
        return state.forced ? 1 : 0;
      })();
      return shutdown;
    },
  };
}
