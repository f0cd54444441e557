// npuser runs the memory store's transactions inline: one synchronous call, no
// promise, no deadline (an in-process store cannot hang). Only for a store made
// by memoryCodeStore and still carrying its own transact; anything else is
// called as before, under the deadline, its replies checked.
import { describe, expect, it } from 'vitest';
import { memoryCodeStore, type CodeStore, type StoreStep } from 'npuser';
import { GuardedStore } from '../../src/lib/guarded-store.js';
import { rejectsWith } from '../support/errors.js';
import { testClock } from '../support/helpers.js';

const TAG = `{${'A'.repeat(43)}}`;
const STEPS: StoreStep[] = [
  { op: 'increment', key: `${TAG}:hourly`, ttlMs: 60_000, stopIfCountAbove: 5 },
  { op: 'set', key: `${TAG}:code`, value: 'v1.record', ttlMs: 60_000 },
];

describe('GuardedStore and the memory store', () => {
  it('runs a transaction inline: it has happened before the promise is even awaited', async () => {
    const store = memoryCodeStore({ now: testClock().now });
    const pending = new GuardedStore(store, 1000).transact(STEPS);
    expect(store.size).toBe(2);
    expect(await pending).toEqual([{ count: 1, ttlMs: 60_000 }, undefined]);
  });

  it('calls a transact the app put in its place (a spy, a wrapper), as any store', async () => {
    const store = memoryCodeStore({ now: testClock().now });
    const calls: unknown[] = [];
    const original = store.transact.bind(store);
    store.transact = (steps) => {
      calls.push(steps);
      return original(steps);
    };
    const pending = new GuardedStore(store, 1000).transact(STEPS);
    // Called the way every store is: on a later tick, through its own method.
    expect(store.size).toBe(0);
    await pending;
    expect(calls).toHaveLength(1);
    expect(store.size).toBe(2);
  });

  it('treats a copy of the store ({ ...store }) as any other store', async () => {
    const inner = memoryCodeStore({ now: testClock().now });
    const copy: CodeStore = { ...inner };
    const pending = new GuardedStore(copy, 1000).transact(STEPS);
    expect(inner.size).toBe(0);
    await pending;
    expect(inner.size).toBe(2);
  });

  it('fails closed inline as it does otherwise: a full store or a broken clock is ERR_NPUSER_STORE_FAILED, and nothing is written', async () => {
    const full = memoryCodeStore({ maxEntries: 1, now: testClock().now });
    const err = await rejectsWith(new GuardedStore(full, 1000).transact(STEPS), 'ERR_NPUSER_STORE_FAILED');
    expect((err.cause as Error).message).toMatch(/is full/);
    expect(full.size).toBe(0);
    const broken = memoryCodeStore({ now: () => Number.NaN });
    await rejectsWith(new GuardedStore(broken, 1000).transact(STEPS), 'ERR_NPUSER_STORE_FAILED');
  });

  it('mayHoldTag: false only when the memory store holds nothing under the tag; always true for other stores', async () => {
    const store = memoryCodeStore({ now: testClock().now });
    const guarded = new GuardedStore(store, 1000);
    expect(guarded.mayHoldTag(`${TAG}:revoked-before`)).toBe(false);
    await guarded.transact(STEPS);
    expect(guarded.mayHoldTag(`${TAG}:revoked-before`)).toBe(true);
    expect(guarded.mayHoldTag(`{${'B'.repeat(42)}A}:code`)).toBe(false);
    // A key without an npuser tag is its own group: the store cannot tell without looking it up.
    expect(guarded.mayHoldTag('plain')).toBe(true);
    expect(new GuardedStore({ ...store }, 1000).mayHoldTag(`{${'B'.repeat(42)}A}:code`)).toBe(true);
    // A store whose clock is broken cannot answer either: the transaction that follows fails closed.
    const broken = new GuardedStore(memoryCodeStore({ now: () => Number.NaN }), 1000);
    expect(broken.mayHoldTag(`${TAG}:code`)).toBe(true);
    await rejectsWith(broken.transact([{ op: 'get', key: `${TAG}:code` }]), 'ERR_NPUSER_STORE_FAILED');
  });

  it('an expired entry still counts as held until it is removed: the answer is the transaction’s, never a guess', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const guarded = new GuardedStore(store, 1000);
    await guarded.transact(STEPS);
    clock.advance(120_000);
    expect(guarded.mayHoldTag(`${TAG}:code`)).toBe(true);
    expect(await guarded.transact([{ op: 'get', key: `${TAG}:code` }])).toEqual([undefined]);
  });
});
