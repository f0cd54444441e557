import { LRUCache } from 'lru-cache';
import { NpUserError, isNpUserError } from './errors.js';
import { checkGeneratedCode, normalizeSubmittedCode, randomCode } from './lib/code.js';
import { NO_CODE_RECORD, parseCodeRecord, serializeCodeRecord } from './lib/code-record.js';
import { checkContext } from './lib/context.js';
import { Deadlines } from './lib/deadline.js';
import { RecentDurations, sleep } from './lib/durations.js';
import { canonicalEmail } from './lib/email.js';
import { GuardedStore } from './lib/guarded-store.js';
import { Doorkeeper } from './lib/doorkeeper.js';
import { type DerivedKeys, deriveKeys, digestsEqual, keyedHash, keyedHashText, randomId } from './lib/keys.js';
import { DAY_MS, HOUR_MS, type Limit, addressLock, attemptSpend, cooldownPeek, refusalOf, windowSpend } from './lib/limits.js';
import { redactError } from './lib/redact.js';
import type { JsonWebKeySet } from './lib/signing-keys.js';
import { type AddressKeys, type ClientKeys, type SubjectKeys, addressKeys, clientKeys, subjectKeys } from './lib/store-keys.js';
import { consoleMailer } from './mailers/console.js';
import { type NpUserOptions, type ResolvedOptions, checkSubject, resolveOptions, resolveValidateOptions } from './options.js';
import { memoryCodeStore } from './stores/memory.js';
import { type TokenSettings, carriedClaims, signInClaims, signToken, tokenSettings, verifyToken } from './token.js';
import type {
  CodeMessage,
  Mailer,
  NpUserApi,
  NpUserEventReason,
  NpUserEventType,
  RefreshTokenResult,
  RequestCodeResult,
  RequestContext,
  StoreCounter,
  StoreEntry,
  StoreStep,
  StoreStepResult,
  ValidateTokenOptions,
  ValidateTokenResult,
  VerifyCodeResult,
} from './types.js';

// Subjects whose store keys an NpUser keeps: about 250 bytes each.
const SUBJECT_CACHE_SIZE = 4096;

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
export class NpUser implements NpUserApi {
  readonly #options: ResolvedOptions;
  readonly #keys: DerivedKeys;
  readonly #store: GuardedStore;
  readonly #mailer: Mailer;
  // Sends in flight, under one timer rather than one each.
  readonly #mailDeadlines: Deadlines;
  readonly #token: TokenSettings;
  // Compared against when no code is pending, so that path costs what a real comparison costs.
  readonly #decoyDigest: Buffer;
  // How long recent sends took: a refused address waits as long, so it answers in the same time.
  readonly #sendDurations = new RecentDurations();
  // validateToken calls in flight.
  #validating = 0;
  // Subjects' store keys, each a keyed hash: a user's next token needs no new one. Subjects are
  // pseudonyms, never addresses. A subject is cached the second time it is seen.
  readonly #subjectKeyCache = new LRUCache<string, SubjectKeys>({ max: SUBJECT_CACHE_SIZE });
  readonly #subjectDoor = new Doorkeeper(2 * SUBJECT_CACHE_SIZE);

  /**
   * @throws TypeError when an option is missing, of the wrong type or out of
   * bounds, or when no `mailer` is given under `NODE_ENV=production`.
   */
  constructor(options: NpUserOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.#keys = deriveKeys(resolved.secret, resolved.subjectSecret);
    this.#store = new GuardedStore(resolved.store ?? memoryCodeStore({ now: resolved.now }), resolved.storeTimeoutMs);
    this.#mailer = resolved.mailer ?? consoleMailer();
    this.#mailDeadlines = new Deadlines(resolved.mailerTimeoutMs);
    this.#token = tokenSettings({
      hmacKey: this.#keys.signing,
      signingKeys: resolved.signingKeys,
      issuer: resolved.issuer,
      audience: resolved.audience,
      ttlSeconds: resolved.tokenTtlSeconds,
      maxSessionSeconds: resolved.maxSessionSeconds,
      clockToleranceSeconds: resolved.clockToleranceSeconds,
    });
    this.#decoyDigest = keyedHash(this.#keys.codeDigest, 'decoy');
  }

  /**
   * Mail a new code to `email`, replacing any code sent before.
   *
   * Order of work: validate and canonicalise the address, ask `allowEmail`,
   * then one store transaction: the lock and the cooldown are looked at
   * without spending anything; then the client's, the cooldown's and the
   * hour's windows are each counted atomically; then the attempt counter is
   * reset and the code's keyed hash stored with its TTL. Then the mail is
   * sent. If the send fails the code is deleted, but the request still counts
   * against the limits.
   *
   * @param email - The address as the user typed it.
   * @param context - `clientKey` for per-client limits, `locale` for the message.
   * @returns The canonical address and when the code expires.
   * @throws TypeError when `email` is not a string or `context` is malformed.
   * @throws NpUserError `ERR_NPUSER_INVALID_EMAIL`, `ERR_NPUSER_ADDRESS_LOCKED`,
   * `ERR_NPUSER_RATE_LIMITED`, `ERR_NPUSER_MAILER_FAILED`, `ERR_NPUSER_STORE_FAILED`.
   *
   * @example
   * ```ts
   * import { isNpUserError } from 'npuser';
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
    // Only `true` allows: a callback that answers anything else has not said yes.
    const allowed = o.allowEmail === undefined || ((await o.allowEmail(address)) as unknown) === true;
    const code = o.generateCode ? checkGeneratedCode(o.generateCode(o.codeLength), o.codeLength) : randomCode(o.codeLength);
    const keys = this.#addressKeys(address);
    const client = this.#clientKeys(ctx);

    const ttlMs = o.codeTtlSeconds * 1000;
    const expiresAt = this.#now() + ttlMs;
    // A refused address gets a record all the same, of a digest no code has:
    // the store does the same work, and nothing the store holds tells.
    const digestText = allowed ? this.#codeDigestText(address, code) : keyedHashText(this.#keys.codeDigest, 'refused', randomId(16));
    const stored = serializeCodeRecord({ codeId: randomId(12), expiresAt, digestText });

    const cooldown = o.resendCooldownSeconds > 0;
    const limits = [addressLock(keys.failures, o.maxFailuresPerDay, 'rate.limited')];
    if (cooldown) limits.push(cooldownPeek(keys.cooldown));
    // The client's budget before the address's: a client spraying many
    // addresses is stopped before it spends its victims' cooldowns and hours.
    if (client) limits.push(windowSpend(client.requests, HOUR_MS, o.maxCodesPerClientPerHour, 'client-requests'));
    // The atomic count is what really enforces the cooldown under concurrency.
    if (cooldown) limits.push(windowSpend(keys.cooldown, o.resendCooldownSeconds * 1000, 1, 'cooldown'));
    limits.push(windowSpend(keys.hourly, HOUR_MS, o.maxCodesPerHour, 'hourly-limit'));
    // A new code starts with a fresh attempt counter. The counter is removed
    // strictly before the code is written: a guess reads the code before it
    // counts its attempt, so every comparison with the new code is counted
    // in the new code's window, even with a store that runs steps one by one.
    const steps = limits.map((l) => l.step);
    steps.push({ op: 'delete', key: keys.attempts }, { op: 'set', key: keys.code, value: stored, ttlMs });
    const ran = this.#run(steps, limits, address);
    if (!Array.isArray(ran)) await ran;

    const result = { email: address, expiresAt: new Date(expiresAt) };
    if (!allowed) {
      await sleep(this.#sendDurations.typical());
      this.#emit('code.requested', 'not-allowed', address);
      return result;
    }
    const message: CodeMessage = {
      to: address,
      code,
      appName: o.appName,
      expiresAt: result.expiresAt,
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
    return result;
  }

  /**
   * Check a code once and, if it is right, return a signed token.
   *
   * Every verification of an address is counted atomically before any
   * comparison, whether a code is pending or not, so concurrent guesses can
   * never evaluate more than `maxAttempts` per code sent; a correct code is
   * consumed atomically, so concurrent correct submissions yield one token.
   * Wrong, expired, used and unknown codes all get `ERR_NPUSER_INVALID_CODE`
   * after the same work, and every sequence of wrong guesses gets the same
   * answers whether a code is pending or not.
   *
   * @param email - The address the code was requested for.
   * @param code - The code as typed: ASCII spaces and hyphens are ignored.
   * @param context - `clientKey` for the per-client verification budget.
   * @throws TypeError when `email` or `code` is not a string, or `context` is malformed.
   * @throws NpUserError `ERR_NPUSER_INVALID_EMAIL`, `ERR_NPUSER_INVALID_CODE`,
   * `ERR_NPUSER_TOO_MANY_ATTEMPTS`, `ERR_NPUSER_ADDRESS_LOCKED`,
   * `ERR_NPUSER_RATE_LIMITED`, `ERR_NPUSER_STORE_FAILED`.
   *
   * @example
   * ```ts
   * const { token, expiresAt } = await np.verifyCode(form.email, form.code, { clientKey: ip });
   * res.setHeader('Set-Cookie', `session=${token}; Path=/; HttpOnly; Secure; SameSite=Lax; Expires=${expiresAt.toUTCString()}`);
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

    // The code is read before the attempt is counted (see requestCode). The
    // attempt is counted whether or not a code is pending, on a counter that
    // only a new code resets: the answers to any run of guesses are the same
    // in both cases, so they never tell that someone is signing in.
    const limits = [addressLock(keys.failures, o.maxFailuresPerDay, 'code.failed')];
    // Counted before any comparison, right or wrong: concurrent guesses
    // sprayed over many addresses each get their own number back.
    if (client) limits.push(windowSpend(client.verifications, HOUR_MS, o.maxVerificationsPerClientPerHour, 'client-verifications'));
    limits.push(attemptSpend(keys.attempts, o.codeTtlSeconds * 1000, o.maxAttempts));
    const steps = limits.map((l) => l.step);
    steps.splice(-1, 0, { op: 'get', key: keys.code });
    let results = this.#run(steps, limits, address);
    if (!Array.isArray(results)) results = await results;
    const entry = results.at(-2) as StoreEntry | undefined;
    const attempts = results.at(-1) as StoreCounter;

    const record = entry === undefined ? undefined : parseCodeRecord(entry.value);
    const pending = record !== undefined && this.#now() < record.expiresAt;
    // One comparison on every path, against a decoy when nothing is pending.
    const matches = digestsEqual(digest, pending ? record.digest : this.#decoyDigest);
    if (!pending || !matches) {
      const last = attempts.count === o.maxAttempts;
      // The last allowed try burns the code, or a record that is not one: the
      // same store work either way.
      return this.#fail(keys, address, last, last ? (entry?.value ?? NO_CODE_RECORD) : undefined);
    }

    // The token is made before the code is consumed: if the app's claims
    // callback or signing fails, the user keeps the code and can try again.
    // A token made by a caller that then loses the consume is never returned.
    const subject = this.#subject(address);
    const now = this.#now();
    let claims = signInClaims(o, subject, address);
    if (claims instanceof Promise) claims = await claims;
    const { token, expiresAt } = signToken(this.#token, subject, now, Math.floor(now / 1000), claims);

    // Consumed only if it is still the record that was compared: a concurrent
    // verify may have taken it, or a new request replaced it, and a newer code
    // must stay for its owner. The attempt counter goes with it, so an address
    // whose code was used answers later guesses as one that never had a code.
    let consumed = this.#transact([
      { op: 'consume', key: keys.code, expected: (entry as StoreEntry).value },
      { op: 'delete', key: keys.attempts },
    ]);
    if (!Array.isArray(consumed)) consumed = await consumed;
    const [taken] = consumed;
    if (taken !== (entry as StoreEntry).value) throw new NpUserError('ERR_NPUSER_INVALID_CODE');

    this.#emit('code.verified', 'verified', address, subject);
    if (o.onSignIn !== undefined) await o.onSignIn({ subject, email: address });
    return { token, subject, email: address, expiresAt };
  }

  /**
   * Check a token issued by this app: the signature with the one algorithm of
   * its key (HS256 from `secret`, or the `signingKeys` entry its `kid` names),
   * `typ` `npuser+jwt`, `iss`, `aud`, `exp`, `iat`, all on the `now` clock with
   * `clockToleranceSeconds` of skew; then, unless `checkRevocation` is off,
   * that neither the token (`revokeToken`) nor its subject's earlier tokens
   * (`revokeSubject`) have been revoked: one store transaction.
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
   * import { NpUserError, isNpUserError } from 'npuser';
   * app.use(async (req, res, next) => {
   *   const session = req.cookies.session;
   *   try {
   *     if (session === undefined) throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
   *     res.locals.subject = (await np.validateToken(session)).subject;
   *     next();
   *   } catch (err) {
   *     // A store outage is not a stranger: let it be a 503, not a sign-out.
   *     if (!isNpUserError(err) || err.code === 'ERR_NPUSER_STORE_FAILED') throw err;
   *     res.status(401).send('Sign in again');
   *   }
   * });
   * ```
   */
  async validateToken(token: string, options?: ValidateTokenOptions): Promise<ValidateTokenResult> {
    const maxTokenAgeSeconds = resolveValidateOptions(options);
    // Other validations waiting (on the store, say) is when a signature is better checked off the main thread.
    this.#validating += 1;
    try {
      const { result, memo } = await verifyToken(this.#token, token, this.#now(), maxTokenAgeSeconds, this.#validating > 1);
      if (this.#options.checkRevocation) {
        const subjectKeys = this.#subjectKeys(result.subject);
        // Both marks share the subject's tag: when the store can tell it holds nothing under it (the
        // memory store, for every subject never revoked), nothing is revoked, and the jti needs no hash.
        if (!this.#store.mayHoldTag(subjectKeys.revokedBefore)) return result;
        // The jti's key is a hash too: derived once per token while it stays cached.
        const [tokenKey, subjectKey] = (memo.revocationKeys ??= [subjectKeys.revokedToken(result.tokenId), subjectKeys.revokedBefore]);
        let marks = this.#transact([
          { op: 'get', key: tokenKey },
          { op: 'get', key: subjectKey },
        ]);
        if (!Array.isArray(marks)) marks = await marks;
        const [revoked, revokedBefore] = marks as [StoreEntry | undefined, StoreEntry | undefined];
        if (revoked !== undefined) throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
        if (revokedBefore !== undefined && result.issuedAt.getTime() < parseSecond(revokedBefore.value) * 1000) {
          throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
        }
      }
      return result;
    } finally {
      this.#validating -= 1;
    }
  }

  /**
   * A new token for the same sign-in: validated like `validateToken`, then
   * signed again with a new `jti` and lifetime, the same `sub`, `auth_time`
   * and claims. Its `exp` is never later than `maxSessionSeconds` after the
   * sign-in; once that has passed, the session is over and refreshing
   * answers `ERR_NPUSER_TOKEN_EXPIRED`. The old token stays valid until it
   * expires (requests in flight with it still succeed); revoke it if it must not.
   *
   * @param token - A valid token of this app.
   * @throws TypeError when `token` is not a string.
   * @throws NpUserError as `validateToken`, and `ERR_NPUSER_TOKEN_EXPIRED`
   * when the session has reached `maxSessionSeconds`.
   *
   * @example
   * ```ts
   * const { token: renewed, expiresAt } = await np.refreshToken(token);
   * res.setHeader('Set-Cookie', `session=${renewed}; Path=/; HttpOnly; Secure; SameSite=Lax; Expires=${expiresAt.toUTCString()}`);
   * ```
   */
  async refreshToken(token: string): Promise<RefreshTokenResult> {
    const current = await this.validateToken(token);
    const now = this.#now();
    const authTime = Math.floor(current.authenticatedAt.getTime() / 1000);
    // A token that could live for less than a second more is not worth issuing.
    if (authTime + this.#options.maxSessionSeconds <= Math.floor(now / 1000)) throw new NpUserError('ERR_NPUSER_TOKEN_EXPIRED');
    const { token: renewed, expiresAt } = signToken(this.#token, current.subject, now, authTime, carriedClaims(current.claims));
    return { token: renewed, subject: current.subject, expiresAt };
  }

  /**
   * Revoke a token before it expires (sign-out): its `jti` is kept, as a
   * keyed hash, until the token would have expired, and `validateToken`
   * refuses it from then on, on every instance sharing the store. A token
   * that has already expired needs nothing and resolves at once.
   *
   * @param token - A token this app issued.
   * @throws TypeError when `token` is not a string, or `checkRevocation` is off.
   * @throws NpUserError `ERR_NPUSER_INVALID_TOKEN` when it is not a genuine
   * token of this app, `ERR_NPUSER_STORE_FAILED`.
   *
   * @example
   * ```ts
   * import { isNpUserError } from 'npuser';
   * app.post('/logout', async (req, res) => {
   *   const session = req.cookies.session;
   *   try {
   *     if (session !== undefined) await np.revokeToken(session);
   *   } catch (err) {
   *     // Not one of ours: nothing to revoke. A store outage is not ignored.
   *     if (!isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')) throw err;
   *   }
   *   res.clearCookie('session', { path: '/' }).redirect('/');
   * });
   * ```
   */
  async revokeToken(token: string): Promise<void> {
    this.#requireRevocation('revokeToken');
    const now = this.#now();
    let result: ValidateTokenResult;
    try {
      ({ result } = await verifyToken(this.#token, token, now));
    } catch (err) {
      if (isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')) return;
      throw err;
    }
    // Kept until the last moment validation could still accept the token.
    const ttlMs = result.expiresAt.getTime() + this.#options.clockToleranceSeconds * 1000 - now;
    if (ttlMs > 0) await this.#store.set(this.#subjectKeys(result.subject).revokedToken(result.tokenId), '1', ttlMs);
  }

  /**
   * Sign a subject out everywhere: every token of `subject` issued up to now
   * (to the second) is refused by `validateToken` and `refreshToken`, on every
   * instance sharing the store; tokens issued later, after a new sign-in, are
   * not. This is the answer to a mailbox that was taken over and is the
   * owner's again: whoever signed in meanwhile is out. The store keeps one
   * keyed hash of the subject until the last token it refuses has expired.
   *
   * @param subject - A token's `sub` (`validateToken(...).subject`).
   * @throws TypeError when `subject` is not a subject npuser issues, or `checkRevocation` is off.
   * @throws NpUserError `ERR_NPUSER_STORE_FAILED`.
   *
   * @example
   * ```ts
   * const { subject } = await np.validateToken(token);
   * await np.revokeSubject(subject); // this browser and every other one
   * ```
   */
  async revokeSubject(subject: string): Promise<void> {
    this.#requireRevocation('revokeSubject');
    checkSubject(subject);
    const now = this.#now();
    // The next whole second: `iat` has whole seconds, and a token of this very
    // second (even this very millisecond) may have been issued just before now.
    // A sign-in in the same second is refused too, and succeeds a second later.
    const before = Math.floor(now / 1000) + 1;
    const o = this.#options;
    // The latest token it refuses was issued in the second before `before` and lives a token lifetime, plus the tolerance.
    const ttlMs = (before + o.tokenTtlSeconds + o.clockToleranceSeconds) * 1000 - now;
    await this.#store.set(this.#subjectKeys(subject).revokedBefore, String(before), ttlMs);
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
   * import { NpUser } from 'npuser';
   * const signingKey = JSON.parse(process.env.NPUSER_SIGNING_KEY!); // from `npx npuser keys generate`
   * const np = new NpUser({ secret: process.env.NPUSER_SECRET!, audience: 'my-app', signingKeys: [signingKey] });
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

  /**
   * Run `steps` as one store transaction and throw the refusal of the limit
   * (one of `limits`, whose steps are among `steps`) that stopped it.
   */
  #run(steps: readonly StoreStep[], limits: readonly Limit[], address: string): StoreStepResult[] | Promise<StoreStepResult[]> {
    const ran = this.#transact(steps);
    return Array.isArray(ran)
      ? this.#refuseIfStopped(steps, limits, ran, address)
      : ran.then((results) => this.#refuseIfStopped(steps, limits, results, address));
  }

  /**
   * One store transaction: its results at once when the store runs it inline
   * (the in-process store), a promise of them otherwise. Callers await only a
   * promise: a sign-in would otherwise spend more time waiting on its three
   * transactions than running them.
   */
  #transact(steps: readonly StoreStep[]): StoreStepResult[] | Promise<StoreStepResult[]> {
    return this.#store.runInline(steps) ?? this.#store.transact(steps);
  }

  /** The results of a transaction of `#run`, or the refusal of the limit that stopped it, thrown. */
  #refuseIfStopped(steps: readonly StoreStep[], limits: readonly Limit[], results: StoreStepResult[], address: string): StoreStepResult[] {
    const refusal = refusalOf(limits, steps, results);
    if (refusal !== undefined) {
      this.#emit(refusal.type, refusal.reason, address);
      throw refusal.error;
    }
    return results;
  }

  /**
   * Count a failed verification against the address, report it and refuse.
   * `burn`: the last allowed try failed; `burnRecord` is the value to take
   * back (the record read, or one that never exists).
   */
  async #fail(keys: AddressKeys, address: string, burn: boolean, burnRecord: string | undefined): Promise<never> {
    const steps: StoreStep[] = [{ op: 'increment', key: keys.failures, ttlMs: DAY_MS }];
    if (burnRecord !== undefined) steps.push({ op: 'consume', key: keys.code, expected: burnRecord });
    let results = this.#transact(steps);
    if (!Array.isArray(results)) results = await results;
    const failures = results[0] as StoreCounter;
    this.#emit('code.failed', burn ? 'attempts-exhausted' : 'wrong-code', address);
    if (failures.count === this.#options.maxFailuresPerDay) this.#emit('address.locked', 'failures-exhausted', address);
    throw new NpUserError(burn ? 'ERR_NPUSER_TOO_MANY_ATTEMPTS' : 'ERR_NPUSER_INVALID_CODE');
  }

  async #send(message: CodeMessage): Promise<void> {
    const started = performance.now();
    const timeoutMs = this.#options.mailerTimeoutMs;
    await this.#mailDeadlines.run(
      (options) => this.#mailer.send(message, options),
      () => Object.assign(new Error(`mailer did not answer within ${timeoutMs} ms`), { name: 'TimeoutError' }),
    );
    this.#sendDurations.record(performance.now() - started);
  }

  #requireRevocation(method: string): void {
    if (!this.#options.checkRevocation) {
      throw new TypeError(`npuser: ${method}() needs checkRevocation, which is off; revoked tokens would still validate`);
    }
  }

  #now(): number {
    const now = this.#options.now();
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new TypeError('npuser: options.now must return milliseconds since the epoch');
    }
    return now;
  }

  /** The keyed digest of (app, address, code), as a code record holds it. */
  #codeDigestText(address: string, code: string): string {
    return keyedHashText(this.#keys.codeDigest, this.#options.audience, address, code);
  }

  /** The same digest as {@link #codeDigestText}, as bytes to compare with a record's. */
  #codeDigest(address: string, code: string): Buffer {
    return keyedHash(this.#keys.codeDigest, this.#options.audience, address, code);
  }

  #subject(address: string): string {
    return keyedHashText(this.#keys.subject, address);
  }

  #addressKeys(address: string): AddressKeys {
    return addressKeys(this.#keys.storeKey, this.#options.audience, address);
  }

  #clientKeys(ctx: RequestContext): ClientKeys | undefined {
    return ctx.clientKey === undefined ? undefined : clientKeys(this.#keys.storeKey, this.#options.audience, ctx.clientKey);
  }

  #subjectKeys(subject: string): SubjectKeys {
    const cached = this.#subjectKeyCache.get(subject);
    if (cached !== undefined) return cached;
    const keys = subjectKeys(this.#keys.storeKey, this.#options.audience, subject);
    // A subject is base64url of an HMAC: its first characters are random bits enough.
    const slot = subject.charCodeAt(0) | (subject.charCodeAt(1) << 7) | (subject.charCodeAt(2) << 14);
    const mark = subject.charCodeAt(3) | (subject.charCodeAt(4) << 7) | (subject.charCodeAt(5) << 14) | (subject.charCodeAt(6) << 21);
    if (this.#subjectDoor.seenBefore(slot, mark)) this.#subjectKeyCache.set(subject, keys);
    return keys;
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

/** The second stored by `revokeSubject`, or `ERR_NPUSER_STORE_FAILED` for anything else. */
function parseSecond(value: string): number {
  if (!/^[0-9]{1,12}$/.test(value)) {
    throw new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: new Error('store returned a malformed revocation mark') });
  }
  return Number(value);
}
