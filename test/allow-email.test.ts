import { describe, expect, it } from 'vitest';
import { NpUser, canonicalEmail, isNpUserError, memoryCodeStore, type CodeStore, type StoreStep } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET, requestAndRead, setup, testClock } from './support/helpers.js';
import { rejectsWith } from './support/errors.js';

const kind = (key: string) => key.replace(/^\{[^}]*\}/, '{tag}');

/** `inner`'s calls as an observer of the store sees them: methods, key kinds, TTLs; values are opaque. */
function recorded(inner: CodeStore, log: string[]): CodeStore {
  const step = (s: StoreStep) => `${s.op} ${kind(s.key)}${'ttlMs' in s ? ` ${s.ttlMs}` : ''}`;
  return {
    set: (k, v, t) => (log.push(`set ${kind(k)} ${t} ${v.length}`), inner.set(k, v, t)),
    get: (k) => (log.push(`get ${kind(k)}`), inner.get(k)),
    consume: (k, e) => (log.push(`consume ${kind(k)}`), inner.consume(k, e)),
    delete: (k) => (log.push(`delete ${kind(k)}`), inner.delete(k)),
    increment: (k, t) => (log.push(`increment ${kind(k)} ${t}`), inner.increment(k, t)),
    ...(inner.transact === undefined
      ? {}
      : { transact: (steps: readonly StoreStep[]) => (log.push(`transact ${steps.map(step).join(', ')}`), inner.transact!(steps)) }),
  };
}

describe('allowEmail: who may sign in', () => {
  it('is asked with the canonical address, before any code is made or mailed', async () => {
    const asked: string[] = [];
    let drawn = 0;
    const s = setup({
      allowEmail: (email) => (asked.push(email), true),
      generateCode: () => ((drawn += 1), '123456'),
    });
    await s.np.requestCode('  Ada@Bücher.DE ');
    expect(asked).toEqual(['ada@xn--bcher-kva.de']);
    expect(asked[0]).toBe(canonicalEmail('Ada@Bücher.DE'));
    // An address npuser refuses never reaches the callback.
    await rejectsWith(s.np.requestCode('not an address'), 'ERR_NPUSER_INVALID_EMAIL');
    expect(asked).toHaveLength(1);
    expect(drawn).toBe(1);
  });

  it('a refused address gets the same answer after the same store work, and no mail', async () => {
    const results: Record<'allowed' | 'refused', { answer: unknown; log: string[]; mails: number; events: string[] }> = {} as never;
    for (const which of ['allowed', 'refused'] as const) {
      const clock = testClock();
      const log: string[] = [];
      const mailer = memoryMailer();
      const events: string[] = [];
      const np = new NpUser({
        secret: SECRET,
        now: clock.now,
        mailer,
        store: recorded(memoryCodeStore({ now: clock.now }), log),
        allowEmail: () => which === 'allowed',
        onEvent: (e) => void events.push(`${e.type}/${e.reason}`),
      });
      const answer = await np.requestCode(EMAIL);
      // And a second request inside the cooldown: the same refusal either way.
      const second = await np
        .requestCode(EMAIL)
        .catch((err: unknown) => (isNpUserError(err) ? `${err.code} ${String(err.retryAfterSeconds)}` : err));
      results[which] = { answer: [answer, second], log, mails: mailer.messages.length, events };
    }
    expect(results.refused.answer).toEqual(results.allowed.answer);
    expect(results.refused.log).toEqual(results.allowed.log);
    expect(results.allowed.mails).toBe(1);
    expect(results.refused.mails).toBe(0);
    // The app's own events say what happened; the caller's answer does not.
    expect(results.refused.events[0]).toBe('code.requested/not-allowed');
    expect(results.allowed.events[0]).toBe('code.requested/sent');
  });

  it('no code signs a refused address in: every guess is wrong, as for any address', async () => {
    const s = setup({ allowEmail: () => false, generateCode: () => '123456' });
    await s.np.requestCode(EMAIL);
    await rejectsWith(s.np.verifyCode(EMAIL, '123456'), 'ERR_NPUSER_INVALID_CODE');
  });

  it('only `true` allows; its errors reject requestCode unchanged, and nothing is stored', async () => {
    const truthy = setup({ allowEmail: () => 'yes' as unknown as boolean });
    await truthy.np.requestCode(EMAIL);
    expect(truthy.mailer.messages).toHaveLength(0);
    const failure = new Error('directory down');
    const failing = setup({ allowEmail: () => Promise.reject(failure) });
    await expect(failing.np.requestCode(EMAIL)).rejects.toBe(failure);
    expect(failing.store.entries()).toEqual([]);
    expect(() => setup({ allowEmail: 'everyone' as never })).toThrow(/options\.allowEmail/);
  });
});

describe('onSignIn: where the app keeps its own user row', () => {
  it('runs once per sign-in with the subject and the canonical address, never for a failure', async () => {
    const seen: unknown[] = [];
    const s = setup({ onSignIn: (context) => void seen.push(context) });
    const code = await requestAndRead(s);
    await rejectsWith(
      s.np.verifyCode(
        EMAIL,
        code.replace(/^./, (d) => String((Number(d) + 1) % 10)),
      ),
      'ERR_NPUSER_INVALID_CODE',
    );
    const { subject } = await s.np.verifyCode(' ADA@example.com', code);
    expect(seen).toEqual([{ subject, email: EMAIL }]);
  });

  it('its failure rejects verifyCode with its own error, and the code is spent', async () => {
    const failure = new Error('database down');
    const s = setup({ onSignIn: () => Promise.reject(failure) });
    const code = await requestAndRead(s);
    await expect(s.np.verifyCode(EMAIL, code)).rejects.toBe(failure);
    await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_INVALID_CODE');
    expect(() => setup({ onSignIn: 1 as never })).toThrow(/options\.onSignIn/);
  });
});
