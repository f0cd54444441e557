// keyedHash feeds OpenSSL one string or one buffer rather than a buffer per
// part: the digests must be those of its definition, HMAC-SHA256 over each
// part's UTF-8 bytes after its 4-byte big-endian length, for every string.
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestBuffer, keyedHash, keyedHashText, randomId } from '../../src/lib/keys.js';

function byDefinition(key: Buffer, parts: readonly string[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hmac.update(length).update(bytes);
  }
  return hmac.digest();
}

describe('keyedHash', () => {
  it('is HMAC-SHA256 over length-prefixed UTF-8 parts, for ASCII, any Unicode and lone surrogates alike', () => {
    const key = randomBytes(32);
    const part = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom('', 'ada@example.com', 'é', '\ud800', '\u0080'),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 4 }), (parts) => {
        const expected = byDefinition(key, parts);
        expect(keyedHash(key, ...parts).equals(expected)).toBe(true);
        expect(keyedHashText(key, ...parts)).toBe(expected.toString('base64url'));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps parts apart: ("ab", "c") and ("a", "bc") differ, also for the latin1 fast path', () => {
    const key = randomBytes(32);
    expect(keyedHash(key, 'ab', 'c').equals(keyedHash(key, 'a', 'bc'))).toBe(false);
    expect(keyedHash(key, '\u0000\u0000\u0000\u0001a').equals(keyedHash(key, '', 'a'))).toBe(false);
  });

  it('digestBuffer is the digest, as bytes', () => {
    const key = randomBytes(32);
    expect(digestBuffer(createHmac('sha256', key).update('x')).equals(createHmac('sha256', key).update('x').digest())).toBe(true);
  });
});

describe('randomId', () => {
  it('draws fresh base64url ids of the length asked for, across refills of its pool and beyond its size', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => randomId(i % 2 === 0 ? 12 : 16));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [i, id] of ids.entries()) expect(Buffer.from(id, 'base64url')).toHaveLength(i % 2 === 0 ? 12 : 16);
    expect(Buffer.from(randomId(5000), 'base64url')).toHaveLength(5000);
  });

  it('is uniform: every byte value turns up about as often as the others', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4096; i += 1) for (const byte of Buffer.from(randomId(16), 'base64url')) counts[byte] = (counts[byte] ?? 0) + 1;
    // 65 536 bytes: 256 each on average; a working CSPRNG stays far inside these bounds.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(370);
  });
});
