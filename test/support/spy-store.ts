// A memory code store that counts (and optionally records) every call, to prove "the store was never touched" or what reached it.
import { NpUser, memoryCodeStore, type CodeStore, type MemoryCodeStore, type NpUserOptions } from 'npuser';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';
import { testClock } from './helpers.js';

export type StoreMethod = 'set' | 'get' | 'consume' | 'delete' | 'increment';

export interface SpyStore extends CodeStore {
  readonly inner: MemoryCodeStore;
  readonly calls: Record<StoreMethod, number>;
  total(): number;
  /** With `record: true`, every key and value that went into or came out of the store; otherwise empty. */
  readonly seen: string[];
}

export interface SpyStoreOptions {
  /** Also record every key, value, TTL and count in `seen`. */
  record?: boolean;
}

/** Wraps `inner`, counting every call. */
export function spyStore(inner: MemoryCodeStore, { record = false }: SpyStoreOptions = {}): SpyStore {
  const calls: Record<StoreMethod, number> = { set: 0, get: 0, consume: 0, delete: 0, increment: 0 };
  const seen: string[] = [];
  return {
    inner,
    calls,
    seen,
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
    set(key, value, ttlMs) {
      calls.set += 1;
      if (record) seen.push(key, value, String(ttlMs));
      return inner.set(key, value, ttlMs);
    },
    get(key) {
      calls.get += 1;
      if (!record) return inner.get(key);
      seen.push(key);
      return inner.get(key).then((entry) => {
        if (entry) seen.push(entry.value);
        return entry;
      });
    },
    consume(key, expected) {
      calls.consume += 1;
      if (!record) return inner.consume(key, expected);
      seen.push(key);
      if (expected !== undefined) seen.push(expected);
      return inner.consume(key, expected).then((value) => {
        if (value !== undefined) seen.push(value);
        return value;
      });
    },
    delete(key) {
      calls.delete += 1;
      if (record) seen.push(key);
      return inner.delete(key);
    },
    increment(key, ttlMs) {
      calls.increment += 1;
      if (!record) return inner.increment(key, ttlMs);
      seen.push(key, String(ttlMs));
      return inner.increment(key, ttlMs).then((counter) => {
        seen.push(String(counter.count));
        return counter;
      });
    },
  };
}

export interface SpySetup {
  np: NpUser;
  store: SpyStore;
  mailer: MemoryMailer;
  /** Moves the clock the NpUser and the store share. */
  advance: (ms: number) => void;
}

/** An NpUser on a hand-moved clock, with a counting memory store on the same clock and a memory mailer. */
export function spySetup(secret: string, options: Partial<NpUserOptions> = {}): SpySetup {
  const clock = testClock();
  const store = spyStore(memoryCodeStore({ now: clock.now }));
  const mailer = memoryMailer();
  const np = new NpUser({ secret, store, mailer, now: clock.now, ...options });
  return { np, store, mailer, advance: clock.advance };
}
