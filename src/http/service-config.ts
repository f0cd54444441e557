import { functionOption, integerOption, optionError, optionsObject } from '../lib/checks.js';
import { OPTION_BOUNDS } from '../options.js';
import type { CodeStore, Mailer } from '../types.js';

/**
 * One API key of an app, as the configuration holds it: never the key, only
 * its SHA-256.
 *
 * @example
 * ```ts
 * import type { ServiceApiKey } from 'npuser/http';
 * const key: ServiceApiKey = { id: 'k1', sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', notAfter: '2027-06-01T00:00:00Z' };
 * ```
 */
export interface ServiceApiKey {
  /** Names the key in access logs and in the quota; unique within the app (1–64 characters). */
  readonly id: string;
  /** The SHA-256 of the key, in hex (`npuser keys create` prints it). */
  readonly sha256: string;
  /** The key is refused from this instant on (an ISO 8601 date-time, or a `Date`). @default never */
  readonly notAfter?: string | Date | undefined;
}

/**
 * One app the service signs users in for. Each app has its own secret, so
 * its subjects, codes, limits and keys are unlinkable to every other app's.
 *
 * @example
 * ```ts
 * import type { ServiceAppConfig } from 'npuser/http';
 * const blog: ServiceAppConfig = {
 *   id: 'blog',
 *   name: 'My blog',
 *   secret: process.env.BLOG_SECRET!,
 *   from: 'My blog <no-reply@blog.example>',
 *   apiKeys: [{ id: 'k1', sha256: process.env.BLOG_KEY_SHA256! }],
 * };
 * ```
 */
export interface ServiceAppConfig {
  /**
   * The app's id: 1–63 lowercase letters, digits and hyphens, starting with a
   * letter or digit. It is the tokens' `aud`, the `client_id` of
   * introspection and the path of the app's JWKS.
   */
  readonly id: string;
  /** The name in the message. @default the id */
  readonly name?: string | undefined;
  /** The app's own key, at least 32 bytes: codes, subjects, store keys and signing keys derive from it. */
  readonly secret: string | Uint8Array;
  /** The sender of the app's mail, given to the `mailer` factory. */
  readonly from?: string | undefined;
  /** The app's API keys: several may be active at once (rotation), each with an optional `notAfter`. */
  readonly apiKeys: readonly ServiceApiKey[];
  /**
   * `test`: the app's keys start `npu_test_`, `request-code` answers carry
   * the code and no mail is sent. `live`: keys start `npu_sk_`, and the code
   * only ever goes to the mailbox.
   * @default 'live'
   */
  readonly mode?: 'live' | 'test' | undefined;
  /** Token lifetime in seconds, 60 s – 30 days. @default 3600 */
  readonly tokenTtlSeconds?: number | undefined;
  /**
   * `EdDSA`: tokens are signed with an Ed25519 key derived from the secret
   * (see `signingKeyVersion`) and verifiable offline with the app's JWKS.
   * `HS256`: signed with a key derived from the secret; only the service
   * can check them, and the JWKS route answers 404.
   * @default 'EdDSA'
   */
  readonly tokenSigning?: 'EdDSA' | 'HS256' | undefined;
  /**
   * Which Ed25519 key signs, 1–1000000: version `n` is derived from the
   * secret under its own label and `n`. Rotate by adding one: the new key
   * signs, the previous one still verifies (and stays in the JWKS), so no
   * one is signed out. Tokens of two versions back are refused, so bump at
   * most once per token lifetime.
   * @default 1
   */
  readonly signingKeyVersion?: number | undefined;
}

/**
 * What a `mailer` factory is told about the app it makes a mailer for.
 *
 * @example
 * ```ts
 * import type { ServiceAppInfo } from 'npuser/http';
 * const describe = (app: ServiceAppInfo) => `${app.name} <${app.from ?? 'no-reply@example.com'}>`;
 * ```
 */
export interface ServiceAppInfo {
  /** The app's id. */
  readonly id: string;
  /** The app's name, as in its messages. */
  readonly name: string;
  /** The app's `from`, when configured. */
  readonly from: string | undefined;
  /** Always `live`: test apps send no mail. */
  readonly mode: 'live' | 'test';
}

/**
 * One line of the access log, as `onAccess` receives it: never a body, an
 * address, a code, a token, a key or a client IP.
 *
 * @example
 * ```ts
 * import type { ServiceAccessLogEntry } from 'npuser/http';
 * const onAccess = (entry: ServiceAccessLogEntry) => process.stdout.write(`${JSON.stringify(entry)}\n`);
 * ```
 */
export interface ServiceAccessLogEntry {
  /** When the answer was ready, ISO 8601. */
  readonly ts: string;
  /** As in the `X-Request-Id` header. */
  readonly requestId: string;
  /** The request's method. */
  readonly method: string;
  /** The route's template (`/v1/apps/{appId}/jwks.json`), or `null` for an unknown path. */
  readonly route: string | null;
  /** The answer's status. */
  readonly status: number;
  /** How long the answer took, in milliseconds. */
  readonly ms: number;
  /** The calling app, once its key was accepted. */
  readonly app?: string;
  /** The id of the API key used, once accepted. */
  readonly keyId?: string;
  /** The problem's code, for an error. */
  readonly code?: string;
}

/**
 * The per-API-key request quota, announced with `RateLimit-Policy` and `RateLimit`.
 *
 * @example
 * ```ts
 * import type { ServiceQuota } from 'npuser/http';
 * const quota: ServiceQuota = { requests: 6000, windowSeconds: 60 };
 * ```
 */
export interface ServiceQuota {
  /** Requests per window, 1–1000000000. @default 1000 */
  readonly requests?: number | undefined;
  /** The window, 1–86400 s; it opens at a key's first request. @default 60 */
  readonly windowSeconds?: number | undefined;
}

/**
 * Options for `createService`. The store and the mailer are given, built
 * however the host likes (`npuser serve` builds Redis and SMTP ones from
 * its configuration): the HTTP layer knows neither.
 *
 * @example
 * ```ts
 * import { createService, type ServiceConfig } from 'npuser/http';
 * import { memoryMailer } from 'npuser/testing';
 * const config: ServiceConfig = {
 *   apps: [{ id: 'blog', secret: process.env.BLOG_SECRET!, apiKeys: [{ id: 'k1', sha256: process.env.BLOG_KEY_SHA256! }] }],
 *   mailer: memoryMailer(),
 * };
 * const service = createService(config);
 * ```
 */
export interface ServiceConfig {
  /** The apps served: at least one, ids and API key hashes unique. */
  readonly apps: readonly ServiceAppConfig[];
  /** Where every app's codes, counters, quotas and idempotent answers live. @default memoryCodeStore() on the `now` clock */
  readonly store?: CodeStore | undefined;
  /**
   * Who delivers the codes: one mailer for every app, or a factory called
   * once per live app (to give each its `from`). Test apps send no mail.
   * @default consoleMailer() outside production
   */
  readonly mailer?: Mailer | ((app: ServiceAppInfo) => Mailer) | undefined;
  /** The tokens' `iss`. @default 'npuser' */
  readonly issuer?: string | undefined;
  /** The per-API-key quota. @default 1000 requests per 60 s */
  readonly quota?: ServiceQuota | undefined;
  /** How long to wait for one store call, 1–60000 ms. @default 5000 */
  readonly storeTimeoutMs?: number | undefined;
  /** How long to wait for the mailer, 1–120000 ms. @default 10000 */
  readonly mailerTimeoutMs?: number | undefined;
  /** The clock, in milliseconds since the epoch: codes, limits, tokens and key expiry. @default Date.now */
  readonly now?: (() => number) | undefined;
  /** Told about every answer, for access logs; its errors are ignored. @default undefined */
  readonly onAccess?: ((entry: ServiceAccessLogEntry) => void) | undefined;
}

/** An app after validation. @internal */
export interface ResolvedApp {
  readonly id: string;
  readonly name: string;
  readonly secret: Uint8Array;
  readonly from: string | undefined;
  readonly mode: 'live' | 'test';
  readonly tokenTtlSeconds: number | undefined;
  readonly tokenSigning: 'EdDSA' | 'HS256';
  readonly signingKeyVersion: number;
  readonly apiKeys: readonly { readonly id: string; readonly digest: Buffer; readonly notAfterMs: number | undefined }[];
}

/** The configuration after validation. @internal */
export interface ResolvedServiceConfig {
  readonly apps: readonly ResolvedApp[];
  readonly store: CodeStore | undefined;
  readonly mailer: Mailer | ((app: ServiceAppInfo) => Mailer) | undefined;
  readonly issuer: string | undefined;
  readonly quota: { readonly requests: number; readonly windowSeconds: number };
  readonly storeTimeoutMs: number | undefined;
  readonly mailerTimeoutMs: number | undefined;
  readonly now: () => number;
  readonly onAccess: ((entry: ServiceAccessLogEntry) => void) | undefined;
}

const WHO = 'createService';
/** What an app id looks like: it is a path segment and a token audience. @internal */
export const APP_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MIN_SECRET_BYTES = 32;

function secretOf(name: string, value: unknown): Uint8Array {
  const bytes =
    typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? Uint8Array.from(value) : undefined;
  if (bytes === undefined) throw optionError(WHO, name, 'must be a string or a Uint8Array');
  if (bytes.length < MIN_SECRET_BYTES)
    throw optionError(WHO, name, `must be at least ${MIN_SECRET_BYTES} bytes (try: openssl rand -base64 32)`);
  return bytes;
}

function label(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw optionError(WHO, name, 'must be a non-empty string of at most 256 characters without control characters');
  }
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw optionError(WHO, name, `must be ${allowed.map((a) => `'${a}'`).join(' or ')}`);
  return value as T;
}

function notAfter(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)
        ? Date.parse(value)
        : Number.NaN;
  if (!Number.isFinite(ms)) throw optionError(WHO, name, 'must be an ISO 8601 date-time with a time zone (2027-06-01T00:00:00Z) or a Date');
  return ms;
}

function resolveApp(input: unknown, index: number, digests: Set<string>): ResolvedApp {
  const at = `apps[${index}]`;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw optionError(WHO, at, 'must be an object');
  const app = { ...(input as ServiceAppConfig) } as Partial<Record<keyof ServiceAppConfig, unknown>>;
  if (typeof app.id !== 'string' || !APP_ID.test(app.id)) {
    throw optionError(WHO, `${at}.id`, 'must be 1–63 lowercase letters, digits and hyphens, starting with a letter or digit');
  }
  const secret = secretOf(`${at}.secret`, app.secret);
  if (!Array.isArray(app.apiKeys)) throw optionError(WHO, `${at}.apiKeys`, 'must be an array of { id, sha256, notAfter? }');
  const ids = new Set<string>();
  const apiKeys = (app.apiKeys as unknown[]).map((key, k) => {
    const where = `${at}.apiKeys[${k}]`;
    if (typeof key !== 'object' || key === null) throw optionError(WHO, where, 'must be an object { id, sha256, notAfter? }');
    const { id, sha256, notAfter: until } = key as Record<string, unknown>;
    if (typeof id !== 'string' || !KEY_ID.test(id))
      throw optionError(WHO, `${where}.id`, 'must be 1–64 letters, digits, dots, hyphens or underscores');
    if (ids.has(id)) throw optionError(WHO, `${where}.id`, `repeats the key id "${id}"`);
    ids.add(id);
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256.toLowerCase())) {
      throw optionError(WHO, `${where}.sha256`, 'must be the SHA-256 of the key: 64 hex characters');
    }
    const hex = sha256.toLowerCase();
    if (digests.has(hex))
      throw optionError(WHO, `${where}.sha256`, 'is the hash of a key already configured: a key belongs to one app only');
    digests.add(hex);
    return { id, digest: Buffer.from(hex, 'hex'), notAfterMs: notAfter(`${where}.notAfter`, until) };
  });
  const bounds = OPTION_BOUNDS.tokenTtlSeconds;
  return {
    id: app.id,
    name: label(`${at}.name`, app.name) ?? app.id,
    secret,
    from: label(`${at}.from`, app.from),
    mode: oneOf(`${at}.mode`, app.mode, ['live', 'test'], 'live'),
    tokenTtlSeconds:
      app.tokenTtlSeconds === undefined
        ? undefined
        : integerOption(WHO, `${at}.tokenTtlSeconds`, app.tokenTtlSeconds, 0, bounds.min, bounds.max),
    tokenSigning: oneOf(`${at}.tokenSigning`, app.tokenSigning, ['EdDSA', 'HS256'], 'EdDSA'),
    signingKeyVersion: integerOption(WHO, `${at}.signingKeyVersion`, app.signingKeyVersion, 1, 1, 1_000_000),
    apiKeys,
  };
}

/**
 * Validate `createService`'s options once, with a `TypeError` naming the
 * option for anything wrong.
 * @internal
 */
export function resolveServiceConfig(config: ServiceConfig): ResolvedServiceConfig {
  const given = optionsObject<ServiceConfig>(WHO, config);
  if (!Array.isArray(given.apps) || given.apps.length === 0) throw optionError(WHO, 'apps', 'must be a non-empty array of apps');
  const digests = new Set<string>();
  const apps = (given.apps as unknown[]).map((app, index) => resolveApp(app, index, digests));
  const seen = new Set<string>();
  for (const [index, app] of apps.entries()) {
    if (seen.has(app.id)) throw optionError(WHO, `apps[${index}].id`, `repeats the app id "${app.id}"`);
    seen.add(app.id);
  }
  const store = given.store as CodeStore | undefined;
  if (store !== undefined && (typeof store !== 'object' || (store as unknown) === null))
    throw optionError(WHO, 'store', 'must be a CodeStore');
  const mailer = given.mailer as ResolvedServiceConfig['mailer'];
  if (
    mailer !== undefined &&
    typeof mailer !== 'function' &&
    (typeof mailer !== 'object' || typeof (mailer as Partial<Mailer>).send !== 'function')
  ) {
    throw optionError(WHO, 'mailer', 'must be a Mailer or a function (app) => Mailer');
  }
  if (given.quota !== undefined && (typeof given.quota !== 'object' || given.quota === null)) {
    throw optionError(WHO, 'quota', 'must be an object { requests?, windowSeconds? }');
  }
  const quota = { ...(given.quota as ServiceQuota | undefined) };
  const now = functionOption<() => number>(WHO, 'now', given.now) ?? Date.now;
  return {
    apps,
    store,
    mailer,
    issuer: label('issuer', given.issuer),
    quota: {
      requests: integerOption(WHO, 'quota.requests', quota.requests, 1000, 1, 1_000_000_000),
      windowSeconds: integerOption(WHO, 'quota.windowSeconds', quota.windowSeconds, 60, 1, 86_400),
    },
    storeTimeoutMs:
      given.storeTimeoutMs === undefined ? undefined : integerOption(WHO, 'storeTimeoutMs', given.storeTimeoutMs, 0, 1, 60_000),
    mailerTimeoutMs:
      given.mailerTimeoutMs === undefined ? undefined : integerOption(WHO, 'mailerTimeoutMs', given.mailerTimeoutMs, 0, 1, 120_000),
    now,
    onAccess: functionOption<(entry: ServiceAccessLogEntry) => void>(WHO, 'onAccess', given.onAccess),
  };
}
