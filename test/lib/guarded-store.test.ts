import { describe, expect, it } from 'vitest';
import { memoryCodeStore, type CodeStore } from 'npuser';
import { GuardedStore } from '../../src/lib/guarded-store.js';
import { rejectsWith } from '../support/errors.js';

// The store as npuser sees it (timeouts, errors and garbage all fail closed);
// how NpUser reacts to each fault is in test/faults.test.ts. Here: what the
// guard does with `consume(key, expected)` itself.

const TIMEOUT_MS = 20;
const KEY = '{tag}:code';

/** A memory store whose consume is replaced, recording the arguments it was called with. */
function storeWithConsume(consume: (...args: unknown[]) => Promise<unknown>): { store: CodeStore; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const store: CodeStore = {
    ...memoryCodeStore(),
    consume: (...args: unknown[]) => {
      calls.push(args);
      return consume(...args) as Promise<string | undefined>;
    },
  };
  return { store, calls };
}

describe('GuardedStore.consume with an expected value', () => {
  it('passes expected to the store only when given: without it the store sees consume(key), as before', async () => {
    const { store, calls } = storeWithConsume(() => Promise.resolve(undefined));
    const guarded = new GuardedStore(store, TIMEOUT_MS);
    await guarded.consume(KEY);
    await guarded.consume(KEY, 'v1.current');
    expect(calls).toEqual([[KEY], [KEY, 'v1.current']]);
  });

  it('a store that honours expected: the value when it matched, undefined when it did not', async () => {
    const inner = memoryCodeStore({ now: () => 1_700_000_000_000 });
    const guarded = new GuardedStore(inner, TIMEOUT_MS);
    await inner.set(KEY, 'v1.newer', 60_000);
    expect(await guarded.consume(KEY, 'v1.older')).toBeUndefined();
    expect(inner.entries()).toEqual([{ key: KEY, value: 'v1.newer', ttlMs: 60_000 }]);
    expect(await guarded.consume(KEY, 'v1.newer')).toBe('v1.newer');
    expect(inner.entries()).toEqual([]);
  });

  it('a store that ignores expected (hands back another value) is refused as garbage', async () => {
    const inner = memoryCodeStore();
    // Written before `expected` existed: deletes and returns whatever is there.
    const ignoring: CodeStore = { ...inner, consume: (key) => inner.consume(key) };
    const guarded = new GuardedStore(ignoring, TIMEOUT_MS);
    await inner.set(KEY, 'v1.newer', 60_000);
    const err = await rejectsWith(guarded.consume(KEY, 'v1.older'), 'ERR_NPUSER_STORE_FAILED');
    expect(err.cause).toBeInstanceOf(Error);
    expect((err.cause as Error).message).toBe('store.consume() returned a value outside the CodeStore contract');
    // The message names the operation, never the values.
    expect((err.cause as Error).message).not.toMatch(/newer|older/);
  });

  it.each([
    ['another string', 'v1.other'],
    ['an empty string', ''],
    ['the expected value with a trailing space', 'v1.current '],
    ['a number', 42],
    ['null', null],
    ['an object', { value: 'v1.current' }],
    ['a String object', Object('v1.current') as unknown],
  ])('with expected, a reply of %s is refused as garbage', async (_label, reply) => {
    const { store } = storeWithConsume(() => Promise.resolve(reply));
    await rejectsWith(new GuardedStore(store, TIMEOUT_MS).consume(KEY, 'v1.current'), 'ERR_NPUSER_STORE_FAILED');
  });

  it('without expected, any string is still the consumed value; non-strings are still garbage', async () => {
    expect(await new GuardedStore(storeWithConsume(() => Promise.resolve('v1.any')).store, TIMEOUT_MS).consume(KEY)).toBe('v1.any');
    await rejectsWith(
      new GuardedStore(storeWithConsume(() => Promise.resolve(42)).store, TIMEOUT_MS).consume(KEY),
      'ERR_NPUSER_STORE_FAILED',
    );
  });

  it('with expected, a store that fails or never answers is still ERR_NPUSER_STORE_FAILED', async () => {
    const failing = storeWithConsume(() => Promise.reject(new Error('READONLY replica'))).store;
    const err = await rejectsWith(new GuardedStore(failing, TIMEOUT_MS).consume(KEY, 'v1.current'), 'ERR_NPUSER_STORE_FAILED');
    expect((err.cause as Error).message).toBe('READONLY replica');
    const silent = storeWithConsume(() => new Promise<never>(() => undefined)).store;
    const late = await rejectsWith(new GuardedStore(silent, TIMEOUT_MS).consume(KEY, 'v1.current'), 'ERR_NPUSER_STORE_FAILED');
    expect((late.cause as Error).message).toMatch(/did not answer within 20 ms/);
  });
});

/** The five methods of a memory store, and no transact: npuser must run the steps one by one. */
function withoutTransact(inner: CodeStore): CodeStore {
  return {
    set: (k, v, t) => inner.set(k, v, t),
    get: (k) => inner.get(k),
    consume: (k, e) => inner.consume(k, e),
    delete: (k) => inner.delete(k),
    increment: (k, t) => inner.increment(k, t),
  };
}

describe('GuardedStore.transact', () => {
  const steps = [
    { op: 'get', key: '{a}:failures', stopIfCountAtLeast: 2 },
    { op: 'increment', key: '{a}:hourly', ttlMs: 60_000, stopIfCountAbove: 1 },
    { op: 'set', key: '{a}:code', value: 'v', ttlMs: 60_000 },
  ] as const;

  it('without a store transact: runs the steps in order and stops after the first whose condition holds', async () => {
    const inner = memoryCodeStore({ now: () => 1_700_000_000_000 });
    const guarded = new GuardedStore(withoutTransact(inner), TIMEOUT_MS);
    expect(await guarded.transact(steps)).toEqual([undefined, { count: 1, ttlMs: 60_000 }, undefined]);
    expect(await inner.get('{a}:code')).toEqual({ value: 'v', ttlMs: 60_000 });
    await inner.delete('{a}:code');
    // Now the hourly window is over its limit: the transaction stops there and the code is not written.
    expect(await guarded.transact(steps)).toEqual([undefined, { count: 2, ttlMs: 60_000 }]);
    expect(await inner.get('{a}:code')).toBeUndefined();
    await inner.set('{a}:failures', '2', 60_000);
    expect(await guarded.transact(steps)).toEqual([{ value: '2', ttlMs: 60_000 }]);
  });

  it('a counter read for a stop condition that is not a counter fails closed', async () => {
    const inner = memoryCodeStore({ now: () => 1_700_000_000_000 });
    await inner.set('{a}:failures', 'garbage', 60_000);
    await rejectsWith(new GuardedStore(withoutTransact(inner), TIMEOUT_MS).transact(steps), 'ERR_NPUSER_STORE_FAILED');
  });

  // A store's transact reply is checked against the stop conditions npuser knows: running past a stop,
  // stopping where nothing held, or answering results of the wrong shape is garbage.
  const replies: Array<[string, unknown]> = [
    ['not an array', { 0: undefined }],
    ['empty', []],
    ['more results than steps', [undefined, { count: 1, ttlMs: 1 }, undefined, undefined]],
    ['stopped where no condition held', [undefined]],
    ['ran past a stop', [{ value: '5', ttlMs: 1 }, { count: 1, ttlMs: 1 }, undefined]],
    ['a counter of the wrong shape', [undefined, { count: '1', ttlMs: 1 }, undefined]],
    ['an entry of the wrong shape', [{ value: 5, ttlMs: 1 }, { count: 1, ttlMs: 1 }, undefined]],
  ];
  for (const [name, reply] of replies) {
    it(`a transact reply that is ${name} fails closed`, async () => {
      const store: CodeStore = { ...withoutTransact(memoryCodeStore()), transact: () => Promise.resolve(reply as never) };
      await rejectsWith(new GuardedStore(store, TIMEOUT_MS).transact(steps), 'ERR_NPUSER_STORE_FAILED');
    });
  }

  it('a well-formed transact reply that stopped at its last step is accepted', async () => {
    const reply = [undefined, { count: 2, ttlMs: 5 }];
    const store: CodeStore = { ...withoutTransact(memoryCodeStore()), transact: () => Promise.resolve(reply) };
    expect(await new GuardedStore(store, TIMEOUT_MS).transact(steps.slice(0, 2))).toEqual(reply);
  });

  it('a transact that hangs times out', async () => {
    const store: CodeStore = { ...withoutTransact(memoryCodeStore()), transact: () => new Promise(() => undefined) };
    await rejectsWith(new GuardedStore(store, TIMEOUT_MS).transact(steps), 'ERR_NPUSER_STORE_FAILED');
  });
});
