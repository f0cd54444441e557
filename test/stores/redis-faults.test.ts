import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { NpUser, isNpUserError, type NpUserOptions, type StoreStep } from 'npuser';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { SECRET, wrongCode } from '../support/helpers.js';
import { type ClientOptions, connect, logCommands, scanKeys, tally } from '../support/redis.js';
import { type RedisServer, haveRedisBinaries, sparePort, startRedisServer } from '../support/redis-server.js';
import { collectUnhandledRejections } from '../support/unhandled-rejections.js';

// Faults on a real, dedicated redis-server (never the shared one): stopped,
// killed mid-call and restarted, paused past the timeouts, demoted to a
// read-only replica, and holding values npuser did not write. Every call must
// fail closed with ERR_NPUSER_STORE_FAILED, never give a token, never leave an
// unhandled rejection, and the same NpUser must serve again once Redis is back.

const canRun = haveRedisBinaries();

/** Wait until the client is ready again, at most `ms`. */
async function ready(client: Redis, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (client.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`client not ready after ${ms} ms (status ${client.status})`);
    await sleep(20);
  }
}

/** The error a promise rejects with, or the string 'fulfilled'. */
function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'fulfilled',
    (err: unknown) => err,
  );
}

function expectStoreFailed(result: unknown, cause?: RegExp): void {
  expect(isNpUserError(result, 'ERR_NPUSER_STORE_FAILED'), String(result)).toBe(true);
  if (cause) expect(String((result as { cause?: { message?: string } }).cause?.message)).toMatch(cause);
}

describe.skipIf(!canRun)('NpUser on a failing Redis', () => {
  let server: RedisServer;
  let admin: Redis;
  const clients: Redis[] = [];
  const unhandled = collectUnhandledRejections();

  beforeAll(async () => {
    server = await startRedisServer();
    admin = await connect(server.url, { enableOfflineQueue: true });
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    admin.disconnect();
    await server.stop();
    // Rejections that surface a tick late are still counted.
    await sleep(50);
    expect(unhandled).toEqual([]);
  });

  async function app(
    options: Partial<NpUserOptions> = {},
    clientOptions: ClientOptions = {},
  ): Promise<{ np: NpUser; client: Redis; mailer: MemoryMailer }> {
    const client = await connect(server.url, clientOptions);
    clients.push(client);
    const mailer = memoryMailer();
    const np = new NpUser({
      secret: SECRET,
      mailer,
      store: redisCodeStore({ client, keyPrefix: 'fault:' }),
      storeTimeoutMs: 1000,
      resendCooldownSeconds: 0,
      ...options,
    });
    return { np, client, mailer };
  }

  it('(a) Redis killed mid-call and shut down: STORE_FAILED at once, no token; the same NpUser serves after a restart', async () => {
    // npuser's own timeout well above what the connection drop should take, to tell them apart.
    const { np, client, mailer } = await app({ storeTimeoutMs: 3000 });
    await np.requestCode('ada@example.com');
    const code = mailer.lastCodeFor('ada@example.com')!;

    // Calls in flight when the server dies: pause it so they are surely waiting, then kill it.
    await admin.call('CLIENT', 'PAUSE', '10000', 'ALL');
    const started = Date.now();
    const inFlight = [
      outcome(np.verifyCode('ada@example.com', code)),
      outcome(np.verifyCode('ada@example.com', code)),
      outcome(np.requestCode('bob@example.com')),
    ];
    await sleep(50);
    await server.kill();
    for (const result of await Promise.all(inFlight)) expectStoreFailed(result);
    // Rejected when the connection dropped, not when npuser's own timeout fired.
    expect(Date.now() - started).toBeLessThan(2000);

    // While it is down: fail at once (no offline queue), never a token.
    const down = Date.now();
    expectStoreFailed(await outcome(np.verifyCode('ada@example.com', code)));
    expectStoreFailed(await outcome(np.requestCode('carol@example.com')));
    expect(Date.now() - down).toBeLessThan(1000);
    expect(mailer.messages.map((m) => m.to)).toEqual(['ada@example.com']);

    // Back on the same port, empty: the same instance serves again.
    await server.restart();
    await ready(client);
    await ready(admin);
    expect(await outcome(np.verifyCode('ada@example.com', code))).toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    await np.requestCode('ada@example.com');
    const { token } = await np.verifyCode('ada@example.com', mailer.lastCodeFor('ada@example.com')!);
    expect(token).toMatch(/^ey/);

    // A clean stop (SHUTDOWN NOSAVE) behaves the same.
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    await sleep(100);
    expectStoreFailed(await outcome(np.requestCode('dave@example.com')));
    await server.restart();
    await ready(client);
    await ready(admin);
    await np.requestCode('dave@example.com');
    await np.verifyCode('dave@example.com', mailer.lastCodeFor('dave@example.com')!);
  });

  it('(b) a command that hangs: npuser’s storeTimeoutMs, or the client’s commandTimeout, ends it with STORE_FAILED', async () => {
    const npuserTimeout = await app({ storeTimeoutMs: 200 }, { commandTimeout: 10_000 });
    const clientTimeout = await app({ storeTimeoutMs: 10_000 }, { commandTimeout: 150 });
    await npuserTimeout.np.requestCode('erin@example.com');
    const code = npuserTimeout.mailer.lastCodeFor('erin@example.com')!;

    await admin.call('CLIENT', 'PAUSE', '1200', 'ALL');
    const started = Date.now();
    const results = await Promise.all([
      outcome(npuserTimeout.np.verifyCode('erin@example.com', code)),
      outcome(npuserTimeout.np.requestCode('frank@example.com')),
      outcome(clientTimeout.np.verifyCode('erin@example.com', code)),
      outcome(clientTimeout.np.requestCode('frank@example.com')),
    ]);
    const elapsed = Date.now() - started;
    expectStoreFailed(results[0], /did not answer within 200 ms/);
    expectStoreFailed(results[1], /did not answer within 200 ms/);
    expectStoreFailed(results[2], /timed out/i);
    expectStoreFailed(results[3], /timed out/i);
    expect(elapsed).toBeLessThan(1000);

    // Once the server answers again, the code still works: the timed-out
    // verifies never got as far as counting an attempt.
    await sleep(Math.max(0, 1300 - (Date.now() - started)));
    const { token } = await npuserTimeout.np.verifyCode('erin@example.com', code);
    expect(token).toMatch(/^ey/);
  });

  it('(c) a server demoted to a read-only replica answers READONLY: STORE_FAILED, no token, and no code mailed', async () => {
    const { np, mailer } = await app();
    await np.requestCode('gina@example.com');
    const code = mailer.lastCodeFor('gina@example.com')!;
    // What a failover does to the old primary: it becomes a replica of the new
    // one (here an address nothing listens on), and refuses writes.
    const nowhere = await sparePort();
    await admin.call('REPLICAOF', '127.0.0.1', String(nowhere));
    try {
      const verify = await outcome(np.verifyCode('gina@example.com', code));
      expectStoreFailed(verify, /READONLY/);
      const request = await outcome(np.requestCode('hank@example.com'));
      expectStoreFailed(request, /READONLY/);
      expect(mailer.messages.map((m) => m.to)).toEqual(['gina@example.com']);
    } finally {
      await admin.call('REPLICAOF', 'NO', 'ONE');
    }
    // Primary again, with its data: the code still works.
    await np.verifyCode('gina@example.com', code);
  });

  it('(d) values npuser did not write at its keys (a hash, a foreign string, a record for another address): STORE_FAILED or refusal, never a token; a counter without a TTL is expired', async () => {
    const { np, mailer } = await app();
    const codeKey = async (email: string) => {
      const before = new Set(await scanKeys(admin, 'fault:'));
      await np.requestCode(email);
      const created = (await scanKeys(admin, 'fault:')).filter((k) => !before.has(k) && k.endsWith(':code'));
      expect(created).toHaveLength(1);
      return { key: created[0]!, code: mailer.lastCodeFor(email)! };
    };

    // A hash where the code should be: WRONGTYPE.
    const ivy = await codeKey('ivy@example.com');
    await admin.del(ivy.key);
    await admin.hset(ivy.key, 'code', ivy.code);
    await admin.pexpire(ivy.key, 60_000);
    expectStoreFailed(await outcome(np.verifyCode('ivy@example.com', ivy.code)), /WRONGTYPE/);

    // A string that is not a code record.
    const jo = await codeKey('jo@example.com');
    await admin.set(jo.key, 'hello from another program', 'PX', 60_000);
    expectStoreFailed(await outcome(np.verifyCode('jo@example.com', jo.code)), /malformed code record/);

    // A genuine record, but another address's: the digest binds the address.
    const kim = await codeKey('kim@example.com');
    const lee = await codeKey('lee@example.com');
    await admin.set(kim.key, (await admin.get(lee.key))!, 'PX', 60_000);
    expect(await outcome(np.verifyCode('kim@example.com', lee.code))).toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });

    // A failure counter that is not a number, then one without a TTL.
    const mo = await codeKey('mo@example.com');
    await np.verifyCode('mo@example.com', wrongCode(mo.code)).catch(() => undefined);
    const failures = mo.key.replace(/:code$/, ':failures');
    expect(await admin.pttl(failures)).toBeGreaterThan(0);
    await admin.set(failures, 'many', 'KEEPTTL');
    expectStoreFailed(await outcome(np.verifyCode('mo@example.com', mo.code)), /not a counter|malformed counter/);
    expectStoreFailed(await outcome(np.requestCode('mo@example.com')), /not a counter|malformed counter/);
    // Regression: a counter without a TTL (a PERSIST, a migration that drops
    // TTLs) used to make every read of it reject, so its address could never
    // sign in again. It is now expired, and removed by the first read.
    await admin.set(failures, '1');
    expect(await admin.pttl(failures)).toBe(-1);
    const { token } = await np.verifyCode('mo@example.com', mo.code);
    expect(token).toMatch(/^ey/);
    expect(await admin.exists(failures)).toBe(0);
  });

  it('(e) out of memory under noeviction: a transaction is refused with OOM before it writes anything', async () => {
    const client = await connect(server.url);
    clients.push(client);
    const store = redisCodeStore({ client, keyPrefix: 'fault-oom:' });
    // Several deletes, so that some come first in any order the script might apply its writes in.
    const kept = Array.from({ length: 8 }, (_, i) => `{oom}:kept-${i}`);
    for (const key of kept) await store.set(key, 'v', 60_000);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      const refused = await outcome(
        store.transact!([
          ...kept.map((key): StoreStep => ({ op: 'delete', key })),
          { op: 'increment', key: '{oom}:hourly', ttlMs: 60_000 },
          { op: 'set', key: '{oom}:code', value: 'v', ttlMs: 60_000 },
        ]),
      );
      expect(String(refused)).toMatch(/OOM/);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    // Not even the deletes (which need no memory) went through: the script's writes are all or nothing.
    expect(await admin.exists(...kept.map((key) => `fault-oom:${key}`))).toBe(kept.length);
    expect(await admin.exists('fault-oom:{oom}:hourly', 'fault-oom:{oom}:code')).toBe(0);
    await admin.del(...kept.map((key) => `fault-oom:${key}`));
  });

  it('a flushed script cache costs nothing: each flow sends its transaction whole, as EVAL', async () => {
    const { np, client, mailer } = await app();
    await np.requestCode('nell@example.com');
    const log = logCommands(client);
    await admin.call('SCRIPT', 'FLUSH');
    const { token } = await np.verifyCode('nell@example.com', mailer.lastCodeFor('nell@example.com')!);
    expect(token).toMatch(/^ey/);
    // Two transactions (read and count; consume), each one command: nothing to resend after the flush.
    expect(tally(log.names)).toEqual({ 'script:transact': 2 });
    log.restore();
  });
});
