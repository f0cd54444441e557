import { describe, expect, it } from 'vitest';
import { isNpUserError, memoryCodeStore } from 'npuser';
import { EMAIL, requestAndRead, setup, testClock, wrongCode } from '../helpers.js';

describe('memoryCodeStore capacity', () => {
  it('refuses new entries when full instead of evicting live ones', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 3, now: clock.now });
    await store.set('a', '1', 1000);
    await store.increment('b', 1000);
    await store.set('c', '3', 1000);
    await expect(store.set('d', '4', 1000)).rejects.toThrow(/full/);
    await expect(store.increment('e', 1000)).rejects.toThrow(/full/);
    // Existing keys can still be replaced and counted.
    await store.set('a', 'again', 1000);
    expect((await store.increment('b', 1000)).count).toBe(2);
    expect(store.entries().map((e) => e.key).sort()).toEqual(['a', 'b', 'c']);
  });

  it('makes room once entries have expired', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 2, now: clock.now });
    await store.set('a', '1', 1000);
    await store.set('b', '2', 5000);
    clock.advance(1000);
    await store.set('c', '3', 1000);
    expect(store.entries().map((e) => e.key).sort()).toEqual(['b', 'c']);
  });

  it('a flood of new addresses cannot evict a victim’s live code or failure counter', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 40, now: clock.now });
    const flooded = setup({ store, maxFailuresPerDay: 2 }, clock);
    const code = await requestAndRead(flooded);
    await expect(flooded.np.verifyCode(EMAIL, wrongCode(code))).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });

    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => flooded.np.requestCode(`flood${i}@example.com`)),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(150);
    for (const r of refused) expect(isNpUserError(r.reason, 'ERR_NPUSER_STORE_FAILED')).toBe(true);

    // The victim's failure counter survived: one more failure locks the address…
    const lockedCheck = setup({ store, maxFailuresPerDay: 2 }, clock);
    await expect(lockedCheck.np.verifyCode(EMAIL, wrongCode(code))).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    await expect(lockedCheck.np.verifyCode(EMAIL, code)).rejects.toMatchObject({ code: 'ERR_NPUSER_ADDRESS_LOCKED' });
  });

  it('a flood cannot evict a victim’s live code', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 30, now: clock.now });
    const s = setup({ store }, clock);
    const code = await requestAndRead(s);
    await Promise.allSettled(Array.from({ length: 100 }, (_, i) => s.np.requestCode(`flood${i}@example.com`)));
    // Full: the first try cannot be counted, so it is not compared; the code is still there.
    await expect(s.np.verifyCode(EMAIL, code)).rejects.toMatchObject({ code: 'ERR_NPUSER_STORE_FAILED' });
    clock.advance(60_000); // the flood's cooldowns expire, the code has minutes left
    await expect(s.np.verifyCode(EMAIL, code)).resolves.toMatchObject({ email: EMAIL });
  });

  it('is empty once every code and window has expired', async () => {
    const s = setup({ maxAttempts: 2 });
    const code = await requestAndRead(s);
    await s.np.verifyCode(EMAIL, wrongCode(code)).catch(() => undefined);
    await s.np.verifyCode('bob@example.com', '123456', { clientKey: 'c' }).catch(() => undefined);
    await s.np.requestCode('carol@example.com', { clientKey: 'c' });
    expect(s.store.size).toBeGreaterThan(0);
    s.clock.advance(24 * 3600_000);
    expect(s.store.size).toBe(0);
  });

  it('validates its options and arguments', async () => {
    expect(() => memoryCodeStore({ maxEntries: 0 })).toThrow(TypeError);
    expect(() => memoryCodeStore({ maxEntries: 1.5 })).toThrow(TypeError);
    const store = memoryCodeStore();
    await expect(store.set('', 'v', 1)).rejects.toThrow(TypeError);
    await expect(store.set('k', 'v', 0)).rejects.toThrow(TypeError);
    await expect(store.increment('k', Number.NaN)).rejects.toThrow(TypeError);
    await expect(store.set('k', 1 as unknown as string, 10)).rejects.toThrow(TypeError);
  });
});
