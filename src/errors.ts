/**
 * Every code an {@link NpUserError} can carry. The list only grows, and each
 * addition is recorded in the changelog, so `switch (err.code)` stays exhaustive.
 *
 * - `ERR_NPUSER_INVALID_EMAIL`: the address is not one npuser accepts.
 * - `ERR_NPUSER_INVALID_CODE`: the code is wrong, expired, already used or was
 *   never issued. One answer for all four, so nothing leaks.
 * - `ERR_NPUSER_TOO_MANY_ATTEMPTS`: this code is burned, or the address is
 *   locked after too many failures (then with `retryAfterSeconds`).
 * - `ERR_NPUSER_RATE_LIMITED`: too many requests; see `retryAfterSeconds`.
 * - `ERR_NPUSER_INVALID_TOKEN`: the token is malformed, forged or not for this app.
 * - `ERR_NPUSER_TOKEN_EXPIRED`: the token was genuine but has expired.
 * - `ERR_NPUSER_MAILER_FAILED`: the mailer failed or timed out; the code was deleted.
 * - `ERR_NPUSER_STORE_FAILED`: the store failed, timed out, answered garbage or is full.
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
  ERR_NPUSER_TOO_MANY_ATTEMPTS: 'Too many wrong attempts. Request a new code later.',
  ERR_NPUSER_RATE_LIMITED: 'Too many requests. Try again later.',
  ERR_NPUSER_INVALID_TOKEN: 'The token is not valid.',
  ERR_NPUSER_TOKEN_EXPIRED: 'The token has expired.',
  ERR_NPUSER_MAILER_FAILED: 'The code could not be sent.',
  ERR_NPUSER_STORE_FAILED: 'The code store is unavailable.',
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
  /** Seconds until the limit lifts: for `ERR_NPUSER_RATE_LIMITED`, and for a locked address. */
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
   * Whole seconds until a retry can succeed: always set for `ERR_NPUSER_RATE_LIMITED`, and for
   * `ERR_NPUSER_TOO_MANY_ATTEMPTS` when the address is locked (not when only the code is burned:
   * a new code can be requested at once).
   */
  readonly retryAfterSeconds?: number;

  constructor(code: NpUserErrorCode, options: NpUserErrorOptions = {}) {
    super(MESSAGES[code], 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'NpUserError';
    this.code = code;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * Whether `err` is an {@link NpUserError}, optionally with the given `code`.
 * Works across copies of the package loaded side by side (ESM and CJS).
 *
 * @example
 * ```ts
 * import { isNpUserError } from 'npuser';
 * try {
 *   await np.verifyCode(email, code);
 * } catch (err) {
 *   if (isNpUserError(err, 'ERR_NPUSER_INVALID_CODE')) return showWrongCode();
 *   throw err;
 * }
 * ```
 */
export function isNpUserError(err: unknown, code?: NpUserErrorCode): err is NpUserError {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (err as NpUserError).code === code;
}
