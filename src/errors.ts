/**
 * Every code an {@link NpUserError} can carry. Codes are never renamed or
 * removed. New codes may be added, each recorded in the changelog: an
 * exhaustive `switch (err.code)` then fails to type-check, which is the point,
 * so give it a `default` branch if that must never happen.
 *
 * - `ERR_NPUSER_INVALID_EMAIL`: the address is not one npuser accepts.
 * - `ERR_NPUSER_INVALID_CODE`: the code is wrong, expired, already used or was
 *   never issued. One answer for all four, so nothing leaks.
 * - `ERR_NPUSER_TOO_MANY_ATTEMPTS`: too many wrong codes since the last code
 *   was sent: that code no longer works, request a new one (no wait).
 * - `ERR_NPUSER_ADDRESS_LOCKED`: the address failed too often today and is
 *   locked; `retryAfterSeconds` says when it opens again.
 * - `ERR_NPUSER_RATE_LIMITED`: too many requests; see `retryAfterSeconds`.
 * - `ERR_NPUSER_INVALID_TOKEN`: the token is malformed, forged, revoked or not for this app.
 * - `ERR_NPUSER_TOKEN_EXPIRED`: the token was genuine but has expired.
 * - `ERR_NPUSER_MAILER_FAILED`: the mailer failed or timed out; the code was deleted.
 * - `ERR_NPUSER_STORE_FAILED`: the store failed, timed out, answered garbage or is full.
 *
 * Over HTTP only (`npuser/http` answers them, `npuser/client` throws them),
 * always about the caller, never about the user's code:
 *
 * - `ERR_NPUSER_BAD_REQUEST`: malformed JSON, unknown or missing fields, wrong types.
 * - `ERR_NPUSER_UNAUTHENTICATED`: the API key is missing, malformed, unknown or expired.
 * - `ERR_NPUSER_FORBIDDEN`: a browser called the service, or a cross-site request reached the sign-in routes.
 * - `ERR_NPUSER_NOT_FOUND`: no such route.
 * - `ERR_NPUSER_METHOD_NOT_ALLOWED`: the route exists, not with this method.
 * - `ERR_NPUSER_PAYLOAD_TOO_LARGE`: the body is over the limit.
 * - `ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE`: the body's `Content-Type` is not one the route reads.
 * - `ERR_NPUSER_UNAVAILABLE`: the server is shutting down, or could not be reached.
 * - `ERR_NPUSER_INTERNAL`: anything else went wrong on the server.
 *
 * @example
 * ```ts
 * import { NP_USER_ERROR_CODES } from 'npuser';
 * const known = NP_USER_ERROR_CODES.includes('ERR_NPUSER_INVALID_CODE'); // true
 * ```
 */
export const NP_USER_ERROR_CODES = Object.freeze([
  'ERR_NPUSER_INVALID_EMAIL',
  'ERR_NPUSER_INVALID_CODE',
  'ERR_NPUSER_TOO_MANY_ATTEMPTS',
  'ERR_NPUSER_RATE_LIMITED',
  'ERR_NPUSER_INVALID_TOKEN',
  'ERR_NPUSER_TOKEN_EXPIRED',
  'ERR_NPUSER_MAILER_FAILED',
  'ERR_NPUSER_STORE_FAILED',
  'ERR_NPUSER_ADDRESS_LOCKED',
  'ERR_NPUSER_BAD_REQUEST',
  'ERR_NPUSER_UNAUTHENTICATED',
  'ERR_NPUSER_FORBIDDEN',
  'ERR_NPUSER_NOT_FOUND',
  'ERR_NPUSER_METHOD_NOT_ALLOWED',
  'ERR_NPUSER_PAYLOAD_TOO_LARGE',
  'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE',
  'ERR_NPUSER_UNAVAILABLE',
  'ERR_NPUSER_INTERNAL',
] as const);

/**
 * The union of {@link NP_USER_ERROR_CODES}.
 *
 * @example
 * ```ts
 * import type { NpUserErrorCode } from 'npuser';
 * const code: NpUserErrorCode = 'ERR_NPUSER_RATE_LIMITED';
 * ```
 */
export type NpUserErrorCode = (typeof NP_USER_ERROR_CODES)[number];

// The fixed message per code. Messages never interpolate user data, so an
// address, a code or a token can never reach a log through `err.message`.
const MESSAGES: Readonly<Record<NpUserErrorCode, string>> = {
  ERR_NPUSER_INVALID_EMAIL: 'The email address is not valid.',
  ERR_NPUSER_INVALID_CODE: 'The code is not valid. It may be wrong, expired or already used.',
  ERR_NPUSER_TOO_MANY_ATTEMPTS: 'Too many wrong codes. Request a new code.',
  ERR_NPUSER_ADDRESS_LOCKED: 'Too many failed sign-ins for this address. Try again later.',
  ERR_NPUSER_RATE_LIMITED: 'Too many requests. Try again later.',
  ERR_NPUSER_INVALID_TOKEN: 'The token is not valid.',
  ERR_NPUSER_TOKEN_EXPIRED: 'The token has expired.',
  ERR_NPUSER_MAILER_FAILED: 'The code could not be sent.',
  ERR_NPUSER_STORE_FAILED: 'The code store is unavailable.',
  ERR_NPUSER_BAD_REQUEST: 'The request is malformed.',
  ERR_NPUSER_UNAUTHENTICATED: 'The API key is missing, unknown or expired.',
  ERR_NPUSER_FORBIDDEN: 'This request is not allowed from here.',
  ERR_NPUSER_NOT_FOUND: 'There is nothing at this address.',
  ERR_NPUSER_METHOD_NOT_ALLOWED: 'This method is not allowed here.',
  ERR_NPUSER_PAYLOAD_TOO_LARGE: 'The request body is too large.',
  ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: 'The request body has an unsupported content type.',
  ERR_NPUSER_UNAVAILABLE: 'The service is unavailable.',
  ERR_NPUSER_INTERNAL: 'Something went wrong on the server.',
};

// A registry symbol rather than `instanceof`: two copies of npuser in one
// process (ESM and CJS, or two versions) still recognise each other's errors.
const BRAND = Symbol.for('npuser.NpUserError');

/**
 * Options accepted by the {@link NpUserError} constructor.
 *
 * @example
 * ```ts
 * import { NpUserError, type NpUserErrorOptions } from 'npuser';
 * const options: NpUserErrorOptions = { retryAfterSeconds: 30 };
 * throw new NpUserError('ERR_NPUSER_RATE_LIMITED', options);
 * ```
 */
export interface NpUserErrorOptions {
  /** The underlying failure (store or mailer), already free of addresses and codes. */
  cause?: unknown;
  /** Seconds until the limit lifts: for `ERR_NPUSER_RATE_LIMITED` and `ERR_NPUSER_ADDRESS_LOCKED`. */
  retryAfterSeconds?: number;
}

/**
 * The one error class npuser rejects with for bad data and failing backends.
 * Programmer mistakes (wrong option types, a non-string argument) are `TypeError`s instead.
 *
 * The message is fixed per code and never contains an address, a code, a token or a secret.
 *
 * @example
 * ```ts
 * import { NpUserError } from 'npuser';
 * try {
 *   await np.verifyCode(email, code);
 * } catch (err) {
 *   if (err instanceof NpUserError && err.code === 'ERR_NPUSER_RATE_LIMITED') {
 *     res.setHeader('Retry-After', String(err.retryAfterSeconds));
 *   }
 * }
 * ```
 */
export class NpUserError extends Error {
  /** The stable, machine-readable reason. */
  readonly code: NpUserErrorCode;
  /**
   * Whole seconds until a retry can succeed: always set for `ERR_NPUSER_RATE_LIMITED` and
   * `ERR_NPUSER_ADDRESS_LOCKED` (and, over HTTP, for `ERR_NPUSER_STORE_FAILED` and
   * `ERR_NPUSER_UNAVAILABLE` when the server says). Never set for
   * `ERR_NPUSER_TOO_MANY_ATTEMPTS`: a new code can be requested at once.
   */
  // `declare`: no class field, so an error without a wait has no such property at all.
  declare readonly retryAfterSeconds?: number;

  constructor(code: NpUserErrorCode, options: NpUserErrorOptions = {}) {
    super(MESSAGES[code], 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'NpUserError';
    this.code = code;
    if (options.retryAfterSeconds !== undefined)
      Object.defineProperty(this, 'retryAfterSeconds', { value: options.retryAfterSeconds, enumerable: true });
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * `instanceof NpUserError` as usual, except that it never throws: a value
   * whose prototype cannot be read (a revoked Proxy, one whose traps throw)
   * is simply not an NpUserError. npuser tests what stores and mailers
   * reject with, and a hostile value must not escape as a raw `TypeError`:
   * `revokedProxy instanceof NpUserError` is `false`, where plain `instanceof` would throw.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    try {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    } catch {
      return false;
    }
  }
}

/**
 * Whether `err` is an {@link NpUserError}, optionally with the given `code`.
 * Works across copies of the package loaded side by side (ESM and CJS).
 * With a code, `err.code` is narrowed to it, so code-specific handling
 * type-checks without a cast.
 *
 * @example
 * ```ts
 * import { isNpUserError } from 'npuser';
 *
 * // The token, or undefined when the code was wrong and the user should try again.
 * async function signIn(email: string, code: string): Promise<string | undefined> {
 *   try {
 *     return (await np.verifyCode(email, code)).token;
 *   } catch (err) {
 *     if (isNpUserError(err, 'ERR_NPUSER_INVALID_CODE')) return undefined;
 *     if (isNpUserError(err, 'ERR_NPUSER_RATE_LIMITED')) res.set('Retry-After', String(err.retryAfterSeconds));
 *     throw err;
 *   }
 * }
 * ```
 */
export function isNpUserError<C extends NpUserErrorCode = NpUserErrorCode>(
  err: unknown,
  code?: C,
): err is NpUserError & {
  /** The code asked for. */
  readonly code: C;
} {
  if (typeof err !== 'object' || err === null) return false;
  // A guard never throws: a Proxy whose traps throw is not an NpUserError.
  try {
    if ((err as Record<symbol, unknown>)[BRAND] !== true) return false;
    return code === undefined || (err as NpUserError).code === code;
  } catch {
    return false;
  }
}
