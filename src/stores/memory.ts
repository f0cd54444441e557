import { LRUCache } from 'lru-cache';
import type { CodeStore, StoreCounter, StoreEntry } from '../types.js';

/**
 * Options for {@link memoryCodeStore}.
 *
 * @example
 * ```ts
 * import { memoryCodeStore, type MemoryCodeStoreOptions } from 'npuser';
 * const options: MemoryCodeStoreOptions = { maxEntries: 10_000 };
 * const store = memoryCodeStore(options);
 * ```
 */
export interface MemoryCodeStoreOptions {
  /**
   * The most entries held at once (codes and counters together; one sign-in
   * uses about five). When full, new entries are refused (npuser answers
   * `ERR_NPUSER_STORE_FAILED`) and nothing live is ever evicted, so a flood of
   * new addresses cannot push out a victim's code or counters.
   * @default 100000
   */
  maxEntries?: number;
  /**
   * The clock deciding expiry, in milliseconds since the epoch. `NpUser`
   * passes its own `now` to the store it creates by default.
   * @default Date.now
   */
  now?: () => number;
}

/**
 * One live entry, as listed by {@link MemoryCodeStore.entries}.
 *
 * @example
 * ```ts
 * import type { MemoryStoreEntry } from 'npuser';
 * const entry: MemoryStoreEntry = { key: '{tag}:code', value: 'v1.…', ttlMs: 600_000 };
 * ```
 */
export interface MemoryStoreEntry extends StoreEntry {
  /** The entry's key, as npuser chose it (a hash tag and a kind). */
  readonly key: string;
}

/**
 * The in-process {@link CodeStore}: codes and counters in an LRU cache that
 * refuses rather than evicts. For one process only; apps on several machines
 * need a shared store.
 *
 * @example
 * ```ts
 * import { memoryCodeStore } from 'npuser';
 * const store = memoryCodeStore();
 * await store.set('k', 'v', 1000);
 * store.size; // 1
 * ```
 */
export interface MemoryCodeStore extends CodeStore {
  /** How many live entries the store holds. */
  readonly size: number;
  /** Every live entry: for tests and debugging (it holds only hashes and counters). */
  entries(): MemoryStoreEntry[];
}

const DEFAULT_MAX_ENTRIES = 100_000;
// When full, look for expired entries at most this often: a sweep is O(size),
// and a flood of refused requests must not turn into a flood of sweeps.
const SWEEP_INTERVAL_MS = 1000;

interface Entry {
  value: string;
  readonly expiresAt: number;
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('memoryCodeStore: key must be a non-empty string');
}

function checkTtl(ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError('memoryCodeStore: ttlMs must be a positive number');
  }
}

/**
 * Create the default, in-process {@link CodeStore}.
 *
 * Every operation runs synchronously inside one call, so `consume` (with or
 * without `expected`) and `increment` are atomic in a single Node.js process.
 * Entries expire at exactly `ttlMs` on the store's clock, whatever the
 * caller's clock says.
 *
 * @throws TypeError when `maxEntries` is not a positive integer or `now` is not a function.
 *
 * @example
 * ```ts
 * import { NpUser, memoryCodeStore } from 'npuser';
 * const np = new NpUser({
 *   secret: process.env.NPUSER_SECRET!,
 *   store: memoryCodeStore({ maxEntries: 50_000 }),
 * });
 * ```
 */
export function memoryCodeStore(options: MemoryCodeStoreOptions = {}): MemoryCodeStore {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new TypeError('memoryCodeStore: options must be an object');
  }
  const maxEntries = options.maxEntries === undefined ? DEFAULT_MAX_ENTRIES : options.maxEntries;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('memoryCodeStore: options.maxEntries must be a positive integer');
  }
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('memoryCodeStore: options.now must be a function');

  // `max` is only a ceiling lru-cache never reaches: `makeRoom` refuses first.
  // lru-cache's own TTL (on the same clock, no cached time) lets
  // `purgeStale` sweep expired entries; reads check `expiresAt` exactly.
  const cache = new LRUCache<string, Entry>({ max: maxEntries, perf: { now }, ttlResolution: 0 });
  let lastSweep = Number.NEGATIVE_INFINITY;

  function live(key: string, at: number): Entry | undefined {
    const entry = cache.get(key);
    if (entry === undefined) return undefined;
    if (at >= entry.expiresAt) {
      cache.delete(key);
      return undefined;
    }
    return entry;
  }

  function makeRoom(key: string, at: number): void {
    if (cache.size < maxEntries || live(key, at) !== undefined) return;
    if (at - lastSweep >= SWEEP_INTERVAL_MS) {
      lastSweep = at;
      // purgeStale drops what lru-cache sees as stale (past the TTL); `live`
      // also drops entries exactly at it, which lru-cache still counts as fresh.
      cache.purgeStale();
      for (const other of [...cache.keys()]) live(other, at);
    }
    if (cache.size >= maxEntries) throw new Error(`memoryCodeStore is full (${maxEntries} live entries)`);
  }

  function put(key: string, value: string, ttlMs: number, at: number): void {
    makeRoom(key, at);
    cache.set(key, { value, expiresAt: at + ttlMs }, { ttl: ttlMs });
  }

  function increment(key: string, ttlMs: number, at: number): StoreCounter {
    const entry = live(key, at);
    if (entry === undefined) {
      put(key, '1', ttlMs, at);
      return { count: 1, ttlMs };
    }
    const count = Number.parseInt(entry.value, 10) + 1;
    if (!Number.isSafeInteger(count)) throw new Error('memoryCodeStore: increment on an entry that is not a counter');
    // Mutated in place: the counter keeps the expiry it was created with.
    entry.value = String(count);
    return { count, ttlMs: entry.expiresAt - at };
  }

  return {
    get size() {
      return this.entries().length;
    },

    entries() {
      const at = now();
      const result: MemoryStoreEntry[] = [];
      for (const key of [...cache.keys()]) {
        const entry = live(key, at);
        if (entry) result.push({ key, value: entry.value, ttlMs: entry.expiresAt - at });
      }
      return result;
    },

    // Each operation runs to completion synchronously (that is what makes it
    // atomic in one process); `settle` only turns its result or error into a promise.
    set: (key, value, ttlMs) =>
      settle(() => {
        checkKey(key);
        checkTtl(ttlMs);
        if (typeof value !== 'string') throw new TypeError('memoryCodeStore: value must be a string');
        put(key, value, ttlMs, now());
      }),

    get: (key) =>
      settle((): StoreEntry | undefined => {
        checkKey(key);
        const at = now();
        const entry = live(key, at);
        return entry && { value: entry.value, ttlMs: entry.expiresAt - at };
      }),

    consume: (key, expected) =>
      settle(() => {
        checkKey(key);
        if (expected !== undefined && typeof expected !== 'string') {
          throw new TypeError('memoryCodeStore: expected must be a string when given');
        }
        const entry = live(key, now());
        // Another value than expected (a newer code) is left as it is, TTL included.
        if (entry === undefined || (expected !== undefined && entry.value !== expected)) return undefined;
        cache.delete(key);
        return entry.value;
      }),

    delete: (key) =>
      settle(() => {
        checkKey(key);
        cache.delete(key);
      }),

    increment: (key, ttlMs) =>
      settle(() => {
        checkKey(key);
        checkTtl(ttlMs);
        return increment(key, ttlMs, now());
      }),
  };
}

function settle<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
