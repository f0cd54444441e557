import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { NpUser, isNpUserError, type CodeStore, type StoreCounter, type StoreStep } from 'npuser';
import { memoryMailer, runCodeStoreContract } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { EMAIL, SECRET } from '../support/helpers.js';
import { connect, deleteKeys, logCommands, probeRedis, scanKeys, tally, testPrefix } from '../support/redis.js';

// The store on its own: options, reply checking, the contract on a real Redis,
// and what it writes there. NpUser on Redis is in redis-np-user.test.ts,
// faults in redis-faults.test.ts, Cluster in redis-cluster.test.ts.

const reachable = await probeRedis();

/** A client that never connects: enough for what the factory does synchronously. */
function idleClient(): Redis {
  return new Redis({ lazyConnect: true, enableOfflineQueue: false });
}

describe('redisCodeStore options', () => {
  it('defaults keyPrefix to npuser: and accepts a custom one', () => {
    expect(() => redisCodeStore({ client: idleClient() })).not.toThrow();
    expect(() => redisCodeStore({ client: idleClient(), keyPrefix: 'blog:npuser:' })).not.toThrow();
  });

  it.each([
    ['a brace, which would become the hash tag', '{app}:'],
    ['a closing brace', 'app}:'],
    ['an empty string', ''],
    ['whitespace', 'my app:'],
    ['a control character', 'app\n:'],
    ['101 characters', 'x'.repeat(101)],
    ['a number', 42],
  ])('refuses a keyPrefix with %s (TypeError)', (_, keyPrefix) => {
    expect(() => redisCodeStore({ client: idleClient(), keyPrefix: keyPrefix as string })).toThrow(TypeError);
  });

  it('refuses a missing or foreign client (TypeError)', () => {
    for (const client of [undefined, null, {}, { set: () => 'OK' }, 'redis://127.0.0.1']) {
      expect(() => redisCodeStore({ client: client as unknown as Redis })).toThrow(/ioredis Redis or Cluster/);
    }
    expect(() => redisCodeStore(undefined as unknown as { client: Redis })).toThrow(TypeError);
  });

  it('registers its scripts once per client, under npuser_-prefixed names carrying the script hash', () => {
    const client = idleClient();
    redisCodeStore({ client });
    redisCodeStore({ client, keyPrefix: 'other:' });
    const names = Object.keys((client as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet);
    expect(names.sort()).toEqual([
      expect.stringMatching(/^npuser_consume_[0-9a-f]{12}$/),
      expect.stringMatching(/^npuser_get_[0-9a-f]{12}$/),
      expect.stringMatching(/^npuser_increment_[0-9a-f]{12}$/),
    ]);
  });

  it('transact rejects (not throws) bad steps with a TypeError, without sending anything', async () => {
    const client = idleClient();
    const log = logCommands(client);
    const store = redisCodeStore({ client });
    for (const steps of [
      undefined,
      'get',
      [{ op: 'get' }],
      [
        { op: 'get', key: 'k' },
        { op: 'set', key: 'k', value: 'v', ttlMs: 2 ** 60 },
      ],
    ]) {
      await expect(store.transact!(steps as StoreStep[])).rejects.toThrow(TypeError);
    }
    await expect(store.transact!([{ op: 'increment', key: 'k', ttlMs: 1e300 }])).rejects.toThrow(
      /steps\[0\]\.ttlMs must be a positive number of milliseconds below 2\^53/,
    );
    expect(log.names).toEqual([]);
  });

  it('rejects (not throws) bad keys, values and TTLs, without sending anything', async () => {
    const client = idleClient();
    const log = logCommands(client);
    const store = redisCodeStore({ client });
    await expect(store.set('', 'v', 1000)).rejects.toThrow(TypeError);
    await expect(store.set('k', 42 as unknown as string, 1000)).rejects.toThrow(TypeError);
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1000']) {
      await expect(store.set('k', 'v', ttl as number)).rejects.toThrow(TypeError);
      await expect(store.increment('k', ttl as number)).rejects.toThrow(TypeError);
    }
    await expect(store.get(undefined as unknown as string)).rejects.toThrow(TypeError);
    await expect(store.consume('k', 42 as unknown as string)).rejects.toThrow(TypeError);
    await expect(store.consume('k', null as unknown as string)).rejects.toThrow(TypeError);
    expect(log.names).toEqual([]);
  });
});

describe('redisCodeStore replies outside what Redis can answer', () => {
  /** A client whose every command resolves with `reply`: a proxy or a mock gone wrong. */
  function answering(reply: unknown): Redis {
    const client: Record<string, unknown> = {
      defineCommand(name: string) {
        client[name] = () => Promise.resolve(reply);
      },
      set: () => Promise.resolve(reply),
      del: () => Promise.resolve(reply),
      eval: () => Promise.resolve(reply),
    };
    return client as unknown as Redis;
  }

  const garbage: Array<[string, unknown]> = [
    ['a number', 7],
    ['an object', { value: 'v', ttlMs: 5 }],
    ['a one-element array', ['v']],
    ['a negative TTL', ['v', -5]],
    ['a fractional TTL', ['v', 1.5]],
    ['a Buffer', Buffer.from('v1')],
    ['a zero count', [0, 1000]],
  ];

  for (const [label, reply] of garbage) {
    it(`every operation rejects ${label}`, async () => {
      const store = redisCodeStore({ client: answering(reply) });
      await expect(store.set('k', 'v', 1000)).rejects.toThrow(/unexpected reply/);
      await expect(store.get('k')).rejects.toThrow(/unexpected reply/);
      await expect(store.increment('k', 1000)).rejects.toThrow(/unexpected reply/);
      if (typeof reply !== 'string') await expect(store.consume('k')).rejects.toThrow(/unexpected reply/);
      await expect(store.consume('k', 'v')).rejects.toThrow(/unexpected reply/);
      await expect(store.delete('k')).rejects.toThrow(/unexpected reply/);
      await expect(store.transact!([{ op: 'get', key: 'k' }])).rejects.toThrow(/unexpected reply/);
    });
  }

  it.each<[string, StoreStep[], unknown]>([
    ['not an array', [{ op: 'get', key: 'k' }], 'OK'],
    ['no result at all', [{ op: 'get', key: 'k' }], []],
    ['more results than steps', [{ op: 'delete', key: 'k' }], [[], []]],
    ['a get with a value and no TTL', [{ op: 'get', key: 'k' }], [['v']]],
    ['a get with a TTL of 0', [{ op: 'get', key: 'k' }], [['v', 0]]],
    ['an increment at 0', [{ op: 'increment', key: 'k', ttlMs: 1000 }], [[0, 1000]]],
    ['an increment without a TTL', [{ op: 'increment', key: 'k', ttlMs: 1000 }], [[1, -1]]],
    ['a set answering a value', [{ op: 'set', key: 'k', value: 'v', ttlMs: 1000 }], [['v']]],
    ['a consume handing out another value than expected', [{ op: 'consume', key: 'k', expected: 'v' }], [['w']]],
    ['a consume answering a number', [{ op: 'consume', key: 'k' }], [[7]]],
    [
      'fewer results, the last not stopping',
      [
        { op: 'get', key: 'a', stopIfPresent: true },
        { op: 'get', key: 'b' },
      ],
      [[]],
    ],
    [
      'a stop before the last result',
      [
        { op: 'get', key: 'a', stopIfPresent: true },
        { op: 'get', key: 'b' },
      ],
      [['v', 5], []],
    ],
    [
      'a count stop that did not happen',
      [
        { op: 'increment', key: 'a', ttlMs: 1000, stopIfCountAbove: 3 },
        { op: 'delete', key: 'b' },
      ],
      [[3, 1000]],
    ],
  ])('transact rejects a reply with %s', async (_label, steps, reply) => {
    await expect(redisCodeStore({ client: answering(reply) }).transact!(steps)).rejects.toThrow(/unexpected reply from Redis to transact/);
  });

  it('transact reads a reply that agrees with its steps, stops included', async () => {
    const steps: StoreStep[] = [
      { op: 'get', key: 'a', stopIfCountAtLeast: 5 },
      { op: 'increment', key: 'b', ttlMs: 1000, stopIfCountAbove: 3 },
      { op: 'set', key: 'c', value: 'v', ttlMs: 1000 },
    ];
    expect(
      await redisCodeStore({
        client: answering([
          ['4', 900],
          [4, 1000],
        ]),
      }).transact!(steps),
    ).toEqual([
      { value: '4', ttlMs: 900 },
      { count: 4, ttlMs: 1000 },
    ]);
    expect(await redisCodeStore({ client: answering([[], [1, 1000], []]) }).transact!(steps)).toEqual([
      undefined,
      { count: 1, ttlMs: 1000 },
      undefined,
    ]);
  });

  it('a conditional consume rejects any string but the expected one (the script returns nothing else)', async () => {
    for (const reply of ['other', '', 'v ', 'V']) {
      await expect(redisCodeStore({ client: answering(reply) }).consume('k', 'v')).rejects.toThrow(
        /unexpected reply from Redis to consume/,
      );
    }
    expect(await redisCodeStore({ client: answering('v') }).consume('k', 'v')).toBe('v');
    expect(await redisCodeStore({ client: answering(null) }).consume('k', 'v')).toBeUndefined();
  });

  it('NpUser over a garbage-answering client fails closed with ERR_NPUSER_STORE_FAILED and no token', async () => {
    const mailer = memoryMailer();
    const np = new NpUser({ secret: SECRET, mailer, store: redisCodeStore({ client: answering(['v1.garbage', 1000]) }) });
    const request = await np.requestCode(EMAIL).catch((err: unknown) => err);
    expect(isNpUserError(request, 'ERR_NPUSER_STORE_FAILED')).toBe(true);
    const verify = await np.verifyCode(EMAIL, '123456').catch((err: unknown) => err);
    expect(isNpUserError(verify, 'ERR_NPUSER_STORE_FAILED')).toBe(true);
    expect(mailer.messages).toHaveLength(0);
  });
});

describe.skipIf(!reachable)('redisCodeStore on a real Redis', () => {
  const prefix = testPrefix('store');
  let client: Redis;
  let store: CodeStore;
  const raw = (key: string) => prefix + key;

  beforeAll(async () => {
    client = await connect();
    store = redisCodeStore({ client, keyPrefix: prefix });
  });

  afterAll(async () => {
    // Every key under the prefix, the contract's included, must have a TTL: the
    // tests that write one without (playing a PERSIST or another program) see
    // the store delete or repair it.
    await deleteKeys(client, prefix);
    expect(await scanKeys(client, prefix)).toEqual([]);
    await client.quit();
  });

  runCodeStoreContract(
    'redisCodeStore',
    () => redisCodeStore({ client, keyPrefix: prefix }),
    { describe, it },
    {
      realTime: true,
      removeExpiry: (key) => client.persist(prefix + key),
    },
  );

  it('writes exactly the prefix followed by npuser’s key, and the value as given', async () => {
    await store.set('{t1}:code', 'v1.value', 60_000);
    await store.increment('{t1}:failures', 60_000);
    expect((await scanKeys(client, `${prefix}{t1}`)).sort()).toEqual([raw('{t1}:code'), raw('{t1}:failures')]);
    expect(await client.get(raw('{t1}:code'))).toBe('v1.value');
    expect(await client.get(raw('{t1}:failures'))).toBe('1');
  });

  it('sends TTLs as whole milliseconds, rounded up', async () => {
    expect((await store.increment('{t2}:hourly', 0.2)).ttlMs).toBe(1);
    await store.set('{t2}:code', 'v', 59_999.1);
    const pttl = await client.pttl(raw('{t2}:code'));
    expect(pttl).toBeGreaterThan(59_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('a counter pre-set to "0" keeps its own TTL on its first increment (INCR returning 1 is not "new")', async () => {
    // npuser creates attempt counters this way, with the code's TTL, before the code exists.
    await store.set('{t3}:attempts:x', '0', 30_000);
    const first = await store.increment('{t3}:attempts:x', 600_000);
    expect(first.count).toBe(1);
    expect(first.ttlMs).toBeLessThanOrEqual(30_000);
    expect(await client.pttl(raw('{t3}:attempts:x'))).toBeLessThanOrEqual(30_000);
  });

  it('regression: a counter found without a TTL (PERSIST, a migration) is expired, so its next increment starts a fresh window instead of the address being locked for ever', async () => {
    await client.set(raw('{t4}:failures'), '7'); // no TTL
    expect(await client.pttl(raw('{t4}:failures'))).toBe(-1);
    expect(await store.get('{t4}:failures')).toBeUndefined();
    // The get removed it: nothing is left to fail every later read.
    expect(await client.exists(raw('{t4}:failures'))).toBe(0);
    await client.set(raw('{t4}:failures'), '7');
    expect(await store.increment('{t4}:failures', 5000)).toEqual({ count: 1, ttlMs: 5000 });
    const pttl = await client.pttl(raw('{t4}:failures'));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5000);
  });

  it('a value without a TTL is expired for consume and transact too, and deleted in the same script', async () => {
    for (const [index, read] of [
      () => store.consume('{t5}:code'),
      () => store.consume('{t5}:code', 'v1.forever'),
      async () => (await store.transact!([{ op: 'get', key: '{t5}:code', stopIfPresent: true }]))[0],
      async () => (await store.transact!([{ op: 'consume', key: '{t5}:code' }]))[0],
    ].entries()) {
      await client.set(raw('{t5}:code'), 'v1.forever');
      expect(await read(), `read ${index}`).toBeUndefined();
      expect(await client.exists(raw('{t5}:code')), `read ${index}`).toBe(0);
    }
  });

  it('a key of the wrong type (a hash) makes get, consume and increment reject with WRONGTYPE', async () => {
    await client.hset(raw('{t6}:code'), 'field', 'value');
    await client.pexpire(raw('{t6}:code'), 60_000);
    await expect(store.get('{t6}:code')).rejects.toThrow(/WRONGTYPE/);
    await expect(store.consume('{t6}:code')).rejects.toThrow(/WRONGTYPE/);
    await expect(store.consume('{t6}:code', 'value')).rejects.toThrow(/WRONGTYPE/);
    await expect(store.increment('{t6}:code', 1000)).rejects.toThrow(/WRONGTYPE/);
    await expect(
      store.transact!([
        { op: 'set', key: '{t6}:other', value: 'v', ttlMs: 60_000 },
        { op: 'get', key: '{t6}:code' },
      ]),
    ).rejects.toThrow(/WRONGTYPE/);
    // The script wrote nothing before it failed: its writes come last.
    expect(await client.exists(raw('{t6}:other'))).toBe(0);
    // The hash is still there: nothing was half-done.
    expect(await client.type(raw('{t6}:code'))).toBe('hash');
  });

  it('increment rejects a value that is not a counter, and leaves it alone; so does a transaction, which then writes nothing', async () => {
    for (const value of ['not a number', '-3', '007', '1.5', '1e3', '1234567890123456']) {
      await client.set(raw('{t7}:hourly'), value, 'PX', 60_000);
      await expect(store.increment('{t7}:hourly', 1000), value).rejects.toThrow(/not a counter/);
      expect(await client.get(raw('{t7}:hourly'))).toBe(value);
      await expect(
        store.transact!([
          { op: 'set', key: '{t7}:code', value: 'v', ttlMs: 60_000 },
          { op: 'increment', key: '{t7}:cooldown', ttlMs: 60_000 },
          { op: 'get', key: '{t7}:hourly', stopIfCountAtLeast: 5 },
        ]),
        value,
      ).rejects.toThrow(/not a counter/);
      expect(await client.exists(raw('{t7}:code'), raw('{t7}:cooldown'))).toBe(0);
    }
    // A counter at the 15-digit limit still counts.
    await client.set(raw('{t7}:hourly'), '999999999999998', 'PX', 60_000);
    expect((await store.increment('{t7}:hourly', 1000)).count).toBe(999_999_999_999_999);
  });

  it('transact: an increment of an existing counter keeps its exact TTL (KEEPTTL), a new one gets the step’s', async () => {
    await client.set(raw('{t10}:attempts'), '0', 'PX', 30_000);
    const [kept, created] = await store.transact!([
      { op: 'increment', key: '{t10}:attempts', ttlMs: 600_000 },
      { op: 'increment', key: '{t10}:hourly', ttlMs: 3_600_000 },
    ]);
    expect((kept as StoreCounter).ttlMs).toBeLessThanOrEqual(30_000);
    expect(await client.pttl(raw('{t10}:attempts'))).toBeLessThanOrEqual(30_000);
    expect(created).toEqual({ count: 1, ttlMs: 3_600_000 });
    const pttl = await client.pttl(raw('{t10}:hourly'));
    expect(pttl).toBeGreaterThan(3_590_000);
  });

  it.each([
    ['RESP2 (protocol 2, as ioredis 5 speaks)', { protocol: 2 as const }],
    ['RESP3 with replyMapping resp3', { replyMapping: 'resp3' as const }],
  ])('reads the same replies over %s', async (_, options) => {
    const other = await connect(undefined, options as Parameters<typeof connect>[1]);
    try {
      const s = redisCodeStore({ client: other, keyPrefix: prefix });
      await s.set('{t9}:code', 'v1.x', 60_000);
      expect(await s.get('{t9}:code')).toEqual({ value: 'v1.x', ttlMs: expect.any(Number) as number });
      expect(await s.increment('{t9}:hourly', 60_000)).toEqual({ count: 1, ttlMs: 60_000 });
      expect((await s.increment('{t9}:hourly', 60_000)).count).toBe(2);
      expect(await s.consume('{t9}:code')).toBe('v1.x');
      expect(await s.get('{t9}:code')).toBeUndefined();
      expect(
        await s.transact!([
          { op: 'set', key: '{t9}:code', value: 'v1.y', ttlMs: 60_000 },
          { op: 'get', key: '{t9}:code' },
          { op: 'increment', key: '{t9}:hourly', ttlMs: 60_000 },
          { op: 'consume', key: '{t9}:code', expected: 'v1.y' },
          { op: 'get', key: '{t9}:hourly', stopIfCountAtLeast: 3 },
          { op: 'delete', key: '{t9}:hourly' },
        ]),
      ).toEqual([
        undefined,
        { value: 'v1.y', ttlMs: expect.any(Number) as number },
        { count: 3, ttlMs: expect.any(Number) as number },
        'v1.y',
        { value: '3', ttlMs: expect.any(Number) as number },
      ]);
      await s.delete('{t9}:hourly');
    } finally {
      other.disconnect();
    }
  });

  it('every operation is one command, also on a fresh connection (EVAL the first time); round trips are counted in redis-round-trips.test.ts', async () => {
    const fresh = await connect();
    try {
      const log = logCommands(fresh);
      const s = redisCodeStore({ client: fresh, keyPrefix: prefix });
      const counts: Record<string, number> = {};
      const measure = async (name: string, run: () => Promise<unknown>) => {
        log.reset();
        await run();
        counts[name] = log.names.length;
      };
      await measure('increment (first script call on this connection)', () => s.increment('{t8}:hourly', 60_000));
      await measure('get (first call of its script)', () => s.get('{t8}:hourly'));
      await measure('set', () => s.set('{t8}:code', 'v', 60_000));
      await measure('get', () => s.get('{t8}:code'));
      await measure('consume', () => s.consume('{t8}:code'));
      await s.set('{t8}:code', 'v', 60_000);
      await measure('consume with expected (first call of its script)', () => s.consume('{t8}:code', 'other'));
      await measure('consume with expected', () => s.consume('{t8}:code', 'v'));
      await measure('delete', () => s.delete('{t8}:hourly'));
      await measure('increment', () => s.increment('{t8}:hourly', 60_000));
      await measure('transact', () =>
        s.transact!([
          { op: 'get', key: '{t8}:code' },
          { op: 'increment', key: '{t8}:hourly', ttlMs: 60_000 },
        ]),
      );
      expect(counts).toEqual({
        'increment (first script call on this connection)': 1,
        'get (first call of its script)': 1,
        set: 1,
        get: 1,
        consume: 1,
        'consume with expected (first call of its script)': 1,
        'consume with expected': 1,
        delete: 1,
        increment: 1,
        transact: 1,
      });
      log.reset();
      await Promise.all([
        s.get('{t8}:x'),
        s.increment('{t8}:y', 1000),
        s.set('{t8}:z', 'v', 1000),
        s.consume('{t8}:z'),
        s.consume('{t8}:w', 'v'),
      ]);
      expect(tally(log.names)).toEqual({ 'script:get': 1, 'script:increment': 1, 'script:consume': 2, set: 1 });
      log.restore();
    } finally {
      fresh.disconnect();
    }
  });
});
