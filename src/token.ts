import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { NpUserError } from './errors.js';
import { randomId } from './lib/keys.js';
import type { TokenClaims, ValidateTokenResult } from './types.js';

/** The `typ` header of every npuser token (RFC 8725 §3.11 explicit typing). @internal */
export const TOKEN_TYPE = 'npuser+jwt';
/** The one algorithm accepted for tokens signed with the key derived from `secret`. @internal */
export const TOKEN_ALGORITHM = 'HS256';
// Far above any token npuser issues (about 300 bytes), far below abuse.
const MAX_TOKEN_LENGTH = 4096;
// Exactly three base64url segments, checked before jose parses anything.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** @internal */
export interface TokenSettings {
  readonly key: Uint8Array;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly clockToleranceSeconds: number;
}

/**
 * Sign a token for `subject` at `nowMs`. Claims are exactly iss, aud, sub,
 * iat, exp and jti: never the address.
 * @internal
 */
export async function signToken(
  settings: TokenSettings,
  subject: string,
  nowMs: number,
): Promise<{ token: string; expiresAt: Date }> {
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = issuedAt + settings.ttlSeconds;
  const token = await new SignJWT()
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: TOKEN_TYPE })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(subject)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(randomId(16))
    .sign(settings.key);
  return { token, expiresAt: new Date(expiresAt * 1000) };
}

/**
 * Verify a token with the one pinned algorithm, `typ`, `iss`, `aud` and the
 * clock at `nowMs`. Header keys (`jwk`, `jku`, `x5u`, `x5c`, `kid`) play no
 * part: the key is fixed. A bad signature is reported as `INVALID_TOKEN` even
 * when the token has also expired, because jose checks the signature first.
 * @internal
 */
export async function verifyToken(
  settings: TokenSettings,
  token: unknown,
  nowMs: number,
): Promise<ValidateTokenResult> {
  if (typeof token !== 'string') throw new TypeError('npuser: token must be a string');
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, settings.key, {
      algorithms: [TOKEN_ALGORITHM],
      typ: TOKEN_TYPE,
      issuer: settings.issuer,
      audience: settings.audience,
      requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
      clockTolerance: settings.clockToleranceSeconds,
      // With a maximum age jose also refuses an `iat` in the future beyond tolerance.
      maxTokenAge: settings.ttlSeconds,
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    // No cause: jose's errors carry the payload, and nothing of a token belongs in a log.
    if (err instanceof joseErrors.JWTExpired && err.claim === 'exp') {
      throw new NpUserError('ERR_NPUSER_TOKEN_EXPIRED');
    }
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
