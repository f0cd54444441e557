import { keyedHashText } from './keys.js';

/**
 * The store keys of one address. Every key is `{tag}:kind`, where the tag is
 * a keyed hash of (app, address): the store never sees the address, and the
 * braces make a Redis Cluster keep all keys of one address in one slot, so
 * one transaction can touch them all.
 * @internal
 */
export interface AddressKeys {
  /** The pending code's record. */
  readonly code: string;
  /** Wrong codes since the last code was sent: the attempt counter. */
  readonly attempts: string;
  /** Failures in the current 24-hour window. */
  readonly failures: string;
  readonly cooldown: string;
  readonly hourly: string;
}

/** @internal */
export interface ClientKeys {
  readonly requests: string;
  readonly verifications: string;
}

/**
 * The keys of one subject (a token's `sub`): its revoked token ids and its
 * "signed out everywhere" mark share one tag, so `validateToken` reads both
 * in one transaction, in one Cluster slot.
 * @internal
 */
export interface SubjectKeys {
  /** Marks one token id as revoked. Keyed by `jti`, never by the token string. */
  revokedToken(tokenId: string): string;
  /** Holds the second before which every token of the subject is refused. */
  readonly revokedBefore: string;
}

function tag(storeKey: Buffer, kind: string, audience: string, value: string): string {
  return `{${keyedHashText(storeKey, kind, audience, value)}}`;
}

/** @internal */
export function addressKeys(storeKey: Buffer, audience: string, address: string): AddressKeys {
  const t = tag(storeKey, 'address', audience, address);
  return {
    code: `${t}:code`,
    attempts: `${t}:attempts`,
    failures: `${t}:failures`,
    cooldown: `${t}:cooldown`,
    hourly: `${t}:hourly`,
  };
}

/** @internal */
export function clientKeys(storeKey: Buffer, audience: string, clientKey: string): ClientKeys {
  const t = tag(storeKey, 'client', audience, clientKey);
  return { requests: `${t}:client-requests`, verifications: `${t}:client-verifications` };
}

/** @internal */
export function subjectKeys(storeKey: Buffer, audience: string, subject: string): SubjectKeys {
  const t = tag(storeKey, 'subject', audience, subject);
  return {
    // The id is hashed too: keys stay one shape whatever a token's `jti` looks like.
    revokedToken: (tokenId) => `${t}:revoked:${keyedHashText(storeKey, 'jti', tokenId)}`,
    revokedBefore: `${t}:revoked-before`,
  };
}
