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
 * How the contract treats time.
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

  async function harness(): Promise<Harness> {
    let fakeNow = 1_700_000_000_000;
    const clock: ContractClock = { now: () => (realTime ? Date.now() : fakeNow) };
    const store = await factory(clock);
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

  return cases.map(([name, body]) => ({
    name,
    run: async () => body(await harness()),
  }));
}

/**
 * Run the CodeStore contract against your store under your test runner.
 * Every property npuser relies on is a case: TTL fixed at creation and
 * enforced by the store, atomic consume, atomic increment, replacement.
 *
 * @param name - Shown as the `describe` title.
 * @param factory - Returns a fresh store per case; give it `clock.now` if it takes a clock.
 * @param runner - Your runner's `describe` and `it`.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runCodeStoreContract } from 'npuser/testing';
 * import { myCodeStore } from '../src/my-code-store.js';
 *
 * runCodeStoreContract('myCodeStore', () => myCodeStore({ url: process.env.DB_URL }), { describe, it }, { realTime: true });
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
