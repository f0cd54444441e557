import { setImmediate as tick } from 'node:timers/promises';
import { memoryCodeStore, type CodeStore } from 'npuser';
import type { ContractClock } from 'npuser/testing';

/** Consume as GET, then DEL a moment later: the classic race that lets two callers win. */
export function nonAtomicConsumeStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    async consume(key) {
      const entry = await inner.get(key);
      await tick();
      await inner.delete(key);
      return entry?.value;
    },
  };
}

/** INCR then EXPIRE on every call: the TTL slides forward, so a window never closes. */
export function slidingCounterStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    async increment(key, ttlMs) {
      const counter = await inner.increment(key, ttlMs);
      await inner.set(key, String(counter.count), ttlMs);
      return { count: counter.count, ttlMs };
    },
  };
}

/** Read-modify-write increment with a gap: concurrent increments get lost. */
export function lostUpdateCounterStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    async increment(key, ttlMs) {
      const entry = await inner.get(key);
      await tick();
      const count = entry === undefined ? 1 : Number(entry.value) + 1;
      await inner.set(key, String(count), entry?.ttlMs ?? ttlMs);
      return { count, ttlMs: entry?.ttlMs ?? ttlMs };
    },
  };
}

/** Rounds TTLs up by a millisecond (as a seconds-based EXPIRE would, by more): entries outlive their TTL. */
export function lateExpiryStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    set: (key, value, ttlMs) => inner.set(key, value, ttlMs + 1),
  };
}
