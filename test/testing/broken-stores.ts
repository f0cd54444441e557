import { setImmediate as tick } from 'node:timers/promises';
import { memoryCodeStore, type CodeStore, type StoreStep, type StoreStepResult } from 'npuser';
import type { ContractClock } from 'npuser/testing';
import { type CheckedStep, checkSteps, stops } from '../../src/stores/steps.js';

/**
 * Consume as GET, then DEL a moment later: the classic race that lets two
 * callers win. It compares `expected` correctly, just not atomically.
 */
export function nonAtomicConsumeStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    async consume(key, expected) {
      const entry = await inner.get(key);
      if (entry === undefined || (expected !== undefined && entry.value !== expected)) return undefined;
      await tick();
      await inner.delete(key);
      return entry.value;
    },
  };
}

/** A store written before `expected` existed: consume deletes and returns whatever is there. */
export function ignoresExpectedStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    consume: (key) => inner.consume(key),
  };
}

/** Compares `expected` for the result, but deletes unconditionally: a newer code is lost all the same. */
export function deletesOnMismatchStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    async consume(key, expected) {
      const value = await inner.consume(key);
      return expected === undefined || value === expected ? value : undefined;
    },
  };
}

/** On another value than `expected`, takes the entry and writes it back with a fresh TTL: the TTL slides. */
export function rewritesOnMismatchStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  const ttls = new Map<string, number>();
  return {
    ...inner,
    async set(key, value, ttlMs) {
      ttls.set(key, ttlMs);
      await inner.set(key, value, ttlMs);
    },
    async consume(key, expected) {
      const value = await inner.consume(key);
      if (value === undefined || expected === undefined || value === expected) return value;
      await inner.set(key, value, ttls.get(key) ?? 1);
      return undefined;
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

/** Validates like the real stores (so only what each twin gets wrong shows), from the stores' own checks. */
function checked(steps: readonly StoreStep[]): CheckedStep[] {
  return checkSteps('broken store', steps);
}

/**
 * transact as the five methods one after the other, with a pause between
 * steps: every step is atomic, the transaction is not. Stop conditions,
 * results and validation are right.
 */
export function nonAtomicTransactStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  const one = async (step: CheckedStep): Promise<StoreStepResult> => {
    switch (step.op) {
      case 'get':
        return inner.get(step.key);
      case 'increment':
        return inner.increment(step.key, step.ttlMs);
      case 'set':
        await inner.set(step.key, step.value, step.ttlMs);
        return undefined;
      case 'delete':
        await inner.delete(step.key);
        return undefined;
      case 'consume':
        return step.expected === undefined ? inner.consume(step.key) : inner.consume(step.key, step.expected);
    }
  };
  return {
    ...inner,
    async transact(steps) {
      const results: StoreStepResult[] = [];
      for (const step of checked(steps)) {
        const result = await one(step);
        results.push(result);
        if (stops('broken store', step, result)) break;
        await tick();
      }
      return results;
    },
  };
}

/** transact that drops every stop condition: all steps always run. */
export function ignoresStopsStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    transact: (steps) =>
      inner.transact(
        steps.map((step): StoreStep => {
          if (step.op === 'get') return { op: 'get', key: step.key };
          if (step.op === 'increment') return { op: 'increment', key: step.key, ttlMs: step.ttlMs };
          return step;
        }),
      ),
  };
}

/** transact that runs the steps last to first (each atomic, results put back in place). */
export function outOfOrderStore(clock: ContractClock): CodeStore {
  const inner = memoryCodeStore({ now: clock.now });
  return {
    ...inner,
    async transact(steps) {
      const valid = checked(steps);
      const results: StoreStepResult[] = new Array<StoreStepResult>(valid.length);
      for (let i = valid.length - 1; i >= 0; i -= 1) [results[i]] = await inner.transact([steps[i]!]);
      return results;
    },
  };
}
