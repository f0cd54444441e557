import type { KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { NpUserError } from './errors.js';
import { Doorkeeper } from './lib/doorkeeper.js';
import {
  type JwsAlgorithm,
  decodeSegment,
  encodeSegment,
  parseJsonObject,
  signInput,
  utf8Text,
  verifyInPool,
  verifyInput,
} from './lib/jws.js';
import { randomId } from './lib/keys.js';
import type { ResolvedSigningKey } from './lib/signing-keys.js';
import type { TokenClaims, TokenClaimsContext, ValidateTokenResult } from './types.js';

/** The `typ` header of every npuser token (RFC 8725 §3.11 explicit typing). @internal */
export const TOKEN_TYPE = 'npuser+jwt';
/** The one algorithm accepted for tokens signed with the key derived from `secret`. @internal */
export const HMAC_ALGORITHM: JwsAlgorithm = 'HS256';
/** Claims npuser sets itself; app claims can never replace them. @internal */
export const REGISTERED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'auth_time',
  'email',
  'email_verified',
]);
/** Claims every npuser token carries. @internal */
export const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'auth_time'] as const;
// Far above any token npuser issues (about 300 bytes), far below abuse.
const MAX_TOKEN_LENGTH = 4096;
// Exactly three base64url segments, checked before anything is parsed.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** What {@link tokenSettings} is made from. @internal */
export interface TokenSettingsInit {
  /** HS256 key derived from `secret`; used only when there are no `signingKeys`. */
  readonly hmacKey: KeyObject;
  /** Asymmetric keys: the first signs, all verify. */
  readonly signingKeys: readonly ResolvedSigningKey[] | undefined;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  /** No token outlives its sign-in (`auth_time`) by more than this, however often it is refreshed. */
  readonly maxSessionSeconds: number;
  readonly clockToleranceSeconds: number;
  /** How many verified tokens to keep (0: none). */
  readonly cacheSize?: number | undefined;
}

/** The key, and its one algorithm, that may have signed a token. @internal */
interface VerificationKey {
  readonly alg: JwsAlgorithm;
  readonly key: KeyObject;
}

/**
 * A token that passed every check that does not depend on the clock, as the
 * cache keeps it: the clock's checks run again on every use.
 */
interface CachedToken {
  /** The payload's JSON text: parsed again for every caller, who may change what it gets. */
  readonly payload: string;
  readonly subject: string;
  readonly tokenId: string;
  readonly iat: number;
  readonly exp: number;
  readonly nbf: number | undefined;
  readonly authTime: number;
  readonly memo: TokenMemo;
}

/**
 * What a caller derives from a verified token and keeps with it while the
 * token is cached, so it is derived once per token rather than once per call.
 * @internal
 */
export interface TokenMemo {
  /** The store keys of the token's revocation checks: its `jti`'s and its subject's. */
  revocationKeys?: readonly [revokedToken: string, revokedBefore: string];
}

/** @internal */
export interface VerifiedToken {
  /** Fresh objects on every call. */
  readonly result: ValidateTokenResult;
  /** Kept with the token while it is cached; a new one otherwise. */
  readonly memo: TokenMemo;
}

/** @internal */
export interface TokenSettings extends TokenSettingsInit {
  /** The key, algorithm and header segment new tokens are signed with. */
  readonly signer: VerificationKey & { readonly header: string };
  /** `issuer` and `audience` as JSON strings, as every payload carries them. */
  readonly issuerJson: string;
  readonly audienceJson: string;
  /**
   * The header segments npuser writes, each with the key that verifies it: a
   * token carrying one of them needs no header parsing (the same bytes parse
   * to the same header, which passes every header check).
   */
  readonly knownHeaders: ReadonlyMap<string, VerificationKey>;
  /** Verified tokens by their exact text; undefined when caching is off. */
  readonly verified: LRUCache<string, CachedToken> | undefined;
  /** A token enters the cache the second time it is verified (its signature's bits say which). */
  readonly door: Doorkeeper;
}

/**
 * How many verified tokens an NpUser keeps: about 1 KB each (the token, its
 * payload and two store keys), so about 4 MB when full.
 * @internal
 */
export const TOKEN_CACHE_SIZE = 4096;

/**
 * Settings with everything derived from them once: the signer's header, the
 * known headers and an empty cache. The cache belongs to these settings, and
 * so to one NpUser: new keys (a rotated `secret` or `signingKeys`) mean a new
 * NpUser, whose cache starts empty.
 * @internal
 */
export function tokenSettings(init: TokenSettingsInit): TokenSettings {
  const first = init.signingKeys?.[0];
  const signer = first
    ? { alg: first.alg, key: first.privateKey as KeyObject, header: headerSegment(first.alg, first.kid) }
    : { alg: HMAC_ALGORITHM, key: init.hmacKey, header: headerSegment(HMAC_ALGORITHM, undefined) };
  const knownHeaders = new Map<string, VerificationKey>(
    init.signingKeys
      ? init.signingKeys.map((k) => [headerSegment(k.alg, k.kid), { alg: k.alg, key: k.publicKey }])
      : [[signer.header, { alg: HMAC_ALGORITHM, key: init.hmacKey }]],
  );
  const size = init.cacheSize ?? TOKEN_CACHE_SIZE;
  return {
    ...init,
    signer,
    issuerJson: JSON.stringify(init.issuer),
    audienceJson: JSON.stringify(init.audience),
    knownHeaders,
    verified: size > 0 ? new LRUCache<string, CachedToken>({ max: size }) : undefined,
    door: new Doorkeeper(2 * size),
  };
}

/** The header npuser writes, as jose's `setProtectedHeader` would: alg, typ, then kid. */
function headerSegment(alg: JwsAlgorithm, kid: string | undefined): string {
  return encodeSegment(JSON.stringify(kid === undefined ? { alg, typ: TOKEN_TYPE } : { alg, typ: TOKEN_TYPE, kid }));
}

/** What the app opted into: `includeEmail` and its `tokenClaims` callback. @internal */
export interface ClaimOptions {
  readonly includeEmail: boolean;
  readonly tokenClaims: ((context: TokenClaimsContext) => Record<string, unknown> | Promise<Record<string, unknown>>) | undefined;
}

/**
 * The claims a new sign-in adds to the registered ones: the app's own
 * (`tokenClaims`), which may not name a registered claim, and the address
 * when `includeEmail` is on.
 *
 * @throws TypeError when `tokenClaims` returns something other than a plain
 * object or names a registered claim.
 * @internal
 */
export function signInClaims(
  options: ClaimOptions,
  subject: string,
  email: string,
): Record<string, unknown> | Promise<Record<string, unknown>> {
  // No callback, nothing to wait for: the claims at once, without a promise.
  if (options.tokenClaims === undefined) return withEmail(options, {}, email);
  return appClaims(options, options.tokenClaims, subject, email);
}

async function appClaims(
  options: ClaimOptions,
  tokenClaims: NonNullable<ClaimOptions['tokenClaims']>,
  subject: string,
  email: string,
): Promise<Record<string, unknown>> {
  const claims: Record<string, unknown> = {};
  const fromApp: unknown = await tokenClaims({ subject, email });
  if (fromApp !== undefined) {
    if (typeof fromApp !== 'object' || fromApp === null || Array.isArray(fromApp)) {
      throw new TypeError('npuser: options.tokenClaims must return a plain object');
    }
    for (const [name, value] of Object.entries(fromApp)) {
      if (REGISTERED_CLAIMS.has(name)) throw new TypeError(`npuser: options.tokenClaims cannot set the registered claim "${name}"`);
      claims[name] = value;
    }
  }
  return withEmail(options, claims, email);
}

function withEmail(options: ClaimOptions, claims: Record<string, unknown>, email: string): Record<string, unknown> {
  if (options.includeEmail) {
    claims.email = email;
    claims.email_verified = true;
  }
  return claims;
}

/**
 * The claims a refreshed token carries over from the one it replaces: all but
 * those npuser sets anew (`email` and `email_verified` do carry over: the
 * sign-in that proved them is the same).
 * @internal
 */
export function carriedClaims(claims: TokenClaims): Record<string, unknown> {
  const carried: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (!REGISTERED_CLAIMS.has(name) || name === 'email' || name === 'email_verified') carried[name] = value;
  }
  return carried;
}

/**
 * Sign a token for `subject` at `nowMs`, for the sign-in made at
 * `authTimeSeconds`. Claims are the `extraClaims` (already checked to name
 * no registered claim but `email` and `email_verified`), then auth_time,
 * iss, aud, sub, iat, exp and jti: the bytes jose's `SignJWT` writes for the
 * same claims. `exp` is the token lifetime from now, but never later than
 * `maxSessionSeconds` after the sign-in.
 *
 * @throws TypeError when the claims make the token longer than validation
 * accepts, or cannot be cloned (a function, a symbol: what jose refused too).
 * @internal
 */
export function signToken(
  settings: TokenSettings,
  subject: string,
  nowMs: number,
  authTimeSeconds: number,
  extraClaims: Readonly<Record<string, unknown>> = {},
): { token: string; expiresAt: Date } {
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = Math.min(issuedAt + settings.ttlSeconds, authTimeSeconds + settings.maxSessionSeconds);
  if (!Number.isFinite(issuedAt) || !Number.isFinite(expiresAt)) throw new TypeError('npuser: token times must be finite');
  const jti = randomId(16);
  let json: string;
  if (Object.keys(extraClaims).length === 0) {
    // What JSON.stringify writes for these claims in this order (numbers are finite integers), without the object.
    json = `{"auth_time":${authTimeSeconds},"iss":${settings.issuerJson},"aud":${settings.audienceJson},"sub":${JSON.stringify(subject)},"iat":${issuedAt},"exp":${expiresAt},"jti":"${jti}"}`;
  } else {
    // A clone, as jose makes one: what the app's object does later changes nothing, and what
    // cannot be cloned is refused here rather than silently dropped by JSON.
    const claims: Record<string, unknown> = structuredClone({ ...extraClaims, auth_time: authTimeSeconds });
    claims.iss = settings.issuer;
    claims.aud = settings.audience;
    claims.sub = subject;
    claims.iat = issuedAt;
    claims.exp = expiresAt;
    claims.jti = jti;
    json = JSON.stringify(claims);
  }
  const { alg, key, header } = settings.signer;
  const input = `${header}.${encodeSegment(json)}`;
  const token = `${input}.${signInput(alg, key, input)}`;
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new TypeError(`npuser: the token's claims make it longer than ${MAX_TOKEN_LENGTH} characters; validation would refuse it`);
  }
  return { token, expiresAt: new Date(expiresAt * 1000) };
}

const invalidToken = () => new NpUserError('ERR_NPUSER_INVALID_TOKEN');
const expiredToken = () => new NpUserError('ERR_NPUSER_TOKEN_EXPIRED');

// `typ` compared as jose compares it (RFC 7515 §4.1.9): case-insensitive, `application/` implied.
const normalizeTyp = (typ: string) => (typ.includes('/') ? typ.toLowerCase() : `application/${typ.toLowerCase()}`);
const EXPECTED_TYP = normalizeTyp(TOKEN_TYPE);

/**
 * The one key, and its one algorithm, that may have signed a token whose
 * header is not one npuser writes (`knownHeaders`). In HS256 mode that is
 * the derived key whatever the header says. With `signingKeys`, `kid` only
 * selects among configured keys (a token without `kid` is accepted only when
 * there is one key); header keys (`jwk`, `jku`, `x5u`, `x5c`) are never read,
 * so verification touches no network and no file. Any `crit` is refused:
 * npuser understands no extension. The header must name the key's algorithm
 * and `typ` `npuser+jwt`.
 */
function headerKey(settings: TokenSettings, segment: string): VerificationKey {
  const bytes = decodeSegment(segment);
  const text = bytes && utf8Text(bytes);
  const header = text === undefined ? undefined : parseJsonObject(text);
  if (header === undefined || header.crit !== undefined) throw invalidToken();
  const keys = settings.signingKeys;
  let key: VerificationKey | undefined;
  if (keys === undefined) {
    key = { alg: HMAC_ALGORITHM, key: settings.hmacKey };
  } else {
    const { kid } = header;
    const match = kid === undefined ? (keys.length === 1 ? keys[0] : undefined) : keys.find((k) => k.kid === kid);
    key = match && { alg: match.alg, key: match.publicKey };
  }
  if (key === undefined || header.alg !== key.alg) throw invalidToken();
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== EXPECTED_TYP) throw invalidToken();
  return key;
}

/**
 * The clock's checks, in jose's order: `nbf` in the future beyond the
 * tolerance is invalid; past `exp`, or issued longer ago than the maximum
 * age, is expired; `iat` in the future beyond the tolerance is invalid.
 */
function checkTimes({ now, tolerance, maxAge }: Clock, iat: number, exp: number, nbf: number | undefined): void {
  if (nbf !== undefined && nbf > now + tolerance) throw invalidToken();
  if (exp <= now - tolerance) throw expiredToken();
  const age = now - iat;
  if (age - tolerance > maxAge) throw expiredToken();
  if (age < -tolerance) throw invalidToken();
}

function resultOf(token: CachedToken, claims: Record<string, unknown>): ValidateTokenResult {
  return {
    subject: token.subject,
    issuedAt: new Date(token.iat * 1000),
    expiresAt: new Date(token.exp * 1000),
    authenticatedAt: new Date(token.authTime * 1000),
    tokenId: token.tokenId,
    claims: claims as TokenClaims,
  };
}

/**
 * Verify a token with one pinned algorithm per key, `typ`, `iss`, `aud` and
 * the clock at `nowMs`, with the rules (and in the order) of jose's
 * `jwtVerify`, which the tests keep as the reference: so a bad signature is
 * reported as `INVALID_TOKEN` even when the token has also expired. Stricter
 * than jose in two ways, both refusing only what npuser never writes: every
 * segment must be canonical base64url, and any `crit` header is refused.
 *
 * A token verified before is found in the cache by its exact text: its
 * signature and claims are not checked again, its times are (on this clock,
 * with this maximum age). `concurrent`: other calls are waiting, so an
 * asymmetric signature is checked on the thread pool rather than inline.
 * @internal
 */
export function verifyToken(
  settings: TokenSettings,
  token: unknown,
  nowMs: number,
  maxTokenAgeSeconds: number = settings.ttlSeconds,
  concurrent = false,
): VerifiedToken | Promise<VerifiedToken> {
  if (typeof token !== 'string') throw new TypeError('npuser: token must be a string');
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken();
  // jose's clock: the Date's whole seconds (NaN for a time no Date holds, which nothing passes).
  const now = Math.floor(new Date(nowMs).getTime() / 1000);
  if (Number.isNaN(now)) throw invalidToken();
  const clock: Clock = { now, tolerance: settings.clockToleranceSeconds, maxAge: Math.min(maxTokenAgeSeconds, settings.ttlSeconds) };

  const cached = settings.verified?.get(token);
  if (cached !== undefined) {
    checkTimes(clock, cached.iat, cached.exp, cached.nbf);
    return { result: resultOf(cached, JSON.parse(cached.payload) as Record<string, unknown>), memo: cached.memo };
  }

  if (!COMPACT_JWS.test(token)) throw invalidToken();
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  const head = token.slice(0, first);
  const { alg, key } = settings.knownHeaders.get(head) ?? headerKey(settings, head);
  const payload = decodeSegment(token.slice(first + 1, second));
  const signature = decodeSegment(token.slice(second + 1));
  if (payload === undefined || signature === undefined) throw invalidToken();
  const input = token.slice(0, second);
  if (concurrent && alg !== 'HS256') {
    return verifyInPool(alg, key, input, signature).then((valid) => checkClaims(settings, token, valid, payload, signature, clock));
  }
  return checkClaims(settings, token, verifyInput(alg, key, input, signature), payload, signature, clock);
}

/** The clock a token is checked against: jose's `now` (whole seconds), the tolerance and the maximum age. */
interface Clock {
  readonly now: number;
  readonly tolerance: number;
  readonly maxAge: number;
}

/**
 * After the signature: the payload and its claims, in jose's order, then
 * npuser's own checks; the token is remembered once it has passed them all.
 */
function checkClaims(
  settings: TokenSettings,
  token: string,
  valid: boolean,
  bytes: Buffer,
  signature: Buffer,
  clock: Clock,
): VerifiedToken {
  if (!valid) throw invalidToken();
  const text = utf8Text(bytes);
  const payload = text === undefined ? undefined : parseJsonObject(text);
  if (payload === undefined) throw invalidToken();
  for (const claim of REQUIRED_CLAIMS) if (!Object.hasOwn(payload, claim)) throw invalidToken();
  const { iss, aud, iat, nbf, exp } = payload;
  if (iss !== settings.issuer) throw invalidToken();
  if (!(typeof aud === 'string' ? aud === settings.audience : Array.isArray(aud) && aud.includes(settings.audience))) throw invalidToken();
  if (typeof iat !== 'number' || (nbf !== undefined && typeof nbf !== 'number')) throw invalidToken();
  if (nbf !== undefined && nbf > clock.now + clock.tolerance) throw invalidToken();
  if (typeof exp !== 'number') throw invalidToken();
  checkTimes(clock, iat, exp, undefined);
  const { sub, jti, auth_time: authTime } = payload;
  if (
    typeof sub !== 'string' ||
    typeof jti !== 'string' ||
    typeof authTime !== 'number' ||
    !Number.isSafeInteger(authTime) ||
    authTime > iat
  ) {
    throw invalidToken();
  }

  const verified: CachedToken = { payload: text as string, subject: sub, tokenId: jti, iat, exp, nbf, authTime, memo: {} };
  // A verified signature is unpredictable bits: where they fall says which token it is.
  if (settings.verified !== undefined && settings.door.seenBefore(signature.readUInt16LE(4), signature.readInt32LE(0))) {
    // A copy of the text for the key: the caller's string may be a slice of a larger one (a whole Cookie header).
    settings.verified.set(Buffer.from(token, 'latin1').toString('latin1'), verified);
  }
  return { result: resultOf(verified, payload), memo: verified.memo };
}
