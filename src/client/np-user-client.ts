import { NP_USER_ERROR_CODES, NpUserError, type NpUserErrorCode } from '../errors.js';
import { checkContext } from '../lib/context.js';
import type {
  NpUserApi,
  RequestCodeResult,
  RequestContext,
  TokenClaims,
  ValidateTokenOptions,
  ValidateTokenResult,
  VerifyCodeResult,
} from '../types.js';

/**
 * Options for {@link NpUserClient}.
 *
 * @example
 * ```ts
 * import type { NpUserClientOptions } from 'npuser/client';
 * const options: NpUserClientOptions = { baseUrl: 'https://npuser.internal', apiKey: process.env.NPUSER_API_KEY!, timeoutMs: 5000 };
 * ```
 */
export interface NpUserClientOptions {
  /** Where the service answers: `https://npuser.example.com` (a path prefix is kept). */
  baseUrl: string | URL;
  /** The app's API key, `npu_sk_…` or `npu_test_…`. It is sent only in `Authorization`, and no error ever holds it. */
  apiKey: string;
  /** The fetch to use (a test's, a proxy's). @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** How long one attempt may take, 1–120000 ms. @default 10000 */
  timeoutMs?: number | undefined;
  /**
   * Further attempts after a failure that is safe to retry, 0–5: the service
   * unreachable or answering 503, for `requestCode` (with the same automatic
   * `Idempotency-Key`, so a retry never mails a second code), `validateToken`
   * and `revokeToken`. `verifyCode` is never retried: a code is checked once.
   * @default 2
   */
  retries?: number | undefined;
  /**
   * Allow `http:` to a host other than this machine. The API key would cross
   * the network in the clear.
   * @default false
   */
  allowInsecureHttp?: boolean | undefined;
}

/**
 * What {@link NpUserClient.requestCode} resolves to: as `NpUser`'s, plus the
 * code itself when the app is a test app (`npu_test_` key).
 *
 * @example
 * ```ts
 * import type { ClientRequestCodeResult } from 'npuser/client';
 * const { email, code }: ClientRequestCodeResult = await auth.requestCode('ada@example.com');
 * ```
 */
export interface ClientRequestCodeResult extends RequestCodeResult {
  /** Test apps only: the code that would have been mailed. */
  readonly code?: string;
}

const WHO = 'NpUserClient';
const API_KEY = /^(npu_sk_|npu_test_)[A-Za-z0-9_-]{43}$/;
// Over these, the service would answer 400 where NpUser answers the coded
// error: refused here with NpUser's answer, so both behave alike.
const MAX_EMAIL_LENGTH = 512;
const MAX_CODE_LENGTH = 64;
const MAX_TOKEN_LENGTH = 4096;
const MAX_TOKEN_AGE_SECONDS = 400 * 24 * 3600;
/** A retry waits at most this long for the service's `Retry-After`; a longer wait is the caller's call. */
const MAX_RETRY_WAIT_MS = 5000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const CODES: ReadonlySet<string> = new Set(NP_USER_ERROR_CODES);

function optionError(name: string, expectation: string): TypeError {
  return new TypeError(`npuser: ${WHO} options.${name} ${expectation}`);
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw optionError(name, `must be an integer from ${min} to ${max}`);
  return value;
}

/** What went wrong on the way, as a cause that names no URL, header or key. */
function transportCause(err: unknown, timeoutMs: number): Error {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return Object.assign(new Error(`the service did not answer within ${timeoutMs} ms`), { name: 'TimeoutError' });
  }
  const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return new Error(
    typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,31}$/.test(code)
      ? `the service could not be reached: ${code}`
      : 'the service could not be reached',
  );
}

function statusCode(status: number): NpUserErrorCode {
  switch (status) {
    case 400:
      return 'ERR_NPUSER_BAD_REQUEST';
    case 401:
      return 'ERR_NPUSER_UNAUTHENTICATED';
    case 403:
      return 'ERR_NPUSER_FORBIDDEN';
    case 404:
      return 'ERR_NPUSER_NOT_FOUND';
    case 405:
      return 'ERR_NPUSER_METHOD_NOT_ALLOWED';
    case 413:
      return 'ERR_NPUSER_PAYLOAD_TOO_LARGE';
    case 415:
      return 'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'ERR_NPUSER_RATE_LIMITED';
    case 502:
    case 503:
    case 504:
      return 'ERR_NPUSER_UNAVAILABLE';
    default:
      return 'ERR_NPUSER_INTERNAL';
  }
}

function retryAfter(value: string | null): number | undefined {
  return value !== null && /^[0-9]{1,9}$/.test(value) ? Number(value) : undefined;
}

/** The error a non-2xx answer stands for: the problem's code and wait, or one from the status. */
async function problemError(response: Response): Promise<NpUserError> {
  let code: NpUserErrorCode | undefined;
  let wait = retryAfter(response.headers.get('retry-after'));
  if ((response.headers.get('content-type') ?? '').toLowerCase().startsWith('application/problem+json')) {
    try {
      const body = (await response.json()) as { code?: unknown; retryAfterSeconds?: unknown };
      if (typeof body.code === 'string' && CODES.has(body.code)) code = body.code as NpUserErrorCode;
      if (typeof body.retryAfterSeconds === 'number' && Number.isSafeInteger(body.retryAfterSeconds) && body.retryAfterSeconds >= 0)
        wait = body.retryAfterSeconds;
    } catch {
      // Not a problem after all: the status speaks.
    }
  } else {
    await response.body?.cancel().catch(() => undefined);
  }
  return new NpUserError(code ?? statusCode(response.status), wait === undefined ? {} : { retryAfterSeconds: wait });
}

function isDate(value: unknown): value is string {
  return typeof value === 'string' && Number.isFinite(Date.parse(value));
}

function malformed(): NpUserError {
  return new NpUserError('ERR_NPUSER_INTERNAL', { cause: new Error('the service answered outside its API') });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A random fraction in [0, 1) from the platform's CSPRNG: jitter for backoff. */
function jitter(): number {
  const [value = 0] = crypto.getRandomValues(new Uint32Array(1));
  return value / 2 ** 32;
}

interface Call {
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly retry: boolean;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The npuser service over HTTP, with the same methods, shapes and errors as
 * `NpUser`: both implement `NpUserApi`, so an app moves between in-process
 * and remote sign-in by changing the line that creates the object. It uses
 * `fetch` and nothing else (no Node.js built-ins), so it runs on Node.js,
 * Bun, Deno and edge runtimes.
 *
 * Problems the service answers become `NpUserError`s with the same `code`
 * and `retryAfterSeconds`; a service that cannot be reached or does not
 * answer in `timeoutMs` is `ERR_NPUSER_UNAVAILABLE`. Only what is safe is
 * retried (see `retries`). No error, and nothing the client prints, holds the API key.
 *
 * @example
 * ```ts
 * import { NpUserClient } from 'npuser/client';
 * import type { NpUserApi } from 'npuser';
 *
 * // Was: const auth: NpUserApi = new NpUser({ secret: process.env.NPUSER_SECRET! });
 * const auth: NpUserApi = new NpUserClient({ baseUrl: 'https://npuser.internal', apiKey: process.env.NPUSER_API_KEY! });
 *
 * await auth.requestCode('ada@example.com', { clientKey: req.ip });
 * const { token } = await auth.verifyCode('ada@example.com', '042917', { clientKey: req.ip });
 * const { subject } = await auth.validateToken(token);
 * ```
 */
export class NpUserClient implements NpUserApi {
  readonly #base: URL;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retries: number;

  /** @throws TypeError when an option is missing or malformed (the message never repeats the key). */
  constructor(options: NpUserClientOptions) {
    if (typeof options !== 'object' || (options as unknown) === null)
      throw new TypeError(`npuser: new ${WHO}(options) needs { baseUrl, apiKey }`);
    const { baseUrl, apiKey, fetch: fetchOption, timeoutMs, retries, allowInsecureHttp } = options;
    let base: URL;
    try {
      base = new URL(baseUrl);
    } catch {
      throw optionError('baseUrl', 'must be an http(s) URL');
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw optionError('baseUrl', 'must be an http(s) URL');
    if (base.username !== '' || base.password !== '') throw optionError('baseUrl', 'must not hold credentials: the API key authenticates');
    if (allowInsecureHttp !== undefined && typeof allowInsecureHttp !== 'boolean')
      throw optionError('allowInsecureHttp', 'must be a boolean');
    if (base.protocol === 'http:' && !LOOPBACK.has(base.hostname) && allowInsecureHttp !== true) {
      throw optionError(
        'baseUrl',
        'must be https: unless it is this machine (the API key would cross the network in the clear); allowInsecureHttp: true allows it',
      );
    }
    if (typeof apiKey !== 'string' || !API_KEY.test(apiKey))
      throw optionError('apiKey', 'must be an npuser API key (npu_sk_… or npu_test_…)');
    if (fetchOption !== undefined && typeof fetchOption !== 'function') throw optionError('fetch', 'must be a function');
    // Typed as always there; a runtime without fetch is still possible.
    const platformFetch = fetchOption ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (platformFetch === undefined) throw optionError('fetch', 'is required: this platform has no global fetch');
    base.search = '';
    base.hash = '';
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.#base = base;
    this.#apiKey = apiKey;
    this.#fetch = platformFetch;
    this.#timeoutMs = integer('timeoutMs', timeoutMs, 10_000, 1, 120_000);
    this.#retries = integer('retries', retries, 2, 0, 5);
  }

  /**
   * Mail a new code to `email`: `POST /v1/request-code`, with an
   * `Idempotency-Key` of its own, so a retry after a lost answer replays
   * the first one instead of mailing a second code.
   *
   * @throws TypeError when `email` is not a string or `context` is malformed.
   * @throws NpUserError as `NpUser.requestCode`, and `ERR_NPUSER_UNAUTHENTICATED`,
   * `ERR_NPUSER_UNAVAILABLE` and the other caller errors of the service.
   *
   * @example
   * ```ts
   * const { email, expiresAt } = await auth.requestCode('ada@example.com', { clientKey: req.ip, locale: 'fr' });
   * ```
   */
  async requestCode(email: string, context?: RequestContext): Promise<ClientRequestCodeResult> {
    if (typeof email !== 'string') throw new TypeError('npuser: email must be a string');
    const ctx = checkContext(context);
    if (email.length > MAX_EMAIL_LENGTH) throw new NpUserError('ERR_NPUSER_INVALID_EMAIL');
    const body = await this.#call({
      path: 'v1/request-code',
      body: { email, ...ctx },
      retry: true,
      headers: { 'idempotency-key': crypto.randomUUID() },
    });
    const { email: address, expiresAt, code } = body as { email?: unknown; expiresAt?: unknown; code?: unknown };
    if (typeof address !== 'string' || !isDate(expiresAt) || (code !== undefined && typeof code !== 'string')) throw malformed();
    return { email: address, expiresAt: new Date(expiresAt), ...(code === undefined ? {} : { code }) };
  }

  /**
   * Check a code once and get a token: `POST /v1/verify-code`. Never
   * retried: an answer lost on the way would have consumed the code.
   *
   * @throws TypeError when `email` or `code` is not a string, or `context` is malformed.
   * @throws NpUserError as `NpUser.verifyCode`, and the caller errors of the service.
   *
   * @example
   * ```ts
   * const { token, subject, expiresAt } = await auth.verifyCode(form.email, form.code, { clientKey: req.ip });
   * ```
   */
  async verifyCode(email: string, code: string, context?: RequestContext): Promise<VerifyCodeResult> {
    if (typeof email !== 'string') throw new TypeError('npuser: email must be a string');
    if (typeof code !== 'string') throw new TypeError('npuser: code must be a string');
    const ctx = checkContext(context);
    if (email.length > MAX_EMAIL_LENGTH) throw new NpUserError('ERR_NPUSER_INVALID_EMAIL');
    if (code.length > MAX_CODE_LENGTH) throw new NpUserError('ERR_NPUSER_INVALID_CODE');
    const { clientKey } = ctx;
    const body = await this.#call({
      path: 'v1/verify-code',
      body: { email, code, ...(clientKey === undefined ? {} : { clientKey }) },
      retry: false,
    });
    const { token, subject, email: address, expiresAt } = body as Record<string, unknown>;
    if (typeof token !== 'string' || typeof subject !== 'string' || typeof address !== 'string' || !isDate(expiresAt)) throw malformed();
    return { token, subject, email: address, expiresAt: new Date(expiresAt) };
  }

  /**
   * Check a token of this app: `POST /v1/validate-token`.
   *
   * @throws TypeError when `token` is not a string or `options` is malformed.
   * @throws NpUserError `ERR_NPUSER_INVALID_TOKEN` (malformed, forged, another
   * app's, revoked), `ERR_NPUSER_TOKEN_EXPIRED`, `ERR_NPUSER_STORE_FAILED`, and
   * the caller errors of the service.
   *
   * @example
   * ```ts
   * const { subject } = await auth.validateToken(token, { maxTokenAgeSeconds: 300 });
   * ```
   */
  async validateToken(token: string, options?: ValidateTokenOptions): Promise<ValidateTokenResult> {
    if (typeof token !== 'string') throw new TypeError('npuser: token must be a string');
    const maxTokenAgeSeconds = validateOptions(options);
    if (token.length > MAX_TOKEN_LENGTH) throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
    const body = await this.#call({
      path: 'v1/validate-token',
      // The service bounds the field; any age past the longest token lifetime means the same.
      body: {
        token,
        ...(maxTokenAgeSeconds === undefined ? {} : { maxTokenAgeSeconds: Math.min(maxTokenAgeSeconds, MAX_TOKEN_AGE_SECONDS) }),
      },
      retry: true,
    });
    const { active, reason, subject, issuedAt, expiresAt, authenticatedAt, tokenId, claims } = body as Record<string, unknown>;
    if (active === false) throw new NpUserError(reason === 'expired' ? 'ERR_NPUSER_TOKEN_EXPIRED' : 'ERR_NPUSER_INVALID_TOKEN');
    if (
      active !== true ||
      typeof subject !== 'string' ||
      !isDate(issuedAt) ||
      !isDate(expiresAt) ||
      !isDate(authenticatedAt) ||
      typeof tokenId !== 'string' ||
      typeof claims !== 'object' ||
      claims === null
    ) {
      throw malformed();
    }
    return {
      subject,
      issuedAt: new Date(issuedAt),
      expiresAt: new Date(expiresAt),
      authenticatedAt: new Date(authenticatedAt),
      tokenId,
      claims: claims as TokenClaims,
    };
  }

  /**
   * Revoke a token before it expires (sign-out): `POST /v1/revoke-token`.
   * Unlike `NpUser.revokeToken`, a token that is not this app's resolves
   * too: the service tells nothing about foreign tokens.
   *
   * @throws TypeError when `token` is not a string.
   * @throws NpUserError `ERR_NPUSER_STORE_FAILED` and the caller errors of the service.
   *
   * @example
   * ```ts
   * await auth.revokeToken(token);
   * ```
   */
  async revokeToken(token: string): Promise<void> {
    if (typeof token !== 'string') throw new TypeError('npuser: token must be a string');
    if (token.length > MAX_TOKEN_LENGTH) return;
    await this.#call({ path: 'v1/revoke-token', body: { token }, retry: true });
  }

  /** One call, retried when `retry` allows and the failure is one a retry can mend. */
  async #call(call: Call): Promise<unknown> {
    const url = new URL(call.path, this.#base);
    const init: RequestInit = {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.#apiKey}`,
        'content-type': 'application/json',
        accept: 'application/json, application/problem+json',
        ...call.headers,
      },
      body: JSON.stringify(call.body),
      // A redirect could carry the key elsewhere: the service never redirects.
      redirect: 'error',
    };
    const attempts = call.retry ? this.#retries + 1 : 1;
    for (let attempt = 1; ; attempt += 1) {
      const last = attempt >= attempts;
      let response: Response;
      try {
        response = await this.#fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
      } catch (err) {
        const error = new NpUserError('ERR_NPUSER_UNAVAILABLE', { cause: transportCause(err, this.#timeoutMs) });
        if (last) throw error;
        await delay(backoffMs(attempt));
        continue;
      }
      if (response.ok) {
        if (response.status === 204) return {};
        try {
          return (await response.json()) as unknown;
        } catch {
          throw malformed();
        }
      }
      const error = await problemError(response);
      const waitMs = (error.retryAfterSeconds ?? 0) * 1000;
      if (last || response.status !== 503 || waitMs > MAX_RETRY_WAIT_MS) throw error;
      await delay(Math.max(waitMs, backoffMs(attempt)));
    }
  }
}

function backoffMs(attempt: number): number {
  return Math.round(100 * 2 ** (attempt - 1) * (1 + jitter()));
}

function validateOptions(options: unknown): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new TypeError('npuser: validateToken options must be an object');
  const { maxTokenAgeSeconds } = options as { maxTokenAgeSeconds?: unknown };
  if (maxTokenAgeSeconds === undefined) return undefined;
  if (typeof maxTokenAgeSeconds !== 'number' || !Number.isInteger(maxTokenAgeSeconds) || maxTokenAgeSeconds < 0) {
    throw new TypeError('npuser: validateToken options.maxTokenAgeSeconds must be a non-negative integer');
  }
  return maxTokenAgeSeconds;
}
