// @ts-check
// The HS256 key npuser derives from a secret, recomputed here with node:crypto
// so the baseline verifies with exactly the key npuser uses, and in the same
// form: a KeyObject, whose CryptoKey jose caches (raw bytes would be imported
// again on every call, and make the baseline slower than jose at its best).
import { createSecretKey, hkdfSync } from 'node:crypto';
import { readRecordConstant, readStringConstant } from '../scripts/read-constant.js';

// The HKDF salt and label, read from the code that derives the key rather than copied.
const KEYS_SOURCE = new URL('../src/lib/keys.ts', import.meta.url);
const SALT = readStringConstant(KEYS_SOURCE, 'KEY_SALT');
const SIGNING_LABEL = signingLabel();

function signingLabel() {
  const label = readRecordConstant(KEYS_SOURCE, 'KEY_LABELS')['signing'];
  if (label === undefined) throw new Error('src/lib/keys.ts: KEY_LABELS has no `signing` label');
  return label;
}

/** @param {string} secret */
export function deriveSigningKey(secret) {
  return createSecretKey(Buffer.from(hkdfSync('sha256', new TextEncoder().encode(secret), SALT, SIGNING_LABEL, 32)));
}
