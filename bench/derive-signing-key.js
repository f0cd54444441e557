// @ts-check
// The HS256 key npuser derives from a secret, recomputed here with node:crypto
// so the baseline verifies with exactly the key npuser uses, and in the same
// form: a KeyObject, whose CryptoKey jose caches (raw bytes would be imported
// again on every call, and make the baseline slower than jose at its best).
import { createSecretKey, hkdfSync } from 'node:crypto';

/** @param {string} secret */
export function deriveSigningKey(secret) {
  return createSecretKey(Buffer.from(hkdfSync('sha256', new TextEncoder().encode(secret), 'npuser/v1', 'npuser/v1 hs256 signing', 32)));
}
