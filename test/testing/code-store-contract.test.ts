import { describe, expect, it } from 'vitest';
import { memoryCodeStore, type CodeStore } from 'npuser';
import {
  codeStoreContractCases,
  runCodeStoreContract,
  type CodeStoreContractOptions,
  type CodeStoreFactory,
  type TestRunner,
} from 'npuser/testing';
import { removeExpiryForTesting } from '../../src/stores/memory.js';
import {
  deletesOnMismatchStore,
  ignoresExpectedStore,
  ignoresStopsStore,
  lateExpiryStore,
  lostUpdateCounterStore,
  nonAtomicConsumeStore,
  nonAtomicTransactStore,
  outOfOrderStore,
  rewritesOnMismatchStore,
  slidingCounterStore,
} from './broken-stores.js';

/** The memory store's entries lose their expiry through its test hook, as a store bug would. */
function removeExpiry(key: string, store: CodeStore): void {
  if (!removeExpiryForTesting(store, key)) throw new Error(`no live entry under ${key} to strip of its expiry`);
}

runCodeStoreContract('memoryCodeStore', (clock) => memoryCodeStore({ now: clock.now }), { describe, it }, { removeExpiry });

runCodeStoreContract('memoryCodeStore on real time', () => memoryCodeStore(), { describe, it }, { realTime: true, removeExpiry });

/** The ids of the contract cases a store fails. */
async function failedCases(factory: CodeStoreFactory, options: CodeStoreContractOptions = {}): Promise<string[]> {
  const failed: string[] = [];
  for (const contractCase of codeStoreContractCases(factory, options)) {
    await contractCase.run().catch(() => failed.push(contractCase.id));
  }
  return failed;
}

/** One case, found by its id. */
function contractCase(id: string, factory: CodeStoreFactory, options: CodeStoreContractOptions = {}) {
  const found = codeStoreContractCases(factory, options).find((c) => c.id === id);
  if (found === undefined) throw new Error(`no contract case ${id}`);
  return found;
}

const memory: CodeStoreFactory = (clock) => memoryCodeStore({ now: clock.now });

describe('the contract suite catches broken stores', () => {
  it('a sound store fails nothing (the suite is not simply failing)', async () => {
    expect(await failedCases(memory, { removeExpiry })).toEqual([]);
  });

  it('a non-atomic consume (get, then delete), with or without an expected value', async () => {
    expect(await failedCases(nonAtomicConsumeStore)).toEqual(['consume-atomic', 'consume-expected-atomic']);
  });

  it('a consume that ignores the expected value (deletes and returns whatever is there)', async () => {
    expect(await failedCases(ignoresExpectedStore)).toEqual(['consume-expected-leaves-other']);
    // Caught on what it hands out: the newer value, to a caller expecting an older one.
    await expect(contractCase('consume-expected-leaves-other', ignoresExpectedStore).run()).rejects.toThrow(
      /consume\(key, 'older'\) handed out the value 'newer'/,
    );
  });

  it('a consume that compares the expected value but deletes on a mismatch all the same', async () => {
    expect(await failedCases(deletesOnMismatchStore)).toEqual(['consume-expected-leaves-other']);
    await expect(contractCase('consume-expected-leaves-other', deletesOnMismatchStore).run()).rejects.toThrow(/removed the entry/);
  });

  it('a consume that writes another value back with a fresh TTL on a mismatch', async () => {
    expect(await failedCases(rewritesOnMismatchStore)).toEqual(['consume-expected-leaves-other']);
    await expect(contractCase('consume-expected-leaves-other', rewritesOnMismatchStore).run()).rejects.toThrow(/changed the TTL/);
  });

  it('an increment that slides the TTL (INCR then EXPIRE)', async () => {
    expect(await failedCases(slidingCounterStore)).toEqual(['increment-keeps-ttl']);
  });

  it('a read-modify-write increment', async () => {
    expect(await failedCases(lostUpdateCounterStore)).toEqual(['increment-atomic']);
  });

  it('a store whose entries outlive their TTL', async () => {
    expect(await failedCases(lateExpiryStore)).toContain('expires-at-ttl');
  });

  it('a transact that runs the steps one by one (each atomic, the whole not): caught by the check-then-set race, and only there', async () => {
    expect(await failedCases(nonAtomicTransactStore)).toEqual(['transact-atomic-check-then-set']);
    await expect(contractCase('transact-atomic-check-then-set', nonAtomicTransactStore).run()).rejects.toThrow(
      /\d+ transactions found k missing and set it/,
    );
  });

  it('a transact that ignores stop conditions', async () => {
    expect(await failedCases(ignoresStopsStore)).toEqual([
      'transact-stop-if-present',
      'transact-stop-if-count-at-least',
      'transact-stop-if-count-above',
      'transact-atomic-check-then-set',
      'transact-atomic-bounded-counter',
      // Its stripping also drops a stop condition of the wrong type instead of refusing it.
      'transact-refuses-bad-steps',
    ]);
    await expect(contractCase('transact-atomic-bounded-counter', ignoresStopsStore).run()).rejects.toThrow(
      /100 transactions reached the set/,
    );
  });

  it('a transact that runs the steps out of order', async () => {
    expect(await failedCases(outOfOrderStore)).toContain('transact-runs-steps-in-order');
    await expect(contractCase('transact-runs-steps-in-order', outOfOrderStore).run()).rejects.toThrow(/get after the first set/);
  });

  it('a store that keeps using an entry that lost its expiry (the lock-out that never heals)', async () => {
    // A hook that strips nothing: every entry it is handed stays live, as in a
    // store that goes on reading (and counting) an entry whose TTL is gone.
    const stripped = new Set<string>();
    const options: CodeStoreContractOptions = { removeExpiry: (key) => void stripped.add(key) };
    expect(await failedCases(memory, options)).toEqual(['entry-without-expiry-is-expired', 'transact-entry-without-expiry-is-expired']);
    expect(stripped.size).toBeGreaterThan(0);
    await expect(contractCase('entry-without-expiry-is-expired', memory, options).run()).rejects.toThrow(
      /get returned an entry without an expiry/,
    );
  });
});

describe('the contract suite’s cases and how they are reported', () => {
  it('every case has a stable kebab-case id, none twice (this list changes only by adding)', () => {
    const ids = codeStoreContractCases(memory).map((c) => c.id);
    expect(ids).toEqual([
      'set-then-get',
      'get-missing',
      'set-replaces',
      'expires-at-ttl',
      'consume-once',
      'consume-atomic',
      'consume-expected-takes',
      'consume-expected-leaves-other',
      'consume-expected-atomic',
      'consume-expected-missing-or-expired',
      'delete-removes',
      'increment-creates',
      'increment-keeps-ttl',
      'increment-atomic',
      'keys-independent',
      'entry-without-expiry-is-expired',
      'transact-runs-steps-in-order',
      'transact-stop-if-present',
      'transact-stop-if-count-at-least',
      'transact-stop-if-count-above',
      'transact-atomic-check-then-set',
      'transact-atomic-bounded-counter',
      'transact-refuses-bad-steps',
      'transact-ttl-rules',
      'transact-consume-expected',
      'transact-entry-without-expiry-is-expired',
      'capacity-refuses-rather-than-evicts',
    ]);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  });

  /** A runner that records what is registered, with or without `it.skip`. */
  function recordingRunner(withSkip: boolean) {
    const registered: Array<{ title: string; skipped: boolean; body: () => Promise<void> }> = [];
    const record = (skipped: boolean) => (title: string, body: () => Promise<void>) => {
      registered.push({ title, skipped, body });
    };
    const it = Object.assign(record(false), withSkip ? { skip: record(true) } : {});
    const runner: TestRunner = {
      describe: (_name, body) => {
        body();
      },
      it,
    };
    return { runner, registered };
  }

  /** A store without transact, as stores written before it are. */
  const withoutTransact: CodeStoreFactory = (clock) => {
    const inner = memoryCodeStore({ now: clock.now });
    return {
      set: (key, value, ttlMs) => inner.set(key, value, ttlMs),
      get: (key) => inner.get(key),
      consume: (key, expected) => (expected === undefined ? inner.consume(key) : inner.consume(key, expected)),
      delete: (key) => inner.delete(key),
      increment: (key, ttlMs) => inner.increment(key, ttlMs),
    };
  };

  it('transact: false registers the transact cases with it.skip, their titles saying why; options not given likewise', () => {
    const { runner, registered } = recordingRunner(true);
    runCodeStoreContract('no transact', withoutTransact, runner, { transact: false });
    const skipped = registered.filter((r) => r.skipped).map((r) => r.title);
    expect(skipped.filter((t) => t.startsWith('transact:'))).toHaveLength(10);
    for (const title of skipped.filter((t) => t.startsWith('transact:'))) expect(title).toMatch(/ \(skipped: the store has no transact\)$/);
    expect(skipped).toContainEqual(expect.stringMatching(/^an entry found without an expiry .* \(skipped: no removeExpiry option/));
    expect(skipped).toContainEqual(expect.stringMatching(/^a full store refuses .* \(skipped: no capacity option/));
    expect(registered.filter((r) => !r.skipped)).toHaveLength(15);
  });

  it('a runner without it.skip gets the skipped cases as tests that do nothing, titled "(skipped: …)"', async () => {
    const { runner, registered } = recordingRunner(false);
    runCodeStoreContract('no transact', withoutTransact, runner, { transact: false });
    const skipped = registered.filter((r) => r.title.includes('(skipped: '));
    expect(skipped).toHaveLength(12);
    for (const { title, body } of skipped) {
      expect(title).toMatch(/\(skipped: [^)]+\)$/);
      await expect(body()).resolves.toBeUndefined();
    }
  });

  it('a store without transact, not declared so, fails the transact cases saying what to do (never a silent pass)', async () => {
    // Nine: the tenth, on entries without an expiry, is skipped for want of removeExpiry.
    const failed = await failedCases(withoutTransact);
    expect(failed).toHaveLength(9);
    for (const id of failed) expect(id).toMatch(/^transact-/);
    await expect(contractCase('transact-runs-steps-in-order', withoutTransact).run()).rejects.toThrow(/pass \{ transact: false \}/);
  });

  it.each([
    ['transact a string', { transact: 'yes' }],
    ['removeExpiry not a function', { removeExpiry: 'PERSIST' }],
    ['realTime a number', { realTime: 1 }],
  ])('an option with %s is refused at once, not run as a passing case', (_label, options) => {
    expect(() => codeStoreContractCases(memory, options as unknown as CodeStoreContractOptions)).toThrow(TypeError);
  });
});
