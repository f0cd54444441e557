// Regression: a successful sign-in used to reset the address's failure window,
// so an attacker got a fresh budget after each of the victim's own sign-ins and
// "at most 100 guesses per address per day" was false for an active user. This
// simulates a week on an injected clock: the victim signs in every four hours,
// the attacker guesses once a minute for the first 150 minutes of each
// four-hour period (staying under the lock while it can), and every guess the
// attacker gets compared is counted where npuser counts it: as a failure of the address.
import { describe, expect, it } from 'vitest';
import { DEFAULTS, NpUser, isNpUserError, memoryCodeStore, type CodeStore } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET, testClock } from './support/helpers.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `inner`, calling `onFailure` each time a failure of the address is counted. */
function countingFailures(inner: CodeStore, onFailure: () => void): CodeStore {
  const isFailure = (key: string) => key.endsWith(':failures');
  const store: CodeStore = {
    set: (key, value, ttlMs) => inner.set(key, value, ttlMs),
    get: (key) => inner.get(key),
    consume: (key, expected) => inner.consume(key, expected),
    delete: (key) => inner.delete(key),
    increment: (key, ttlMs) => {
      if (isFailure(key)) onFailure();
      return inner.increment(key, ttlMs);
    },
  };
  if (inner.transact !== undefined) {
    const transact = inner.transact.bind(inner);
    store.transact = (steps) => {
      for (const step of steps) if (step.op === 'increment' && isFailure(step.key)) onFailure();
      return transact(steps);
    };
  }
  return store;
}

describe('the guessing bound holds whatever the victim does', () => {
  it('a week of the victim signing in every four hours gives an attacker at most 2 × maxFailuresPerDay compared guesses in any 24 hours', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const mailer = memoryMailer();
    const victim = new NpUser({ secret: SECRET, store, mailer, now: clock.now });
    const compared: number[] = [];
    const watched = countingFailures(store, () => compared.push(clock.now()));
    const attacker = new NpUser({ secret: SECRET, store: watched, mailer: memoryMailer(), now: clock.now });

    let victimSignIns = 0;
    let victimLockedOut = 0;
    for (let minute = 0; minute < 7 * 24 * 60; minute += 1) {
      const inPeriod = minute % 240;
      if (inPeriod < 150) {
        // A wrong guess: the attacker never learns the code.
        await attacker.verifyCode(EMAIL, '000000').catch((err: unknown) => {
          if (!isNpUserError(err)) throw err;
        });
      }
      if (inPeriod === 239) {
        const signedIn = await victim.requestCode(EMAIL).then(
          () => victim.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!).then(() => true),
          (err: unknown) => {
            if (isNpUserError(err, 'ERR_NPUSER_ADDRESS_LOCKED')) return false;
            throw err;
          },
        );
        if (signedIn) victimSignIns += 1;
        else victimLockedOut += 1;
      }
      clock.advance(MINUTE);
    }

    // The attack ran, and so did the victim (whenever the address was not locked): the bound is not met by doing nothing.
    expect(victimSignIns).toBeGreaterThanOrEqual(5);
    expect(victimLockedOut).toBeGreaterThan(0);
    expect(compared.length).toBeGreaterThanOrEqual(7 * DEFAULTS.maxFailuresPerDay * 0.8);
    // Every 24-hour interval, wherever it starts: the documented honest worst case.
    let most = 0;
    for (let first = 0, last = 0; first < compared.length; first += 1) {
      while (last < compared.length && compared[last]! < compared[first]! + DAY) last += 1;
      most = Math.max(most, last - first);
    }
    expect(most).toBeLessThanOrEqual(2 * DEFAULTS.maxFailuresPerDay);
    // And at most maxFailuresPerDay per window: the week holds at most one window per day, plus the one still open.
    expect(compared.length).toBeLessThanOrEqual(8 * DEFAULTS.maxFailuresPerDay);
  });
});
