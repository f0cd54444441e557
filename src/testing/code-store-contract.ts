import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CodeStore, StoreCounter, StoreEntry, StoreStep, StoreStepResult } from '../types.js';
import { type ContractCase, type TestRunner, registerContractCases } from './contract-case.js';

/**
 * The clock a contract case hands to a store factory. Stores that take an
 * injected clock should use `now`; the suite then moves time without sleeping.
 *
 * @example
 * ```ts
 * import { memoryCodeStore } from 'npuser';
 * import type { ContractClock } from 'npuser/testing';
 * const factory = (clock: ContractClock) => memoryCodeStore({ now: clock.now });
 * ```
 */
export interface ContractClock {
  /** Milliseconds since the epoch, as the suite wants the store to see them. */
  readonly now: () => number;
}

/**
 * Builds a fresh, empty store for one contract case.
 *
 * @example
 * ```ts
 * import { memoryCodeStore } from 'npuser';
 * import type { CodeStoreFactory } from 'npuser/testing';
 * const factory: CodeStoreFactory = (clock) => memoryCodeStore({ now: clock.now });
 * ```
 */
export type CodeStoreFactory = (clock: ContractClock) => CodeStore | Promise<CodeStore>;

/**
 * How the contract treats time, which optional parts of `CodeStore` the
 * store has, and what else the suite may do to it.
 *
 * @example
 * ```ts
 * import type { CodeStoreContractOptions } from 'npuser/testing';
 * const options: CodeStoreContractOptions = { realTime: true };
 * ```
 */
export interface CodeStoreContractOptions {
  /**
   * `false` (default): the store uses the clock it is given, and the suite
   * checks expiry to the millisecond. `true`: the store keeps its own time
   * (a server), and the suite waits a few real milliseconds instead.
   * @default false
   */
  realTime?: boolean;
  /**
   * Whether the store has the optional `transact`. `false` registers the
   * transact cases as skipped ("the store has no transact"); otherwise they
   * run, and fail on a store without `transact`, saying to pass `false`. The
   * suite does not guess from a store it would have to build while your test
   * file is still being collected.
   * @default true
   */
  transact?: boolean;
  /**
   * Strip the expiry of the entry under `key` in `store` (`key` as the store
   * was given it), the way a `PERSIST`, a migration that dropped TTLs or a
   * store bug would. Adds the cases that check an entry found without an
   * expiry is expired for every operation (it reads as missing, and a
   * counter starts again at 1 with a TTL) instead of failing every sign-in
   * of its address for ever. Without it those cases are reported skipped.
   *
   * @example
   * ```ts
   * import { describe, it } from 'vitest';
   * import { runCodeStoreContract } from 'npuser/testing';
   * import { redisCodeStore } from 'npuser/stores/redis';
   *
   * runCodeStoreContract('redisCodeStore', () => redisCodeStore({ client, keyPrefix: 'contract:' }), { describe, it }, {
   *   realTime: true,
   *   removeExpiry: (key) => client.persist(`contract:${key}`),
   * });
   * ```
   */
  removeExpiry?: (key: string, store: CodeStore) => unknown;
  /**
   * Adds the capacity case, which checks "no silent loss": a full store
   * refuses new entries rather than evicting live ones. Without it the case
   * is reported skipped, since the suite cannot fill a store without knowing
   * what bounds it. Give exactly one of `entries` (a store bounded by a
   * count) or `maxWrites` (a store bounded by memory, such as Redis with
   * `maxmemory`).
   *
   * The case writes new entries, alternating `set` and `increment` of new
   * keys, with a TTL of ten minutes so that nothing expires while it runs. Once
   * the store is full, a `set` and an `increment` of new keys must both reject,
   * and every entry written before must still be readable with its value and
   * a positive TTL. It then deletes what it wrote, so a shared server is not
   * left full for the cases that follow.
   *
   * @example
   * ```ts
   * import { describe, it } from 'vitest';
   * import { memoryCodeStore } from 'npuser';
   * import { runCodeStoreContract } from 'npuser/testing';
   * import { redisCodeStore } from 'npuser/stores/redis';
   *
   * // A store bounded by a count: exactly 20 entries fit, the 21st is refused.
   * runCodeStoreContract('memoryCodeStore', (clock) => memoryCodeStore({ now: clock.now }), { describe, it }, {
   *   capacity: { entries: 20, factory: (clock) => memoryCodeStore({ maxEntries: 20, now: clock.now }) },
   * });
   *
   * // A store bounded by memory (a test Redis with a small maxmemory and noeviction):
   * // filled until it refuses, failing if it never does within 50 000 writes.
   * runCodeStoreContract('redisCodeStore', () => redisCodeStore({ client }), { describe, it }, {
   *   realTime: true,
   *   capacity: { maxWrites: 50_000 },
   * });
   * ```
   */
  capacity?: CodeStoreCapacity;
}

/**
 * The bound of the store the capacity case fills: exactly one of `entries`
 * and `maxWrites`. See {@link CodeStoreContractOptions.capacity}.
 *
 * @example
 * ```ts
 * import type { CodeStoreCapacity } from 'npuser/testing';
 * const capacity: CodeStoreCapacity = { maxWrites: 50_000 };
 * ```
 */
export interface CodeStoreCapacity {
  /**
   * How many entries the store holds, for a store bounded by a count (like
   * `memoryCodeStore({ maxEntries })`). Exactly this many new entries must be
   * accepted, and the very next `set` and `increment` of new keys must reject.
   */
  readonly entries?: number;
  /**
   * For a store bounded by memory, whose count of entries is not known in
   * advance: new entries are written until a `set` and an `increment` of new
   * keys reject in a row, and the case fails if that has not happened after
   * this many writes (a store that evicts never refuses). Writes accepted after
   * an isolated refusal (memory freed by the server in between) count as live
   * entries that must survive too.
   */
  readonly maxWrites?: number;
  /**
   * Builds the bounded store for this case; the suite's own factory when
   * omitted (then the other cases run on the bounded store as well).
   */
  readonly factory?: CodeStoreFactory;
}

interface Harness {
  readonly store: CodeStore;
  /** Let `ms` pass for the store: a fake clock moves, or real time is waited. */
  readonly pass: (ms: number) => Promise<void>;
  /** A TTL short enough to wait for in real time, long enough not to expire by accident. */
  readonly ttl: number;
  /** Exact-boundary checks only make sense on a clock the suite controls. */
  readonly exact: boolean;
  /** The store's transact, or a failure saying how to skip the transact cases. */
  readonly transact: (steps: readonly StoreStep[]) => Promise<StoreStepResult[]>;
  /** The removeExpiry option, bound to this case's store. */
  readonly removeExpiry: (key: string) => Promise<void>;
}

/** What a case needs beyond the five methods. */
type Need = 'transact' | 'removeExpiry';

interface CaseDefinition {
  readonly id: string;
  readonly title: string;
  readonly needs: readonly Need[];
  readonly body: (h: Harness) => Promise<void>;
}

const REAL_TIME_TTL_MS = 400;
const FAKE_TTL_MS = 600_000;
const CONCURRENCY = 50;
// The bounded-counter case: this many transactions race for this many places.
const RACERS = 100;
const PLACES = 10;
// The capacity case's entries must outlive the case, whatever the clock.
const CAPACITY_TTL_MS = 600_000;
// Reads and deletes of the capacity case go out this many at a time.
const CAPACITY_BATCH = 100;

/** Throws on a capacity option the case cannot run with: a misconfigured suite must not pass quietly. */
function checkCapacity(capacity: unknown): asserts capacity is CodeStoreCapacity | undefined {
  if (capacity === undefined) return;
  if (typeof capacity !== 'object' || capacity === null) throw new TypeError('capacity must be an object');
  const { entries, maxWrites, factory } = capacity as Record<string, unknown>;
  const positive = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
  if ((entries === undefined) === (maxWrites === undefined)) {
    throw new TypeError('capacity needs exactly one of entries and maxWrites');
  }
  if (entries !== undefined && !positive(entries)) throw new TypeError('capacity.entries must be a positive integer');
  if (maxWrites !== undefined && (!positive(maxWrites) || (maxWrites as number) < 2)) {
    throw new TypeError('capacity.maxWrites must be an integer of at least 2');
  }
  if (factory !== undefined && typeof factory !== 'function') throw new TypeError('capacity.factory must be a function');
}

/** Run `each` over `items`, `CAPACITY_BATCH` at a time. */
async function inBatches<T, R>(items: readonly T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += CAPACITY_BATCH) {
    results.push(...(await Promise.all(items.slice(i, i + CAPACITY_BATCH).map(each))));
  }
  return results;
}

const describeError = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Throws on an option the suite cannot run with: a misconfigured suite must not pass quietly. */
function checkOptions(options: unknown): asserts options is CodeStoreContractOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('the contract options must be an object');
  const { realTime, transact, removeExpiry, capacity } = options as Record<string, unknown>;
  if (realTime !== undefined && typeof realTime !== 'boolean') throw new TypeError('realTime must be a boolean');
  if (transact !== undefined && typeof transact !== 'boolean') throw new TypeError('transact must be a boolean');
  if (removeExpiry !== undefined && typeof removeExpiry !== 'function') throw new TypeError('removeExpiry must be a function');
  checkCapacity(capacity);
}

/** A get's result: the entry with `value` and a TTL in (0, `ttl`]. */
function assertEntry(result: StoreStepResult, value: string, ttl: number, what: string): void {
  const entry = result as Partial<StoreEntry> | undefined;
  assert.ok(
    typeof entry === 'object',
    `${what}: expected the entry '${value}', got ${typeof result === 'string' ? `'${result}'` : 'nothing'}`,
  );
  assert.equal(entry.value, value, `${what}: wrong value`);
  assert.ok(
    typeof entry.ttlMs === 'number' && entry.ttlMs > 0 && entry.ttlMs <= ttl,
    `${what}: ttlMs ${String(entry.ttlMs)} not in (0, ${ttl}]`,
  );
}

/** An increment's result: `count`, with a TTL in (0, `ttl`]. */
function assertCounter(result: StoreStepResult, count: number, ttl: number, what: string): void {
  const counter = result as Partial<StoreCounter> | undefined;
  assert.ok(
    typeof counter === 'object',
    `${what}: expected a counter at ${count}, got ${typeof result === 'string' ? `'${result}'` : 'nothing'}`,
  );
  assert.equal(counter.count, count, `${what}: wrong count`);
  assert.ok(
    typeof counter.ttlMs === 'number' && counter.ttlMs > 0 && counter.ttlMs <= ttl,
    `${what}: ttlMs ${String(counter.ttlMs)} not in (0, ${ttl}]`,
  );
}

/** How many results a transaction returned: it says how many steps ran. */
function assertRan(results: readonly StoreStepResult[], steps: number, what: string): void {
  assert.ok(Array.isArray(results), `${what}: transact did not resolve with an array`);
  assert.equal(results.length, steps, `${what}: ${results.length} results, so ${results.length} steps ran; expected ${steps}`);
}

/**
 * The CodeStore contract as a list of cases, for runners without
 * `describe`/`it` or for checking that a broken store fails. Every case has a
 * stable `id`; a case that does not apply (no `transact`, no `removeExpiry`
 * or `capacity` option) is in the list with `skipped` set, and its `run`
 * does nothing.
 *
 * @example
 * ```ts
 * import { memoryCodeStore } from 'npuser';
 * import { codeStoreContractCases } from 'npuser/testing';
 * const cases = codeStoreContractCases((clock) => memoryCodeStore({ now: clock.now }));
 * for (const c of cases) await c.run();
 * ```
 */
export function codeStoreContractCases(factory: CodeStoreFactory, options: CodeStoreContractOptions = {}): ContractCase[] {
  checkOptions(options);
  if (typeof factory !== 'function') throw new TypeError('the contract needs a store factory function');
  const realTime = options.realTime === true;
  const { capacity, removeExpiry } = options;

  async function harness(build: CodeStoreFactory): Promise<Harness> {
    let fakeNow = 1_700_000_000_000;
    const clock: ContractClock = { now: () => (realTime ? Date.now() : fakeNow) };
    const store = await build(clock);
    return {
      store,
      exact: !realTime,
      ttl: realTime ? REAL_TIME_TTL_MS : FAKE_TTL_MS,
      pass: async (ms) => {
        if (realTime) await sleep(ms);
        else fakeNow += ms;
      },
      transact: (steps) => {
        if (typeof store.transact !== 'function') {
          return Promise.reject(
            new assert.AssertionError({
              message: 'the store has no transact: implement it, or pass { transact: false } to report these cases as skipped',
            }),
          );
        }
        return store.transact(steps);
      },
      removeExpiry: async (key) => {
        await removeExpiry?.(key, store);
      },
    };
  }

  // Keys look like npuser's own (a hash tag and a kind) and are unique per case,
  // so a shared server never sees two cases collide.
  const newTag = () => `{contract-${randomBytes(9).toString('base64url')}}`;
  const key = (kind: string) => `${newTag()}:${kind}`;
  /** Keys of one tag, as npuser's keys of one address are (one slot on a Cluster). */
  const sameTag = (...kinds: string[]) => {
    const tag = newTag();
    return kinds.map((kind) => `${tag}:${kind}`);
  };

  const cases: CaseDefinition[] = [
    {
      id: 'set-then-get',
      title: 'set then get returns the value with a positive TTL no longer than given',
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'value-1', ttl);
        const entry = await store.get(k);
        assert.ok(entry, 'get after set returned nothing');
        assert.equal(entry.value, 'value-1');
        assert.ok(entry.ttlMs > 0 && entry.ttlMs <= ttl, `ttlMs ${entry.ttlMs} not in (0, ${ttl}]`);
      },
    },
    {
      id: 'get-missing',
      title: 'get of a missing key is undefined; delete of a missing key succeeds',
      needs: [],
      body: async ({ store }) => {
        const k = key('missing');
        assert.equal(await store.get(k), undefined);
        assert.equal(await store.consume(k), undefined);
        await store.delete(k);
      },
    },
    {
      id: 'set-replaces',
      title: 'set replaces the earlier value and its TTL',
      needs: [],
      body: async ({ store, ttl, pass }) => {
        const k = key('code');
        await store.set(k, 'old', ttl);
        await pass(ttl / 2);
        await store.set(k, 'new', ttl);
        await pass(ttl / 2 + ttl / 4);
        const entry = await store.get(k);
        assert.equal(entry?.value, 'new', 'the replacing set must restart the TTL');
      },
    },
    {
      id: 'expires-at-ttl',
      title: 'an entry is live until its TTL and gone from then on, enforced by the store',
      needs: [],
      body: async ({ store, ttl, pass, exact }) => {
        const k = key('code');
        await store.set(k, 'v', ttl);
        if (exact) {
          await pass(ttl - 1);
          assert.equal((await store.get(k))?.value, 'v', 'entry missing 1 ms before its TTL');
          assert.equal((await store.get(k))?.ttlMs, 1);
          await pass(1);
        } else {
          await pass(ttl + 100);
        }
        assert.equal(await store.get(k), undefined, 'entry still readable at its TTL');
        assert.equal(await store.consume(k), undefined, 'entry still consumable at its TTL');
      },
    },
    {
      id: 'consume-once',
      title: 'consume returns the value once and removes it',
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'once', ttl);
        assert.equal(await store.consume(k), 'once');
        assert.equal(await store.consume(k), undefined);
        assert.equal(await store.get(k), undefined);
      },
    },
    {
      id: 'consume-atomic',
      title: `consume is atomic: of ${CONCURRENCY} concurrent callers exactly one gets the value`,
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'prize', ttl);
        const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => store.consume(k)));
        assert.equal(results.filter((r) => r === 'prize').length, 1, 'more than one caller consumed the value');
        assert.equal(results.filter((r) => r !== undefined && r !== 'prize').length, 0);
      },
    },
    {
      id: 'consume-expected-takes',
      title: 'consume with the expected value returns it and removes the entry',
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'current', ttl);
        assert.equal(await store.consume(k, 'current'), 'current');
        assert.equal(await store.get(k), undefined, 'the entry is still there after consuming it with its own value');
        assert.equal(await store.consume(k, 'current'), undefined, 'the value was handed out twice');
      },
    },
    {
      id: 'consume-expected-leaves-other',
      title: 'consume with another value than the stored one returns undefined and leaves the entry, value and TTL, as it was',
      needs: [],
      body: async ({ store, ttl, pass, exact }) => {
        const k = key('code');
        await store.set(k, 'newer', ttl);
        // Some of the TTL has gone, so a store that writes the entry back with a fresh TTL shows.
        await pass(ttl / 4);
        const started = Date.now();
        const before = await store.get(k);
        assert.ok(before, 'get after set returned nothing');
        // Equal means ===: not a prefix, not another case, not with a trailing space.
        for (const other of ['older', 'newe', 'NEWER', 'newer ']) {
          assert.equal(await store.consume(k, other), undefined, `consume(key, '${other}') handed out the value 'newer'`);
        }
        const after = await store.get(k);
        const elapsed = Date.now() - started;
        assert.ok(after, 'a consume with another value removed the entry');
        assert.equal(after.value, 'newer', 'a consume with another value changed the entry');
        if (exact) {
          assert.equal(after.ttlMs, before.ttlMs, 'a consume with another value changed the TTL');
        } else {
          // Real time passes between the two reads, but the TTL only runs down.
          assert.ok(
            after.ttlMs <= before.ttlMs + 50 && after.ttlMs >= before.ttlMs - elapsed - 50,
            `a consume with another value changed the TTL from ${before.ttlMs} to ${after.ttlMs} ms in ${elapsed} ms`,
          );
        }
      },
    },
    {
      id: 'consume-expected-atomic',
      title: `consume with the expected value is atomic: of ${CONCURRENCY} concurrent callers exactly one gets the value`,
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'prize', ttl);
        const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => store.consume(k, 'prize')));
        assert.equal(results.filter((r) => r === 'prize').length, 1, 'not exactly one caller consumed the value');
        assert.equal(results.filter((r) => r !== undefined && r !== 'prize').length, 0);
        assert.equal(await store.get(k), undefined);
      },
    },
    {
      id: 'consume-expected-missing-or-expired',
      title: 'consume with an expected value of a missing or expired key returns undefined and creates nothing',
      needs: [],
      body: async ({ store, ttl, pass, exact }) => {
        const missing = key('code');
        assert.equal(await store.consume(missing, 'anything'), undefined);
        assert.equal(await store.get(missing), undefined, 'consume of a missing key created an entry');
        const expired = key('code');
        await store.set(expired, 'stale', ttl);
        await pass(exact ? ttl : ttl + 100);
        assert.equal(await store.consume(expired, 'stale'), undefined, 'an entry was consumed at or after its TTL');
        assert.equal(await store.get(expired), undefined, 'consume of an expired key brought it back');
      },
    },
    {
      id: 'delete-removes',
      title: 'delete removes an entry',
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'v', ttl);
        await store.delete(k);
        assert.equal(await store.get(k), undefined);
      },
    },
    {
      id: 'increment-creates',
      title: 'increment creates a counter at 1 with the given TTL, and get reads it in decimal',
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('failures');
        const first = await store.increment(k, ttl);
        assert.equal(first.count, 1);
        assert.ok(first.ttlMs > 0 && first.ttlMs <= ttl, `ttlMs ${first.ttlMs} not in (0, ${ttl}]`);
        assert.equal((await store.increment(k, ttl)).count, 2);
        const entry = await store.get(k);
        assert.equal(entry?.value, '2');
        assert.ok(entry.ttlMs > 0, 'a counter must never exist without a TTL');
      },
    },
    {
      id: 'increment-keeps-ttl',
      title: 'increment keeps the TTL fixed at creation',
      needs: [],
      body: async ({ store, ttl, pass, exact }) => {
        const k = key('hourly');
        await store.increment(k, ttl);
        await pass(ttl / 2);
        const later = await store.increment(k, ttl);
        assert.equal(later.count, 2);
        assert.ok(later.ttlMs <= ttl / 2 + (exact ? 0 : 50), `increment extended the TTL to ${later.ttlMs} ms`);
        await pass(ttl / 2 + (exact ? 0 : 100));
        assert.equal((await store.increment(k, ttl)).count, 1, 'the counter outlived its first TTL');
      },
    },
    {
      id: 'increment-atomic',
      title: `increment is atomic: ${CONCURRENCY * 2} concurrent increments give ${CONCURRENCY * 2} distinct counts`,
      needs: [],
      body: async ({ store, ttl }) => {
        const k = key('attempts');
        const n = CONCURRENCY * 2;
        const counts = (await Promise.all(Array.from({ length: n }, () => store.increment(k, ttl)))).map((c) => c.count);
        assert.deepEqual(
          [...counts].sort((a, b) => a - b),
          Array.from({ length: n }, (_, i) => i + 1),
        );
      },
    },
    {
      id: 'keys-independent',
      title: 'keys are independent',
      needs: [],
      body: async ({ store, ttl }) => {
        const a = key('code');
        const b = key('code');
        await store.set(a, 'a', ttl);
        await store.increment(b, ttl);
        await store.delete(b);
        assert.equal((await store.get(a))?.value, 'a');
        assert.equal(await store.consume(b), undefined);
      },
    },
    {
      id: 'entry-without-expiry-is-expired',
      title: 'an entry found without an expiry is expired for every operation: missing to get and consume, a new counter to increment',
      needs: ['removeExpiry'],
      body: async ({ store, ttl, pass, exact, removeExpiry }) => {
        // A code, then counters, each stripped of its expiry behind the store's back.
        const [code, taken, takenIfEqual, counter, replaced] = sameTag('code', 'taken', 'taken-if-equal', 'failures', 'replaced');
        const all = [code, taken, takenIfEqual, counter, replaced] as string[];
        for (const k of [code, taken, takenIfEqual, replaced] as string[]) {
          await store.set(k, 'v', ttl);
          await removeExpiry(k);
        }
        for (let i = 0; i < 3; i += 1) await store.increment(counter as string, ttl);
        await removeExpiry(counter as string);

        assert.equal(await store.get(code as string), undefined, 'get returned an entry without an expiry');
        assert.equal(await store.get(code as string), undefined, 'a second get returned the entry without an expiry');
        assert.equal(await store.consume(taken as string), undefined, 'consume handed out an entry without an expiry');
        assert.equal(
          await store.consume(takenIfEqual as string, 'v'),
          undefined,
          'consume(key, expected) handed out an entry without an expiry',
        );
        // The counter starts again, with a TTL: its address is not locked out for ever.
        const restarted = await store.increment(counter as string, ttl);
        assert.equal(restarted.count, 1, 'increment continued a counter that had no expiry');
        assert.ok(restarted.ttlMs > 0 && restarted.ttlMs <= ttl, `the restarted counter's ttlMs ${restarted.ttlMs} not in (0, ${ttl}]`);
        const reread = await store.get(counter as string);
        assert.equal(reread?.value, '1');
        await store.set(replaced as string, 'w', ttl);
        assert.equal((await store.get(replaced as string))?.value, 'w', 'set over an entry without an expiry did not take');

        // Both now live by their TTLs again, and go at them.
        await pass(exact ? ttl : ttl + 100);
        assert.equal(await store.get(counter as string), undefined, 'the restarted counter outlived its TTL');
        assert.equal(await store.get(replaced as string), undefined, 'the replacing value outlived its TTL');
        for (const k of all) await store.delete(k);
      },
    },
    {
      id: 'transact-runs-steps-in-order',
      title: 'transact: runs the steps in order, each seeing the ones before, with one result per step',
      needs: ['transact'],
      body: async ({ store, ttl, transact }) => {
        const [code, counter] = sameTag('code', 'attempts') as [string, string];
        assertRan(await transact([]), 0, 'an empty transaction');
        const results = await transact([
          { op: 'set', key: code, value: 'first', ttlMs: ttl },
          { op: 'get', key: code },
          { op: 'set', key: code, value: 'second', ttlMs: ttl },
          { op: 'get', key: code },
          { op: 'increment', key: counter, ttlMs: ttl },
          { op: 'increment', key: counter, ttlMs: ttl },
          { op: 'consume', key: code, expected: 'first' },
          { op: 'consume', key: code, expected: 'second' },
          { op: 'get', key: code },
          { op: 'get', key: counter },
          { op: 'delete', key: counter },
          { op: 'get', key: counter },
          { op: 'consume', key: counter },
        ]);
        assertRan(results, 13, 'a transaction without stop conditions');
        assert.equal(results[0], undefined, 'set: its result');
        assertEntry(results[1], 'first', ttl, 'get after the first set');
        assert.equal(results[2], undefined, 'set: its result');
        assertEntry(results[3], 'second', ttl, 'get after the second set');
        assertCounter(results[4], 1, ttl, 'first increment');
        assertCounter(results[5], 2, ttl, 'second increment');
        assert.equal(results[6], undefined, 'consume of a value that had been replaced');
        assert.equal(results[7], 'second', 'consume of the current value');
        assert.equal(results[8], undefined, 'get after consume');
        assertEntry(results[9], '2', ttl, 'get of the counter');
        assert.equal(results[10], undefined, 'delete: its result');
        assert.equal(results[11], undefined, 'get after delete');
        assert.equal(results[12], undefined, 'consume after delete');
        // And the store holds what the steps left.
        assert.equal(await store.get(code), undefined);
        assert.equal(await store.get(counter), undefined);
      },
    },
    {
      id: 'transact-stop-if-present',
      title: 'transact: a get with stopIfPresent stops after it when the entry exists, and only then',
      needs: ['transact'],
      body: async ({ store, ttl, transact }) => {
        const [cooldown, code] = sameTag('cooldown', 'code') as [string, string];
        const steps: StoreStep[] = [
          { op: 'get', key: cooldown, stopIfPresent: true },
          { op: 'increment', key: cooldown, ttlMs: ttl },
          { op: 'set', key: code, value: 'sent', ttlMs: ttl },
        ];
        const open = await transact(steps);
        assertRan(open, 3, 'no cooldown yet');
        assert.equal(open[0], undefined);
        assertCounter(open[1], 1, ttl, 'the cooldown started');
        await store.delete(code);
        const closed = await transact(steps);
        assertRan(closed, 1, 'during the cooldown');
        assertEntry(closed[0], '1', ttl, 'the cooldown read');
        assert.equal(await store.get(code), undefined, 'a step after the stop ran');
        assert.equal((await store.get(cooldown))?.value, '1', 'a step after the stop ran');
        // stopIfPresent: false never stops.
        assertRan(
          await transact([
            { op: 'get', key: cooldown, stopIfPresent: false },
            { op: 'get', key: code },
          ]),
          2,
          'stopIfPresent: false',
        );
      },
    },
    {
      id: 'transact-stop-if-count-at-least',
      title:
        'transact: a get with stopIfCountAtLeast stops when the counter is at least that, not below nor when missing; a value that is not a counter rejects',
      needs: ['transact'],
      body: async ({ store, ttl, transact }) => {
        const [failures, code] = sameTag('failures', 'code') as [string, string];
        const steps: StoreStep[] = [
          { op: 'get', key: failures, stopIfCountAtLeast: 3 },
          { op: 'set', key: code, value: 'sent', ttlMs: ttl },
        ];
        assertRan(await transact(steps), 2, 'no failures yet');
        await store.increment(failures, ttl);
        await store.increment(failures, ttl);
        const below = await transact(steps);
        assertRan(below, 2, 'two failures, below three');
        assertEntry(below[0], '2', ttl, 'the failures read');
        await store.increment(failures, ttl);
        await store.delete(code);
        const reached = await transact(steps);
        assertRan(reached, 1, 'three failures');
        assertEntry(reached[0], '3', ttl, 'the failures read');
        assert.equal(await store.get(code), undefined, 'a step after the stop ran');
        // Zero stops on any counter, even one at "0".
        await store.set(failures, '0', ttl);
        assertRan(
          await transact([
            { op: 'get', key: failures, stopIfCountAtLeast: 0 },
            { op: 'get', key: code },
          ]),
          1,
          'stopIfCountAtLeast: 0 on a counter at 0',
        );
        // Compared as a counter, it must be one.
        await store.set(failures, 'v1.not-a-counter', ttl);
        await assert.rejects(transact(steps), 'stopIfCountAtLeast on a value that is not a counter must reject');
        await store.delete(failures);
      },
    },
    {
      id: 'transact-stop-if-count-above',
      title: 'transact: an increment with stopIfCountAbove counts, then stops when the new count is above that',
      needs: ['transact'],
      body: async ({ store, ttl, transact }) => {
        const [hourly, code] = sameTag('hourly', 'code') as [string, string];
        const steps: StoreStep[] = [
          { op: 'increment', key: hourly, ttlMs: ttl, stopIfCountAbove: 2 },
          { op: 'set', key: code, value: 'sent', ttlMs: ttl },
        ];
        for (const count of [1, 2]) {
          const results = await transact(steps);
          assertRan(results, 2, `count ${count}, not above 2`);
          assertCounter(results[0], count, ttl, `increment to ${count}`);
        }
        await store.delete(code);
        const above = await transact(steps);
        assertRan(above, 1, 'count 3, above 2');
        // The stopping step itself ran: the refused request is counted.
        assertCounter(above[0], 3, ttl, 'increment to 3');
        assert.equal((await store.get(hourly))?.value, '3', 'the stopping increment did not count');
        assert.equal(await store.get(code), undefined, 'a step after the stop ran');
        assertRan(
          await transact([
            { op: 'increment', key: hourly, ttlMs: ttl, stopIfCountAbove: 0 },
            { op: 'get', key: code },
          ]),
          1,
          'stopIfCountAbove: 0',
        );
      },
    },
    {
      id: 'transact-atomic-check-then-set',
      title: `transact: atomic: of ${CONCURRENCY} concurrent [get k stopIfPresent, set k] exactly one sets k`,
      needs: ['transact'],
      body: async ({ store, ttl, transact }) => {
        const k = key('code');
        const outcomes = await Promise.all(
          Array.from({ length: CONCURRENCY }, (_, i) =>
            transact([
              { op: 'get', key: k, stopIfPresent: true },
              { op: 'set', key: k, value: `winner-${i}`, ttlMs: ttl },
            ]),
          ),
        );
        const winners = outcomes.flatMap((results, i) => (results.length === 2 ? [i] : []));
        assert.equal(winners.length, 1, `${winners.length} transactions found k missing and set it: another ran between a get and its set`);
        for (const results of outcomes)
          assert.ok(results.length === 1 || results.length === 2, `a transaction returned ${results.length} results for 2 steps`);
        assert.equal((await store.get(k))?.value, `winner-${winners[0] ?? -1}`, 'k does not hold the one winner’s value');
      },
    },
    {
      id: 'transact-atomic-bounded-counter',
      title: `transact: of ${RACERS} concurrent [increment k stopIfCountAbove ${PLACES}, set other] exactly ${PLACES} reach the set`,
      needs: ['transact'],
      body: async ({ store, ttl, transact }) => {
        const k = key('client-requests');
        // The other keys have a tag of their own: on a Cluster, another slot.
        const others = Array.from({ length: RACERS }, () => key('code'));
        const outcomes = await Promise.all(
          others.map((other) =>
            transact([
              { op: 'increment', key: k, ttlMs: ttl, stopIfCountAbove: PLACES },
              { op: 'set', key: other, value: 'placed', ttlMs: ttl },
            ]),
          ),
        );
        const placed = outcomes.filter((results) => results.length === 2).length;
        assert.equal(placed, PLACES, `${placed} transactions reached the set`);
        const counts = outcomes.map((results) => (results[0] as StoreCounter | undefined)?.count ?? 0).sort((a, b) => a - b);
        assert.deepEqual(
          counts,
          Array.from({ length: RACERS }, (_, i) => i + 1),
          'the increments were not counted once each',
        );
        for (const [i, other] of others.entries()) {
          const ran = outcomes[i]?.length === 2;
          assert.equal(
            (await store.get(other))?.value,
            ran ? 'placed' : undefined,
            ran ? 'a set that ran is missing' : 'a set after a stop ran',
          );
        }
        for (const other of others) await store.delete(other);
      },
    },
    {
      id: 'transact-refuses-bad-steps',
      title: 'transact: a bad step (unknown op or property, bad key, value, TTL or threshold) rejects with a TypeError, and no step runs',
      needs: ['transact'],
      body: async ({ store, ttl, transact }) => {
        const [k, other] = sameTag('code', 'other') as [string, string];
        const bad: unknown[] = [
          null,
          'get',
          [],
          { op: 'fetch', key: other },
          { op: 'get' },
          { op: 'get', key: '' },
          { op: 'get', key: 42 },
          { op: 'get', key: other, stopIfPresent: 'yes' },
          { op: 'get', key: other, stopIfCountAtLeast: -1 },
          { op: 'get', key: other, stopIfCountAtLeast: 1.5 },
          { op: 'get', key: other, stopIfCountAtLeast: '3' },
          // A stop condition the store does not know must not be ignored.
          { op: 'get', key: other, stopIfAbsent: true },
          { op: 'set', key: other, value: 'v', ttlMs: ttl, stopIfPresent: true },
          { op: 'set', key: other, value: 42, ttlMs: ttl },
          { op: 'set', key: other, value: 'v' },
          { op: 'set', key: other, value: 'v', ttlMs: 0 },
          { op: 'set', key: other, value: 'v', ttlMs: -1 },
          { op: 'set', key: other, value: 'v', ttlMs: Number.NaN },
          { op: 'set', key: other, value: 'v', ttlMs: Number.POSITIVE_INFINITY },
          { op: 'set', key: other, value: 'v', ttlMs: '1000' },
          { op: 'increment', key: other },
          { op: 'increment', key: other, ttlMs: ttl, stopIfCountAbove: Number.NaN },
          { op: 'consume', key: other, expected: 42 },
          { op: 'delete', key: other, value: 'v' },
        ];
        for (const step of bad) {
          const steps = [{ op: 'set', key: k, value: 'before the bad step', ttlMs: ttl }, step] as unknown as StoreStep[];
          await assert.rejects(transact(steps), TypeError, `transact accepted the bad step ${JSON.stringify(step)}`);
          assert.equal(await store.get(k), undefined, `the step before ${JSON.stringify(step)} ran`);
        }
        for (const steps of [undefined, null, 'steps', { op: 'get', key: k }]) {
          await assert.rejects(
            transact(steps as unknown as StoreStep[]),
            TypeError,
            `transact accepted ${JSON.stringify(steps)} as its steps`,
          );
        }
        assert.equal(await store.get(other), undefined);
      },
    },
    {
      id: 'transact-ttl-rules',
      title: 'transact: the TTL rules of the single methods (set restarts it, increment fixes it at creation, expiry at the TTL)',
      needs: ['transact'],
      body: async ({ store, ttl, pass, exact, transact }) => {
        const [code, hourly, attempts] = sameTag('code', 'hourly', 'attempts') as [string, string, string];
        await transact([
          { op: 'set', key: code, value: 'old', ttlMs: ttl },
          { op: 'increment', key: hourly, ttlMs: ttl },
          // A counter created by set keeps that TTL through its increments.
          { op: 'set', key: attempts, value: '0', ttlMs: (ttl * 3) / 4 },
        ]);
        await pass(ttl / 4);
        const later = await transact([
          { op: 'set', key: code, value: 'new', ttlMs: ttl },
          { op: 'increment', key: hourly, ttlMs: ttl * 10 },
          { op: 'increment', key: attempts, ttlMs: ttl * 10 },
        ]);
        assertCounter(later[1], 2, ttl, 'the second increment');
        const slack = exact ? 0 : 50;
        assert.ok(
          (later[1] as StoreCounter).ttlMs <= (ttl * 3) / 4 + slack,
          `increment extended the TTL to ${(later[1] as StoreCounter).ttlMs} ms`,
        );
        assertCounter(later[2], 1, (ttl * 3) / 4, 'increment of a counter written by set');
        assert.ok((later[2] as StoreCounter).ttlMs <= ttl / 2 + slack, `increment replaced the TTL of a counter written by set`);
        // At 3/4 of the first TTL past its first write, only what set restarted is there.
        await pass(ttl / 2 + (exact ? 0 : 100));
        const after = await transact([
          { op: 'get', key: code },
          { op: 'get', key: attempts },
        ]);
        assertEntry(after[0], 'new', ttl, 'the replacing set must restart the TTL');
        assert.equal(after[1], undefined, 'the counter written by set outlived its TTL');
        if (exact) {
          await pass(ttl / 4 - 1);
          const last = await transact([{ op: 'get', key: hourly }]);
          assertEntry(last[0], '2', 1, 'the counter 1 ms before its TTL');
          assert.equal((last[0] as StoreEntry).ttlMs, 1);
          await pass(1);
        } else {
          await pass(ttl / 4 + 100);
        }
        const gone = await transact([
          { op: 'get', key: hourly },
          { op: 'increment', key: hourly, ttlMs: ttl },
        ]);
        assert.equal(gone[0], undefined, 'the counter outlived its TTL');
        assertCounter(gone[1], 1, ttl, 'the counter after its TTL');
        await store.delete(code);
        await store.delete(hourly);
      },
    },
    {
      id: 'transact-consume-expected',
      title: 'transact: consume with another value than the stored one leaves the entry, value and TTL; with the value, takes it once',
      needs: ['transact'],
      body: async ({ store, ttl, pass, exact, transact }) => {
        const [code] = sameTag('code') as [string];
        await store.set(code, 'newer', ttl);
        await pass(ttl / 4);
        const before = await store.get(code);
        const started = Date.now();
        const results = await transact([
          { op: 'consume', key: code, expected: 'older' },
          { op: 'consume', key: code, expected: 'newer ' },
          { op: 'get', key: code },
        ]);
        const elapsed = Date.now() - started;
        assertRan(results, 3, 'consumes of other values');
        assert.equal(results[0], undefined, "consume(key, 'older') handed out the value 'newer'");
        assert.equal(results[1], undefined, "consume(key, 'newer ') handed out the value 'newer'");
        assertEntry(results[2], 'newer', ttl, 'the entry after consumes of other values');
        const ttlAfter = (results[2] as StoreEntry).ttlMs;
        if (before !== undefined && exact) assert.equal(ttlAfter, before.ttlMs, 'a consume with another value changed the TTL');
        if (before !== undefined && !exact)
          assert.ok(
            ttlAfter <= before.ttlMs + 50 && ttlAfter >= before.ttlMs - elapsed - 50,
            'a consume with another value changed the TTL',
          );
        const taken = await Promise.all(
          Array.from({ length: CONCURRENCY }, () => transact([{ op: 'consume', key: code, expected: 'newer' }])),
        );
        assert.equal(taken.filter((r) => r[0] === 'newer').length, 1, 'not exactly one transaction consumed the value');
        assert.equal(await store.get(code), undefined);
      },
    },
    {
      id: 'transact-entry-without-expiry-is-expired',
      title: 'transact: an entry found without an expiry is expired for every step',
      needs: ['transact', 'removeExpiry'],
      body: async ({ store, ttl, transact, removeExpiry }) => {
        const [code, cooldown, taken, counter] = sameTag('code', 'cooldown', 'taken', 'failures') as [string, string, string, string];
        await transact([
          { op: 'set', key: code, value: 'v', ttlMs: ttl },
          { op: 'set', key: cooldown, value: '1', ttlMs: ttl },
          { op: 'set', key: taken, value: 'v', ttlMs: ttl },
          { op: 'set', key: counter, value: '5', ttlMs: ttl },
        ]);
        for (const k of [code, cooldown, taken, counter]) await removeExpiry(k);
        const results = await transact([
          { op: 'get', key: code },
          { op: 'get', key: cooldown, stopIfPresent: true },
          { op: 'get', key: counter, stopIfCountAtLeast: 5 },
          { op: 'consume', key: taken, expected: 'v' },
          { op: 'increment', key: counter, ttlMs: ttl },
        ]);
        assertRan(results, 5, 'entries without an expiry stopped the transaction');
        assert.equal(results[0], undefined, 'get returned an entry without an expiry');
        assert.equal(results[3], undefined, 'consume handed out an entry without an expiry');
        assertCounter(results[4], 1, ttl, 'increment of a counter without an expiry');
        for (const k of [code, cooldown, taken, counter]) await store.delete(k);
      },
    },
  ];

  const contractCases: ContractCase[] = cases.map(({ id, title, needs, body }) => {
    const skipped =
      needs.includes('transact') && options.transact === false
        ? 'the store has no transact'
        : needs.includes('removeExpiry') && removeExpiry === undefined
          ? 'no removeExpiry option, so the suite cannot strip an entry’s expiry'
          : undefined;
    return skipped === undefined
      ? { id, title, run: async () => body(await harness(factory)) }
      : { id, title, skipped, run: () => Promise.resolve() };
  });
  const capacityCase = { id: 'capacity-refuses-rather-than-evicts' };
  if (capacity === undefined) {
    contractCases.push({
      ...capacityCase,
      title: 'a full store refuses new entries rather than evicting live ones',
      skipped: 'no capacity option, so the suite does not know what bounds the store',
      run: () => Promise.resolve(),
    });
  } else {
    const bound =
      capacity.entries !== undefined ? `${capacity.entries} entries` : `filled until it refuses, at most ${capacity.maxWrites ?? 0} writes`;
    contractCases.push({
      ...capacityCase,
      title: `a full store refuses new entries rather than evicting live ones (${bound})`,
      run: async () => fillToCapacity((await harness(capacity.factory ?? factory)).store, capacity),
    });
  }
  return contractCases;

  /**
   * The capacity case. Entries alternate between a code-like `set` and a new
   * counter, because npuser loses security state either way: an evicted code
   * is a denial of service, an evicted failure counter a fresh guessing budget.
   */
  async function fillToCapacity(store: CodeStore, { entries, maxWrites }: CodeStoreCapacity): Promise<void> {
    // Every key the case tried to write, accepted or not, so all are deleted at the end.
    const attempted: string[] = [];
    // What each accepted entry must still read back as.
    const live = new Map<string, string>();
    let writes = 0;

    /** One write of a new key; resolves with the rejection, or undefined when the store accepted it. */
    async function writeNew(kind: 'set' | 'increment' = writes % 2 === 0 ? 'set' : 'increment'): Promise<unknown> {
      const isSet = kind === 'set';
      writes += 1;
      const k = key(isSet ? 'code' : 'failures');
      attempted.push(k);
      try {
        if (isSet) {
          const value = randomBytes(48).toString('base64url');
          await store.set(k, value, CAPACITY_TTL_MS);
          live.set(k, value);
        } else {
          const counter = await store.increment(k, CAPACITY_TTL_MS);
          assert.equal(counter.count, 1, 'increment of a new key must start at 1');
          live.set(k, '1');
        }
        return undefined;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        return err ?? new Error('rejected without a reason');
      }
    }

    /** The accepted entries that no longer read back as written, each with what is wrong. */
    async function damaged(): Promise<string[]> {
      const problems = await inBatches([...live], async ([k, value]) => {
        const entry = await store.get(k);
        if (entry === undefined) return 'gone';
        if (entry.value !== value) return 'changed';
        if (!(entry.ttlMs > 0 && entry.ttlMs <= CAPACITY_TTL_MS)) return `TTL ${entry.ttlMs} ms`;
        return undefined;
      });
      return problems.filter((p) => p !== undefined);
    }

    async function expectNothingLost(when: string): Promise<void> {
      const problems = await damaged();
      if (problems.length === 0) return;
      const gone = problems.filter((p) => p === 'gone').length;
      const other = problems.find((p) => p !== 'gone');
      assert.fail(
        `${problems.length} of the ${live.size} entries the store accepted were damaged ${when}: ` +
          `${gone} gone (evicted, or dropped although accepted)${other === undefined ? '' : `, others ${other}`}. ` +
          'A full store must refuse new entries instead',
      );
    }

    let passed = false;
    try {
      if (entries !== undefined) {
        // A store bounded by a count: exactly `entries` fit, the next of either kind does not.
        for (let i = 0; i < entries; i += 1) {
          const refused = await writeNew();
          if (refused !== undefined) {
            assert.fail(`the store refused entry ${i + 1} of ${entries} (capacity.entries): ${describeError(refused)}`);
          }
        }
        await expectNothingLost(`by filling it to its ${entries} entries`);
        for (const kind of ['set', 'increment'] as const) {
          if ((await writeNew(kind)) === undefined) {
            await expectNothingLost(`when the full store accepted a new ${kind}`);
            assert.fail(`the full store (${entries} entries) accepted a new ${kind}; it must reject it`);
          }
        }
      } else {
        // A store bounded by memory: fill until a set and an increment are refused in a row.
        const limit = maxWrites ?? 0;
        let refusedInARow = 0;
        while (refusedInARow < 2 && writes < limit) {
          refusedInARow = (await writeNew()) === undefined ? 0 : refusedInARow + 1;
        }
        if (refusedInARow < 2) {
          await expectNothingLost(`in ${writes} writes, with never a set and an increment refused in a row`);
          assert.fail(
            `the store accepted ${live.size} of ${writes} writes without ever refusing a set and an increment in a row ` +
              '(raise capacity.maxWrites, or bound the store more tightly)',
          );
        }
        // A store that fails every write is not full: the case needs live entries to check.
        assert.ok(live.size >= 2, `the store refused writes after accepting only ${live.size}; was it empty and working?`);
      }
      // The refused writes did not make room by evicting either.
      await expectNothingLost('although the full store refused a set and an increment');
      passed = true;
    } finally {
      // Free the store: on a shared server, the cases that follow need room.
      // When the case already failed, its own error is the one worth reporting.
      const cleanup = inBatches(attempted, (k) => store.delete(k));
      await (passed ? cleanup : cleanup.catch(() => undefined));
    }
  }
}

/**
 * Run the CodeStore contract against your store under your test runner.
 * Every property npuser relies on is a case, with a stable `id`: TTL fixed at
 * creation and enforced by the store, atomic consume, conditional consume
 * (only the expected value is removed; any other stays, with its TTL),
 * atomic increment, replacement; `transact` (steps in order, each stop
 * condition, one result per step run, atomic under concurrency, bad steps
 * refused before any runs, the same TTL rules); with the `removeExpiry`
 * option, that an entry found without an expiry is expired; and, with the
 * `capacity` option, that a full store refuses new entries rather than
 * evicting live ones. Cases that do not apply (`transact: false`, an option
 * not given) are registered with `it.skip`, their titles saying why.
 *
 * @param name - Shown as the `describe` title.
 * @param factory - Returns a fresh store per case; give it `clock.now` if it takes a clock.
 * @param runner - Your runner's `describe` and `it`.
 * @param options - How the suite treats time, what the store offers, and what the suite may do to it.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runCodeStoreContract } from 'npuser/testing';
 *
 * // myCodeStore: your store's factory; testDb: a database for tests. A store
 * // without transact says so, and its transact cases are reported skipped.
 * runCodeStoreContract('myCodeStore', () => myCodeStore(testDb), { describe, it }, { realTime: true, transact: false });
 * ```
 */
export function runCodeStoreContract(
  name: string,
  factory: CodeStoreFactory,
  runner: TestRunner,
  options: CodeStoreContractOptions = {},
): void {
  registerContractCases(runner, `CodeStore contract: ${name}`, codeStoreContractCases(factory, options));
}
