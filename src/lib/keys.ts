import { type KeyObject, createHmac, createSecretKey, hkdfSync, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

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
  /** A `KeyObject` rather than bytes: OpenSSL gets it without a copy and a check on every sign and verify. */
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

// A KeyObject per key Buffer: OpenSSL then gets the key without it being copied and checked on every call.
const secretKeys = new WeakMap<Buffer, KeyObject>();
function secretKeyOf(key: Buffer): KeyObject {
  let secret = secretKeys.get(key);
  if (secret === undefined) secretKeys.set(key, (secret = createSecretKey(key)));
  return secret;
}

/**
 * HMAC-SHA256 over length-prefixed parts, so `("ab", "c")` and `("a", "bc")`
 * can never collide.
 * @internal
 */
export function keyedHash(key: Buffer, ...parts: readonly string[]): Buffer {
  return digestBuffer(keyedHmac(key, parts));
}

/**
 * `hmac.digest()`, by way of a latin1 (`binary`) string: a Buffer made by OpenSSL's
 * binding costs a backing store of its own, one copied from a string comes
 * from Node's pool, and is quicker by a fifth of an HMAC.
 * @internal
 */
export function digestBuffer(hmac: ReturnType<typeof createHmac>): Buffer {
  return Buffer.from(hmac.digest('binary'), 'latin1');
}

/**
 * {@link keyedHash} as base64url, straight from OpenSSL: what subjects and
 * store keys are made of, without a Buffer in between.
 * @internal
 */
export function keyedHashText(key: Buffer, ...parts: readonly string[]): string {
  return keyedHmac(key, parts).digest('base64url');
}

const lengthPrefix = (n: number) => String.fromCharCode((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/**
 * The HMAC of the parts, fed in one `update` (each is a call into OpenSSL,
 * and this runs several times per call): one latin1 string when every part
 * is ASCII (a byte length equal to the length says so), one buffer otherwise.
 */
function keyedHmac(key: Buffer, parts: readonly string[]): ReturnType<typeof createHmac> {
  const hmac = createHmac('sha256', secretKeyOf(key));
  let text = '';
  for (const part of parts) {
    const length = Buffer.byteLength(part, 'utf8');
    if (length !== part.length) return hmac.update(utf8Input(parts));
    text += lengthPrefix(length) + part;
  }
  return hmac.update(text, 'latin1');
}

function utf8Input(parts: readonly string[]): Buffer {
  let size = 0;
  for (const part of parts) size += 4 + Buffer.byteLength(part, 'utf8');
  const input = Buffer.alloc(size);
  let at = 0;
  for (const part of parts) {
    const length = input.write(part, at + 4, 'utf8');
    input.writeUInt32BE(length, at);
    at += 4 + length;
  }
  return input;
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

// Random bytes drawn from the CSPRNG a few kilobytes at a time, as Node does
// for randomUUID and randomInt: every draw is a call into OpenSSL that costs
// more than the bytes, and a sign-in takes two ids. Each byte is used once and
// zeroed once used.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolUsed = POOL_BYTES;

/**
 * `bytes` random bytes (at most 4096) as base64url.
 * @internal
 */
export function randomId(bytes: number): string {
  if (bytes > POOL_BYTES) return randomBytes(bytes).toString('base64url');
  if (poolUsed + bytes > POOL_BYTES) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  const start = poolUsed;
  poolUsed += bytes;
  const id = pool.toString('base64url', start, poolUsed);
  pool.fill(0, start, poolUsed);
  return id;
}
