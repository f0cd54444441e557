// The reference verifier: npuser's token verification as it was built on jose's
// jwtVerify, kept to prove that the node:crypto verifier in src/token.ts gives
// the same verdicts. The "tokens: jose reference" test project (vitest.config.ts)
// runs the whole token suite with this module in place of src/token.ts, and
// test/tokens/verifier-equivalence.test.ts compares both on mutated tokens.
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { KeyObject } from 'node:crypto';
import { NpUserError } from '../../src/errors.js';
import { HMAC_ALGORITHM, REQUIRED_CLAIMS, TOKEN_TYPE, type TokenSettings, type VerifiedToken } from '../../src/token.js';
import type { TokenClaims } from '../../src/types.js';

export * from '../../src/token.js';

const MAX_TOKEN_LENGTH = 4096;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

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

/** src/token.ts's verifyToken as jose's jwtVerify does it: no cache, a fresh memo every time. */
export async function verifyToken(
  settings: TokenSettings,
  token: unknown,
  nowMs: number,
  maxTokenAgeSeconds: number = settings.ttlSeconds,
): Promise<VerifiedToken> {
  if (typeof token !== 'string') throw new TypeError('npuser: token must be a string');
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
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
      maxTokenAge: Math.min(maxTokenAgeSeconds, settings.ttlSeconds),
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
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
    result: {
      subject: sub,
      issuedAt: new Date(iat * 1000),
      expiresAt: new Date(exp * 1000),
      authenticatedAt: new Date(authTime * 1000),
      tokenId: jti,
      claims: payload as TokenClaims,
    },
    memo: {},
  };
}
