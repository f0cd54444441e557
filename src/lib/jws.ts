/**
 * The JWS pieces of npuser's own tokens, on `node:crypto` alone: strict
 * base64url, JSON objects decoded as jose decodes them, and the signatures of
 * the three algorithms npuser uses. jose runs every signature through
 * WebCrypto on libuv's thread pool, where the hop costs far more than an
 * HMAC; here a signature is one synchronous call, and an asymmetric one can
 * still be sent to the pool when other calls are waiting (`verifyInPool`).
 * @internal
 */
import { isUtf8 } from 'node:buffer';
import { type KeyObject, createHmac, sign, timingSafeEqual, verify } from 'node:crypto';
import { digestBuffer } from './keys.js';

/** The algorithms npuser signs with. @internal */
export type JwsAlgorithm = 'HS256' | 'EdDSA' | 'ES256';

// base64url digit values by char code (-1: not a digit).
const SEXTETS = new Int8Array(128).fill(-1);
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
for (let index = 0; index < BASE64URL.length; index += 1) SEXTETS[BASE64URL.charCodeAt(index)] = index;

/**
 * The bytes of one base64url segment, or undefined unless it is the one
 * canonical spelling of them: no padding, no length of 4n+1, and the unused
 * low bits of the last digit zero. Buffer and atob (jose) both ignore those
 * bits, so without this check four different tokens would carry the same
 * signature. The caller has checked that every char is a base64url digit.
 * @internal
 */
export function decodeSegment(segment: string): Buffer | undefined {
  const rest = segment.length % 4;
  if (rest === 1) return undefined;
  if (rest !== 0) {
    const last = SEXTETS[segment.charCodeAt(segment.length - 1)] ?? -1;
    if (last < 0 || (last & (rest === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  return Buffer.from(segment, 'base64url');
}

/** `text` (UTF-8) as one base64url segment. @internal */
export function encodeSegment(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * The JSON text of a header or payload, decoded as jose decodes it (a fatal
 * UTF-8 decoder, which drops a leading byte order mark), or undefined when
 * the bytes are not UTF-8.
 * @internal
 */
export function utf8Text(bytes: Buffer): string | undefined {
  if (!isUtf8(bytes)) return undefined;
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', bom ? 3 : 0);
}

/** `text` parsed as a JSON object (not an array, not a primitive), or undefined. @internal */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

// ES256 signatures are r ‖ s (RFC 7518 §3.4), not DER.
const P1363 = 'ieee-p1363';

/**
 * The base64url signature of `input` (the ASCII `header.payload`) with `key`.
 * @internal
 */
export function signInput(alg: JwsAlgorithm, key: KeyObject, input: string): string {
  switch (alg) {
    case 'HS256':
      return createHmac('sha256', key).update(input, 'latin1').digest('base64url');
    case 'EdDSA':
      return sign(null, Buffer.from(input, 'latin1'), key).toString('base64url');
    case 'ES256':
      return sign('sha256', Buffer.from(input, 'latin1'), { key, dsaEncoding: P1363 }).toString('base64url');
  }
}

/**
 * Whether `signature` is `key`'s signature of `input`, synchronously. An
 * HS256 signature is compared in constant time. A signature of the wrong
 * length, or one OpenSSL cannot read, is simply not valid.
 * @internal
 */
export function verifyInput(alg: JwsAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  try {
    switch (alg) {
      case 'HS256':
        return signature.length === 32 && timingSafeEqual(digestBuffer(createHmac('sha256', key).update(input, 'latin1')), signature);
      case 'EdDSA':
        return verify(null, Buffer.from(input, 'latin1'), key, signature);
      case 'ES256':
        return verify('sha256', Buffer.from(input, 'latin1'), { key, dsaEncoding: P1363 }, signature);
    }
  } catch {
    return false;
  }
}

/**
 * {@link verifyInput} for EdDSA and ES256 on libuv's thread pool: slower for
 * one call (the hop), faster for many at once (both cores verify). Same
 * verdicts: the same OpenSSL call.
 * @internal
 */
export function verifyInPool(alg: 'EdDSA' | 'ES256', key: KeyObject, input: string, signature: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (err: Error | null, valid: boolean): void => {
      resolve(err === null && valid);
    };
    try {
      if (alg === 'EdDSA') verify(null, Buffer.from(input, 'latin1'), key, signature, done);
      else verify('sha256', Buffer.from(input, 'latin1'), { key, dsaEncoding: P1363 }, signature, done);
    } catch {
      resolve(false);
    }
  });
}
