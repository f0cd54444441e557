import { type KeyObject, createHash, createPrivateKey, createPublicKey } from 'node:crypto';

/**
 * An asymmetric algorithm npuser signs with.
 *
 * @example
 * ```ts
 * import type { AsymmetricAlgorithm } from 'npuser';
 * const alg: AsymmetricAlgorithm = 'EdDSA';
 * ```
 */
export type AsymmetricAlgorithm = 'EdDSA' | 'ES256';

/**
 * A public JSON Web Key as npuser publishes it in {@link JsonWebKeySet}.
 *
 * @example
 * ```ts
 * import type { PublicJsonWebKey } from 'npuser';
 * const jwk: PublicJsonWebKey = { kty: 'OKP', crv: 'Ed25519', x: '…', kid: 'k1', alg: 'EdDSA', use: 'sig' };
 * ```
 */
export interface PublicJsonWebKey {
  /** `OKP` for Ed25519, `EC` for P-256. */
  readonly kty: 'OKP' | 'EC';
  /** `Ed25519` or `P-256`. */
  readonly crv: 'Ed25519' | 'P-256';
  /** The public point's x coordinate (base64url). */
  readonly x: string;
  /** The public point's y coordinate (base64url), for P-256 only. */
  readonly y?: string;
  /** The key id tokens name in their `kid` header. */
  readonly kid: string;
  /** The one algorithm this key is used with. */
  readonly alg: AsymmetricAlgorithm;
  /** Always `sig`. */
  readonly use: 'sig';
}

/**
 * The public keys that verify this app's tokens (RFC 7517), as `np.jwks()` returns them.
 *
 * @example
 * ```ts
 * import { createLocalJWKSet, jwtVerify } from 'jose';
 * import { NpUser } from 'npuser';
 *
 * const np = new NpUser({
 *   secret: process.env.NPUSER_SECRET!,
 *   audience: 'my-app',
 *   signingKeys: [JSON.parse(process.env.NPUSER_SIGNING_KEY!)],
 * });
 * const jwks = createLocalJWKSet(np.jwks());
 * // The issuer and audience the NpUser above sets (issuer: the default).
 * const { payload } = await jwtVerify(token, jwks, { issuer: 'npuser', audience: 'my-app', typ: 'npuser+jwt' });
 * ```
 */
export interface JsonWebKeySet {
  /**
   * The verification keys, the signing key first. A fresh array on every
   * `jwks()` call, typed mutable because JOSE libraries (jose's
   * `createLocalJWKSet`) take `{ keys: JWK[] }` and refuse a readonly array.
   */
  readonly keys: PublicJsonWebKey[];
}

/**
 * One entry of the `signingKeys` option: a JWK (private to sign, public to
 * verify only), a `KeyObject`, or either with an explicit `kid`. Without a
 * `kid`, the key's RFC 7638 thumbprint is its id.
 *
 * @example
 * ```ts
 * import type { SigningKeyInput } from 'npuser';
 * const fromEnv: SigningKeyInput = JSON.parse(process.env.NPUSER_SIGNING_KEY!);
 * ```
 */
export type SigningKeyInput = JsonWebKeyInput | KeyObjectInput | KeyWithId;

/**
 * A Node.js `crypto.KeyObject`, described by the members npuser's public types
 * need, so that using npuser's types does not require `@types/node`. Any real
 * `KeyObject` fits.
 *
 * @example
 * ```ts
 * import { generateKeyPairSync } from 'node:crypto';
 * import type { KeyObjectInput } from 'npuser';
 * const key: KeyObjectInput = generateKeyPairSync('ed25519').privateKey;
 * ```
 */
export interface KeyObjectInput {
  /** `private` (signs and verifies) or `public` (verifies only). */
  readonly type: string;
  /** `ed25519` or `ec`. */
  readonly asymmetricKeyType?: string | undefined;
}

/**
 * A key with an explicit id, for `KeyObject`s (which carry none) or to
 * override a JWK's `kid`.
 *
 * @example
 * ```ts
 * import { generateKeyPairSync } from 'node:crypto';
 * import type { KeyWithId } from 'npuser';
 * const entry: KeyWithId = { kid: '2026-11', key: generateKeyPairSync('ed25519').privateKey };
 * ```
 */
export interface KeyWithId {
  /** The id tokens will carry in their `kid` header. */
  readonly kid: string;
  /** The key itself. */
  readonly key: JsonWebKeyInput | KeyObjectInput;
}

/**
 * The JWK members npuser reads. Anything else is ignored.
 *
 * @example
 * ```ts
 * import type { JsonWebKeyInput } from 'npuser';
 * const jwk: JsonWebKeyInput = { kty: 'OKP', crv: 'Ed25519', x: '…', d: '…', kid: '2026-11' };
 * ```
 */
export interface JsonWebKeyInput {
  /** Key type: `OKP` (Ed25519) or `EC` (P-256). */
  readonly kty: string;
  /** Curve: `Ed25519` or `P-256`. */
  readonly crv?: string;
  /** Public x coordinate. */
  readonly x?: string;
  /** Public y coordinate (P-256). */
  readonly y?: string;
  /** The private part: present on a key that signs. */
  readonly d?: string;
  /** The key id. */
  readonly kid?: string;
  /** If present, must match the key's one algorithm. */
  readonly alg?: string;
  /** If present, must be `sig`. */
  readonly use?: string;
}

/** A configured key, resolved once at construction. @internal */
export interface ResolvedSigningKey {
  readonly kid: string;
  readonly alg: AsymmetricAlgorithm;
  readonly privateKey: KeyObject | undefined;
  readonly publicKey: KeyObject;
  readonly publicJwk: PublicJsonWebKey;
}

function fail(index: number, message: string): never {
  throw new TypeError(`npuser: options.signingKeys[${index}] ${message}`);
}

function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === 'object' && value !== null && (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'KeyObject';
}

function algorithmOf(key: KeyObject, index: number): AsymmetricAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  return fail(index, 'must be an Ed25519 (EdDSA) or P-256 (ES256) key');
}

/** RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order. */
function thumbprint(jwk: Pick<PublicJsonWebKey, 'kty' | 'crv' | 'x' | 'y'>): string {
  const members = jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function resolveOne(input: unknown, index: number): ResolvedSigningKey {
  let explicitKid: unknown;
  let material: unknown = input;
  if (typeof input === 'object' && input !== null && !isKeyObject(input) && 'key' in input) {
    ({ kid: explicitKid, key: material } = input as { kid?: unknown; key: unknown });
    if (typeof explicitKid !== 'string') fail(index, 'kid must be a string');
  }
  let privateKey: KeyObject | undefined;
  let publicKey: KeyObject;
  let jwk: JsonWebKeyInput | undefined;
  try {
    if (isKeyObject(material)) {
      if (material.type === 'secret') fail(index, 'must be an asymmetric key, not a secret');
      privateKey = material.type === 'private' ? material : undefined;
      publicKey = material.type === 'private' ? createPublicKey(material) : material;
    } else if (typeof material === 'object' && material !== null) {
      jwk = material as JsonWebKeyInput;
      if (jwk.kty === 'oct') fail(index, 'must be an asymmetric key, not a secret');
      const asJwk = { key: jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' } as const;
      privateKey = typeof jwk.d === 'string' ? createPrivateKey(asJwk) : undefined;
      publicKey = privateKey ? createPublicKey(privateKey) : createPublicKey(asJwk);
    } else {
      return fail(index, 'must be a JWK, a KeyObject or { kid, key }');
    }
  } catch (err) {
    if (err instanceof TypeError && err.message.startsWith('npuser:')) throw err;
    return fail(index, 'is not a valid key');
  }
  const alg = algorithmOf(publicKey, index);
  if (jwk?.alg !== undefined && jwk.alg !== alg) fail(index, `has alg ${jwk.alg} but is a ${alg} key`);
  if (jwk?.use !== undefined && jwk.use !== 'sig') fail(index, 'has a use other than "sig"');
  const exported = publicKey.export({ format: 'jwk' }) as { kty: 'OKP' | 'EC'; crv: 'Ed25519' | 'P-256'; x: string; y?: string };
  const bare: Pick<PublicJsonWebKey, 'kty' | 'crv' | 'x' | 'y'> = {
    kty: exported.kty,
    crv: exported.crv,
    x: exported.x,
    ...(exported.y === undefined ? {} : { y: exported.y }),
  };
  const kid = explicitKid ?? jwk?.kid ?? thumbprint(bare);
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 128) fail(index, 'kid must be a string of 1–128 characters');
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    publicJwk: Object.freeze({ ...bare, kid, alg, use: 'sig' as const }),
  };
}

/**
 * Resolve the `signingKeys` option: the first key signs (so it must be
 * private), every key verifies, each with the one algorithm its type implies.
 * @internal
 */
export function resolveSigningKeys(input: unknown): readonly ResolvedSigningKey[] | undefined {
  if (input === undefined) return undefined;
  if (!Array.isArray(input) || input.length === 0) {
    throw new TypeError('npuser: options.signingKeys must be a non-empty array of keys');
  }
  const keys = input.map((entry, index) => resolveOne(entry, index));
  if (keys[0]?.privateKey === undefined) fail(0, 'signs new tokens, so it must be a private key');
  const kids = new Set(keys.map((k) => k.kid));
  if (kids.size !== keys.length) throw new TypeError('npuser: options.signingKeys have duplicate kid values');
  return Object.freeze(keys);
}
