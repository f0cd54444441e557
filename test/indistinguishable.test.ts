// Regression: over repeated wrong guesses the sequence of answers used to differ
// between an address with a pending code (it changed once maxAttempts was used
// up) and one without (it never changed), so an attacker learned that the
// person was signing in right now, and burned their code finding out. Every
// observable of a guess (error code, wait, store calls, events) must now be
// the same whatever the address's state: pending, expired, used or never sent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore, type CodeStore, type NpUserEvent, type StoreStep } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET, testClock } from './support/helpers.js';

const VICTIM_CODE = '424242';
type World = 'pending' | 'expired' | 'used' | 'never sent';
type Action = { kind: 'guess'; code: string; client: number | undefined } | { kind: 'advance'; ms: number };

/** A key as an observer may compare it: its kind, not its hash tag. */
const kind = (key: string) => key.replace(/^\{[^}]*\}/, '{tag}');

/** `inner`, with every call written to `log` as its method, key kinds and step shapes (no values: those are hashes). */
function observed(inner: CodeStore, log: string[]): CodeStore {
  const describeStep = (step: StoreStep) => {
    const { op, key, ...rest } = step as StoreStep & Record<string, unknown>;
    const shape = Object.entries(rest)
      .filter(([name]) => name !== 'value' && name !== 'expected')
      .map(([name, value]) => `${name}=${String(value)}`);
    return [op, kind(key), ...shape].join(' ');
  };
  const store: CodeStore = {
    set: (key, value, ttlMs) => (log.push(`set ${kind(key)} ${ttlMs}`), inner.set(key, value, ttlMs)),
    get: (key) => (log.push(`get ${kind(key)}`), inner.get(key)),
    consume: (key, expected) => (log.push(`consume ${kind(key)}`), inner.consume(key, expected)),
    delete: (key) => (log.push(`delete ${kind(key)}`), inner.delete(key)),
    increment: (key, ttlMs) => (log.push(`increment ${kind(key)} ${ttlMs}`), inner.increment(key, ttlMs)),
  };
  if (inner.transact !== undefined) {
    const transact = inner.transact.bind(inner);
    store.transact = (steps) => (log.push(`transact [${steps.map(describeStep).join(', ')}]`), transact(steps));
  }
  return store;
}

/** Everything an attacker (and an app's log) sees of `actions`, run against an address in `world`. */
async function observe(world: World, actions: readonly Action[]): Promise<string[]> {
  // Every world reaches the attacker's first guess at the same moment, START.
  const START = Date.UTC(2026, 0, 1);
  const clock = testClock(START - 700_000);
  const mailer = memoryMailer();
  const log: string[] = [];
  const events: NpUserEvent[] = [];
  const store = memoryCodeStore({ now: clock.now });
  const options = { secret: SECRET, mailer, now: clock.now, generateCode: () => VICTIM_CODE };
  const victim = new NpUser({ ...options, store });
  if (world === 'expired') await victim.requestCode(EMAIL); // 700 s before START: expired by then
  clock.advance(640_000);
  if (world === 'pending' || world === 'used') await victim.requestCode(EMAIL); // a minute before START
  if (world === 'used') await victim.verifyCode(EMAIL, VICTIM_CODE);
  clock.advance(START - clock.now());
  // The attacker's instance shares the store; only its calls are observed.
  const attacker = new NpUser({ ...options, store: observed(store, log), onEvent: (event) => void events.push(event) });
  const seen: string[] = [];
  for (const action of actions) {
    if (action.kind === 'advance') {
      clock.advance(action.ms);
      continue;
    }
    log.length = 0;
    events.length = 0;
    const context = action.client === undefined ? undefined : { clientKey: `client-${action.client}` };
    const answer = await attacker.verifyCode(EMAIL, action.code, context).then(
      () => 'token',
      (err: unknown) => (isNpUserError(err) ? `${err.code} ${String(err.retryAfterSeconds)}` : `unexpected ${String(err)}`),
    );
    seen.push(answer, ...log, ...events.map((e) => `event ${e.type} ${e.reason} ${e.at.getTime()}`));
  }
  return seen;
}

const wrongGuess = fc.stringMatching(/^[0-9]{6}$/).filter((code) => code !== VICTIM_CODE);
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('guess' as const),
      code: wrongGuess,
      client: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 20 * 60_000 }) }) },
);

describe('a pending code cannot be detected by guessing', () => {
  it('any sequence of wrong guesses and waits is observed the same whether a code is pending, expired, used or never sent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 14 }), async (actions) => {
        const never = await observe('never sent', actions);
        for (const world of ['pending', 'expired', 'used'] as const) {
          expect(await observe(world, actions), world).toEqual(never);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('the observations are not trivially equal: the sequence changes once the tries are used up', async () => {
    const guesses = Array.from({ length: 7 }, (): Action => ({ kind: 'guess', code: '000000', client: undefined }));
    const seen = (await observe('pending', guesses)).filter((line) => line.startsWith('ERR_'));
    expect(seen).toEqual([
      ...Array<string>(4).fill('ERR_NPUSER_INVALID_CODE undefined'),
      ...Array<string>(3).fill('ERR_NPUSER_TOO_MANY_ATTEMPTS undefined'),
    ]);
  });
});
