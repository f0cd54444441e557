import { describe, expect, it } from 'vitest';
import { keySlot } from '../../src/stores/redis-slot.js';

// The Redis Cluster key-slot rules, from the Cluster specification; the
// cluster test checks the same function against CLUSTER KEYSLOT on a real one.

describe('keySlot', () => {
  it('is CRC16-XMODEM of the key modulo 16384 (the specification’s test vector)', () => {
    // CRC16("123456789") = 0x31C3
    expect(keySlot('123456789')).toBe(0x31c3);
    expect(keySlot('')).toBe(0);
  });

  it('hashes only the hash tag: the bytes between the first { and the next }', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('{user1000}.followers')).toBe(keySlot('{user1000}.following'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    // An empty tag, or no closing brace, is no tag: the whole key counts.
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{}{bar}')).toBe(keySlot(Buffer.from('foo{}{bar}')));
    expect(keySlot('foo{bar')).not.toBe(keySlot('bar'));
  });

  it('works on the UTF-8 bytes, as the key is sent', () => {
    expect(keySlot('ü')).toBe(keySlot(Buffer.from([0xc3, 0xbc])));
    expect(keySlot('{ü}x')).toBe(keySlot('ü'));
  });
});
