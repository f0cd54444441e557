import type { KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { NpUserError } from './errors.js';
import { randomId } from './lib/keys.js';
import type { ResolvedSigningKey } from './lib/signing-keys.js';
import type { TokenClaims, ValidateTokenResult } from './types.js';

/** The `typ` header of every npuser token (RFC 8725 §3.11 explicit typing). @internal */
export const TOKEN_TYPE = 'npuser+jwt';
/** The one algorithm accepted for tokens signed with the key derived from `secret`. @internal */
export const HMAC_ALGORITHM = 'HS256';
/** Claims npuser sets itself; app claims can never replace them. @internal */
export const REGISTERED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'email']);
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
  readonly clockToleranceSeconds: number;
}

/**
 * Sign a token for `subject` at `nowMs`. Claims are iss, aud, sub, iat, exp
 * and jti, plus what the app opted into (`extraClaims`, already checked to
 * name no registered claim except `email`).
 * @internal
 */
export async function signToken(
  settings: TokenSettings,
  subject: string,
  nowMs: number,
  extraClaims: Readonly<Record<string, unknown>> = {},
): Promise<{ token: string; expiresAt: Date }> {
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = issuedAt + settings.ttlSeconds;
  const signer = settings.signingKeys?.[0];
  const jwt = new SignJWT({ ...extraClaims })
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
      requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
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
  const { sub, iat, exp, jti } = payload;
  if (typeof sub !== 'string' || typeof jti !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') {
    throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
  }
  return {
    subject: sub,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    tokenId: jti,
    claims: payload as TokenClaims,
  };
}
