// @ts-check
// The HS256 key npuser derives from a secret, recomputed here with node:crypto
// so the baseline verifies with exactly the key npuser uses.
import { hkdfSync } from 'node:crypto';

/** @param {string} secret */
export function deriveSigningKey(secret) {
  return new Uint8Array(hkdfSync('sha256', new TextEncoder().encode(secret), 'npuser/v1', 'npuser/v1 hs256 signing', 32));
}
