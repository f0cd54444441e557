import { type NpUserErrorCode, NpUserError, isNpUserError } from '../errors.js';
import { checkContext } from '../lib/context.js';
import { GuardedStore } from '../lib/guarded-store.js';
import { keyedHash } from '../lib/keys.js';
import { consoleMailer } from '../mailers/console.js';
import { NpUser } from '../np-user.js';
import { memoryCodeStore } from '../stores/memory.js';
import type { CodeMessage, Mailer, RequestContext, StoreCounter, StoreEntry, ValidateTokenResult } from '../types.js';
import { type FieldValues, fields, readBody } from './body.js';
import { type ProblemLocale, negotiateLocale, newRequestId, problemOf, problemResponse } from './problem.js';
import {
  type ResolvedApp,
  type ResolvedServiceConfig,
  type ServiceAccessLogEntry,
  type ServiceConfig,
  resolveServiceConfig,
} from './service-config.js';
import {
  apiKeyDigest,
  apiKeyMode,
  appServiceKeys,
  appSigningKey,
  etagOf,
  sameDigest,
  seal,
  unseal,
  type AppServiceKeys,
} from './service-keys.js';
import { textResponse } from './response.js';
import { serviceOpenApi } from './service-openapi.js';
import { BODY_FIELDS, type ServiceOperation, type ServiceRoute, SERVICE_ROUTES, pathPattern } from './service-routes.js';

/**
 * The npuser service as a web-standard handler: call it with a `Request`,
 * get a `Response`. Mount it as it is on Bun (`Bun.serve({ fetch: service })`),
 * Deno (`Deno.serve(service)`), Hono, or node:http through an adapter;
 * `npuser serve` does the last for you.
 *
 * @example
 * ```ts
 * import { consoleMailer } from 'npuser';
 * import { createService } from 'npuser/http';
 * const blog = { id: 'blog', secret: process.env.BLOG_SECRET!, apiKeys: [{ id: 'k1', sha256: process.env.BLOG_KEY_SHA256! }] };
 * const service = createService({ apps: [blog], store, mailer: () => consoleMailer() });
 * const response = await service(new Request('http://npuser.internal/healthz'));
 * process.on('SIGTERM', () => service.drain()); // readyz answers 503 from now on
 * ```
 */
export interface Service {
  /** Answer one request. Never rejects: every failure is a problem answer. */
  (request: Request): Promise<Response>;
  /** The same handler, for hosts that want an object with `fetch` (Bun, Deno, Workers). */
  readonly fetch: (request: Request) => Promise<Response>;
  /**
   * Start shutting down: `readyz` answers 503 and every new request but
   * `healthz` and `readyz` gets a 503 `ERR_NPUSER_UNAVAILABLE` with
   * `Retry-After`; requests already running finish.
   */
  drain(): void;
  /** Whether {@link Service.drain} was called. */
  readonly draining: boolean;
  /** The OpenAPI 3.1 description `/openapi.json` serves. */
  openapi(): Record<string, unknown>;
}

/** The wait announced for a 503 whose end is not known. */
const UNAVAILABLE_RETRY_SECONDS = 5;
/** How long an idempotent request holds its key against a concurrent duplicate. */
const IDEMPOTENCY_LOCK_MS = 60_000;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;
const READY_KEY = '{npuser-service}:ready';

/** One app as the handler serves it. */
interface App {
  readonly config: ResolvedApp;
  /** Signs users in; checks revocation. */
  readonly np: NpUser;
  /** The same keys without the revocation list: tells "revoked" from "invalid". */
  readonly stateless: NpUser;
  readonly keys: AppServiceKeys;
  /** Test apps: the code each capture received, by canonical address, oldest first. */
  readonly captured: Map<string, string[]> | undefined;
  /** The JWKS answer's body and ETag, or `undefined` for an HS256 app. */
  readonly jwks: { readonly body: string; readonly etag: string } | undefined;
}

/** A route's body fields, checked against its rules. */
type Fields = Readonly<Record<string, string | number | undefined>>;

interface Caller {
  readonly app: App;
  readonly keyId: string;
  /** The store key of its quota counter. */
  readonly quotaKey: string;
}

/** What a route's work needs, and what it tells the access log. */
interface Exchange {
  readonly request: Request;
  readonly requestId: string;
  readonly locale: ProblemLocale;
  /** Headers every answer of this request carries (the quota's). */
  readonly headers: Record<string, string>;
  route: ServiceRoute | undefined;
  caller: Caller | undefined;
  params: Record<string, string>;
}

function captureMailer(captured: Map<string, string[]>): Mailer {
  return {
    send(message: CodeMessage) {
      const queue = captured.get(message.to) ?? [];
      queue.push(message.code);
      captured.set(message.to, queue);
      return Promise.resolve();
    },
  };
}

function buildApp(app: ResolvedApp, config: ResolvedServiceConfig, store: ServiceConfig['store'] & object): App {
  const captured = app.mode === 'test' ? new Map<string, string[]>() : undefined;
  const mailer: Mailer =
    captured !== undefined
      ? captureMailer(captured)
      : typeof config.mailer === 'function'
        ? config.mailer({ id: app.id, name: app.name, from: app.from, mode: app.mode })
        : (config.mailer ?? consoleMailer());
  const signingKeys =
    app.tokenSigning === 'EdDSA'
      ? [app.signingKeyVersion, app.signingKeyVersion - 1].filter((v) => v >= 1).map((v) => appSigningKey(app.secret, v))
      : undefined;
  const options = {
    secret: app.secret,
    appName: app.name,
    audience: app.id,
    store,
    mailer,
    now: config.now,
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(app.tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds: app.tokenTtlSeconds }),
    ...(config.storeTimeoutMs === undefined ? {} : { storeTimeoutMs: config.storeTimeoutMs }),
    ...(config.mailerTimeoutMs === undefined ? {} : { mailerTimeoutMs: config.mailerTimeoutMs }),
    ...(signingKeys === undefined ? {} : { signingKeys }),
  };
  const np = new NpUser(options);
  const jwksBody = signingKeys === undefined ? undefined : JSON.stringify(np.jwks());
  return {
    config: app,
    np,
    stateless: new NpUser({ ...options, checkRevocation: false }),
    keys: appServiceKeys(app.secret),
    captured,
    jwks: jwksBody === undefined ? undefined : { body: jwksBody, etag: etagOf(jwksBody) },
  };
}

function problem(code: NpUserErrorCode): never {
  throw new NpUserError(code);
}

/**
 * The npuser service: many apps, an API key each, as one web-standard
 * handler serving the route table (`POST /v1/request-code`,
 * `/v1/verify-code`, `/v1/validate-token`, `/v1/revoke-token`,
 * `/v1/introspect`; `GET /v1/apps/{appId}/jwks.json`, `/healthz`,
 * `/readyz`, `/openapi.json`).
 *
 * - The API key (`Authorization: Bearer npu_sk_…`, or `npu_test_…` for a
 *   test app) identifies the app: no request names one, so a key of app A
 *   can never act for app B. Keys are looked up by their SHA-256 and
 *   compared in constant time; a key past its `notAfter` is refused.
 * - Each app has its own `NpUser` (its own secret, name, token lifetime and
 *   signing keys): its subjects are unlinkable to every other app's, and its
 *   limits are its own. Each key also has a request quota, announced with
 *   `RateLimit-Policy` and `RateLimit`.
 * - Browsers are refused (`Origin` or `Sec-Fetch-Site` present: 403): the
 *   key belongs on the app's server.
 * - Every failure is an RFC 9457 problem with the stable `ERR_NPUSER_*`
 *   code; nothing answered or logged carries an address, a code, a token or a key.
 *
 * @throws TypeError when an option is missing or malformed (naming it).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createService } from 'npuser/http';
 * import { nodemailerMailer } from 'npuser/mailers/nodemailer';
 *
 * const service = createService({
 *   apps: [
 *     {
 *       id: 'blog',
 *       name: 'My blog',
 *       secret: process.env.BLOG_SECRET!,
 *       from: 'My blog <no-reply@blog.example>',
 *       apiKeys: [{ id: 'k1', sha256: '…hex SHA-256 of the key…', notAfter: '2027-06-01T00:00:00Z' }],
 *     },
 *   ],
 *   store, // e.g. redisCodeStore({ client })
 *   mailer: (app) => nodemailerMailer({ transporter, from: app.from! }),
 * });
 * const answer = await service(new Request('http://localhost/readyz'));
 * ```
 */
export function createService(config: ServiceConfig): Service {
  const resolved = resolveServiceConfig(config);
  const store = resolved.store ?? memoryCodeStore({ now: resolved.now });
  const guarded = new GuardedStore(store, resolved.storeTimeoutMs ?? 5000);
  const apps = new Map<string, App>();
  const keys = new Map<
    string,
    { readonly app: App; readonly id: string; readonly digest: Buffer; readonly notAfterMs: number | undefined; readonly quotaKey: string }
  >();
  for (const app of resolved.apps) {
    const built = buildApp(app, resolved, store);
    apps.set(app.id, built);
    for (const key of app.apiKeys) {
      const quotaKey = `{${keyedHash(built.keys.storeKey, 'quota', key.id).toString('base64url')}}:quota`;
      keys.set(key.digest.toString('hex'), { app: built, ...key, quotaKey });
    }
  }
  const { requests: quotaRequests, windowSeconds } = resolved.quota;
  const openapiBody = JSON.stringify(serviceOpenApi({ version: '1', quota: resolved.quota }));
  const routes = SERVICE_ROUTES.map((route) => ({ route, pattern: pathPattern(route.path) }));
  let draining = false;

  const now = (): number => resolved.now();

  function answer(exchange: Exchange, status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return textResponse(exchange.request, body === undefined ? null : JSON.stringify(body), {
      status,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
        'cache-control': 'no-store',
        'x-request-id': exchange.requestId,
        ...exchange.headers,
        ...headers,
      },
    });
  }

  /** The caller, from its API key: no store, no mailer, nothing but the configuration. */
  function authenticate(exchange: Exchange): Caller {
    const { headers } = exchange.request;
    // A browser never gets here with a key it should not hold; refuse before looking at one.
    if (headers.has('origin') || headers.has('sec-fetch-site')) problem('ERR_NPUSER_FORBIDDEN');
    const match = BEARER.exec(headers.get('authorization') ?? '');
    const presented = match?.[1];
    const mode = presented === undefined ? undefined : apiKeyMode(presented);
    if (presented === undefined || mode === undefined) problem('ERR_NPUSER_UNAUTHENTICATED');
    const digest = apiKeyDigest(presented);
    const entry = keys.get(digest.toString('hex'));
    if (entry === undefined || !sameDigest(digest, entry.digest) || entry.app.config.mode !== mode) problem('ERR_NPUSER_UNAUTHENTICATED');
    if (entry.notAfterMs !== undefined && now() >= entry.notAfterMs) problem('ERR_NPUSER_UNAUTHENTICATED');
    const caller = { app: entry.app, keyId: entry.id, quotaKey: entry.quotaKey };
    exchange.caller = caller;
    return caller;
  }

  /** Count the request against its key's quota, and announce what is left. */
  async function countQuota(exchange: Exchange, caller: Caller): Promise<void> {
    const counter = await guarded.increment(caller.quotaKey, windowSeconds * 1000);
    const resetSeconds = Math.max(1, Math.ceil(counter.ttlMs / 1000));
    exchange.headers['ratelimit-policy'] = `"key";q=${quotaRequests};w=${windowSeconds}`;
    exchange.headers.ratelimit = `"key";r=${Math.max(0, quotaRequests - counter.count)};t=${resetSeconds}`;
    if (counter.count > quotaRequests) throw new NpUserError('ERR_NPUSER_RATE_LIMITED', { retryAfterSeconds: resetSeconds });
  }

  /** The context of a request, refused as a bad request (not a server error) when malformed. */
  function contextOf(clientKey: string | undefined, locale: string | undefined): RequestContext {
    try {
      return checkContext({ clientKey, locale });
    } catch {
      return problem('ERR_NPUSER_BAD_REQUEST');
    }
  }

  /**
   * A token of the caller's app, checked: its claims, or why it is not valid.
   * The revocation list is read only for a token that is otherwise valid; a
   * refusal after that is told apart by checking once more without it.
   */
  async function check(
    app: App,
    token: string,
    maxTokenAgeSeconds?: number,
  ): Promise<ValidateTokenResult | 'invalid' | 'expired' | 'revoked'> {
    const options = maxTokenAgeSeconds === undefined ? undefined : { maxTokenAgeSeconds };
    try {
      return await app.np.validateToken(token, options);
    } catch (err) {
      if (isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')) return 'expired';
      if (!isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')) throw err;
    }
    try {
      await app.stateless.validateToken(token, options);
      return 'revoked';
    } catch {
      return 'invalid';
    }
  }

  async function requestCode(exchange: Exchange, caller: Caller, body: Fields): Promise<Response> {
    const f = body as FieldValues<typeof BODY_FIELDS.requestCode>;
    const context = contextOf(f.clientKey, f.locale);
    const idempotencyKey = exchange.request.headers.get('idempotency-key');
    if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) problem('ERR_NPUSER_BAD_REQUEST');
    const { app } = caller;
    const run = async (): Promise<{ email: string; expiresAt: string; code?: string }> => {
      const result = await app.np.requestCode(f.email as string, context);
      const code = app.captured === undefined ? undefined : takeCaptured(app.captured, result.email);
      return { email: result.email, expiresAt: result.expiresAt.toISOString(), ...(code === undefined ? {} : { code }) };
    };
    if (idempotencyKey === null) return answer(exchange, 200, await run());
    const fingerprint = keyedHash(app.keys.storeKey, 'idempotent request', f.email as string, f.clientKey ?? '', f.locale ?? '').toString(
      'base64url',
    );
    const { result, replayed } = await idempotent(app, idempotencyKey, fingerprint, run);
    return answer(exchange, 200, result, replayed ? { 'idempotent-replayed': 'true' } : {});
  }

  /**
   * Run `run` once per idempotency key: a retry finds the first answer
   * (sealed, so the store holds no address and no code in the clear) and
   * replays it; a retry while the first is still running is told to come
   * back in a second. Only a success is kept: after a failure a retry runs again.
   */
  async function idempotent<T extends { expiresAt: string }>(
    app: App,
    idempotencyKey: string,
    fingerprint: string,
    run: () => Promise<T>,
  ): Promise<{ result: T; replayed: boolean }> {
    const tag = `{${keyedHash(app.keys.storeKey, 'idempotency key', idempotencyKey).toString('base64url')}}`;
    const resultKey = `${tag}:idempotent`;
    const lockKey = `${tag}:idempotent-lock`;
    // The lock is taken before the answer is looked for: a first request that
    // finishes in between is then seen either by its answer or by its lock.
    const [lock, stored] = (await guarded.transact([
      { op: 'increment', key: lockKey, ttlMs: IDEMPOTENCY_LOCK_MS },
      { op: 'get', key: resultKey },
    ])) as [StoreCounter, StoreEntry | undefined];
    if (stored !== undefined) {
      const record = parseIdempotent(stored.value);
      // The same key for another request is the caller's mistake.
      if (record.fingerprint !== fingerprint) problem('ERR_NPUSER_BAD_REQUEST');
      const plain = unseal(app.keys.sealing, resultKey, record.sealed);
      if (plain === undefined)
        throw new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: new Error('an idempotent answer did not unseal') });
      return { result: JSON.parse(plain) as T, replayed: true };
    }
    if (lock.count > 1) throw new NpUserError('ERR_NPUSER_UNAVAILABLE', { retryAfterSeconds: 1 });
    try {
      const result = await run();
      const ttlMs = Date.parse(result.expiresAt) - now();
      if (ttlMs > 0) {
        const value = JSON.stringify({ f: fingerprint, s: seal(app.keys.sealing, resultKey, JSON.stringify(result)) });
        // The code is on its way: a failure to keep the answer must not turn that into an error.
        await guarded.set(resultKey, value, ttlMs).catch(() => undefined);
      }
      return { result, replayed: false };
    } finally {
      await guarded.delete(lockKey).catch(() => undefined);
    }
  }

  async function verifyCode(exchange: Exchange, caller: Caller, body: Fields): Promise<Response> {
    const f = body as FieldValues<typeof BODY_FIELDS.verifyCode>;
    const context = contextOf(f.clientKey, undefined);
    const result = await caller.app.np.verifyCode(f.email as string, f.code as string, context);
    return answer(exchange, 200, {
      token: result.token,
      subject: result.subject,
      email: result.email,
      expiresAt: result.expiresAt.toISOString(),
    });
  }

  async function validateToken(exchange: Exchange, caller: Caller, body: Fields): Promise<Response> {
    const f = body as FieldValues<typeof BODY_FIELDS.validateToken>;
    const result = await check(caller.app, f.token as string, f.maxTokenAgeSeconds);
    if (typeof result === 'string') return answer(exchange, 200, { active: false, reason: result });
    return answer(exchange, 200, {
      active: true,
      subject: result.subject,
      issuedAt: result.issuedAt.toISOString(),
      expiresAt: result.expiresAt.toISOString(),
      authenticatedAt: result.authenticatedAt.toISOString(),
      tokenId: result.tokenId,
      claims: result.claims,
    });
  }

  async function revokeToken(exchange: Exchange, caller: Caller, body: Fields): Promise<Response> {
    const f = body as FieldValues<typeof BODY_FIELDS.revokeToken>;
    try {
      await caller.app.np.revokeToken(f.token as string);
    } catch (err) {
      // Not this app's token: nothing to revoke, and nothing to tell about it.
      if (!isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')) throw err;
    }
    return answer(exchange, 204, undefined);
  }

  async function introspect(exchange: Exchange, caller: Caller, body: Fields): Promise<Response> {
    const f = body as FieldValues<typeof BODY_FIELDS.introspect>;
    const result = await check(caller.app, f.token as string);
    if (typeof result === 'string') return answer(exchange, 200, { active: false });
    const { claims } = result;
    return answer(exchange, 200, {
      active: true,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      auth_time: claims.auth_time,
      client_id: caller.app.config.id,
      token_type: 'Bearer',
    });
  }

  function jwks(exchange: Exchange): Response {
    const app = apps.get(exchange.params.appId ?? '');
    const keySet = app?.jwks;
    if (keySet === undefined) problem('ERR_NPUSER_NOT_FOUND');
    const headers = { etag: keySet.etag, 'cache-control': 'public, max-age=300', 'x-request-id': exchange.requestId };
    const tags = exchange.request.headers.get('if-none-match');
    if (tags !== null && tags.split(',').some((t) => t.trim() === keySet.etag || t.trim() === '*'))
      return new Response(null, { status: 304, headers });
    return textResponse(exchange.request, keySet.body, {
      status: 200,
      headers: { ...headers, 'content-type': 'application/jwk-set+json' },
    });
  }

  async function readyz(exchange: Exchange): Promise<Response> {
    if (draining) throw new NpUserError('ERR_NPUSER_UNAVAILABLE', { retryAfterSeconds: UNAVAILABLE_RETRY_SECONDS });
    try {
      await guarded.get(READY_KEY);
    } catch {
      throw new NpUserError('ERR_NPUSER_UNAVAILABLE', { retryAfterSeconds: UNAVAILABLE_RETRY_SECONDS });
    }
    return answer(exchange, 200, { status: 'ready' });
  }

  const operations: Readonly<Record<ServiceOperation, (exchange: Exchange, caller: Caller, body: Fields) => Promise<Response> | Response>> =
    {
      requestCode,
      verifyCode,
      validateToken,
      revokeToken,
      introspect,
      jwks,
      healthz: (exchange) => answer(exchange, 200, { status: 'ok' }),
      readyz,
      openapi: (exchange) =>
        textResponse(exchange.request, openapiBody, {
          status: 200,
          headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': exchange.requestId },
        }),
    };

  async function dispatch(exchange: Exchange): Promise<Response> {
    const { pathname } = new URL(exchange.request.url);
    const method = exchange.request.method.toUpperCase();
    const matches = routes.flatMap(({ route, pattern }) => {
      const found = pattern.exec(pathname);
      return found === null ? [] : [{ route, appId: found[1] }];
    });
    if (matches.length === 0) problem('ERR_NPUSER_NOT_FOUND');
    const match = matches.find((m) => m.route.method === method);
    if (match === undefined) {
      exchange.route = matches[0]?.route;
      exchange.headers.allow = [...new Set(matches.map((m) => m.route.method))].join(', ');
      problem('ERR_NPUSER_METHOD_NOT_ALLOWED');
    }
    const { route } = match;
    exchange.route = route;
    if (match.appId !== undefined) exchange.params = { appId: match.appId };
    if (draining && route.operation !== 'healthz' && route.operation !== 'readyz') {
      throw new NpUserError('ERR_NPUSER_UNAVAILABLE', { retryAfterSeconds: UNAVAILABLE_RETRY_SECONDS });
    }
    if (!route.auth) return operations[route.operation](exchange, undefined as unknown as Caller, {});
    // Caller, then body, then quota: a request refused for its key or its
    // body has touched neither the store nor the mailer.
    const caller = authenticate(exchange);
    const body = route.body === undefined ? {} : fields(await readBody(exchange.request, [route.body.kind]), route.body.fields);
    await countQuota(exchange, caller);
    return operations[route.operation](exchange, caller, body);
  }

  async function handle(request: Request): Promise<Response> {
    const started = performance.now();
    const exchange: Exchange = {
      request,
      requestId: newRequestId(),
      locale: negotiateLocale(request.headers.get('accept-language')),
      headers: {},
      route: undefined,
      caller: undefined,
      params: {},
    };
    let response: Response;
    let code: NpUserErrorCode | undefined;
    try {
      response = await dispatch(exchange);
    } catch (err) {
      const found = problemOf(err);
      code = found.code;
      const wait =
        found.retryAfterSeconds ??
        (code === 'ERR_NPUSER_STORE_FAILED' || code === 'ERR_NPUSER_UNAVAILABLE' ? UNAVAILABLE_RETRY_SECONDS : undefined);
      response = problemResponse(code, {
        requestId: exchange.requestId,
        locale: exchange.locale,
        retryAfterSeconds: wait,
        headers: exchange.headers,
        request,
      });
    }
    const log = resolved.onAccess;
    if (log !== undefined) {
      const entry: ServiceAccessLogEntry = {
        // The wall clock: a log line says when it was written, whatever clock the sign-ins run on.
        ts: new Date().toISOString(),
        requestId: exchange.requestId,
        method: request.method,
        route: exchange.route?.path ?? null,
        status: response.status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        ...(exchange.caller === undefined ? {} : { app: exchange.caller.app.config.id, keyId: exchange.caller.keyId }),
        ...(code === undefined ? {} : { code }),
      };
      try {
        log(entry);
      } catch {
        // A logger's failure must not fail the request.
      }
    }
    return response;
  }

  const service = Object.assign(handle, {
    fetch: handle,
    drain: () => {
      draining = true;
    },
    openapi: () => JSON.parse(openapiBody) as Record<string, unknown>,
  });
  return Object.defineProperty(service, 'draining', { get: () => draining, enumerable: true }) as typeof service & {
    readonly draining: boolean;
  };
}

function takeCaptured(captured: Map<string, string[]>, address: string): string | undefined {
  const queue = captured.get(address);
  const code = queue?.shift();
  if (queue !== undefined && queue.length === 0) captured.delete(address);
  return code;
}

function parseIdempotent(value: string): { fingerprint: string; sealed: string } {
  try {
    const parsed = JSON.parse(value) as { f?: unknown; s?: unknown };
    if (typeof parsed.f === 'string' && typeof parsed.s === 'string') return { fingerprint: parsed.f, sealed: parsed.s };
  } catch {
    // Falls through to the failure below.
  }
  throw new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: new Error('the store returned a malformed idempotent answer') });
}
