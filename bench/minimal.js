// @ts-check
// The least a sign-in by emailed code does, written plainly beside npuser's:
// the same five HMACs (two address tags, two code digests, the subject), the
// code draw, the token's HS256 signature and the same eleven store steps, on a
// plain Map of { value, expiresAt } objects. It does none of what npuser adds
// around them: no address validation, no limits evaluated, no deadline on the
// mailer, no checks of what the store returns, no events. Not a sign-in to use:
// a yardstick for how near npuser's sign-in comes to what any implementation
// of the same work costs on the same machine.
import { createHmac, createSecretKey, randomBytes, randomFillSync, randomInt, timingSafeEqual } from 'node:crypto';

/** @typedef {{ value: string, expiresAt: number }} Entry */

const HEADER = Buffer.from('{"alg":"HS256","typ":"npuser+jwt"}').toString('base64url');

/**
 * A minimal sign-in with its own keys and store, mailing codes to `send`.
 * @param {(code: string) => Promise<void>} send
 */
export function minimalSignIn(send) {
  const key = () => createSecretKey(randomBytes(32));
  const keys = { tag: key(), digest: key(), subject: key(), signing: key() };
  /** @type {Map<string, Entry>} */
  const store = new Map();
  // Ids from a pool of random bytes, as npuser draws them.
  const pool = Buffer.alloc(4096);
  let used = pool.length;
  const randomId = (/** @type {number} */ bytes) => {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    used += bytes;
    return pool.toString('base64url', used - bytes, used);
  };
  /** @param {string} k @param {number} at */
  const live = (k, at) => {
    const entry = store.get(k);
    return entry !== undefined && at < entry.expiresAt ? entry : undefined;
  };
  /** @param {string} k @param {number} at @param {number} ttlMs */
  const increment = (k, at, ttlMs) => {
    const entry = live(k, at);
    if (entry === undefined) store.set(k, { value: '1', expiresAt: at + ttlMs });
    else entry.value = String(Number(entry.value) + 1);
  };
  /** @param {string} address */
  const tagOf = (address) => `{${createHmac('sha256', keys.tag).update(`address\u0000${address}`).digest('base64url')}}`;
  /** @param {string} address @param {string} code */
  const digestOf = (address, code) => createHmac('sha256', keys.digest).update(`${address}\u0000${code}`);

  return {
    /** @param {string} email */
    async requestCode(email) {
      const address = email.trim().toLowerCase();
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const tag = tagOf(address);
      const at = Date.now();
      const record = `v1.${randomId(12)}.${at + 600_000}.${digestOf(address, code).digest('base64url')}`;
      live(`${tag}:failures`, at);
      live(`${tag}:cooldown`, at);
      increment(`${tag}:cooldown`, at, 60_000);
      increment(`${tag}:hourly`, at, 3_600_000);
      store.delete(`${tag}:attempts`);
      store.set(`${tag}:code`, { value: record, expiresAt: at + 600_000 });
      await send(code);
    },

    /** @param {string} email @param {string} code */
    // eslint-disable-next-line @typescript-eslint/require-await -- an async API like npuser's, though nothing here waits
    async verifyCode(email, code) {
      const address = email.trim().toLowerCase();
      const tag = tagOf(address);
      const digest = digestOf(address, code).digest();
      const at = Date.now();
      live(`${tag}:failures`, at);
      const entry = live(`${tag}:code`, at);
      increment(`${tag}:attempts`, at, 600_000);
      const stored = entry === undefined ? Buffer.alloc(32) : Buffer.from(entry.value.slice(entry.value.lastIndexOf('.') + 1), 'base64url');
      if (entry === undefined || !timingSafeEqual(stored, digest)) throw new Error('wrong code');
      const subject = createHmac('sha256', keys.subject).update(address).digest('base64url');
      const now = Math.floor(at / 1000);
      const claims = `{"auth_time":${now},"iss":"npuser","aud":"npuser","sub":"${subject}","iat":${now},"exp":${now + 3600},"jti":"${randomId(16)}"}`;
      const input = `${HEADER}.${Buffer.from(claims).toString('base64url')}`;
      const token = `${input}.${createHmac('sha256', keys.signing).update(input).digest('base64url')}`;
      if (live(`${tag}:code`, at)?.value === entry.value) store.delete(`${tag}:code`);
      store.delete(`${tag}:attempts`);
      return { token, subject };
    },
  };
}
