import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CodeStore } from '../types.js';

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
 * How the contract treats time, and whether it also fills the store (`capacity`).
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
   * Adds the capacity case, which checks "no silent loss": a full store
   * refuses new entries rather than evicting live ones. Off by default, since
   * the suite cannot fill a store without knowing what bounds it. Give exactly
   * one of `entries` (a store bounded by a count) or `maxWrites` (a store
   * bounded by memory, such as Redis with `maxmemory`).
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

/**
 * One property of the CodeStore contract, runnable under any test runner.
 *
 * @example
 * ```ts
 * import { memoryCodeStore } from 'npuser';
 * import { codeStoreContractCases } from 'npuser/testing';
 * for (const c of codeStoreContractCases((clock) => memoryCodeStore({ now: clock.now }))) await c.run();
 * ```
 */
export interface ContractCase {
  /** What the case proves, as a test title. */
  readonly name: string;
  /** Build a fresh store and check the property; rejects when the store breaks it. */
  run(): Promise<void>;
}

/**
 * The `describe` and `it` of your test runner (vitest, jest, mocha, node:test).
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import type { TestRunner } from 'npuser/testing';
 * const runner: TestRunner = { describe, it };
 * ```
 */
export interface TestRunner {
  /** Groups the contract's cases under one title. */
  describe(name: string, body: () => void): unknown;
  /** Runs one case. */
  it(name: string, body: () => Promise<void>): unknown;
}

interface Harness {
  readonly store: CodeStore;
  /** Let `ms` pass for the store: a fake clock moves, or real time is waited. */
  readonly pass: (ms: number) => Promise<void>;
  /** A TTL short enough to wait for in real time, long enough not to expire by accident. */
  readonly ttl: number;
  /** Exact-boundary checks only make sense on a clock the suite controls. */
  readonly exact: boolean;
}

const REAL_TIME_TTL_MS = 400;
const FAKE_TTL_MS = 600_000;
const CONCURRENCY = 50;
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

/**
 * The CodeStore contract as a list of cases, for runners without
 * `describe`/`it` or for checking that a broken store fails.
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
  const realTime = options.realTime === true;
  const { capacity } = options;
  checkCapacity(capacity);

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
    };
  }

  // Keys look like npuser's own (a hash tag and a kind) and are unique per case,
  // so a shared server never sees two cases collide.
  const key = (kind: string) => `{contract-${randomBytes(9).toString('base64url')}}:${kind}`;

  const cases: Array<[string, (h: Harness) => Promise<void>]> = [
    [
      'set then get returns the value with a positive TTL no longer than given',
      async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'value-1', ttl);
        const entry = await store.get(k);
        assert.ok(entry, 'get after set returned nothing');
        assert.equal(entry.value, 'value-1');
        assert.ok(entry.ttlMs > 0 && entry.ttlMs <= ttl, `ttlMs ${entry.ttlMs} not in (0, ${ttl}]`);
      },
    ],
    [
      'get of a missing key is undefined; delete of a missing key succeeds',
      async ({ store }) => {
        const k = key('missing');
        assert.equal(await store.get(k), undefined);
        assert.equal(await store.consume(k), undefined);
        await store.delete(k);
      },
    ],
    [
      'set replaces the earlier value and its TTL',
      async ({ store, ttl, pass }) => {
        const k = key('code');
        await store.set(k, 'old', ttl);
        await pass(ttl / 2);
        await store.set(k, 'new', ttl);
        await pass(ttl / 2 + ttl / 4);
        const entry = await store.get(k);
        assert.equal(entry?.value, 'new', 'the replacing set must restart the TTL');
      },
    ],
    [
      'an entry is live until its TTL and gone from then on, enforced by the store',
      async ({ store, ttl, pass, exact }) => {
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
    ],
    [
      'consume returns the value once and removes it',
      async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'once', ttl);
        assert.equal(await store.consume(k), 'once');
        assert.equal(await store.consume(k), undefined);
        assert.equal(await store.get(k), undefined);
      },
    ],
    [
      `consume is atomic: of ${CONCURRENCY} concurrent callers exactly one gets the value`,
      async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'prize', ttl);
        const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => store.consume(k)));
        assert.equal(results.filter((r) => r === 'prize').length, 1, 'more than one caller consumed the value');
        assert.equal(results.filter((r) => r !== undefined && r !== 'prize').length, 0);
      },
    ],
    [
      'consume with the expected value returns it and removes the entry',
      async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'current', ttl);
        assert.equal(await store.consume(k, 'current'), 'current');
        assert.equal(await store.get(k), undefined, 'the entry is still there after consuming it with its own value');
        assert.equal(await store.consume(k, 'current'), undefined, 'the value was handed out twice');
      },
    ],
    [
      'consume with another value than the stored one returns undefined and leaves the entry, value and TTL, as it was',
      async ({ store, ttl, pass, exact }) => {
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
    ],
    [
      `consume with the expected value is atomic: of ${CONCURRENCY} concurrent callers exactly one gets the value`,
      async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'prize', ttl);
        const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => store.consume(k, 'prize')));
        assert.equal(results.filter((r) => r === 'prize').length, 1, 'not exactly one caller consumed the value');
        assert.equal(results.filter((r) => r !== undefined && r !== 'prize').length, 0);
        assert.equal(await store.get(k), undefined);
      },
    ],
    [
      'consume with an expected value of a missing or expired key returns undefined and creates nothing',
      async ({ store, ttl, pass, exact }) => {
        const missing = key('code');
        assert.equal(await store.consume(missing, 'anything'), undefined);
        assert.equal(await store.get(missing), undefined, 'consume of a missing key created an entry');
        const expired = key('code');
        await store.set(expired, 'stale', ttl);
        await pass(exact ? ttl : ttl + 100);
        assert.equal(await store.consume(expired, 'stale'), undefined, 'an entry was consumed at or after its TTL');
        assert.equal(await store.get(expired), undefined, 'consume of an expired key brought it back');
      },
    ],
    [
      'delete removes an entry',
      async ({ store, ttl }) => {
        const k = key('code');
        await store.set(k, 'v', ttl);
        await store.delete(k);
        assert.equal(await store.get(k), undefined);
      },
    ],
    [
      'increment creates a counter at 1 with the given TTL, and get reads it in decimal',
      async ({ store, ttl }) => {
        const k = key('failures');
        const first = await store.increment(k, ttl);
        assert.equal(first.count, 1);
        assert.ok(first.ttlMs > 0 && first.ttlMs <= ttl, `ttlMs ${first.ttlMs} not in (0, ${ttl}]`);
        assert.equal((await store.increment(k, ttl)).count, 2);
        const entry = await store.get(k);
        assert.equal(entry?.value, '2');
        assert.ok(entry.ttlMs > 0, 'a counter must never exist without a TTL');
      },
    ],
    [
      'increment keeps the TTL fixed at creation',
      async ({ store, ttl, pass, exact }) => {
        const k = key('hourly');
        await store.increment(k, ttl);
        await pass(ttl / 2);
        const later = await store.increment(k, ttl);
        assert.equal(later.count, 2);
        assert.ok(later.ttlMs <= ttl / 2 + (exact ? 0 : 50), `increment extended the TTL to ${later.ttlMs} ms`);
        await pass(ttl / 2 + (exact ? 0 : 100));
        assert.equal((await store.increment(k, ttl)).count, 1, 'the counter outlived its first TTL');
      },
    ],
    [
      `increment is atomic: ${CONCURRENCY * 2} concurrent increments give ${CONCURRENCY * 2} distinct counts`,
      async ({ store, ttl }) => {
        const k = key('attempts');
        const n = CONCURRENCY * 2;
        const counts = (await Promise.all(Array.from({ length: n }, () => store.increment(k, ttl)))).map((c) => c.count);
        assert.deepEqual(
          [...counts].sort((a, b) => a - b),
          Array.from({ length: n }, (_, i) => i + 1),
        );
      },
    ],
    [
      'keys are independent',
      async ({ store, ttl }) => {
        const a = key('code');
        const b = key('code');
        await store.set(a, 'a', ttl);
        await store.increment(b, ttl);
        await store.delete(b);
        assert.equal((await store.get(a))?.value, 'a');
        assert.equal(await store.consume(b), undefined);
      },
    ],
  ];

  const contractCases: ContractCase[] = cases.map(([name, body]) => ({
    name,
    run: async () => body(await harness(factory)),
  }));
  if (capacity !== undefined) {
    const bound =
      capacity.entries !== undefined
        ? `${capacity.entries} entries`
        : `filled until it refuses, at most ${capacity.maxWrites ?? 0} writes`;
    contractCases.push({
      name: `a full store refuses new entries rather than evicting live ones (${bound})`,
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
 * Every property npuser relies on is a case: TTL fixed at creation and
 * enforced by the store, atomic consume, conditional consume (only the
 * expected value is removed; any other stays, with its TTL), atomic
 * increment, replacement; and,
 * with the `capacity` option, that a full store refuses new entries rather
 * than evicting live ones.
 *
 * @param name - Shown as the `describe` title.
 * @param factory - Returns a fresh store per case; give it `clock.now` if it takes a clock.
 * @param runner - Your runner's `describe` and `it`.
 * @param options - How the suite treats time, and whether it fills the store (`capacity`).
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runCodeStoreContract } from 'npuser/testing';
 *
 * // myCodeStore: your store's factory; testDb: a database for tests.
 * runCodeStoreContract('myCodeStore', () => myCodeStore(testDb), { describe, it }, { realTime: true });
 * ```
 */
export function runCodeStoreContract(
  name: string,
  factory: CodeStoreFactory,
  runner: TestRunner,
  options: CodeStoreContractOptions = {},
): void {
  runner.describe(`CodeStore contract: ${name}`, () => {
    for (const contractCase of codeStoreContractCases(factory, options)) {
      runner.it(contractCase.name, () => contractCase.run());
    }
  });
}
