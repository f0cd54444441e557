/**
 * A value read back from a {@link CodeStore}, with the time it has left.
 *
 * @example
 * ```ts
 * import type { StoreEntry } from 'npuser';
 * const entry: StoreEntry = { value: 'opaque', ttlMs: 42_000 };
 * ```
 */
export interface StoreEntry {
  /** The string given to `set`, or a counter's value in decimal. */
  readonly value: string;
  /** Milliseconds until the store itself drops the entry; always > 0. */
  readonly ttlMs: number;
}

/**
 * The result of {@link CodeStore.increment}.
 *
 * @example
 * ```ts
 * import type { StoreCounter } from 'npuser';
 * const counter: StoreCounter = { count: 1, ttlMs: 60_000 };
 * ```
 */
export interface StoreCounter {
  /** The counter's value after this increment: 1 for a counter that did not exist. */
  readonly count: number;
  /** Milliseconds until the counter expires; fixed when it was created, always > 0. */
  readonly ttlMs: number;
}

/**
 * One step of {@link CodeStore.transact}: the five store operations, each
 * with an optional condition that ends the transaction after it.
 *
 * - `get`: the entry, or `undefined`. With `stopIfPresent: true`, the
 *   transaction stops after this step when the entry exists; with
 *   `stopIfCountAtLeast: n`, when the entry exists and holds a counter of at
 *   least `n`. Given both, it stops when either holds. With
 *   `stopIfCountAtLeast`, an entry that is not a counter (decimal digits, no
 *   sign, no leading zero) rejects the whole transaction.
 * - `increment`: as {@link CodeStore.increment}. With `stopIfCountAbove: n`,
 *   the transaction stops after this step (which has counted) when the new
 *   count is above `n`.
 * - `set`, `delete`, `consume`: as the methods of the same names.
 *
 * Thresholds are integers of 0 or more. A step with any other property
 * (a stop condition on an op that has none, one the store does not know) is
 * refused, never ignored.
 *
 * @example
 * ```ts
 * import type { StoreStep } from 'npuser';
 * const steps: StoreStep[] = [
 *   { op: 'get', key: '{tag}:cooldown', stopIfPresent: true },
 *   { op: 'increment', key: '{tag}:hourly', ttlMs: 3_600_000, stopIfCountAbove: 5 },
 *   { op: 'set', key: '{tag}:code', value: 'opaque', ttlMs: 600_000 },
 * ];
 * ```
 */
export type StoreStep =
  | {
      /** Read the entry, as {@link CodeStore.get}. */
      readonly op: 'get';
      /** The entry's key. */
      readonly key: string;
      /** Stop after this step when the entry exists. */
      readonly stopIfPresent?: boolean;
      /** Stop after this step when the entry holds a counter of at least this. */
      readonly stopIfCountAtLeast?: number;
    }
  | {
      /** Count, as {@link CodeStore.increment}. */
      readonly op: 'increment';
      /** The counter's key. */
      readonly key: string;
      /** The TTL of a counter this step creates; an existing one keeps its own. */
      readonly ttlMs: number;
      /** Stop after this step when the new count is above this. */
      readonly stopIfCountAbove?: number;
    }
  | {
      /** Write, as {@link CodeStore.set}. */
      readonly op: 'set';
      /** The entry's key. */
      readonly key: string;
      /** The value to store. */
      readonly value: string;
      /** The entry's TTL, from now. */
      readonly ttlMs: number;
    }
  | {
      /** Remove, as {@link CodeStore.delete}. */
      readonly op: 'delete';
      /** The entry's key. */
      readonly key: string;
    }
  | {
      /** Take the value, as {@link CodeStore.consume}. */
      readonly op: 'consume';
      /** The entry's key. */
      readonly key: string;
      /** Take it only when it is exactly this. */
      readonly expected?: string;
    };

/**
 * What one {@link StoreStep} produced: a `get` its entry or `undefined`, an
 * `increment` its counter, a `consume` the value taken or `undefined`, a
 * `set` or `delete` `undefined`.
 *
 * @example
 * ```ts
 * import type { StoreStepResult } from 'npuser';
 * const results: StoreStepResult[] = [undefined, { count: 1, ttlMs: 3_600_000 }, undefined];
 * ```
 */
export type StoreStepResult = StoreEntry | StoreCounter | string | undefined;

/**
 * Where npuser keeps pending codes, attempt counters and rate-limit windows.
 *
 * npuser only ever hands a store keys and values that are keyed hashes or
 * counters: never an address, never a code. What a store must guarantee
 * (`runCodeStoreContract` from `npuser/testing` checks all but the last; "no
 * silent loss" only when given its `capacity` option, "no expiry is expired"
 * only when given `removeExpiry`; the suite cannot make a store fail, so
 * "failures reject" is up to the store's own tests):
 *
 * - **TTL fixed at creation and enforced by the store**: an entry is gone once
 *   `ttlMs` has passed, whoever asks. `increment` never extends an existing TTL.
 * - **No expiry is expired**: an entry found without an expiry (a store bug,
 *   a `PERSIST`, a migration that dropped TTLs) counts as expired for every
 *   operation, in the same atomic step: `get` and `consume` see nothing,
 *   `increment` starts a new counter at 1 with its TTL. A store may delete it
 *   on sight. It must never be read as live, nor make reads fail for ever.
 * - **Atomic consume**: across any number of concurrent callers of
 *   `consume(key)` or `consume(key, expected)`, at most one receives the value.
 * - **Conditional consume**: `consume(key, expected)` deletes the entry only
 *   when its value is exactly `expected`; any other value is left as it was,
 *   with its TTL. The comparison and the deletion are one atomic step, so a
 *   caller holding an older value never removes a newer one that a concurrent
 *   `set` has just written (npuser relies on this when a code is replaced by a
 *   newer request).
 * - **Atomic increment with TTL on creation**: the counter and its TTL come
 *   into existence together (never INCR then EXPIRE).
 * - **Atomic transactions**, for a store that offers `transact`: see there.
 * - **No silent loss**: a store that is full rejects new entries rather than
 *   evicting live ones.
 * - **Failures reject**: any error or timeout rejects the promise; npuser turns
 *   it into `ERR_NPUSER_STORE_FAILED` and fails closed.
 *
 * @example
 * ```ts
 * import { NpUser, memoryCodeStore, type CodeStore } from 'npuser';
 * const store: CodeStore = memoryCodeStore();
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET!, store });
 *
 * // Conditional consume: only the holder of the current value removes it.
 * await store.set('{tag}:code', 'newer', 600_000);
 * await store.consume('{tag}:code', 'older'); // undefined: 'newer' stays, TTL unchanged
 * await store.consume('{tag}:code', 'newer'); // 'newer', and the entry is gone
 * ```
 */
export interface CodeStore {
  /** Store `value` under `key` for `ttlMs` milliseconds, replacing any earlier value and TTL. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** The live entry under `key` with its remaining TTL, or `undefined`. */
  get(key: string): Promise<StoreEntry | undefined>;
  /**
   * Atomically read and delete `key`, if it holds a live value and `expected`
   * is either omitted or equal (`===`) to that value: the entry is then gone
   * and its value is returned. Otherwise (missing, expired, or another value
   * than `expected`) the entry is left exactly as it was, value and TTL, and
   * the result is `undefined`. Checking and deleting are one atomic step: of
   * any number of concurrent callers, at most one receives a given value.
   */
  consume(key: string, expected?: string): Promise<string | undefined>;
  /** Delete `key`; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Atomically add one to the counter under `key`. A new counter starts at 1 and
   * expires `ttlMs` from now; an existing one keeps its original expiry.
   */
  increment(key: string, ttlMs: number): Promise<StoreCounter>;
  /**
   * Optional. Run `steps` in order as one atomic unit: no other call to the
   * store sees a state between two steps, and none runs in between. After a
   * step whose stop condition holds, the remaining steps are not run. Resolves
   * with the result of every step that ran, in order, so the length of the
   * result says where it stopped (an empty list of steps resolves `[]`).
   *
   * Every step is checked before any runs: a bad one (not a step object, an
   * unknown op or property, a key that is not a non-empty string, a TTL that
   * is not a positive number, a value or `expected` that is not a string, a
   * threshold that is not an integer of 0 or more) rejects the call with a
   * `TypeError`, and nothing has happened. A step that fails while running
   * (a value that is not a counter, a full store, the backend failing)
   * rejects the call; the steps before it may have taken effect, as they
   * would have one by one (the memory and Redis stores apply a transaction's
   * writes together, so for them it has changed nothing). The TTL rules are
   * those of the single methods.
   *
   * A store whose keys live on several servers may run consecutive steps of
   * one server as one atomic unit each, in order, stopping at the first unit
   * that stops or fails: the Redis store on a Cluster does, with npuser's
   * keys of one address (or one client) always in one slot.
   *
   * npuser sends each sign-in's store work as one or two transactions, so a
   * store that offers this (the memory and Redis stores do) answers a
   * `requestCode` in one round trip. Without it, npuser runs the same steps
   * with the five methods above, one after the other, each atomic on its own.
   */
  transact?(steps: readonly StoreStep[]): Promise<StoreStepResult[]>;
}

/**
 * Everything a {@link Mailer} needs to deliver one sign-in code.
 *
 * @example
 * ```ts
 * import type { CodeMessage } from 'npuser';
 * const message: CodeMessage = {
 *   to: 'ada@example.com',
 *   code: '042917',
 *   appName: 'My blog',
 *   expiresAt: new Date(Date.now() + 600_000),
 *   ttlSeconds: 600,
 * };
 * ```
 */
export interface CodeMessage {
  /** The canonical address: the one and only recipient. */
  readonly to: string;
  /** The code, digits only, leading zeros kept. */
  readonly code: string;
  /** The app's display name (`appName` option). */
  readonly appName: string;
  /** When the code stops working. */
  readonly expiresAt: Date;
  /** The code's lifetime in seconds, for "valid for 10 minutes". */
  readonly ttlSeconds: number;
  /** The reader's language (BCP 47) when the app passed `context.locale`. */
  readonly locale?: string;
}

/**
 * Options npuser passes to {@link Mailer.send}.
 *
 * @example
 * ```ts
 * import type { MailerSendOptions } from 'npuser';
 * const options: MailerSendOptions = { signal: AbortSignal.timeout(10_000) };
 * ```
 */
export interface MailerSendOptions {
  /** Aborted when npuser stops waiting (`mailerTimeoutMs`); a mailer should give up then. */
  readonly signal: AbortSignal;
}

/**
 * Delivers a {@link CodeMessage}. Resolve once the message is accepted for
 * delivery; reject on any failure (npuser deletes the code and rejects with
 * `ERR_NPUSER_MAILER_FAILED`).
 *
 * @example
 * ```ts
 * import type { Mailer } from 'npuser';
 * const mailer: Mailer = {
 *   async send(message, { signal }) {
 *     await myMailService.send({ to: message.to, text: `Your code: ${message.code}` }, { signal });
 *   },
 * };
 * ```
 */
export interface Mailer {
  /** Deliver the message to `message.to`, and to no one else. */
  send(message: CodeMessage, options: MailerSendOptions): Promise<void>;
}

/**
 * What the app knows about the caller, passed to `requestCode` and `verifyCode`.
 * Each property may be left out or `undefined` (so `{ clientKey: req.ip }`
 * type-checks where `req.ip` may be `undefined`); both mean "not known".
 *
 * @example
 * ```ts
 * import type { RequestContext } from 'npuser';
 * const context: RequestContext = { clientKey: req.socket.remoteAddress, locale: 'fr' };
 * ```
 */
export interface RequestContext {
  /**
   * Identifies the client for per-client limits: the end user's IP address
   * (behind a proxy, the one the proxy saw, never the proxy's own), or a
   * device id. It is stored only as a keyed hash. Without it, per-client
   * limits do not apply; if every user shares one value (a load balancer's
   * address), they all share one budget and lock each other out.
   */
  readonly clientKey?: string | undefined;
  /** The reader's language (BCP 47), passed on to the mailer. */
  readonly locale?: string | undefined;
}

/**
 * What `requestCode` resolves to.
 *
 * @example
 * ```ts
 * const { expiresAt } = await np.requestCode('ada@example.com');
 * res.send(`Code sent; it works until ${expiresAt.toLocaleTimeString()}`);
 * ```
 */
export interface RequestCodeResult {
  /** The canonical address the code was sent to (show it, and carry it to `verifyCode`). */
  readonly email: string;
  /** When the code that was just sent stops working. */
  readonly expiresAt: Date;
}

/**
 * What `verifyCode` resolves to.
 *
 * @example
 * ```ts
 * const { token, subject } = await np.verifyCode('ada@example.com', '042917');
 * ```
 */
export interface VerifyCodeResult {
  /** The signed JWT (`typ: npuser+jwt`). */
  readonly token: string;
  /** The token's `sub`: this app's pairwise pseudonym for the address. */
  readonly subject: string;
  /** The canonical address that proved control of its mailbox. */
  readonly email: string;
  /** When the token expires. */
  readonly expiresAt: Date;
}

/**
 * The claims of a valid npuser token.
 *
 * @example
 * ```ts
 * import type { TokenClaims } from 'npuser';
 * const claims: TokenClaims = { iss: 'npuser', aud: 'my-app', sub: 'x', iat: 1, exp: 2, jti: 'y', auth_time: 1 };
 * ```
 */
export interface TokenClaims {
  /** The issuer (`issuer` option). */
  readonly iss: string;
  /** The audience (`audience` option). */
  readonly aud: string | readonly string[];
  /** The pairwise pseudonym of the address. */
  readonly sub: string;
  /** Issued at, in seconds since the epoch. */
  readonly iat: number;
  /** Expires at, in seconds since the epoch. */
  readonly exp: number;
  /** The token's unique id: 128 random bits, base64url. */
  readonly jti: string;
  /** When the code was verified (the sign-in), in seconds since the epoch; refreshed tokens keep it. */
  readonly auth_time: number;
  /** Any further claim of the verified payload. */
  readonly [claim: string]: unknown;
}

/**
 * What the `tokenClaims` option receives when a token is about to be signed.
 *
 * @example
 * ```ts
 * import { NpUser, type TokenClaimsContext } from 'npuser';
 * const np = new NpUser({
 *   secret: process.env.NPUSER_SECRET!,
 *   tokenClaims: ({ email }: TokenClaimsContext) => ({ role: admins.has(email) ? 'admin' : 'reader' }),
 * });
 * ```
 */
export interface TokenClaimsContext {
  /** The token's `sub`. */
  readonly subject: string;
  /** The canonical address that just proved control of its mailbox. */
  readonly email: string;
}

/**
 * Per-call options of `validateToken`.
 *
 * @example
 * ```ts
 * // A sensitive action: accept only a sign-in from the last five minutes.
 * await np.validateToken(token, { maxTokenAgeSeconds: 300 });
 * ```
 */
export interface ValidateTokenOptions {
  /** Refuse (as expired) a token issued longer ago than this, even if its `exp` is later. */
  readonly maxTokenAgeSeconds?: number | undefined;
}

/**
 * What `validateToken` resolves to.
 *
 * @example
 * ```ts
 * const { subject, expiresAt } = await np.validateToken(token);
 * ```
 */
export interface ValidateTokenResult {
  /** The pairwise pseudonym the token was issued to. */
  readonly subject: string;
  /** The token's `iat`. */
  readonly issuedAt: Date;
  /** The token's `exp`. */
  readonly expiresAt: Date;
  /** The token's `auth_time`: when the code was verified; refreshed tokens keep it. */
  readonly authenticatedAt: Date;
  /** The token's `jti`: 128 random bits, base64url. */
  readonly tokenId: string;
  /** Every claim of the verified payload. */
  readonly claims: TokenClaims;
}

/**
 * What `refreshToken` resolves to: a new token for the same sign-in.
 *
 * @example
 * ```ts
 * const { token: renewed, expiresAt } = await np.refreshToken(token);
 * ```
 */
export interface RefreshTokenResult {
  /** The new signed JWT, with a new `jti` and the same `sub` and `auth_time`. */
  readonly token: string;
  /** The token's `sub`. */
  readonly subject: string;
  /** When the new token expires: never later than `maxSessionSeconds` after the sign-in. */
  readonly expiresAt: Date;
}

/**
 * What the `onSignIn` option receives after a code was verified.
 *
 * @example
 * ```ts
 * import { NpUser, type SignInContext } from 'npuser';
 * const np = new NpUser({
 *   secret: process.env.NPUSER_SECRET!,
 *   onSignIn: async ({ subject }: SignInContext) => {
 *     await db.put(`user:${subject}`, 'signed in', { expiresInMs: 365 * 24 * 3600_000 });
 *   },
 * });
 * ```
 */
export interface SignInContext {
  /** The token's `sub`: this app's pseudonym for the address, the id to key your own user row by. */
  readonly subject: string;
  /** The canonical address that just proved control of its mailbox. */
  readonly email: string;
}

/**
 * The calls an app makes to sign users in, which both `NpUser` (in-process)
 * and `NpUserClient` (`npuser/client`, the service over HTTP) offer with the
 * same shapes and the same errors: code written against it moves between the
 * two by changing the line that creates the object.
 *
 * @example
 * ```ts
 * import { NpUser, type NpUserApi } from 'npuser';
 * const auth: NpUserApi = new NpUser({ secret: process.env.NPUSER_SECRET! });
 * await auth.requestCode('ada@example.com');
 * ```
 */
export interface NpUserApi {
  /** Mail a new code to `email`; see `NpUser.requestCode`. */
  requestCode(email: string, context?: RequestContext): Promise<RequestCodeResult>;
  /** Check a code once and return a signed token; see `NpUser.verifyCode`. */
  verifyCode(email: string, code: string, context?: RequestContext): Promise<VerifyCodeResult>;
  /** Check a token; see `NpUser.validateToken`. */
  validateToken(token: string, options?: ValidateTokenOptions): Promise<ValidateTokenResult>;
  /** Revoke a token before it expires; see `NpUser.revokeToken`. */
  revokeToken(token: string): Promise<void>;
}

/**
 * The events npuser reports through the `onEvent` option. They carry the
 * pairwise pseudonym of the address, never the address, the code or a token.
 *
 * @example
 * ```ts
 * import type { NpUserEventType } from 'npuser';
 * const watched: NpUserEventType[] = ['address.locked', 'rate.limited'];
 * ```
 */
export type NpUserEventType = 'code.requested' | 'code.verified' | 'code.failed' | 'address.locked' | 'rate.limited';

/**
 * Why an event happened.
 *
 * - `sent`: a code was mailed (`code.requested`).
 * - `not-allowed`: `allowEmail` refused the address; nothing was mailed, and
 *   the caller got the same answer as for a sent code (`code.requested`).
 * - `verified`: a code was accepted (`code.verified`).
 * - `wrong-code`: a failed verification (`code.failed`): the code was wrong,
 *   expired, already used or never sent. One reason for all of them, so a log
 *   of events does not tell whether a code was pending either.
 * - `attempts-exhausted`: too many wrong codes since the last one was sent (`code.failed`).
 * - `failures-exhausted`: the address reached its failure budget (`address.locked`).
 * - `address-locked`: a verification (`code.failed`) or a request (`rate.limited`) while the
 *   address is locked.
 * - `cooldown`, `hourly-limit`, `client-requests`, `client-verifications`: a refusal (`rate.limited`).
 *
 * @example
 * ```ts
 * import type { NpUserEventReason } from 'npuser';
 * const reason: NpUserEventReason = 'wrong-code';
 * ```
 */
export type NpUserEventReason =
  | 'sent'
  | 'not-allowed'
  | 'verified'
  | 'wrong-code'
  | 'attempts-exhausted'
  | 'failures-exhausted'
  | 'address-locked'
  | 'cooldown'
  | 'hourly-limit'
  | 'client-requests'
  | 'client-verifications';

/**
 * One event passed to the `onEvent` option.
 *
 * @example
 * ```ts
 * import { NpUser, type NpUserEvent } from 'npuser';
 * const np = new NpUser({
 *   secret: process.env.NPUSER_SECRET!,
 *   onEvent: (event: NpUserEvent) => metrics.count(`${event.type}:${event.reason}`),
 * });
 * ```
 */
export interface NpUserEvent {
  /** What happened. */
  readonly type: NpUserEventType;
  /** Why it happened. */
  readonly reason: NpUserEventReason;
  /** The pairwise pseudonym of the address (the `sub` a token would carry). */
  readonly subject: string;
  /** When it happened, from the `now` option. */
  readonly at: Date;
}
