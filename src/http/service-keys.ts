import {
  type KeyObject,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/**
 * The service's key material: API keys (made, hashed, compared), the keys an
 * app derives from its secret for the service's own use, and the sealing of
 * idempotent answers. The one module of the service that needs node:crypto
 * (Bun and Deno provide it too); the handler itself stays web-standard.
 * @internal
 */

/** The prefix of a live app's API key. @internal */
const LIVE_KEY_PREFIX = 'npu_sk_';
/** The prefix of a test app's API key: its answers carry the code. @internal */
const TEST_KEY_PREFIX = 'npu_test_';
// 256 random bits, base64url without padding.
const KEY_BODY = /^[A-Za-z0-9_-]{43}$/;

/** The mode an API key's prefix names, or `undefined` when it is not shaped like one. @internal */
export function apiKeyMode(key: string): 'live' | 'test' | undefined {
  if (key.startsWith(LIVE_KEY_PREFIX) && KEY_BODY.test(key.slice(LIVE_KEY_PREFIX.length))) return 'live';
  if (key.startsWith(TEST_KEY_PREFIX) && KEY_BODY.test(key.slice(TEST_KEY_PREFIX.length))) return 'test';
  return undefined;
}

/** A new API key: the prefix of its mode and 256 random bits. @internal */
export function newApiKey(mode: 'live' | 'test'): string {
  return (mode === 'test' ? TEST_KEY_PREFIX : LIVE_KEY_PREFIX) + randomBytes(32).toString('base64url');
}

/** The SHA-256 of an API key, as the configuration holds it (lowercase hex). @internal */
export function apiKeyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Constant-time equality of two 32-byte digests. @internal */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// Labels of their own, apart from the core's (`npuser/v1 code digest`, …):
// nothing derived here can ever equal a key the core derives from the same secret.
const SALT = 'npuser/v1';
const LABELS = {
  storeKey: 'npuser/v1 service store key',
  sealing: 'npuser/v1 service idempotency sealing',
  ed25519: 'npuser/v1 service ed25519 signing key',
} as const;

function derive(secret: Uint8Array, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, SALT, label, 32));
}

// The fixed PKCS #8 header of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The Ed25519 signing key of version `version` of an app: its seed is an
 * HKDF output of the app's secret under a label of its own and the version,
 * so an app has asymmetric keys without any set-up, every instance of the
 * service derives the same ones, and rotating is a version bump.
 * @internal
 */
export function appSigningKey(secret: Uint8Array, version: number): KeyObject {
  const seed = derive(secret, `${LABELS.ed25519} v${version}`);
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** What the service derives from one app's secret for its own store entries. @internal */
export interface AppServiceKeys {
  /** Keys the store tags of the quota and idempotency entries. */
  readonly storeKey: Buffer;
  /** Seals idempotent answers (AES-256-GCM): the store never holds an address or a code in the clear. */
  readonly sealing: Buffer;
}

/** @internal */
export function appServiceKeys(secret: Uint8Array): AppServiceKeys {
  return { storeKey: derive(secret, LABELS.storeKey), sealing: derive(secret, LABELS.sealing) };
}

/**
 * `plaintext` sealed with AES-256-GCM under `key`, bound to `context` (the
 * store key it is written under, so a sealed value cannot be moved to
 * another key): base64url of nonce, ciphertext and tag.
 * @internal
 */
export function seal(key: Buffer, context: string, plaintext: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/** The plaintext of {@link seal}, or `undefined` when it was not sealed under `key` and `context`. @internal */
export function unseal(key: Buffer, context: string, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length < 12 + 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** A strong entity tag for a body that changes only with the configuration. @internal */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body, 'utf8').digest('base64url').slice(0, 27)}"`;
}
