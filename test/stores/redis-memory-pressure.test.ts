import { inspect } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, type CodeStore } from 'npuser';
import { codeStoreContractCases, memoryMailer, runCodeStoreContract } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { SECRET } from '../support/helpers.js';
import { reachableStrings } from '../support/reachable-strings.js';
import { connect, scanKeys } from '../support/redis.js';
import { type RedisServer, haveRedisBinaries, startRedisServer } from '../support/redis-server.js';

// A dedicated redis-server (never the shared one) at its `maxmemory`.
// Under `noeviction` it refuses writes: npuser fails closed with
// ERR_NPUSER_STORE_FAILED, no key is lost, and the same NpUser serves again
// once memory is freed. Under `allkeys-lru` it evicts live keys instead, and
// the contract's capacity case catches it.

const canRun = haveRedisBinaries();

// Room for a few thousand keys above what the empty server uses (about 2 MB in
// all): full in a second or two, with plenty of writes before the refusal.
const HEADROOM_BYTES = 1024 * 1024;
// Bounds on the fill loops; at about 0.6 KB per address, the headroom takes under 2 000.
const MAX_REQUESTS = 20_000;
const CONTRACT_MAX_WRITES = 50_000;
// Several times what fits, so an evicting server has surely evicted by the end.
const LRU_MAX_WRITES = 20_000;

/** A number from INFO `section`. */
async function info(node: Redis, section: string, field: string): Promise<number> {
  const match = new RegExp(`^${field}:(\\d+)\\r?$`, 'm').exec(await node.info(section));
  if (match?.[1] === undefined) throw new Error(`INFO ${section} has no ${field}`);
  return Number(match[1]);
}

/**
 * Wraps `inner`, keeping the (prefixed) keys the store has accepted and not
 * deleted since: what must still be on the server, however full it gets.
 */
function recordingStore(inner: CodeStore, prefix: string, live: Set<string>): CodeStore {
  return {
    set: (key, value, ttlMs) => inner.set(key, value, ttlMs).then(() => void live.add(prefix + key)),
    increment: (key, ttlMs) =>
      inner.increment(key, ttlMs).then((counter) => {
        live.add(prefix + key);
        return counter;
      }),
    get: (key) => inner.get(key),
    consume: (key, expected) =>
      inner.consume(key, expected).then((value) => {
        // Consumed, or gone already; a value other than `expected` is still there.
        if (value !== undefined || expected === undefined) live.delete(prefix + key);
        return value;
      }),
    delete: (key) => inner.delete(key).then(() => void live.delete(prefix + key)),
  };
}

describe.skipIf(!canRun)('redisCodeStore on a Redis at its maxmemory', () => {
  let server: RedisServer;
  let admin: Redis;
  let client: Redis;

  beforeAll(async () => {
    server = await startRedisServer(() => ['--maxmemory-policy', 'noeviction']);
    admin = await connect(server.url, { enableOfflineQueue: true });
    client = await connect(server.url);
    // Sized from what the empty server already uses: that differs between
    // Redis versions and allocators, a fixed "2mb" might leave no room at all.
    const limit = (await info(admin, 'memory', 'used_memory')) + HEADROOM_BYTES;
    await admin.config('SET', 'maxmemory', String(limit));
  });

  beforeEach(async () => {
    // The server is this file's alone: each test starts empty, refusing, with zeroed stats.
    await admin.flushall();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('RESETSTAT');
  });

  afterAll(async () => {
    client.disconnect();
    admin.disconnect();
    await server.stop();
  });

  it('noeviction: requestCode fails closed with ERR_NPUSER_STORE_FAILED when full, no key is lost, and the same NpUser serves once memory is freed', async () => {
    const prefix = 'pressure:';
    const live = new Set<string>();
    const mailer = memoryMailer();
    const np = new NpUser({
      secret: SECRET,
      mailer,
      store: recordingStore(redisCodeStore({ client, keyPrefix: prefix }), prefix, live),
    });

    // A code requested before the pressure: it must come through it intact.
    await np.requestCode('victim@example.com');
    const victimCode = mailer.lastCodeFor('victim@example.com')!;
    const victimKeys = new Set(live);

    let refusal: unknown;
    let refusedAddress = '';
    let served = 0;
    for (let i = 0; i < MAX_REQUESTS && refusal === undefined; i += 1) {
      const address = `flood-${i}@example.com`;
      try {
        await np.requestCode(address);
        served += 1;
      } catch (err) {
        refusal = err;
        refusedAddress = address;
      }
    }
    expect(refusal, `no refusal in ${MAX_REQUESTS} requests`).toBeDefined();
    // Real sign-ins filled the server: the refusal is not a failure from the start.
    expect(served).toBeGreaterThan(100);

    // The refusal is the store failure, caused by Redis's out-of-memory reply,
    // and carries neither the address nor the secret anywhere.
    expect(isNpUserError(refusal, 'ERR_NPUSER_STORE_FAILED'), inspect(refusal)).toBe(true);
    expect(String((refusal as { cause?: { message?: unknown } }).cause?.message)).toMatch(/^OOM /);
    for (const text of [...reachableStrings(refusal), inspect(refusal, { depth: 20, showHidden: true })]) {
      expect(text).not.toContain(refusedAddress);
      expect(text).not.toContain(refusedAddress.split('@')[0]);
      expect(text).not.toContain(SECRET);
    }
    // No code went out that the store did not keep.
    expect(mailer.messages.filter((m) => m.to === refusedAddress)).toEqual([]);
    expect(mailer.messages).toHaveLength(served + 1);

    // Nothing was evicted: the server holds exactly the keys it accepted, each still with its TTL.
    expect(await info(admin, 'stats', 'evicted_keys')).toBe(0);
    const onServer = await scanKeys(admin, prefix);
    expect(onServer.length).toBe(live.size);
    expect(new Set(onServer)).toEqual(live);
    const pipeline = admin.pipeline();
    for (const key of onServer) pipeline.pttl(key);
    const ttls = (await pipeline.exec())!.map(([err, ttl]) => (err ? -3 : Number(ttl)));
    expect(ttls.filter((ttl) => !(ttl > 0))).toEqual([]);

    // Freeing the flood's keys is enough: the victim's code, stored before the
    // pressure, still signs in.
    const flood = [...live].filter((key) => !victimKeys.has(key));
    for (let i = 0; i < flood.length; i += 500) await admin.del(...flood.slice(i, i + 500));
    const { token } = await np.verifyCode('victim@example.com', victimCode);
    expect(token).toMatch(/^ey/);

    // And once the server is emptied, the same NpUser serves the refused address.
    await admin.flushall();
    await np.requestCode(refusedAddress);
    const signedIn = await np.verifyCode(refusedAddress, mailer.lastCodeFor(refusedAddress)!);
    expect(signedIn.email).toBe(refusedAddress);
  });

  // The whole contract on this small server, the capacity case filling it until it refuses.
  runCodeStoreContract(
    'redisCodeStore at maxmemory with noeviction',
    () => redisCodeStore({ client, keyPrefix: 'contract:' }),
    { describe, it },
    { realTime: true, capacity: { maxWrites: CONTRACT_MAX_WRITES }, removeExpiry: (key) => client.persist(`contract:${key}`) },
  );

  it('allkeys-lru: Redis evicts live keys instead of refusing, and the capacity case catches it', async () => {
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const [capacityCase, ...others] = codeStoreContractCases(() => redisCodeStore({ client, keyPrefix: 'lru:' }), {
      realTime: true,
      capacity: { maxWrites: LRU_MAX_WRITES },
    }).filter((c) => c.id === 'capacity-refuses-rather-than-evicts');
    expect(others).toEqual([]);
    await expect(capacityCase!.run()).rejects.toThrow(/entries the store accepted were damaged .*gone \(evicted/);
    expect(await info(admin, 'stats', 'evicted_keys')).toBeGreaterThan(0);
  });
});
