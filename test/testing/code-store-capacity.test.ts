import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { memoryCodeStore, type CodeStore } from 'npuser';
import {
  codeStoreContractCases,
  runCodeStoreContract,
  type CodeStoreContractOptions,
  type CodeStoreFactory,
  type ContractCase,
} from 'npuser/testing';

// The contract's optional capacity case ("no silent loss"): a full store
// refuses new entries rather than evicting live ones. It runs against the
// memory store, and is shown to catch stores that lose entries when full.

const MAX_ENTRIES = 20;

const boundedMemoryStore: CodeStoreFactory = (clock) => memoryCodeStore({ maxEntries: MAX_ENTRIES, now: clock.now });

// The whole contract on a small memory store: the other cases fit in it, and
// the capacity case fills it to exactly its maxEntries.
runCodeStoreContract(
  'memoryCodeStore({ maxEntries: 20 })',
  boundedMemoryStore,
  { describe, it },
  {
    capacity: { entries: MAX_ENTRIES },
  },
);

// The memory-bounded mode (fill until refused) on a store whose bound the suite is not told.
runCodeStoreContract(
  'memoryCodeStore, filled until it refuses',
  (clock) => memoryCodeStore({ now: clock.now }),
  { describe, it },
  {
    capacity: { maxWrites: 500, factory: (clock) => memoryCodeStore({ maxEntries: 137, now: clock.now }) },
  },
);

const FULL = 'capacity-refuses-rather-than-evicts';

/** The ids of the contract cases a store fails (the hand-made stores here have no transact). */
async function failedCases(factory: CodeStoreFactory, options: CodeStoreContractOptions): Promise<string[]> {
  const failed: string[] = [];
  for (const contractCase of codeStoreContractCases(factory, { transact: false, ...options })) {
    await contractCase.run().catch(() => failed.push(contractCase.id));
  }
  return failed;
}

/** The capacity case alone. */
function capacityCase(factory: CodeStoreFactory, options: CodeStoreContractOptions): ContractCase {
  const found = codeStoreContractCases(factory, options).filter((c) => c.id === FULL);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/**
 * The classic mistake: a cache used as a store. lru-cache with `max` makes
 * room by evicting the least recently used entry, silently. Everything else
 * is right (exact expiry on the clock, synchronous and so atomic operations).
 */
function evictingStore(max: number): CodeStoreFactory {
  return (clock) => {
    const cache = new LRUCache<string, { value: string; readonly expiresAt: number }>({ max });
    const live = (key: string) => {
      const entry = cache.get(key);
      if (entry !== undefined && clock.now() >= entry.expiresAt) {
        cache.delete(key);
        return undefined;
      }
      return entry;
    };
    return {
      set: (key, value, ttlMs) => {
        cache.set(key, { value, expiresAt: clock.now() + ttlMs });
        return Promise.resolve();
      },
      get: (key) => {
        const entry = live(key);
        return Promise.resolve(entry && { value: entry.value, ttlMs: entry.expiresAt - clock.now() });
      },
      consume: (key, expected) => {
        const entry = live(key);
        if (entry === undefined || (expected !== undefined && entry.value !== expected)) return Promise.resolve(undefined);
        cache.delete(key);
        return Promise.resolve(entry.value);
      },
      delete: (key) => {
        cache.delete(key);
        return Promise.resolve();
      },
      increment: (key, ttlMs) => {
        const entry = live(key);
        if (entry === undefined) {
          cache.set(key, { value: '1', expiresAt: clock.now() + ttlMs });
          return Promise.resolve({ count: 1, ttlMs });
        }
        const count = Number(entry.value) + 1;
        entry.value = String(count);
        return Promise.resolve({ count, ttlMs: entry.expiresAt - clock.now() });
      },
    };
  };
}

/** A store that, when full, swallows the refusal: the write "succeeds" and is silently dropped. */
function droppingStore(max: number): CodeStoreFactory {
  return (clock) => {
    const inner = memoryCodeStore({ maxEntries: max, now: clock.now });
    return {
      ...inner,
      set: (key, value, ttlMs) => inner.set(key, value, ttlMs).catch(() => undefined),
      increment: (key, ttlMs) => inner.increment(key, ttlMs).catch(() => ({ count: 1, ttlMs })),
    };
  };
}

/** A store that refuses every write, as a dead backend would. */
function refuseEverythingStore(clock: Parameters<CodeStoreFactory>[0]): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  const down = () => Promise.reject(new Error('connection refused'));
  return { ...inner, set: down, increment: down };
}

describe('the capacity case catches stores that lose entries when full', () => {
  it('a sound bounded store passes every case, the capacity case included (the suite is not simply failing)', async () => {
    const options = { capacity: { entries: MAX_ENTRIES } };
    const full = codeStoreContractCases(boundedMemoryStore, options).find((c) => c.id === FULL);
    expect(full?.skipped).toBeUndefined();
    expect(await failedCases(boundedMemoryStore, { ...options, transact: true })).toEqual([]);
  });

  it('an LRU cache that evicts when full fails the capacity case, and only it', async () => {
    const options = { capacity: { entries: MAX_ENTRIES } };
    expect(await failedCases(evictingStore(MAX_ENTRIES), options)).toEqual([FULL]);
    // It is caught as an eviction, not merely as a write that should have been refused.
    await expect(capacityCase(evictingStore(MAX_ENTRIES), options).run()).rejects.toThrow(
      /1 of the 21 entries the store accepted were damaged when the full store accepted a new set: 1 gone \(evicted/,
    );
  });

  it('the same LRU cache, filled until it refuses: it never does, and the lost entries are reported', async () => {
    const options = { capacity: { maxWrites: 300 } };
    expect(await failedCases(evictingStore(MAX_ENTRIES), options)).toEqual([FULL]);
    await expect(capacityCase(evictingStore(MAX_ENTRIES), options).run()).rejects.toThrow(
      /280 of the 300 entries the store accepted were damaged in 300 writes, .*: 280 gone \(evicted/,
    );
  });

  it('a store that resolves a write it dropped when full fails the capacity case, and only it', async () => {
    const options = { capacity: { entries: MAX_ENTRIES } };
    expect(await failedCases(droppingStore(MAX_ENTRIES), options)).toEqual([FULL]);
    // The entry it accepted and dropped is as lost as an evicted one.
    await expect(capacityCase(droppingStore(MAX_ENTRIES), options).run()).rejects.toThrow(
      /1 of the 21 entries the store accepted were damaged when the full store accepted a new set: 1 gone/,
    );
    // Filled until it refuses, it never refuses, and everything past its size is gone.
    await expect(capacityCase(droppingStore(MAX_ENTRIES), { capacity: { maxWrites: 100 } }).run()).rejects.toThrow(
      /80 of the 100 entries the store accepted were damaged in 100 writes, .*: 80 gone/,
    );
  });

  it('`entries` is exact: a store that holds one fewer, or one more, fails and says which', async () => {
    const holding =
      (max: number): CodeStoreFactory =>
      (clock) =>
        memoryCodeStore({ maxEntries: max, now: clock.now });
    await expect(capacityCase(holding(MAX_ENTRIES - 1), { capacity: { entries: MAX_ENTRIES } }).run()).rejects.toThrow(
      /refused entry 20 of 20 \(capacity\.entries\): npuser: memoryCodeStore is full/,
    );
    await expect(capacityCase(holding(MAX_ENTRIES + 1), { capacity: { entries: MAX_ENTRIES } }).run()).rejects.toThrow(
      /the full store \(20 entries\) accepted a new set; it must reject it/,
    );
  });

  it('a store that refuses every write is not "full": the fill mode fails rather than passing on nothing', async () => {
    await expect(capacityCase(refuseEverythingStore, { capacity: { maxWrites: 100 } }).run()).rejects.toThrow(/accepting only 0/);
  });

  it('the case deletes what it wrote, so a shared store is not left full', async () => {
    const shared = memoryCodeStore({ maxEntries: MAX_ENTRIES });
    await shared.set('{someone-else}:code', 'kept', 60_000);
    await capacityCase(() => shared, { realTime: true, capacity: { maxWrites: 200 } }).run();
    expect(shared.entries().map((e) => e.key)).toEqual(['{someone-else}:code']);
  });

  it('stays off unless asked: without `capacity` the case is listed as skipped, and runs nothing', async () => {
    const withoutCapacity = codeStoreContractCases(boundedMemoryStore);
    const skipped = withoutCapacity.find((c) => c.id === FULL);
    expect(skipped?.skipped).toMatch(/no capacity option/);
    // Its run does nothing: on a store that evicts, it still resolves.
    await expect(
      codeStoreContractCases(evictingStore(1), { transact: false })
        .find((c) => c.id === FULL)!
        .run(),
    ).resolves.toBeUndefined();
    // A factory for the capacity case alone leaves the other cases on the suite's own factory.
    let built = 0;
    const counting: CodeStoreFactory = (clock) => {
      built += 1;
      return memoryCodeStore({ now: clock.now });
    };
    const cases = codeStoreContractCases(counting, {
      capacity: { entries: 3, factory: (clock) => memoryCodeStore({ maxEntries: 3, now: clock.now }) },
    });
    expect(cases.map((c) => c.id)).toEqual(withoutCapacity.map((c) => c.id));
    const others = cases.filter((c) => c.id !== FULL && c.skipped === undefined);
    for (const c of others) await c.run();
    expect(built).toBe(others.length);
    await cases.find((c) => c.id === FULL)!.run();
    expect(built).toBe(others.length);
  });

  it.each([
    ['neither entries nor maxWrites', {}],
    ['both entries and maxWrites', { entries: 5, maxWrites: 50 }],
    ['entries of 0', { entries: 0 }],
    ['fractional entries', { entries: 2.5 }],
    ['maxWrites of 1 (a set and an increment must both be refused)', { maxWrites: 1 }],
    ['a factory that is not a function', { entries: 5, factory: 'memory' }],
  ])('a capacity option with %s is refused at once, not run as a passing case', (_label, capacity) => {
    expect(() => codeStoreContractCases(boundedMemoryStore, { capacity } as CodeStoreContractOptions)).toThrow(TypeError);
  });
});
