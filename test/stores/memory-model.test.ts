import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { memoryCodeStore, type StoreStep, type StoreStepResult } from 'npuser';
import { removeExpiryForTesting } from '../../src/stores/memory.js';

// The memory store against a model of the CodeStore contract written as plainly as possible: a Map of
// key → value and expiry, each transaction applied to a copy that is kept only if every step ran.
// Random runs of transactions, single operations, clock moves and lost expiries, over keys that share
// a hash tag (one packed group each in the store, decoded once and kept decoded between transactions)
// and keys that do not.

interface ModelEntry {
  readonly value: string;
  readonly expiresAt: number;
}

const COUNTER = /^(?:0|[1-9][0-9]{0,14})$/;
const counter = (value: string): number => {
  if (!COUNTER.test(value)) throw new Error('not a counter');
  return Number(value);
};

/** The contract's semantics of one transaction on `entries` at `at`: its results and the entries after it; throws as it rejects. */
function modelTransact(entries: ReadonlyMap<string, ModelEntry>, steps: readonly StoreStep[], at: number) {
  const staged = new Map(entries);
  const live = (key: string) => {
    const entry = staged.get(key);
    return entry !== undefined && at < entry.expiresAt ? entry : undefined;
  };
  const results: StoreStepResult[] = [];
  for (const step of steps) {
    const entry = live(step.key);
    let result: StoreStepResult;
    let stop = false;
    switch (step.op) {
      case 'get':
        result = entry && { value: entry.value, ttlMs: entry.expiresAt - at };
        if (entry !== undefined) {
          const atLeast = step.stopIfCountAtLeast !== undefined && counter(entry.value) >= step.stopIfCountAtLeast;
          stop = step.stopIfPresent === true || atLeast;
        }
        break;
      case 'increment': {
        const count = entry === undefined ? 1 : counter(entry.value) + 1;
        const expiresAt = entry === undefined ? at + step.ttlMs : entry.expiresAt;
        staged.set(step.key, { value: String(count), expiresAt });
        result = { count, ttlMs: expiresAt - at };
        stop = step.stopIfCountAbove !== undefined && count > step.stopIfCountAbove;
        break;
      }
      case 'set':
        staged.set(step.key, { value: step.value, expiresAt: at + step.ttlMs });
        result = undefined;
        break;
      case 'delete':
        staged.delete(step.key);
        result = undefined;
        break;
      case 'consume':
        if (entry === undefined || (step.expected !== undefined && entry.value !== step.expected)) {
          result = undefined;
        } else {
          result = entry.value;
          staged.delete(step.key);
        }
        break;
    }
    results.push(result);
    if (stop) break;
  }
  return { results, after: staged };
}

const liveEntries = (entries: Map<string, ModelEntry>, at: number) =>
  [...entries]
    .filter(([, entry]) => at < entry.expiresAt)
    .map(([key, entry]) => ({ key, value: entry.value, ttlMs: entry.expiresAt - at }))
    .sort((a, b) => a.key.localeCompare(b.key));

const tags = [0, 1].map(() => `{${randomBytes(32).toString('base64url')}}`);
const keyArb = fc.oneof(
  fc
    .constantFrom(...tags)
    .chain((tag) => fc.constantFrom('code', 'attempts', 'hourly', 'revoked:x1', 'a kind of its own').map((kind) => `${tag}:${kind}`)),
  fc.constantFrom('plain', 'another plain key'),
);
const valueArb = fc.constantFrom('0', '1', '4', 'v1.one', 'v1.two', 'not a counter', 'é, wider than latin1: 漢字', 'x'.repeat(300));
const ttlArb = fc.constantFrom(1000, 20_000, 60_000);
const stepArb: fc.Arbitrary<StoreStep> = fc.oneof(
  fc.record(
    { op: fc.constant('get' as const), key: keyArb, stopIfPresent: fc.boolean(), stopIfCountAtLeast: fc.integer({ min: 0, max: 5 }) },
    { requiredKeys: ['op', 'key'] },
  ),
  fc.record(
    { op: fc.constant('increment' as const), key: keyArb, ttlMs: ttlArb, stopIfCountAbove: fc.integer({ min: 0, max: 5 }) },
    { requiredKeys: ['op', 'key', 'ttlMs'] },
  ),
  fc.record({ op: fc.constant('set' as const), key: keyArb, value: valueArb, ttlMs: ttlArb }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb }),
  fc.record({ op: fc.constant('consume' as const), key: keyArb, expected: valueArb }, { requiredKeys: ['op', 'key'] }),
);
const commandArb = fc.oneof(
  { weight: 6, arbitrary: fc.array(stepArb, { minLength: 1, maxLength: 7 }).map((steps) => ({ kind: 'transact' as const, steps })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 40_000 }).map((ms) => ({ kind: 'tick' as const, ms })) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ kind: 'get' as const, key })) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ kind: 'lose expiry' as const, key })) },
);

describe('memoryCodeStore against a model of the contract', () => {
  it.each([
    ['with room for everything', 100_000],
    // Full now and then: a refused transaction changes nothing, and a sweep makes room.
    ['with room for six entries', 6],
  ])('every run of transactions, reads, clock moves and lost expiries answers and holds what the model does, %s', async (_, maxEntries) => {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 40 }), async (commands) => {
        let at = 1_700_000_000_000;
        const store = memoryCodeStore({ now: () => at, maxEntries });
        let model = new Map<string, ModelEntry>();
        for (const command of commands) {
          switch (command.kind) {
            case 'transact': {
              let expected: ReturnType<typeof modelTransact> | Error;
              try {
                expected = modelTransact(model, command.steps, at);
              } catch (err) {
                expected = err as Error;
              }
              const actual = await store.transact(command.steps).catch((err: unknown) => err as Error);
              if (expected instanceof Error) {
                expect(actual).toBeInstanceOf(Error);
              } else if (actual instanceof Error) {
                // Only a full store may refuse what the contract allows.
                expect(actual.message).toMatch(/is full/);
              } else {
                expect(actual).toEqual(expected.results);
                model = expected.after;
              }
              break;
            }
            case 'tick':
              at += command.ms;
              break;
            case 'get': {
              const entry = model.get(command.key);
              const live = entry !== undefined && at < entry.expiresAt ? { value: entry.value, ttlMs: entry.expiresAt - at } : undefined;
              expect(await store.get(command.key)).toEqual(live);
              break;
            }
            case 'lose expiry': {
              const entry = model.get(command.key);
              const live = entry !== undefined && at < entry.expiresAt;
              expect(removeExpiryForTesting(store, command.key)).toBe(live);
              // An entry without an expiry counts as expired for every operation.
              model.delete(command.key);
              break;
            }
          }
          expect(store.entries().sort((a, b) => a.key.localeCompare(b.key))).toEqual(liveEntries(model, at));
          expect(store.size).toBeGreaterThanOrEqual(liveEntries(model, at).length);
          expect(store.size).toBeLessThanOrEqual(maxEntries);
        }
      }),
      { numRuns: 300 },
    );
  });
});
