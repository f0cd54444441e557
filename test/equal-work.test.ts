// "No pending code", "expired" and "wrong" must be one answer, and cost the
// same: the same keyed hashing, the same constant-time comparison and the same
// number of store round trips, so neither the error nor its timing tells an
// attacker whether a code is pending for an address.
import { describe, expect, it, vi } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET, testClock, wrongCode } from './support/helpers.js';
import { spyStore, type StoreMethod } from './support/spy-store.js';

const work = vi.hoisted(() => ({ hmacs: 0, comparisons: 0 }));

vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return {
    ...crypto,
    createHmac: (...args: Parameters<typeof crypto.createHmac>) => {
      work.hmacs += 1;
      return crypto.createHmac(...args);
    },
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      work.comparisons += 1;
      return crypto.timingSafeEqual(a, b);
    },
  };
});

type Path = 'no pending code' | 'expired code' | 'wrong code';

/** The work one failed verification does on `path`, and the error it gets. */
async function failedVerification(path: Path) {
  const appClock = testClock();
  // The store keeps its own clock, so an expired record is still there to read.
  const storeClock = testClock();
  const store = spyStore(memoryCodeStore({ now: storeClock.now }));
  const mailer = memoryMailer();
  const np = new NpUser({ secret: SECRET, store, mailer, now: appClock.now, onEvent: () => undefined });
  let code = '000000';
  if (path !== 'no pending code') {
    await np.requestCode(EMAIL);
    code = mailer.lastCodeFor(EMAIL)!;
  }
  if (path === 'expired code') appClock.advance(600_000);

  const before = { ...work, calls: { ...store.calls } };
  const error: unknown = await np.verifyCode(EMAIL, wrongCode(code)).catch((err: unknown) => err);
  const calls = Object.fromEntries(
    (Object.keys(store.calls) as StoreMethod[]).map((method) => [method, store.calls[method] - before.calls[method]]),
  );
  return {
    error,
    hmacs: work.hmacs - before.hmacs,
    comparisons: work.comparisons - before.comparisons,
    roundTrips: Object.values(calls).reduce((a, b) => a + b, 0),
    calls,
  };
}

describe('a failed verification does the same work whatever failed', () => {
  it('no pending code, an expired code and a wrong code: same answer, hashing, comparisons and store round trips', async () => {
    const wrong = await failedVerification('wrong code');
    // The baseline is real work: a digest, a comparison, reads, the attempt and the failure counted.
    expect(wrong.hmacs).toBeGreaterThanOrEqual(1);
    expect(wrong.comparisons).toBe(1);
    expect(wrong.calls).toMatchObject({ get: 2, increment: 2 });
    for (const path of ['no pending code', 'expired code'] as const) {
      const other = await failedVerification(path);
      expect(isNpUserError(other.error, 'ERR_NPUSER_INVALID_CODE'), path).toBe(true);
      expect({ hmacs: other.hmacs, comparisons: other.comparisons, roundTrips: other.roundTrips }, path).toEqual({
        hmacs: wrong.hmacs,
        comparisons: wrong.comparisons,
        roundTrips: wrong.roundTrips,
      });
    }
    expect(isNpUserError(wrong.error, 'ERR_NPUSER_INVALID_CODE')).toBe(true);
  });
});
