import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore, type CodeStore } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET, requestAndRead, setup, testClock, wrongCode } from './support/helpers.js';

function failuresCount(s: ReturnType<typeof setup>): number {
  const entry = s.store.entries().find((e) => e.key.endsWith(':failures'));
  return entry === undefined ? 0 : Number(entry.value);
}

/** `base`, with every call resolving in an order the fast-check scheduler picks. */
function scheduledStore(scheduler: fc.Scheduler, base: CodeStore): CodeStore {
  return {
    set: scheduler.scheduleFunction((k: string, v: string, ttl: number) => base.set(k, v, ttl)),
    get: scheduler.scheduleFunction((k: string) => base.get(k)),
    consume: scheduler.scheduleFunction((k: string, expected?: string) => base.consume(k, expected)),
    delete: scheduler.scheduleFunction((k: string) => base.delete(k)),
    increment: scheduler.scheduleFunction((k: string, ttl: number) => base.increment(k, ttl)),
  };
}

/**
 * `base`, with the effect of every call (not only its answer) taking place when
 * the fast-check scheduler releases it: two writes npuser starts in order may
 * land in either order, as on a store with a pool of connections.
 */
function deferredStore(scheduler: fc.Scheduler, base: CodeStore): CodeStore {
  const later = <T>(label: string, run: () => Promise<T>) => scheduler.schedule(Promise.resolve(), label).then(run);
  return {
    set: (k, v, ttl) => later('set', () => base.set(k, v, ttl)),
    get: (k) => later('get', () => base.get(k)),
    consume: (k, expected) => later('consume', () => base.consume(k, expected)),
    delete: (k) => later('delete', () => base.delete(k)),
    increment: (k, ttl) => later('increment', () => base.increment(k, ttl)),
  };
}

describe('concurrency', () => {
  it('50 concurrent verifies of the correct code yield exactly one token', async () => {
    const s = setup({ maxAttempts: 10 });
    const code = await requestAndRead(s);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => s.np.verifyCode(EMAIL, code)));
    const tokens = results.filter((r) => r.status === 'fulfilled');
    expect(tokens).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(isNpUserError(r.reason)).toBe(true);
    }
    expect(s.events.filter((e) => e.type === 'code.verified')).toHaveLength(1);
  });

  it('1 000 concurrent wrong guesses evaluate at most maxAttempts, then the code is burned', async () => {
    const s = setup();
    const code = await requestAndRead(s);
    const wrong = wrongCode(code);
    const results = await Promise.allSettled(Array.from({ length: 1000 }, () => s.np.verifyCode(EMAIL, wrong)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    // Each evaluated wrong guess adds one failure to the address; refused ones add none.
    expect(failuresCount(s)).toBe(5);
    const answers = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'token'));
    expect(answers.filter((a) => a === 'ERR_NPUSER_INVALID_CODE')).toHaveLength(4);
    expect(answers.filter((a) => a === 'ERR_NPUSER_TOO_MANY_ATTEMPTS')).toHaveLength(996);
    // Burned: the right code is not compared either, until a new one is sent.
    await expect(s.np.verifyCode(EMAIL, code)).rejects.toMatchObject({ code: 'ERR_NPUSER_TOO_MANY_ATTEMPTS' });
  });

  it('one client spraying 300 concurrent guesses over 300 pending codes gets maxVerificationsPerClientPerHour evaluated', async () => {
    // Regression: the client budget used to be read before the comparison and
    // counted after it, so concurrent guesses all saw it unspent.
    const s = setup({ maxVerificationsPerClientPerHour: 20 });
    const victims = Array.from({ length: 300 }, (_, i) => `victim${i}@example.com`);
    const codes = new Map<string, string>();
    for (const victim of victims) codes.set(victim, await requestAndRead(s, victim));
    const attacker = { clientKey: '198.51.100.7' };
    const results = await Promise.allSettled(victims.map((victim) => s.np.verifyCode(victim, wrongCode(codes.get(victim)!), attacker)));
    const answers = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'token'));
    expect(answers.filter((a) => a === 'ERR_NPUSER_INVALID_CODE')).toHaveLength(20);
    expect(answers.filter((a) => a === 'ERR_NPUSER_RATE_LIMITED')).toHaveLength(280);
    // Only the evaluated guesses cost their victims anything.
    expect(s.events.filter((e) => e.type === 'code.failed')).toHaveLength(20);
    expect(s.store.entries().filter((e) => e.key.endsWith(':failures'))).toHaveLength(20);
  });

  it('concurrent guesses at an address about to lock overshoot by fewer than maxAttempts, then it is locked', async () => {
    const s = setup({ maxFailuresPerDay: 3, maxAttempts: 5, resendCooldownSeconds: 0 });
    const first = await requestAndRead(s);
    for (let i = 0; i < 2; i += 1)
      await expect(s.np.verifyCode(EMAIL, wrongCode(first))).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    const code = await requestAndRead(s);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => s.np.verifyCode(EMAIL, wrongCode(code))));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    // The code's own atomic counter bounds this burst to maxAttempts evaluations.
    const total = failuresCount(s);
    expect(total).toBeGreaterThanOrEqual(3);
    expect(total).toBeLessThanOrEqual(2 + 5);
    await expect(s.np.requestCode(EMAIL)).rejects.toMatchObject({ code: 'ERR_NPUSER_ADDRESS_LOCKED' });
  });

  it('concurrent requests for one address send one code (the cooldown is atomic)', async () => {
    const s = setup();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => s.np.requestCode(EMAIL)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(s.mailer.messages).toHaveLength(1);
  });

  it('a verify racing a re-request never signs in with a superseded code nor loses a code it did not use', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (scheduler) => {
        const clock = testClock();
        const base = memoryCodeStore({ now: clock.now });
        // Every store call of the racing instance takes effect in an order fast-check picks.
        const scheduled = deferredStore(scheduler, base);
        const codes = ['111111', '222222'];
        const options = { secret: SECRET, now: clock.now, resendCooldownSeconds: 0, generateCode: () => codes.shift()! };
        const mailer = memoryMailer();
        const calm = new NpUser({ ...options, mailer, store: base });
        const racing = new NpUser({ ...options, mailer, store: scheduled });

        await calm.requestCode(EMAIL); // the old code, 111111
        const verifyOld = racing.verifyCode(EMAIL, '111111');
        const requestNew = racing.requestCode(EMAIL); // the new code, 222222
        // waitFor releases scheduled store calls, in fast-check's order, until both settle.
        const [oldResult, newResult] = await scheduler.waitFor(Promise.allSettled([verifyOld, requestNew]));

        expect(newResult.status).toBe('fulfilled');
        if (oldResult.status === 'rejected') {
          expect(isNpUserError(oldResult.reason, 'ERR_NPUSER_INVALID_CODE')).toBe(true);
        }
        const newWorks = await calm.verifyCode(EMAIL, '222222').then(
          () => true,
          () => false,
        );
        // Whether the old code signed in (it was still the live one when consumed) or not
        // (the new one had replaced it), the new code, just mailed, must work. Regression:
        // the consume used to take whatever code was there, the new one included.
        expect(newWorks).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('a send that fails after a newer request has mailed its code deletes only its own code', async () => {
    const codes = ['111111', '222222'];
    let failFirstSend: (reason: Error) => void = () => undefined;
    let firstSendStarted: () => void = () => undefined;
    const firstSend = new Promise<void>((resolve) => (firstSendStarted = resolve));
    const sent: string[] = [];
    const np = new NpUser({
      secret: SECRET,
      store: memoryCodeStore(),
      resendCooldownSeconds: 0,
      generateCode: () => codes.shift()!,
      mailer: {
        send: (message) => {
          if (sent.push(message.code) === 1) {
            firstSendStarted();
            return new Promise<void>((_, reject) => (failFirstSend = reject));
          }
          return Promise.resolve();
        },
      },
    });
    const first = np.requestCode(EMAIL).catch((err: unknown) => err);
    await firstSend;
    await np.requestCode(EMAIL);
    failFirstSend(new Error('421 try again later'));
    expect(isNpUserError(await first, 'ERR_NPUSER_MAILER_FAILED')).toBe(true);
    // Regression: the failed send used to delete whatever code was stored, the newer one included.
    await expect(np.verifyCode(EMAIL, '222222')).resolves.toMatchObject({ email: EMAIL });
  });

  it('wrong guesses racing the request that creates the code, in any order, are never compared with it more than maxAttempts times', async () => {
    // Regression: the code and its attempt counter used to be written at once;
    // where the code landed first, a guess could count its attempt on a counter
    // that was then reset, and win extra guesses.
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 8 }), async (scheduler, guesses) => {
        const clock = testClock();
        const base = memoryCodeStore({ now: clock.now });
        // What each verification saw, tracked through its own async context.
        const seen = new AsyncLocalStorage<{ codeRead: boolean; attempt: number }>();
        const observed: CodeStore = {
          ...base,
          get: async (key) => {
            const entry = await base.get(key);
            if (key.endsWith(':code') && entry !== undefined) seen.getStore()!.codeRead = true;
            return entry;
          },
          increment: async (key, ttlMs) => {
            const counter = await base.increment(key, ttlMs);
            if (key.endsWith(':attempts')) seen.getStore()!.attempt = counter.count;
            return counter;
          },
        };
        const np = new NpUser({
          secret: SECRET,
          now: clock.now,
          mailer: memoryMailer(),
          store: deferredStore(scheduler, observed),
          generateCode: () => '424242',
          maxAttempts: 2,
        });
        const contexts = Array.from({ length: guesses }, () => ({ codeRead: false, attempt: 0 }));
        const racing = [np.requestCode(EMAIL), ...contexts.map((context) => seen.run(context, () => np.verifyCode(EMAIL, '000000')))];
        await scheduler.waitFor(Promise.allSettled(racing));
        // Compared with the real code: read it, and counted within the allowance.
        const compared = contexts.filter((c) => c.codeRead && c.attempt >= 1 && c.attempt <= 2).length;
        expect(compared).toBeLessThanOrEqual(2);
      }),
      { numRuns: 300 },
    );
  });

  it('concurrent correct and wrong verifies interleaved in any order give at most one token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 6 }), async (scheduler, right, wrong) => {
        const clock = testClock();
        const base = memoryCodeStore({ now: clock.now });
        const scheduled = scheduledStore(scheduler, base);
        const options = { secret: SECRET, now: clock.now, generateCode: () => '424242', maxAttempts: 3 };
        const calm = new NpUser({ ...options, mailer: memoryMailer(), store: base });
        const racing = new NpUser({ ...options, mailer: memoryMailer(), store: scheduled });
        await calm.requestCode(EMAIL);
        const attempts = [
          ...Array.from({ length: right }, () => racing.verifyCode(EMAIL, '424242')),
          ...Array.from({ length: wrong }, () => racing.verifyCode(EMAIL, '000000')),
        ];
        const results = await scheduler.waitFor(Promise.allSettled(attempts));
        expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
        for (const r of results) if (r.status === 'rejected') expect(isNpUserError(r.reason)).toBe(true);
        // The code never survives a success.
        if (results.some((r) => r.status === 'fulfilled')) {
          await expect(calm.verifyCode(EMAIL, '424242')).rejects.toBeDefined();
        }
      }),
      { numRuns: 100 },
    );
  });
});
