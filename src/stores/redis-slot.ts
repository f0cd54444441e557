/**
 * The Redis Cluster hash slot of a key, computed as the server does: CRC16
 * (XMODEM) of the key's bytes, or of its hash tag (the bytes between the first
 * `{` and the next `}`, when there are any), modulo 16 384. The Redis store
 * uses it to tell which steps of a transaction can run as one script.
 * @internal
 */

const TABLE = new Uint16Array(256);
for (let byte = 0; byte < 256; byte += 1) {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[byte] = crc;
}

/** The number of hash slots of a Redis Cluster. @internal */
const SLOTS = 16_384;

/** The hash slot of `key` (a string as sent, UTF-8 encoded, or its bytes), 0–16 383. @internal */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    // `{}` is no tag: the whole key decides, as in Redis.
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i += 1) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ (bytes[i] ?? 0)) & 0xff] ?? 0);
  return crc % SLOTS;
}
