// @ts-check
// Tokens for the benches: minted from a real npuser token (its header and its
// claims, in its order) with a new `sub` and `jti`, signed with node:crypto, so
// a pool of a hundred thousand distinct tokens takes a second, not a minute of
// sign-ins. And the baselines: a plain, synchronous node:crypto verification
// of the same token with the same claim checks.
import { createHmac, randomBytes, sign, timingSafeEqual, verify } from 'node:crypto';

/**
 * @typedef {'HS256' | 'EdDSA' | 'ES256'} Algorithm
 * @typedef {import('node:crypto').KeyObject} KeyObject
 */

/**
 * A JSON object's members.
 * @param {string} text
 * @returns {Record<string, unknown>}
 */
function jsonObject(text) {
  /** @type {unknown} */
  const value = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
  return /** @type {Record<string, unknown>} */ (value);
}

/**
 * The signature of `input` with `key`, as base64url.
 * @param {Algorithm} alg @param {KeyObject} key @param {string} input
 */
export function signWith(alg, key, input) {
  const data = Buffer.from(input, 'latin1');
  if (alg === 'HS256') return createHmac('sha256', key).update(data).digest('base64url');
  if (alg === 'EdDSA') return sign(null, data, key).toString('base64url');
  return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
}

/**
 * Whether `signature` is `key`'s over `input`.
 * @param {Algorithm} alg @param {KeyObject} key @param {string} input @param {Buffer} signature
 */
export function verifyWith(alg, key, input, signature) {
  const data = Buffer.from(input, 'latin1');
  if (alg === 'HS256') {
    const expected = createHmac('sha256', key).update(data).digest();
    return signature.length === expected.length && timingSafeEqual(expected, signature);
  }
  if (alg === 'EdDSA') return verify(null, data, key, signature);
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

/**
 * Mint tokens like `template` (a token npuser issued): its header, its claims
 * with `sub` and `jti` replaced, signed with `key`.
 * @param {string} template @param {Algorithm} alg @param {KeyObject} key
 * @returns {(sub: string) => string}
 */
export function tokenMinter(template, alg, key) {
  const [header = '', payload = ''] = template.split('.');
  const claims = jsonObject(Buffer.from(payload, 'base64url').toString('utf8'));
  return (sub) => {
    claims.sub = sub;
    claims.jti = randomBytes(16).toString('base64url');
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${signWith(alg, key, input)}`;
  };
}

/** A subject as npuser makes them: 32 bytes, base64url. */
export function randomSubject() {
  return randomBytes(32).toString('base64url');
}

/**
 * The baseline of validateToken: the token verified synchronously with
 * node:crypto, with npuser's checks (three segments, header alg and typ, no
 * crit, the signature, iss, aud, sub, jti, iat, exp with 30 s of tolerance, the
 * maximum age), written plainly.
 * @param {Algorithm} alg @param {KeyObject} key
 * @returns {(token: string) => Record<string, unknown>}
 */
export function baselineVerifier(alg, key) {
  return (token) => {
    const a = token.indexOf('.');
    const b = token.indexOf('.', a + 1);
    if (a < 0 || b < 0 || token.includes('.', b + 1)) throw new Error('not three segments');
    const header = jsonObject(Buffer.from(token.slice(0, a), 'base64url').toString('utf8'));
    if (header.alg !== alg || header.typ !== 'npuser+jwt' || header.crit !== undefined) throw new Error('bad header');
    if (!verifyWith(alg, key, token.slice(0, b), Buffer.from(token.slice(b + 1), 'base64url'))) throw new Error('bad signature');
    const claims = jsonObject(Buffer.from(token.slice(a + 1, b), 'base64url').toString('utf8'));
    const now = Math.floor(Date.now() / 1000);
    const { iss, aud, sub, jti, iat, exp } = claims;
    if (iss !== 'npuser' || aud !== 'npuser' || typeof sub !== 'string' || typeof jti !== 'string') throw new Error('bad claims');
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= now - 30 || iat > now + 30 || now - iat > 3600 + 30)
      throw new Error('bad times');
    return claims;
  };
}
