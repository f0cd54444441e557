import { type ResolvedSigningKey, type SigningKeyInput, resolveSigningKeys } from './lib/signing-keys.js';
import type { CodeStore, Mailer, NpUserEvent, SignInContext, TokenClaimsContext } from './types.js';

/**
 * Options for `new NpUser(options)`. Only `secret` is required.
 *
 * Every number carries its unit in its name. Bounds are enforced at
 * construction with a `TypeError` naming the option; the resolved options are
 * frozen, so nothing changes them afterwards.
 *
 * @example
 * ```ts
 * import { NpUser, type NpUserOptions } from 'npuser';
 * const options: NpUserOptions = {
 *   secret: process.env.NPUSER_SECRET!, // 32 bytes or more, e.g. `openssl rand -base64 32`
 *   appName: 'My blog',
 *   audience: 'my-blog',
 *   codeLength: 8,
 * };
 * const np = new NpUser(options);
 * ```
 */
export interface NpUserOptions {
  /**
   * The app's own key, at least 32 bytes (a string counts its UTF-8 bytes).
   * Code hashes, store keys, subjects and the HS256 signing key are all derived
   * from it with HKDF under distinct labels. There is no default.
   */
  secret: string | Uint8Array;
  /**
   * A separate key for subject pseudonyms (`sub`). When set it wins over
   * `secret` for subjects, so `secret` can be rotated without changing who is who.
   * @default derived from `secret`
   */
  subjectSecret?: string | Uint8Array | undefined;
  /** The token's `iss`, checked on validation. @default 'npuser' */
  issuer?: string | undefined;
  /**
   * The token's `aud`, checked on validation. It also binds codes and store keys
   * to this app, so two apps sharing a store never see each other's codes.
   * @default 'npuser'
   */
  audience?: string | undefined;
  /** The app's display name, shown in the message. @default 'npuser' */
  appName?: string | undefined;
  /** Where codes and counters live. @default memoryCodeStore() on the `now` clock */
  store?: CodeStore | undefined;
  /**
   * Who delivers the code. Required when `NODE_ENV=production`.
   * @default consoleMailer() outside production
   */
  mailer?: Mailer | undefined;
  /** Digits per code, 6–10. Each digit divides a guess's odds by ten. @default 6 */
  codeLength?: number | undefined;
  /** How long a code works, 30–600 s. @default 600 */
  codeTtlSeconds?: number | undefined;
  /**
   * Tries per code sent, 1–10. Every verification of the address counts,
   * whether a code is pending or not; the last allowed try, if wrong, ends the
   * code (`ERR_NPUSER_TOO_MANY_ATTEMPTS`), and so does every try after it
   * until a new code is sent.
   * @default 5
   */
  maxAttempts?: number | undefined;
  /**
   * Failed verifications per address, across re-issued codes, before the
   * address is locked (`ERR_NPUSER_ADDRESS_LOCKED`), 1–100. The window opens
   * at the first failure and lasts 24 hours; neither a new code nor a
   * successful sign-in resets it, so an attacker's budget is the same
   * whatever the address's owner does.
   * @default 100
   */
  maxFailuresPerDay?: number | undefined;
  /** Seconds between two codes for one address, 0–3600 (0 turns it off). @default 60 */
  resendCooldownSeconds?: number | undefined;
  /** Codes per address per hour (window opens at the first request), 1–100. @default 5 */
  maxCodesPerHour?: number | undefined;
  /**
   * Codes one client (`context.clientKey`) may request per hour, over all
   * addresses, 1–10000. Ignored without a `clientKey`.
   * @default 30
   */
  maxCodesPerClientPerHour?: number | undefined;
  /**
   * Verifications one client may attempt per hour, over all addresses,
   * 1–10000: the budget against one guess sprayed across many addresses.
   * Each attempt is counted before its code is compared, so concurrent
   * guesses cannot overshoot it; a sign-in counts too, which is why the
   * default leaves room for two tries per code of `maxCodesPerClientPerHour`.
   * Ignored without a `clientKey`.
   * @default 60
   */
  maxVerificationsPerClientPerHour?: number | undefined;
  /** Token lifetime, 60 s – 30 days. @default 3600 */
  tokenTtlSeconds?: number | undefined;
  /**
   * The longest a sign-in lasts, 60 s – 400 days and at least
   * `tokenTtlSeconds`, however often its token is refreshed (`refreshToken`,
   * or the sign-in handler's sliding renewal): no token expires later than
   * this after its `auth_time`. A user who comes back within a token's lifetime
   * stays signed in up to this long.
   * @default 2592000 (30 days)
   */
  maxSessionSeconds?: number | undefined;
  /** Allowed clock skew when validating `exp`, `iat` and `nbf`, 0–300 s. @default 30 */
  clockToleranceSeconds?: number | undefined;
  /** How long to wait for one store call before failing closed, 1–60000 ms. @default 5000 */
  storeTimeoutMs?: number | undefined;
  /** How long to wait for the mailer before failing closed, 1–120000 ms. @default 10000 */
  mailerTimeoutMs?: number | undefined;
  /**
   * The clock, in milliseconds since the epoch. Every time decision (code
   * expiry, limits, token `iat`/`exp` and validation) goes through it.
   * @default Date.now
   */
  now?: (() => number) | undefined;
  /**
   * Makes a code of `length` digits. It must use a CSPRNG and return exactly
   * `length` ASCII digits; anything else is refused with a `TypeError`.
   * @default uniform digits from `crypto.randomInt`
   */
  generateCode?: ((length: number) => string) | undefined;
  /**
   * Asymmetric keys for tokens that other services verify offline with
   * `np.jwks()`: Ed25519 (EdDSA) or P-256 (ES256), as JWKs or `KeyObject`s.
   * The first key signs and must be private; every key verifies, each with the
   * one algorithm its type implies, selected by the token's `kid`. To rotate,
   * put the new key first and keep the old one (its public half is enough)
   * until the last token it signed has expired. When set, HS256 is no longer
   * accepted. `npx npuser keys generate` prints a new key.
   * @default HS256 with a key derived from `secret`
   */
  signingKeys?: readonly SigningKeyInput[] | undefined;
  /**
   * Put the canonical address in the token as `email` (with `email_verified: true`).
   * Off by default: a token then says who someone is in this app and nothing more.
   * @default false
   */
  includeEmail?: boolean | undefined;
  /**
   * Adds the app's own claims to each token. It cannot replace a registered
   * claim (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `auth_time`,
   * `email`, `email_verified`): naming one is a `TypeError`.
   * @default undefined (no app claims)
   */
  tokenClaims?: ((context: TokenClaimsContext) => Record<string, unknown> | Promise<Record<string, unknown>>) | undefined;
  /**
   * Check the revocation list (`revokeToken`, `revokeSubject`) in
   * `validateToken`: one store read per validation. Turn it off for purely
   * stateless validation; then `revokeToken` and `revokeSubject` (sign out
   * everywhere) are refused with a `TypeError`.
   * @default true
   */
  checkRevocation?: boolean | undefined;
  /**
   * Decides who may sign in, given the canonical address, before any code is
   * made or mailed. A refused address gets the same answer as an allowed one
   * after the same store work and about the same time (it waits as long as
   * recent sends took), and no mail: the list cannot be probed from outside.
   * Its errors reject `requestCode` as they are.
   * @default undefined (every valid address may sign in)
   */
  allowEmail?: ((email: string) => boolean | Promise<boolean>) | undefined;
  /**
   * Runs after a code was verified and consumed, before `verifyCode`
   * resolves: where an app creates or updates its own user row (npuser keeps
   * none). If it throws, `verifyCode` rejects with its error and the code is
   * spent; the user requests a new one.
   * @default undefined
   */
  onSignIn?: ((context: SignInContext) => void | Promise<void>) | undefined;
  /**
   * Told about sign-in events. It receives pseudonyms and reasons only; its
   * errors and rejections are ignored so that a listener cannot break sign-in.
   * @default undefined (no listener)
   */
  onEvent?: ((event: NpUserEvent) => void | Promise<void>) | undefined;
}

/**
 * The default of every numeric, naming and on/off option of {@link NpUserOptions}.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from 'npuser';
 * const lifetime = DEFAULTS.codeTtlSeconds; // 600
 * ```
 */
export const DEFAULTS = Object.freeze({
  /** The token's `iss`. */
  issuer: 'npuser',
  /** The token's `aud`; also binds codes and store keys to the app. */
  audience: 'npuser',
  /** The app's name in the message. */
  appName: 'npuser',
  /** Digits per code (6 digits ≈ 19.9 bits). */
  codeLength: 6,
  /** How long a code works, in seconds. */
  codeTtlSeconds: 600,
  /** Tries per code sent; the last, if wrong, burns the code. */
  maxAttempts: 5,
  /** Failures per address across re-issued codes before a 24 h lock. */
  maxFailuresPerDay: 100,
  /** Seconds between two codes for one address. */
  resendCooldownSeconds: 60,
  /** Codes per address per hour. */
  maxCodesPerHour: 5,
  /** Codes one `clientKey` may request per hour. */
  maxCodesPerClientPerHour: 30,
  /** Verification attempts per `clientKey` per hour, right or wrong. */
  maxVerificationsPerClientPerHour: 60,
  /** Token lifetime in seconds. */
  tokenTtlSeconds: 3600,
  /** The longest a sign-in lasts across refreshed tokens, in seconds (30 days). */
  maxSessionSeconds: 30 * 24 * 3600,
  /** Allowed clock skew on `exp`, `iat` and `nbf`, in seconds. */
  clockToleranceSeconds: 30,
  /** Wait for one store call before failing closed, in milliseconds. */
  storeTimeoutMs: 5000,
  /** Wait for the mailer before failing closed, in milliseconds. */
  mailerTimeoutMs: 10_000,
  /** Put the address in the token (`email`, `email_verified`). */
  includeEmail: false,
  /** Read the revocation list in `validateToken`. */
  checkRevocation: true,
} as const);

/**
 * The names of the numeric options, each bounded by {@link OPTION_BOUNDS}.
 *
 * @example
 * ```ts
 * import type { NumericOption } from 'npuser';
 * const name: NumericOption = 'codeLength';
 * ```
 */
export type NumericOption = {
  [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends number ? K : never;
}[keyof typeof DEFAULTS];

/**
 * The inclusive range a numeric option must fall in.
 *
 * @example
 * ```ts
 * import { OPTION_BOUNDS, type OptionBound } from 'npuser';
 * const bound: OptionBound = OPTION_BOUNDS.maxAttempts; // { min: 1, max: 10 }
 * ```
 */
export interface OptionBound {
  /** The smallest value accepted. */
  readonly min: number;
  /** The largest value accepted. */
  readonly max: number;
}

/**
 * The inclusive bounds of each numeric option, enforced at construction.
 *
 * @example
 * ```ts
 * import { OPTION_BOUNDS } from 'npuser';
 * const { min, max } = OPTION_BOUNDS.codeLength; // 6, 10
 * ```
 */
export const OPTION_BOUNDS: Readonly<Record<NumericOption, OptionBound>> = Object.freeze({
  codeLength: { min: 6, max: 10 },
  codeTtlSeconds: { min: 30, max: 600 },
  maxAttempts: { min: 1, max: 10 },
  maxFailuresPerDay: { min: 1, max: 100 },
  resendCooldownSeconds: { min: 0, max: 3600 },
  maxCodesPerHour: { min: 1, max: 100 },
  maxCodesPerClientPerHour: { min: 1, max: 10_000 },
  maxVerificationsPerClientPerHour: { min: 1, max: 10_000 },
  tokenTtlSeconds: { min: 60, max: 30 * 24 * 3600 },
  maxSessionSeconds: { min: 60, max: 400 * 24 * 3600 },
  clockToleranceSeconds: { min: 0, max: 300 },
  storeTimeoutMs: { min: 1, max: 60_000 },
  mailerTimeoutMs: { min: 1, max: 120_000 },
});

/** The minimum length of `secret` and `subjectSecret`, in bytes. */
const MIN_SECRET_BYTES = 32;

/**
 * Options after defaults, validation and freezing.
 * @internal
 */
export interface ResolvedOptions extends Readonly<Record<NumericOption, number>> {
  readonly secret: Uint8Array;
  readonly subjectSecret: Uint8Array | undefined;
  readonly issuer: string;
  readonly audience: string;
  readonly appName: string;
  readonly store: CodeStore | undefined;
  readonly mailer: Mailer | undefined;
  readonly now: () => number;
  readonly generateCode: ((length: number) => string) | undefined;
  readonly onEvent: ((event: NpUserEvent) => void | Promise<void>) | undefined;
  readonly signingKeys: readonly ResolvedSigningKey[] | undefined;
  readonly includeEmail: boolean;
  readonly tokenClaims: NpUserOptions['tokenClaims'];
  readonly checkRevocation: boolean;
  readonly allowEmail: NpUserOptions['allowEmail'];
  readonly onSignIn: NpUserOptions['onSignIn'];
}

function fail(name: string, expectation: string): never {
  throw new TypeError(`npuser: options.${name} ${expectation}`);
}

function secretBytes(name: string, value: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === 'string') bytes = new TextEncoder().encode(value);
  else if (value instanceof Uint8Array) bytes = Uint8Array.from(value);
  else fail(name, 'must be a string or a Uint8Array');
  if (bytes.length < MIN_SECRET_BYTES) {
    fail(name, `must be at least ${MIN_SECRET_BYTES} bytes (try: openssl rand -base64 32)`);
  }
  return bytes;
}

function label(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || /[\u0000-\u001f\u007f]/.test(value)) {
    fail(name, 'must be a non-empty string of at most 256 characters without control characters');
  }
  return value;
}

function integer(name: NumericOption, value: unknown): number {
  if (value === undefined) return DEFAULTS[name];
  const { min, max } = OPTION_BOUNDS[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function optionalFunction(name: string, value: unknown): ((...args: never[]) => unknown) | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') fail(name, 'must be a function');
  return value as (...args: never[]) => unknown;
}

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(name, 'must be a boolean');
  return value;
}

function hasMethods(name: string, value: unknown, methods: readonly string[]): void {
  if (typeof value !== 'object' || value === null) fail(name, `must be an object with ${methods.join(', ')}`);
  for (const method of methods) {
    if (typeof (value as Record<string, unknown>)[method] !== 'function') {
      fail(name, `must have a ${method}() method`);
    }
  }
}

/**
 * Apply defaults, enforce bounds and freeze.
 * @throws TypeError for a bad option, and without a `mailer` under
 * `NODE_ENV=production` (the console mailer would print codes to the log).
 * @internal
 */
export function resolveOptions(options: NpUserOptions): ResolvedOptions {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new TypeError('npuser: new NpUser(options) needs an options object with a secret');
  }
  // One snapshot: each option (even a getter) is read exactly once, then validated and frozen.
  const o = { ...options } as Partial<Record<keyof NpUserOptions, unknown>>;
  if (o.store !== undefined) hasMethods('store', o.store, ['set', 'get', 'consume', 'delete', 'increment']);
  if (o.mailer !== undefined) hasMethods('mailer', o.mailer, ['send']);
  else if (process.env.NODE_ENV === 'production') {
    fail('mailer', 'is required when NODE_ENV=production; the default console mailer would print codes to the log');
  }
  const numeric = Object.fromEntries(
    (Object.keys(OPTION_BOUNDS) as NumericOption[]).map((name) => [name, integer(name, o[name])]),
  ) as Record<NumericOption, number>;
  if (numeric.maxSessionSeconds < numeric.tokenTtlSeconds) {
    fail('maxSessionSeconds', 'must be at least tokenTtlSeconds: a token cannot outlive its sign-in');
  }
  return Object.freeze({
    ...numeric,
    secret: secretBytes('secret', o.secret),
    subjectSecret: o.subjectSecret === undefined ? undefined : secretBytes('subjectSecret', o.subjectSecret),
    issuer: label('issuer', o.issuer, DEFAULTS.issuer),
    audience: label('audience', o.audience, DEFAULTS.audience),
    appName: label('appName', o.appName, DEFAULTS.appName),
    store: o.store as CodeStore | undefined,
    mailer: o.mailer as Mailer | undefined,
    now: (optionalFunction('now', o.now) as (() => number) | undefined) ?? Date.now,
    generateCode: optionalFunction('generateCode', o.generateCode) as ResolvedOptions['generateCode'],
    onEvent: optionalFunction('onEvent', o.onEvent) as ResolvedOptions['onEvent'],
    signingKeys: resolveSigningKeys(o.signingKeys),
    includeEmail: flag('includeEmail', o.includeEmail, DEFAULTS.includeEmail),
    tokenClaims: optionalFunction('tokenClaims', o.tokenClaims) as ResolvedOptions['tokenClaims'],
    checkRevocation: flag('checkRevocation', o.checkRevocation, DEFAULTS.checkRevocation),
    allowEmail: optionalFunction('allowEmail', o.allowEmail) as ResolvedOptions['allowEmail'],
    onSignIn: optionalFunction('onSignIn', o.onSignIn) as ResolvedOptions['onSignIn'],
  });
}

/**
 * The per-call options of `validateToken`: the maximum token age, if any.
 * @throws TypeError when `options` is not an object or `maxTokenAgeSeconds`
 * is not a non-negative integer.
 * @internal
 */
export function resolveValidateOptions(options: unknown): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new TypeError('npuser: validateToken options must be an object');
  const { maxTokenAgeSeconds } = options as { maxTokenAgeSeconds?: unknown };
  if (maxTokenAgeSeconds === undefined) return undefined;
  if (typeof maxTokenAgeSeconds !== 'number' || !Number.isInteger(maxTokenAgeSeconds) || maxTokenAgeSeconds < 0) {
    throw new TypeError('npuser: validateToken options.maxTokenAgeSeconds must be a non-negative integer');
  }
  return maxTokenAgeSeconds;
}

// What npuser's subjects look like: base64url of an HMAC-SHA256 (32 bytes, 43 characters).
const SUBJECT = /^[A-Za-z0-9_-]{43}$/;

/**
 * @throws TypeError when `subject` is not shaped like a subject npuser issues.
 * @internal
 */
export function checkSubject(subject: unknown): asserts subject is string {
  if (typeof subject !== 'string' || !SUBJECT.test(subject)) {
    throw new TypeError("npuser: subject must be a token's sub (43 base64url characters)");
  }
}
