import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isNpUserError, memoryCodeStore, type MemoryCodeStore, type StoreStep } from 'npuser';
import { removeExpiryForTesting } from '../../src/stores/memory.js';
import { EMAIL, requestAndRead, setup, testClock, wrongCode } from '../support/helpers.js';
import { DIST, assertBuilt } from '../support/dist.js';

/** The keys of the store's live entries, sorted. */
const liveKeys = (store: MemoryCodeStore) =>
  store
    .entries()
    .map((e) => e.key)
    .sort();

describe('memoryCodeStore capacity', () => {
  it('refuses new entries when full instead of evicting live ones', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 3, now: clock.now });
    await store.set('a', '1', 1000);
    await store.increment('b', 1000);
    await store.set('c', '3', 1000);
    await expect(store.set('d', '4', 1000)).rejects.toThrow(/full/);
    await expect(store.increment('e', 1000)).rejects.toThrow(/full/);
    // Existing keys can still be replaced and counted.
    await store.set('a', 'again', 1000);
    expect((await store.increment('b', 1000)).count).toBe(2);
    expect(liveKeys(store)).toEqual(['a', 'b', 'c']);
  });

  it('makes room once entries have expired', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 2, now: clock.now });
    await store.set('a', '1', 1000);
    await store.set('b', '2', 5000);
    clock.advance(1000);
    await store.set('c', '3', 1000);
    expect(liveKeys(store)).toEqual(['b', 'c']);
  });

  it('a flood of new addresses cannot evict a victim’s live code or failure counter', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 40, now: clock.now });
    const flooded = setup({ store, maxFailuresPerDay: 2 }, clock);
    const code = await requestAndRead(flooded);
    await expect(flooded.np.verifyCode(EMAIL, wrongCode(code))).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });

    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => flooded.np.requestCode(`flood${i}@example.com`)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(150);
    for (const r of refused) expect(isNpUserError(r.reason, 'ERR_NPUSER_STORE_FAILED')).toBe(true);

    // The victim's failure counter survived: one more failure locks the address…
    const lockedCheck = setup({ store, maxFailuresPerDay: 2 }, clock);
    await expect(lockedCheck.np.verifyCode(EMAIL, wrongCode(code))).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    await expect(lockedCheck.np.verifyCode(EMAIL, code)).rejects.toMatchObject({ code: 'ERR_NPUSER_ADDRESS_LOCKED' });
  });

  it('a flood cannot evict a victim’s live code', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 30, now: clock.now });
    const s = setup({ store }, clock);
    const code = await requestAndRead(s);
    await Promise.allSettled(Array.from({ length: 100 }, (_, i) => s.np.requestCode(`flood${i}@example.com`)));
    // Full: the first try cannot be counted, so it is not compared; the code is still there.
    await expect(s.np.verifyCode(EMAIL, code)).rejects.toMatchObject({ code: 'ERR_NPUSER_STORE_FAILED' });
    clock.advance(60_000); // the flood's cooldowns expire, the code has minutes left
    await expect(s.np.verifyCode(EMAIL, code)).resolves.toMatchObject({ email: EMAIL });
  });

  it('holds no live entry once every code and window has expired', async () => {
    const s = setup({ maxAttempts: 2 });
    const code = await requestAndRead(s);
    await s.np.verifyCode(EMAIL, wrongCode(code)).catch(() => undefined);
    await s.np.verifyCode('bob@example.com', '123456', { clientKey: 'c' }).catch(() => undefined);
    await s.np.requestCode('carol@example.com', { clientKey: 'c' });
    expect(s.store.entries().length).toBeGreaterThan(0);
    s.clock.advance(24 * 3600_000);
    expect(s.store.entries()).toEqual([]);
  });

  it('validates its options and arguments', async () => {
    expect(() => memoryCodeStore({ maxEntries: 0 })).toThrow(TypeError);
    expect(() => memoryCodeStore({ maxEntries: 1.5 })).toThrow(TypeError);
    expect(() => memoryCodeStore({ maxEntries: 2 ** 24 + 1 })).toThrow(
      'npuser: memoryCodeStore options.maxEntries must be an integer from 1 to 16777216',
    );
    expect(() => memoryCodeStore({ maxEntries: 2 ** 24 })).not.toThrow();
    const store = memoryCodeStore();
    await expect(store.set('', 'v', 1)).rejects.toThrow(TypeError);
    await expect(store.set('k', 'v', 0)).rejects.toThrow(TypeError);
    await expect(store.increment('k', Number.NaN)).rejects.toThrow(TypeError);
    await expect(store.set('k', 1 as unknown as string, 10)).rejects.toThrow(TypeError);
  });
});

/** A key shaped like npuser's: a 43-character base64url tag (32 bytes) and a kind. */
const npuserKey = (tag: Buffer, kind: string) => `{${tag.toString('base64url')}}:${kind}`;

describe('memoryCodeStore: size, reads and sweeps', () => {
  it('size counts held entries in O(1): expired ones stay counted until a write to their tag or a sweep removes them; reads change nothing', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const tag = Buffer.alloc(32, 7);
    await store.set(npuserKey(tag, 'code'), 'v', 1000);
    await store.increment(npuserKey(tag, 'hourly'), 5000);
    await store.set('plain', 'v', 1000);
    clock.advance(1000);
    expect(store.size).toBe(3);
    // Expired entries are invisible, and reading them removes nothing.
    expect(await store.get(npuserKey(tag, 'code'))).toBeUndefined();
    expect(await store.consume(npuserKey(tag, 'code'))).toBeUndefined();
    expect(await store.consume('plain', 'v')).toBeUndefined();
    expect(await store.transact([{ op: 'get', key: 'plain' }])).toEqual([undefined]);
    expect(store.entries().map((e) => e.key)).toEqual([npuserKey(tag, 'hourly')]);
    expect(store.size).toBe(3);
    // A write to a key of the same tag removes that tag's expired entries.
    await store.increment(npuserKey(tag, 'hourly'), 5000);
    expect(store.size).toBe(2);
    await store.delete('plain');
    expect(store.size).toBe(1);
  });

  it.each([
    ['a transaction refused after its sweep', [['p1'], ['p2'], ['p3']], false],
    ['a transaction that read the group after writing elsewhere, and swept', [['p1'], ['p2'], ['hourly']], true],
  ])('a group kept decoded between transactions is counted as a sweep left it: %s', async (_, keys, fits) => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 3, now: clock.now });
    const tag = Buffer.alloc(32, 9);
    await store.transact([
      { op: 'set', key: npuserKey(tag, 'code'), value: 'v', ttlMs: 1000 },
      { op: 'set', key: npuserKey(tag, 'hourly'), value: '1', ttlMs: 60_000 },
    ]);
    clock.advance(2000);
    // Read only: the group, with its expired code, is what the next transaction on it starts from.
    await store.transact([{ op: 'get', key: npuserKey(tag, 'hourly') }]);
    // Full: a sweep removes the expired code.
    const steps: StoreStep[] = keys.map(([key = '']) =>
      key === 'hourly' ? { op: 'get', key: npuserKey(tag, key) } : { op: 'set', key, value: '1', ttlMs: 60_000 },
    );
    if (fits) await store.transact(steps);
    else await expect(store.transact(steps)).rejects.toThrow(/full/);
    const held = store.size;
    expect(held).toBe(store.entries().length);
    // One more entry of the group is one more held, not one fewer or the same.
    await store.transact([{ op: 'increment', key: npuserKey(tag, 'attempts'), ttlMs: 60_000 }]).catch(() => undefined);
    expect(store.size).toBe(store.entries().length);
  });

  it('a full store sweeps at most once a second: an entry that expired since the last sweep waits for the next', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 2, now: clock.now });
    await store.set('short', '1', 100);
    await store.set('long', '2', 60_000);
    await expect(store.set('third', '3', 60_000)).rejects.toThrow(/full/); // swept: nothing had expired
    clock.advance(200); // 'short' has expired, but the last sweep was 200 ms ago
    await expect(store.set('third', '3', 60_000)).rejects.toThrow(/full/);
    expect(store.size).toBe(2);
    clock.advance(800);
    await store.set('third', '3', 60_000);
    expect(liveKeys(store)).toEqual(['long', 'third']);
  });

  it('keys and values of every shape read back exactly, through the compact encoding', async () => {
    const text = fc.string({ unit: fc.constantFrom('grapheme', 'binary', 'binary-ascii'), maxLength: 300 });
    const key = fc.oneof(
      // npuser's own shape, with a canonical tag (stored as its 32 bytes) and kinds known and unknown.
      fc
        .tuple(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.oneof(
            fc.constantFrom('code', 'hourly', 'attempts:', 'attempts:AbCdEfGhIjKlMnOp', 'revoked'),
            text.filter((t) => t.length > 0),
          ),
        )
        .map(([tag, kind]) => npuserKey(Buffer.from(tag), kind)),
      // The same shape with a tag that is not canonical base64url: kept as text.
      fc.constantFrom(
        '{AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB}:code',
        '{AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}:code',
        '{short}:code',
      ),
      text.filter((t) => t.length > 0),
    );
    const value = fc.oneof(text, fc.string({ unit: 'binary', minLength: 16_000, maxLength: 20_000 }));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(key, value, fc.integer({ min: 1, max: 10_000_000 })), { selector: ([k]) => k, maxLength: 12 }),
        async (writes) => {
          const clock = testClock();
          const store = memoryCodeStore({ now: clock.now });
          for (const [k, v, ttl] of writes) await store.set(k, v, ttl);
          for (const [k, v, ttl] of writes) expect(await store.get(k)).toEqual({ value: v, ttlMs: ttl });
          const listed = store.entries().map((e) => [e.key, e.value, e.ttlMs] as const);
          expect(new Map(listed.map(([k, ...rest]) => [k, rest]))).toEqual(new Map(writes.map(([k, ...rest]) => [k, rest])));
          expect(store.size).toBe(writes.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a pending code takes at most 250 bytes of heap (code, cooldown and hourly counter; measured in a fresh process)', () => {
    assertBuilt(['index.js']);
    const script = `
      const { createHmac, randomBytes } = require('node:crypto');
      import(${JSON.stringify(`${DIST}/index.js`)}).then(async ({ memoryCodeStore }) => {
        const N = 100000, now = 1_700_000_000_000;
        const store = memoryCodeStore({ maxEntries: 4 * N, now: () => now });
        global.gc(); global.gc();
        const before = process.memoryUsage().heapUsed;
        for (let i = 0; i < N; i += 1) {
          const tag = '{' + createHmac('sha256', 'k').update(String(i)).digest('base64url') + '}';
          const record = 'v1.' + randomBytes(12).toString('base64url') + '.' + String(now + 600000) + '.' + randomBytes(32).toString('base64url');
          await store.transact([
            { op: 'get', key: tag + ':failures', stopIfCountAtLeast: 100 },
            { op: 'get', key: tag + ':cooldown', stopIfPresent: true },
            { op: 'increment', key: tag + ':cooldown', ttlMs: 60000, stopIfCountAbove: 1 },
            { op: 'increment', key: tag + ':hourly', ttlMs: 3600000, stopIfCountAbove: 5 },
            { op: 'delete', key: tag + ':attempts' },
            { op: 'set', key: tag + ':code', value: record, ttlMs: 600000 },
          ]);
        }
        global.gc(); global.gc();
        console.log(JSON.stringify({ perCode: (process.memoryUsage().heapUsed - before) / N, size: store.size }));
      });`;
    const run = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const { perCode, size } = JSON.parse(run.stdout) as { perCode: number; size: number };
    expect(size).toBe(300_000);
    expect(perCode).toBeLessThanOrEqual(250);
  }, 60_000);
});

describe('memoryCodeStore: transact', () => {
  it('applies a transaction’s writes together: one that rejects part-way (a value that is not a counter) has changed nothing', async () => {
    const store = memoryCodeStore({ now: testClock().now });
    await store.set('hourly', 'not a counter', 60_000);
    const steps: StoreStep[] = [
      { op: 'set', key: 'code', value: 'v', ttlMs: 60_000 },
      { op: 'delete', key: 'hourly' },
      { op: 'increment', key: 'cooldown', ttlMs: 60_000 },
      { op: 'set', key: 'hourly', value: 'again not a counter', ttlMs: 60_000 },
      { op: 'increment', key: 'hourly', ttlMs: 60_000 },
    ];
    await expect(store.transact(steps)).rejects.toThrow(/not a counter/);
    expect(store.entries()).toEqual([{ key: 'hourly', value: 'not a counter', ttlMs: 60_000 }]);
  });

  it('a full store refuses a transaction that would add entries, as a whole; one that only rewrites its entries goes through', async () => {
    const store = memoryCodeStore({ maxEntries: 3 });
    await store.transact([
      { op: 'set', key: 'a', value: '1', ttlMs: 60_000 },
      { op: 'increment', key: 'b', ttlMs: 60_000 },
    ]);
    await expect(
      store.transact([
        { op: 'set', key: 'c', value: '3', ttlMs: 60_000 },
        { op: 'set', key: 'd', value: '4', ttlMs: 60_000 },
      ]),
    ).rejects.toThrow(/full/);
    expect(liveKeys(store)).toEqual(['a', 'b']);
    // Deleting one and adding one, or rewriting, needs no room.
    await store.transact([
      { op: 'set', key: 'c', value: '3', ttlMs: 60_000 },
      { op: 'delete', key: 'a' },
      { op: 'set', key: 'd', value: '4', ttlMs: 60_000 },
      { op: 'increment', key: 'b', ttlMs: 60_000 },
    ]);
    expect(
      store
        .entries()
        .map((e) => `${e.key}=${e.value}`)
        .sort(),
    ).toEqual(['b=2', 'c=3', 'd=4']);
  });

  it('reads each step once, so a step that changes after the call does not change what ran', async () => {
    const store = memoryCodeStore();
    let reads = 0;
    const step = {
      op: 'set' as const,
      get key() {
        reads += 1;
        return reads === 1 ? 'first' : 'second';
      },
      value: 'v',
      ttlMs: 1000,
    };
    await store.transact([step]);
    expect(reads).toBe(1);
    expect(store.entries().map((e) => e.key)).toEqual(['first']);
  });

  it('a clock that answers NaN or Infinity rejects the call rather than deciding expiry by it', async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const store = memoryCodeStore({ now: () => bad });
      await expect(store.set('k', 'v', 1000)).rejects.toThrow(/options\.now returned/);
      await expect(store.transact([{ op: 'get', key: 'k' }])).rejects.toThrow(/options\.now returned/);
    }
  });
});

describe('memoryCodeStore: an entry found without an expiry', () => {
  it('regression: a failure counter that lost its expiry no longer locks its address out of requestCode for ever', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const s = setup({ store, maxFailuresPerDay: 3 }, clock);
    const code = await requestAndRead(s);
    await s.np.verifyCode(EMAIL, wrongCode(code)).catch(() => undefined);
    const failures = store.entries().find((e) => e.key.endsWith(':failures'));
    expect(failures?.value).toBe('1');
    expect(removeExpiryForTesting(store, failures!.key)).toBe(true);
    // The counter is expired, not a reason to fail every request from now on.
    clock.advance(120_000);
    await s.np.requestCode(EMAIL);
    await expect(s.np.verifyCode(EMAIL, s.mailer.lastCodeFor(EMAIL)!)).resolves.toMatchObject({ email: EMAIL });
  });

  it('is counted in size until a write to its tag removes it, and is never listed', async () => {
    const store = memoryCodeStore();
    const tag = Buffer.alloc(32, 1);
    await store.increment(npuserKey(tag, 'failures'), 60_000);
    expect(removeExpiryForTesting(store, npuserKey(tag, 'failures'))).toBe(true);
    expect(store.entries()).toEqual([]);
    expect(store.size).toBe(1);
    expect(await store.increment(npuserKey(tag, 'failures'), 60_000)).toEqual({ count: 1, ttlMs: 60_000 });
    expect(store.size).toBe(1);
    expect(removeExpiryForTesting(store, 'missing')).toBe(false);
    expect(() => removeExpiryForTesting({ ...store }, 'k')).toThrow(TypeError);
  });
});
