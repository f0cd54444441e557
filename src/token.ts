import type { KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { NpUserError } from './errors.js';
import { randomId } from './lib/keys.js';
import type { ResolvedSigningKey } from './lib/signing-keys.js';
import type { TokenClaims, TokenClaimsContext, ValidateTokenResult } from './types.js';

/** The `typ` header of every npuser token (RFC 8725 §3.11 explicit typing). @internal */
export const TOKEN_TYPE = 'npuser+jwt';
/** The one algorithm accepted for tokens signed with the key derived from `secret`. @internal */
export const HMAC_ALGORITHM = 'HS256';
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
// Exactly three base64url segments, checked before jose parses anything.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** @internal */
export interface TokenSettings {
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
export async function signInClaims(options: ClaimOptions, subject: string, email: string): Promise<Record<string, unknown>> {
  const claims: Record<string, unknown> = {};
  const fromApp: unknown = options.tokenClaims ? await options.tokenClaims({ subject, email }) : undefined;
  if (fromApp !== undefined) {
    if (typeof fromApp !== 'object' || fromApp === null || Array.isArray(fromApp)) {
      throw new TypeError('npuser: options.tokenClaims must return a plain object');
    }
    for (const [name, value] of Object.entries(fromApp)) {
      if (REGISTERED_CLAIMS.has(name)) throw new TypeError(`npuser: options.tokenClaims cannot set the registered claim "${name}"`);
      claims[name] = value;
    }
  }
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
 * `authTimeSeconds`. Claims are iss, aud, sub, iat, exp, jti and auth_time,
 * plus `extraClaims` (already checked to name no registered claim but
 * `email` and `email_verified`). `exp` is the token lifetime from now, but
 * never later than `maxSessionSeconds` after the sign-in.
 * @internal
 */
export async function signToken(
  settings: TokenSettings,
  subject: string,
  nowMs: number,
  authTimeSeconds: number,
  extraClaims: Readonly<Record<string, unknown>> = {},
): Promise<{ token: string; expiresAt: Date }> {
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = Math.min(issuedAt + settings.ttlSeconds, authTimeSeconds + settings.maxSessionSeconds);
  const signer = settings.signingKeys?.[0];
  const jwt = new SignJWT({ ...extraClaims, auth_time: authTimeSeconds })
    .setProtectedHeader(
      signer ? { alg: signer.alg, typ: TOKEN_TYPE, kid: signer.kid } : { alg: HMAC_ALGORITHM, typ: TOKEN_TYPE },
    )
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(subject)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(randomId(16));
  const token = await jwt.sign(signer ? (signer.privateKey as KeyObject) : settings.hmacKey);
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new TypeError(`npuser: the token's claims make it longer than ${MAX_TOKEN_LENGTH} characters; validation would refuse it`);
  }
  return { token, expiresAt: new Date(expiresAt * 1000) };
}

/**
 * The one key, and its one algorithm, that may have signed `token`. In HS256
 * mode that is the derived key whatever the header says. With `signingKeys`,
 * `kid` only selects among configured keys (a token without `kid` is accepted
 * only when there is one key); header keys (`jwk`, `jku`, `x5u`, `x5c`) are
 * never read, so verification touches no network and no file.
 */
function verificationKey(settings: TokenSettings, token: string): { key: KeyObject; alg: string } {
  const keys = settings.signingKeys;
  if (keys === undefined) return { key: settings.hmacKey, alg: HMAC_ALGORITHM };
  let kid: unknown;
  try {
    ({ kid } = decodeProtectedHeader(token));
  } catch {
    throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
  }
  const match = kid === undefined ? (keys.length === 1 ? keys[0] : undefined) : keys.find((k) => k.kid === kid);
  if (match === undefined) throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
  return { key: match.publicKey, alg: match.alg };
}

/**
 * Verify a token with one pinned algorithm per key, `typ`, `iss`, `aud` and
 * the clock at `nowMs`. A bad signature is reported as `INVALID_TOKEN` even
 * when the token has also expired, because jose checks the signature first.
 * @internal
 */
export async function verifyToken(
  settings: TokenSettings,
  token: unknown,
  nowMs: number,
  maxTokenAgeSeconds: number = settings.ttlSeconds,
): Promise<ValidateTokenResult> {
  if (typeof token !== 'string') throw new TypeError('npuser: token must be a string');
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
  }
  const { key, alg } = verificationKey(settings, token);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [alg],
      typ: TOKEN_TYPE,
      issuer: settings.issuer,
      audience: settings.audience,
      requiredClaims: [...REQUIRED_CLAIMS],
      clockTolerance: settings.clockToleranceSeconds,
      // With a maximum age jose also refuses an `iat` in the future beyond tolerance.
      maxTokenAge: Math.min(maxTokenAgeSeconds, settings.ttlSeconds),
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    // No cause: jose's errors carry the payload, and nothing of a token belongs in a log.
    // Past its `exp`, or issued longer ago than the maximum age: genuine but too old.
    if (err instanceof joseErrors.JWTExpired) throw new NpUserError('ERR_NPUSER_TOKEN_EXPIRED');
    throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
  }
  const { sub, iat, exp, jti, auth_time: authTime } = payload;
  if (
    typeof sub !== 'string' ||
    typeof jti !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    typeof authTime !== 'number' ||
    !Number.isSafeInteger(authTime) ||
    authTime > iat
  ) {
    throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
  }
  return {
    subject: sub,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    authenticatedAt: new Date(authTime * 1000),
    tokenId: jti,
    claims: payload as TokenClaims,
  };
}
