import { NpUserError, isNpUserError } from './errors.js';
import { checkGeneratedCode, normalizeSubmittedCode, randomCode } from './lib/code.js';
import { canonicalEmail } from './lib/email.js';
import { type DerivedKeys, deriveKeys, digestsEqual, keyedHash, randomId } from './lib/keys.js';
import { checkContext } from './lib/context.js';
import { type CodeRecord, parseCodeRecord, serializeCodeRecord } from './lib/code-record.js';
import { type AddressKeys, type ClientKeys, addressKeys, clientKeys, revokedTokenKey } from './lib/store-keys.js';
import type { JsonWebKeySet } from './lib/signing-keys.js';
import { GuardedStore } from './lib/guarded-store.js';
import { redactError } from './lib/redact.js';
import { consoleMailer } from './mailers/console.js';
import { type NpUserOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { memoryCodeStore } from './stores/memory.js';
import { REGISTERED_CLAIMS, type TokenSettings, signToken, verifyToken } from './token.js';
import type {
  CodeMessage,
  Mailer,
  NpUserEventReason,
  NpUserEventType,
  RequestCodeResult,
  RequestContext,
  ValidateTokenOptions,
  ValidateTokenResult,
  VerifyCodeResult,
} from './types.js';

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
// The attempt counter read when no code is pending: shaped like a code id, never issued as one.
const NO_CODE_ID = '-'.repeat(16);

/**
 * Passwordless sign-in by emailed one-time code.
 *
 * `requestCode` mails a code and keeps only a keyed hash of it;
 * `verifyCode` checks it once and returns a signed JWT whose `sub` is this
 * app's pairwise pseudonym for the address; `validateToken` checks such a token.
 *
 * This is single-factor proof of mailbox control, as strong as an emailed
 * password reset: right for blogs, comments and simple services, not for banks.
 *
 * @example
 * ```ts
 * import { NpUser } from 'npuser';
 *
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET!, appName: 'My blog' });
 *
 * await np.requestCode('ada@example.com', { clientKey: ip });   // mails a 6-digit code
 * const { token } = await np.verifyCode('ada@example.com', '042917', { clientKey: ip });
 * const { subject } = await np.validateToken(token);              // the same user next time
 * ```
 */
export class NpUser {
  readonly #options: ResolvedOptions;
  readonly #keys: DerivedKeys;
  readonly #store: GuardedStore;
  readonly #mailer: Mailer;
  readonly #token: TokenSettings;
  // Compared against in the "no pending code" path, so it costs what a real comparison costs.
  readonly #decoyDigest: Buffer;

  /**
   * @throws TypeError when an option is missing, of the wrong type or out of
   * bounds, or when no `mailer` is given under `NODE_ENV=production`.
   */
  constructor(options: NpUserOptions) {
    const resolved = resolveOptions(options);
    if (resolved.mailer === undefined && process.env.NODE_ENV === 'production') {
      throw new TypeError(
        'npuser: options.mailer is required when NODE_ENV=production; the default console mailer would print codes to the log',
      );
    }
    this.#options = resolved;
    this.#keys = deriveKeys(resolved.secret, resolved.subjectSecret);
    this.#store = new GuardedStore(
      resolved.store ?? memoryCodeStore({ now: resolved.now }),
      resolved.storeTimeoutMs,
    );
    this.#mailer = resolved.mailer ?? consoleMailer();
    this.#token = {
      hmacKey: this.#keys.signing,
      signingKeys: resolved.signingKeys,
      issuer: resolved.issuer,
      audience: resolved.audience,
      ttlSeconds: resolved.tokenTtlSeconds,
      clockToleranceSeconds: resolved.clockToleranceSeconds,
    };
    this.#decoyDigest = keyedHash(this.#keys.codeDigest, 'decoy');
  }

  /**
   * Mail a new code to `email`, replacing any code sent before.
   *
   * Order of work: validate and canonicalise the address, check the limits
   * (lock and cooldown first, without spending anything; then per client,
   * cooldown and per hour, each an atomic count), store the code's keyed hash
   * with its TTL, send. If the send fails the code is deleted, but the request
   * still counts against the limits.
   *
   * @param email - The address as the user typed it.
   * @param context - `clientKey` for per-client limits, `locale` for the message.
   * @returns The canonical address and when the code expires.
   * @throws TypeError when `email` is not a string or `context` is malformed.
   * @throws NpUserError `ERR_NPUSER_INVALID_EMAIL`, `ERR_NPUSER_RATE_LIMITED`,
   * `ERR_NPUSER_TOO_MANY_ATTEMPTS` (address locked), `ERR_NPUSER_MAILER_FAILED`,
   * `ERR_NPUSER_STORE_FAILED`.
   *
   * @example
   * ```ts
   * try {
   *   const { expiresAt } = await np.requestCode(form.email, { clientKey: ip, locale: 'fr' });
   * } catch (err) {
   *   if (isNpUserError(err, 'ERR_NPUSER_RATE_LIMITED')) retryLater(err.retryAfterSeconds);
   *   else throw err;
   * }
   * ```
   */
  async requestCode(email: string, context?: RequestContext): Promise<RequestCodeResult> {
    const address = canonicalEmail(email);
    const ctx = checkContext(context);
    const o = this.#options;
    const code = o.generateCode ? checkGeneratedCode(o.generateCode(o.codeLength), o.codeLength) : randomCode(o.codeLength);
    const keys = this.#addressKeys(address);
    const client = this.#clientKeys(ctx);

    const [failures, cooldown] = await Promise.all([
      this.#store.get(keys.failures),
      o.resendCooldownSeconds > 0 ? this.#store.get(keys.cooldown) : undefined,
    ]);
    if (failures !== undefined && counterValue(failures.value) >= o.maxFailuresPerDay) {
      this.#emit('rate.limited', 'address-locked', address);
      throw new NpUserError('ERR_NPUSER_TOO_MANY_ATTEMPTS', { retryAfterSeconds: Math.ceil(failures.ttlMs / 1000) });
    }
    // A look at the cooldown before spending anything: a user pressing "resend"
    // too early must not spend the budget of everyone behind the same clientKey.
    if (cooldown !== undefined) this.#refuse('cooldown', address, cooldown.ttlMs);
    // Then the client's budget: a client spraying many addresses is stopped
    // before it can spend its victims' cooldowns and hourly allowances.
    if (client) await this.#spend(client.requests, HOUR_MS, o.maxCodesPerClientPerHour, 'client-requests', address);
    // The atomic increment is what really enforces the cooldown under concurrency.
    if (o.resendCooldownSeconds > 0) await this.#spend(keys.cooldown, o.resendCooldownSeconds * 1000, 1, 'cooldown', address);
    await this.#spend(keys.hourly, HOUR_MS, o.maxCodesPerHour, 'hourly-limit', address);

    const ttlMs = o.codeTtlSeconds * 1000;
    const expiresAt = this.#now() + ttlMs;
    const record: CodeRecord = { codeId: randomId(12), expiresAt, digest: this.#codeDigest(address, code) };
    // The attempt counter is stored with the code, so checking the code needs
    // no new entry: a store filled by a flood still lets the victim in (from a
    // client already counted this hour, or without a clientKey). It is
    // written strictly before the code: a guess that found the code first
    // would count its attempt on a counter that this "0" then reset, and a
    // store is free to run two concurrent writes in either order.
    const stored = serializeCodeRecord(record);
    await this.#store.set(keys.attempts(record.codeId), '0', ttlMs);
    await this.#store.set(keys.code, stored, ttlMs);

    const message: CodeMessage = {
      to: address,
      code,
      appName: o.appName,
      expiresAt: new Date(expiresAt),
      ttlSeconds: o.codeTtlSeconds,
      ...(ctx.locale === undefined ? {} : { locale: ctx.locale }),
    };
    try {
      await this.#send(message);
    } catch (err) {
      // A code nobody received must not stay guessable: this one only, since a
      // newer request may have replaced it while the send was failing. If the
      // consume fails too, the entry still expires with its TTL.
      await this.#store.consume(keys.code, stored).catch(() => undefined);
      // The cause keeps the mailer's words but neither secret, in any spelling a server or API may echo.
      throw new NpUserError('ERR_NPUSER_MAILER_FAILED', { cause: redactError(err, { address, code }) });
    }
    this.#emit('code.requested', 'sent', address);
    return { email: address, expiresAt: new Date(expiresAt) };
  }

  /**
   * Check a code once and, if it is right, return a signed token.
   *
   * The attempt is counted atomically before the comparison, so concurrent
   * guesses can never evaluate more than `maxAttempts` times; a correct code is
   * consumed atomically, so concurrent correct submissions yield one token.
   * Wrong, expired, used and unknown codes all get `ERR_NPUSER_INVALID_CODE`.
   *
   * @param email - The address the code was requested for.
   * @param code - The code as typed: ASCII spaces and hyphens are ignored.
   * @param context - `clientKey` for the per-client verification budget.
   * @throws TypeError when `email` or `code` is not a string, or `context` is malformed.
   * @throws NpUserError `ERR_NPUSER_INVALID_EMAIL`, `ERR_NPUSER_INVALID_CODE`,
   * `ERR_NPUSER_TOO_MANY_ATTEMPTS`, `ERR_NPUSER_RATE_LIMITED`, `ERR_NPUSER_STORE_FAILED`.
   *
   * @example
   * ```ts
   * const { token, subject, expiresAt } = await np.verifyCode(form.email, form.code, { clientKey: ip });
   * res.setHeader('Set-Cookie', `session=${token}; HttpOnly; Secure; SameSite=Lax`);
   * ```
   */
  async verifyCode(email: string, code: string, context?: RequestContext): Promise<VerifyCodeResult> {
    const address = canonicalEmail(email);
    const digits = normalizeSubmittedCode(code, this.#options.codeLength);
    const ctx = checkContext(context);
    const o = this.#options;
    const keys = this.#addressKeys(address);
    const client = this.#clientKeys(ctx);
    const digest = this.#codeDigest(address, digits);

    // The client's budget is counted before any comparison, like the code's own
    // attempt counter: concurrent guesses sprayed over many addresses each get
    // their own number back, so none slips past the limit.
    const [failures, clientCount, entry] = await Promise.all([
      this.#store.get(keys.failures),
      client ? this.#store.increment(client.verifications, HOUR_MS) : undefined,
      this.#store.get(keys.code),
    ]);
    // Read, not counted ahead: a verification that succeeds needs no new entry
    // for its address (a full memory store still lets pending codes be used),
    // and the code's atomic attempt counter already bounds concurrent guesses
    // at one address.
    if (failures !== undefined && counterValue(failures.value) >= o.maxFailuresPerDay) {
      this.#emit('code.failed', 'address-locked', address);
      throw new NpUserError('ERR_NPUSER_TOO_MANY_ATTEMPTS', { retryAfterSeconds: Math.ceil(failures.ttlMs / 1000) });
    }
    if (clientCount !== undefined && clientCount.count > o.maxVerificationsPerClientPerHour) {
      this.#refuse('client-verifications', address, clientCount.ttlMs);
    }

    const record = entry === undefined ? undefined : parseStoredRecord(entry.value);
    if (entry === undefined || record === undefined || this.#now() >= record.expiresAt) {
      // The same hashing, comparing and store round trips as a wrong code (whose
      // attempt counter is read here instead), so the time of the answer does not
      // tell whether a code is pending for the address.
      digestsEqual(digest, this.#decoyDigest);
      await this.#store.get(keys.attempts(NO_CODE_ID));
      return this.#fail(keys, address, 'no-pending-code');
    }
    const attempts = await this.#store.increment(keys.attempts(record.codeId), entry.ttlMs);
    if (attempts.count > o.maxAttempts) {
      // Refused without comparing. Nothing to delete: the attempt that reached
      // the limit either burned the code (wrong) or is consuming it (right).
      this.#emit('code.failed', 'attempts-exhausted', address);
      throw new NpUserError('ERR_NPUSER_TOO_MANY_ATTEMPTS');
    }
    if (!digestsEqual(digest, record.digest)) {
      if (attempts.count < o.maxAttempts) return this.#fail(keys, address, 'wrong-code');
      // That was the last attempt this code allows: burn it now (it, not a
      // newer code a request may have stored since it was read).
      await this.#store.consume(keys.code, entry.value);
      return this.#fail(keys, address, 'attempts-exhausted', 'ERR_NPUSER_TOO_MANY_ATTEMPTS');
    }

    // The token is made before the code is consumed: if the app's claims
    // callback or signing fails, the user keeps the code and can try again.
    // A token made by a caller that then loses the consume is never returned.
    const subject = this.#subject(address);
    const { token, expiresAt } = await signToken(this.#token, subject, this.#now(), await this.#extraClaims(subject, address));

    // Consumed only if it is still the record that was compared: a concurrent
    // verify may have taken it, or a new request replaced it, and a newer code
    // must stay for its owner. What comes back is checked again all the same.
    const taken = await this.#store.consume(keys.code, entry.value);
    const consumed = taken === undefined ? undefined : parseStoredRecord(taken);
    if (consumed === undefined || consumed.codeId !== record.codeId || !digestsEqual(digest, consumed.digest)) {
      throw new NpUserError('ERR_NPUSER_INVALID_CODE');
    }

    // Success resets the failure window. Clean-up failures are not security
    // failures (everything expires anyway), so they do not cost the user the sign-in.
    await Promise.allSettled([this.#store.delete(keys.failures), this.#store.delete(keys.attempts(record.codeId))]);
    this.#emit('code.verified', 'verified', address, subject);
    return { token, subject, email: address, expiresAt };
  }

  /**
   * Check a token issued by this app: the signature with the one algorithm of
   * its key (HS256 from `secret`, or the `signingKeys` entry its `kid` names),
   * `typ` `npuser+jwt`, `iss`, `aud`, `exp`, `iat`, all on the `now` clock with
   * `clockToleranceSeconds` of skew; then, unless `checkRevocation` is off,
   * that it has not been revoked.
   *
   * @param token - The compact JWT.
   * @param options - `maxTokenAgeSeconds` to demand a recent sign-in.
   * @throws TypeError when `token` is not a string or `options` is malformed.
   * @throws NpUserError `ERR_NPUSER_INVALID_TOKEN` (malformed, forged, wrong
   * app, revoked; also when a forged token is expired), `ERR_NPUSER_TOKEN_EXPIRED`,
   * or `ERR_NPUSER_STORE_FAILED` when the revocation list cannot be read.
   *
   * @example
   * ```ts
   * try {
   *   const { subject } = await np.validateToken(cookies.session);
   *   req.userId = subject;
   * } catch (err) {
   *   if (isNpUserError(err)) return res.writeHead(401).end();
   *   throw err;
   * }
   * ```
   */
  async validateToken(token: string, options?: ValidateTokenOptions): Promise<ValidateTokenResult> {
    const maxTokenAgeSeconds = checkValidateOptions(options);
    const result = await verifyToken(this.#token, token, this.#now(), maxTokenAgeSeconds);
    if (this.#options.checkRevocation && (await this.#store.get(this.#revokedKey(result.tokenId))) !== undefined) {
      throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
    }
    return result;
  }

  /**
   * Revoke a token before it expires (sign-out): its `jti` is stored in the
   * CodeStore until the token would have expired, and `validateToken` refuses
   * it from then on, on every instance sharing the store. A token that has
   * already expired needs nothing and resolves at once.
   *
   * @param token - A token this app issued.
   * @throws TypeError when `token` is not a string, or `checkRevocation` is off.
   * @throws NpUserError `ERR_NPUSER_INVALID_TOKEN` when it is not a genuine
   * token of this app, `ERR_NPUSER_STORE_FAILED`.
   *
   * @example
   * ```ts
   * app.post('/logout', async (req, res) => {
   *   await np.revokeToken(req.cookies.session).catch(() => undefined);
   *   res.clearCookie('session').redirect('/');
   * });
   * ```
   */
  async revokeToken(token: string): Promise<void> {
    if (!this.#options.checkRevocation) {
      throw new TypeError('npuser: revokeToken() needs checkRevocation, which is off; revoked tokens would still validate');
    }
    const now = this.#now();
    let result: ValidateTokenResult;
    try {
      result = await verifyToken(this.#token, token, now);
    } catch (err) {
      if (isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')) return;
      throw err;
    }
    // Kept until the last moment validation could still accept the token.
    const ttlMs = result.expiresAt.getTime() + this.#options.clockToleranceSeconds * 1000 - now;
    if (ttlMs > 0) await this.#store.set(this.#revokedKey(result.tokenId), '1', ttlMs);
  }

  /**
   * The public keys that verify this app's tokens, as a JSON Web Key Set:
   * serve it (e.g. at `/.well-known/jwks.json`) and any service can check
   * tokens offline with any JOSE library.
   *
   * @throws TypeError without `signingKeys`: HS256 tokens can only be checked with the secret.
   *
   * @example
   * ```ts
   * import { createLocalJWKSet, jwtVerify } from 'jose';
   * const keys = createLocalJWKSet(np.jwks());
   * await jwtVerify(token, keys, { issuer: 'npuser', audience: 'my-app', typ: 'npuser+jwt' });
   * ```
   */
  jwks(): JsonWebKeySet {
    const keys = this.#options.signingKeys;
    if (keys === undefined) {
      throw new TypeError('npuser: jwks() needs options.signingKeys; HS256 tokens can only be verified with the secret');
    }
    return { keys: keys.map((k) => k.publicJwk) };
  }

  async #extraClaims(subject: string, address: string): Promise<Record<string, unknown>> {
    const claims: Record<string, unknown> = {};
    const fromApp: unknown = this.#options.tokenClaims ? await this.#options.tokenClaims({ subject, email: address }) : undefined;
    if (fromApp !== undefined) {
      if (typeof fromApp !== 'object' || fromApp === null || Array.isArray(fromApp)) {
        throw new TypeError('npuser: options.tokenClaims must return a plain object');
      }
      for (const [name, value] of Object.entries(fromApp)) {
        if (REGISTERED_CLAIMS.has(name) || name === 'email_verified') {
          throw new TypeError(`npuser: options.tokenClaims cannot set the registered claim "${name}"`);
        }
        claims[name] = value;
      }
    }
    if (this.#options.includeEmail) {
      claims.email = address;
      claims.email_verified = true;
    }
    return claims;
  }

  #revokedKey(tokenId: string): string {
    return revokedTokenKey(this.#keys.storeKey, this.#options.audience, tokenId);
  }

  /** Count a failed verification against the address, report it and refuse. */
  async #fail(
    keys: AddressKeys,
    address: string,
    reason: NpUserEventReason,
    code: 'ERR_NPUSER_INVALID_CODE' | 'ERR_NPUSER_TOO_MANY_ATTEMPTS' = 'ERR_NPUSER_INVALID_CODE',
  ): Promise<never> {
    const failures = await this.#store.increment(keys.failures, DAY_MS);
    this.#emit('code.failed', reason, address);
    if (failures.count === this.#options.maxFailuresPerDay) this.#emit('address.locked', 'failures-exhausted', address);
    throw new NpUserError(code);
  }

  /** Count one use of a window and refuse when it is over `limit`. */
  async #spend(key: string, windowMs: number, limit: number, reason: NpUserEventReason, address: string): Promise<void> {
    const counter = await this.#store.increment(key, windowMs);
    if (counter.count > limit) this.#refuse(reason, address, counter.ttlMs);
  }

  #refuse(reason: NpUserEventReason, address: string, ttlMs: number): never {
    this.#emit('rate.limited', reason, address);
    throw new NpUserError('ERR_NPUSER_RATE_LIMITED', { retryAfterSeconds: Math.ceil(ttlMs / 1000) });
  }

  async #send(message: CodeMessage): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`mailer did not answer within ${this.#options.mailerTimeoutMs} ms`);
        error.name = 'TimeoutError';
        controller.abort(error);
        reject(error);
      }, this.#options.mailerTimeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(() => this.#mailer.send(message, { signal: controller.signal })), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #now(): number {
    const now = this.#options.now();
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new TypeError('npuser: options.now must return milliseconds since the epoch');
    }
    return now;
  }

  #codeDigest(address: string, code: string): Buffer {
    return keyedHash(this.#keys.codeDigest, this.#options.audience, address, code);
  }

  #subject(address: string): string {
    return keyedHash(this.#keys.subject, address).toString('base64url');
  }

  #addressKeys(address: string): AddressKeys {
    return addressKeys(this.#keys.storeKey, this.#options.audience, address);
  }

  #clientKeys(ctx: RequestContext): ClientKeys | undefined {
    return ctx.clientKey === undefined ? undefined : clientKeys(this.#keys.storeKey, this.#options.audience, ctx.clientKey);
  }

  /** Tell the listener, if any; `subject` when the caller has already computed it. */
  #emit(type: NpUserEventType, reason: NpUserEventReason, address: string, subject?: string): void {
    const listener = this.#options.onEvent;
    if (!listener) return;
    try {
      const result = listener({ type, reason, subject: subject ?? this.#subject(address), at: new Date(this.#now()) });
      // A listener's failure is its own business: it must not break sign-in or leak a rejection.
      if (result && typeof result.then === 'function') result.then(undefined, () => undefined);
    } catch {
      // Same: ignored by design.
    }
  }
}

/** A counter read through `get`: a decimal string, or garbage that fails closed. */
function counterValue(value: string): number {
  const count = Number.parseInt(value, 10);
  if (!/^[0-9]{1,15}$/.test(value) || !Number.isSafeInteger(count)) {
    throw new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: new Error('store returned a malformed counter') });
  }
  return count;
}

/** A code record as stored, or `ERR_NPUSER_STORE_FAILED` when the store returned garbage. */
function parseStoredRecord(value: string): CodeRecord {
  const record = parseCodeRecord(value);
  if (record === undefined) {
    throw new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: new Error('store returned a malformed code record') });
  }
  return record;
}

function checkValidateOptions(options: unknown): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new TypeError('npuser: validateToken options must be an object');
  const { maxTokenAgeSeconds } = options as { maxTokenAgeSeconds?: unknown };
  if (maxTokenAgeSeconds === undefined) return undefined;
  if (typeof maxTokenAgeSeconds !== 'number' || !Number.isInteger(maxTokenAgeSeconds) || maxTokenAgeSeconds < 0) {
    throw new TypeError('npuser: validateToken options.maxTokenAgeSeconds must be a non-negative integer');
  }
  return maxTokenAgeSeconds;
}
