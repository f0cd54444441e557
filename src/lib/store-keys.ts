import { keyedHash } from './keys.js';

/**
 * The store keys of one address. Every key is `{tag}:kind`, where the tag is
 * a keyed hash of (app, address): the store never sees the address, and the
 * braces make a Redis Cluster keep all keys of one address in one slot.
 * @internal
 */
export interface AddressKeys {
  readonly code: string;
  readonly failures: string;
  readonly cooldown: string;
  readonly hourly: string;
  attempts(codeId: string): string;
}

/** @internal */
export interface ClientKeys {
  readonly requests: string;
  readonly verifications: string;
}

function tag(storeKey: Buffer, kind: string, audience: string, value: string): string {
  return `{${keyedHash(storeKey, kind, audience, value).toString('base64url')}}`;
}

/** @internal */
export function addressKeys(storeKey: Buffer, audience: string, address: string): AddressKeys {
  const t = tag(storeKey, 'address', audience, address);
  return {
    code: `${t}:code`,
    failures: `${t}:failures`,
    cooldown: `${t}:cooldown`,
    hourly: `${t}:hourly`,
    attempts: (codeId) => `${t}:attempts:${codeId}`,
  };
}

/** @internal */
export function clientKeys(storeKey: Buffer, audience: string, clientKey: string): ClientKeys {
  const t = tag(storeKey, 'client', audience, clientKey);
  return { requests: `${t}:client-requests`, verifications: `${t}:client-verifications` };
}

/**
 * The key marking one token id as revoked. Keyed by `jti`, never by the token
 * string, so a token re-encoded into another string stays revoked.
 * @internal
 */
export function revokedTokenKey(storeKey: Buffer, audience: string, tokenId: string): string {
  return `${tag(storeKey, 'token', audience, tokenId)}:revoked`;
}
