import { type KeyObject, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The HKDF labels. Each sub-key serves one purpose, so no output of one use
 * can be replayed as another (a code digest as a subject, a store key as a
 * signature). The bench derives its baseline key from these same constants.
 * @internal
 */
export const KEY_LABELS = {
  codeDigest: 'npuser/v1 code digest',
  storeKey: 'npuser/v1 store key',
  subject: 'npuser/v1 subject',
  signing: 'npuser/v1 hs256 signing',
} as const;

/** The HKDF salt of every sub-key. @internal */
export const KEY_SALT = 'npuser/v1';

/** @internal */
export interface DerivedKeys {
  readonly codeDigest: Buffer;
  readonly storeKey: Buffer;
  readonly subject: Buffer;
  /**
   * A `KeyObject` rather than bytes: jose caches the `CryptoKey` it makes from a
   * `KeyObject`, where raw bytes would be imported again on every sign and verify.
   */
  readonly signing: KeyObject;
}

function derive(secret: Uint8Array, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, KEY_SALT, label, 32));
}

/**
 * Derive every sub-key once, at construction. `subjectSecret`, when given,
 * is the only input to the subject key, so rotating `secret` keeps every `sub`.
 * @internal
 */
export function deriveKeys(secret: Uint8Array, subjectSecret: Uint8Array | undefined): DerivedKeys {
  return {
    codeDigest: derive(secret, KEY_LABELS.codeDigest),
    storeKey: derive(secret, KEY_LABELS.storeKey),
    subject: derive(subjectSecret ?? secret, KEY_LABELS.subject),
    signing: createSecretKey(derive(secret, KEY_LABELS.signing)),
  };
}

/**
 * HMAC-SHA256 over length-prefixed parts, so `("ab", "c")` and `("a", "bc")`
 * can never collide.
 * @internal
 */
export function keyedHash(key: Buffer, ...parts: readonly string[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hmac.update(length).update(bytes);
  }
  return hmac.digest();
}

/**
 * Constant-time equality of two digests of any length; unequal lengths
 * compare a digest with itself first, so the work is the same.
 * @internal
 */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * `bytes` random bytes as base64url.
 * @internal
 */
export function randomId(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
