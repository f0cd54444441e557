import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { NpUser, type CodeStore, type StoreStep } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { connect } from '../support/redis.js';
import { type RedisServer, haveRedisBinaries, startRedisServer } from '../support/redis-server.js';
import { type RoundTripProxy, roundTripProxy } from '../support/round-trips.js';

// Round trips on the wire (a counting TCP proxy between ioredis and Redis), on
// a dedicated redis-server: SCRIPT FLUSH must not reach the shared one, where
// other test files count commands.

const canRun = haveRedisBinaries();

/** requestCode's store work as npuser sends it: one address's keys, one transaction. */
const REQUEST_CODE: StoreStep[] = [
  { op: 'get', key: '{rt}:failures', stopIfCountAtLeast: 100 },
  { op: 'get', key: '{rt}:cooldown', stopIfPresent: true },
  { op: 'increment', key: '{rt}:cooldown', ttlMs: 60_000, stopIfCountAbove: 1 },
  { op: 'increment', key: '{rt}:hourly', ttlMs: 3_600_000, stopIfCountAbove: 5 },
  { op: 'delete', key: '{rt}:attempts' },
  { op: 'set', key: '{rt}:code', value: 'v1.record', ttlMs: 600_000 },
];

describe.skipIf(!canRun)('redisCodeStore round trips, counted on the wire', () => {
  let server: RedisServer;
  let proxy: RoundTripProxy;
  let admin: Redis;
  const clients: Redis[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    proxy = await roundTripProxy(server.url);
    admin = await connect(server.url);
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    admin.disconnect();
    await proxy.close();
    await server.stop();
  });

  /** A new connection through the proxy, its handshake done and not counted. */
  async function fresh(): Promise<{ client: Redis; store: CodeStore }> {
    const client = await connect(proxy.url);
    clients.push(client);
    await admin.call('FLUSHALL');
    proxy.reset();
    return { client, store: redisCodeStore({ client, keyPrefix: 'rt:' }) };
  }

  /** The round trips `call` takes. */
  async function roundTripsOf(call: () => Promise<unknown>): Promise<number> {
    proxy.reset();
    await call();
    return proxy.roundTrips;
  }

  it('the proxy counts round trips, not commands: one for a pipeline of ten, two for EVALSHA answered NOSCRIPT then EVAL', async () => {
    const { client, store } = await fresh();
    expect(await roundTripsOf(() => client.ping())).toBe(1);
    expect(await roundTripsOf(() => client.pipeline(Array.from({ length: 10 }, () => ['ping'])).exec())).toBe(1);
    expect(await roundTripsOf(() => store.get('{rt}:code'))).toBe(1); // EVAL: the script's first use on this connection
    expect(await roundTripsOf(() => store.get('{rt}:code'))).toBe(1); // EVALSHA
    await admin.call('SCRIPT', 'FLUSH');
    // The single operations load their scripts by SHA: after a flush, NOSCRIPT, then ioredis resends EVAL.
    expect(await roundTripsOf(() => store.get('{rt}:code'))).toBe(2);
  });

  it('transact is one round trip on a fresh connection, every time after, and after SCRIPT FLUSH', async () => {
    const { store } = await fresh();
    expect(await roundTripsOf(() => store.transact!(REQUEST_CODE))).toBe(1);
    // The second time the cooldown stops it after three steps: still one round trip.
    let results: unknown[] = [];
    expect(
      await roundTripsOf(async () => {
        results = await store.transact!(REQUEST_CODE);
      }),
    ).toBe(1);
    expect(results).toHaveLength(2);
    await admin.call('SCRIPT', 'FLUSH');
    expect(
      await roundTripsOf(() =>
        store.transact!([
          { op: 'get', key: '{rt}:code' },
          { op: 'get', key: '{rt}:hourly' },
        ]),
      ),
    ).toBe(1);
  });

  it('an empty transaction sends nothing', async () => {
    const { store } = await fresh();
    expect(await roundTripsOf(() => store.transact!([]))).toBe(0);
  });

  it('a transaction with a bad step sends nothing', async () => {
    const { store } = await fresh();
    expect(
      await roundTripsOf(() =>
        store.transact!([
          { op: 'get', key: '{rt}:code' },
          { op: 'set', key: '{rt}:code', value: 'v', ttlMs: 0 },
        ]).catch(() => undefined),
      ),
    ).toBe(0);
  });

  it('each call of NpUser: requestCode one round trip, verifyCode two, validateToken one, with or without a client key', async () => {
    const { store } = await fresh();
    const mailer = memoryMailer();
    const np = new NpUser({ secret: 'round trips: thirty-two bytes or more', mailer, store, resendCooldownSeconds: 0 });
    const ctx = { clientKey: '192.0.2.1' };
    const wrong = (code: string) => code.replace(/^./, (d) => String((Number(d) + 1) % 10));
    let token = '';
    const trips = {
      requestCode: await roundTripsOf(() => np.requestCode('trips@example.com')),
      'requestCode, client key': await roundTripsOf(() => np.requestCode('trips@example.com', ctx)),
      'verifyCode, wrong': await roundTripsOf(() =>
        np.verifyCode('trips@example.com', wrong(mailer.lastCodeFor('trips@example.com')!), ctx).catch(() => 0),
      ),
      'verifyCode, nothing pending': await roundTripsOf(() => np.verifyCode('none@example.com', '123456').catch(() => 0)),
      'verifyCode, right': await roundTripsOf(async () => {
        token = (await np.verifyCode('trips@example.com', mailer.lastCodeFor('trips@example.com')!, ctx)).token;
      }),
      validateToken: await roundTripsOf(() => np.validateToken(token)),
      revokeToken: await roundTripsOf(() => np.revokeToken(token)),
    };
    expect(trips).toEqual({
      requestCode: 1,
      'requestCode, client key': 1,
      'verifyCode, wrong': 2,
      'verifyCode, nothing pending': 2,
      'verifyCode, right': 2,
      validateToken: 1,
      revokeToken: 1,
    });
  });
});
