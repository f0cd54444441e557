import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { NpUser, memoryCodeStore } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET, expectRefused, setup, signIn, testClock } from '../support/helpers.js';

const HOUR = 3_600_000;

describe('refreshToken: the same sign-in, a new token', () => {
  it('keeps sub, auth_time and claims, with a new jti and lifetime', async () => {
    const s = setup({ tokenClaims: () => ({ role: 'editor' }), includeEmail: true });
    const token = await signIn(s);
    s.clock.advance(40 * 60_000);
    const renewed = await s.np.refreshToken(token);
    const before = decodeJwt(token);
    const after = decodeJwt(renewed.token);
    expect(after).toMatchObject({ sub: before.sub, auth_time: before.auth_time, role: 'editor', email: EMAIL, email_verified: true });
    expect(after.jti).not.toBe(before.jti);
    expect(after.iat).toBe(Math.floor(s.clock.now() / 1000));
    expect(after.exp).toBe(after.iat! + 3600);
    expect(renewed.subject).toBe(before.sub);
    expect(renewed.expiresAt.getTime()).toBe(after.exp! * 1000);
    await expect(s.np.validateToken(renewed.token)).resolves.toMatchObject({ subject: before.sub });
  });

  it('never outlives maxSessionSeconds after the sign-in, however often it is refreshed', async () => {
    const s = setup({ tokenTtlSeconds: 3600, maxSessionSeconds: 3 * 3600 });
    let token = await signIn(s);
    const signedInAt = Math.floor(s.clock.now() / 1000);
    let refreshes = 0;
    for (;;) {
      s.clock.advance(30 * 60_000);
      const renewed = await s.np.refreshToken(token).catch((err: unknown) => err);
      if (!('token' in (renewed as object))) {
        // Three hours in, the session is over, though the last token is still within its tolerance.
        expect(renewed).toMatchObject({ code: 'ERR_NPUSER_TOKEN_EXPIRED' });
        break;
      }
      token = (renewed as { token: string }).token;
      refreshes += 1;
    }
    expect(refreshes).toBe(5);
    // The refreshes from the second hour on were capped at the session's end.
    expect(decodeJwt(token).exp).toBe(signedInAt + 3 * 3600);
    s.clock.advance(HOUR);
    await expectRefused(s.np, token, 'ERR_NPUSER_TOKEN_EXPIRED');
  });

  it('at the session’s last second a refresh still works; at its end it answers TOKEN_EXPIRED', async () => {
    const s = setup({ tokenTtlSeconds: 3600, maxSessionSeconds: 3600 });
    const token = await signIn(s);
    s.clock.advance(HOUR - 1000);
    const last = await s.np.refreshToken(token);
    expect(last.expiresAt.getTime() - s.clock.now()).toBe(1000);
    s.clock.advance(1000);
    // exp is now, still accepted by validation for the clock tolerance; the session itself has ended.
    await expect(s.np.validateToken(last.token)).resolves.toBeDefined();
    await expect(s.np.refreshToken(last.token)).rejects.toMatchObject({ code: 'ERR_NPUSER_TOKEN_EXPIRED' });
  });

  it('refuses what validateToken refuses: a revoked, forged or foreign token', async () => {
    const s = setup();
    const token = await signIn(s);
    await s.np.revokeToken(token);
    await expect(s.np.refreshToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    const [h, p] = token.split('.') as [string, string, string];
    await expect(s.np.refreshToken(`${h}.${p}.AAAA`)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    const other = setup({ secret: 'another app secret, also 32 bytes long' });
    await expect(other.np.refreshToken(await signIn(setup()))).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    await expect(s.np.refreshToken(42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('revokeSubject: sign out everywhere', () => {
  it('refuses every earlier token of the subject, on every instance sharing the store; a new sign-in works', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const mailer = memoryMailer();
    const options = { secret: SECRET, store, mailer, now: clock.now, resendCooldownSeconds: 0 };
    const laptop = new NpUser(options);
    const phone = new NpUser(options);
    const tokens: string[] = [];
    for (const device of [laptop, phone]) {
      await device.requestCode(EMAIL);
      tokens.push((await device.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!)).token);
    }
    const other = setup({ store, mailer }, clock);
    const bystander = await other.np.verifyCode(
      'grace@example.com',
      await other.np.requestCode('grace@example.com').then(() => mailer.lastCodeFor('grace@example.com')!),
    );
    clock.advance(1500);
    const { subject } = await laptop.validateToken(tokens[0]!);
    await phone.revokeSubject(subject);
    for (const device of [laptop, phone]) for (const token of tokens) await expectRefused(device, token);
    await expect(laptop.refreshToken(tokens[1]!)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    // Someone else is not signed out.
    await expect(laptop.validateToken(bystander.token)).resolves.toBeDefined();
    // A sign-in after the revocation's second stands.
    clock.advance(1000);
    await laptop.requestCode(EMAIL);
    const fresh = await laptop.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    await expect(phone.validateToken(fresh.token)).resolves.toMatchObject({ subject });
  });

  it('keeps one keyed hash until the last token it refuses has expired, then the store forgets it', async () => {
    const s = setup({ tokenTtlSeconds: 600 });
    const token = await signIn(s);
    const { subject } = await s.np.validateToken(token);
    await s.np.revokeSubject(subject);
    const marks = s.store.entries().filter((e) => e.key.endsWith(':revoked-before'));
    expect(marks).toHaveLength(1);
    const mark = marks[0]!;
    expect(mark.key).not.toContain(subject);
    expect(mark.value).toBe(String(Math.floor(s.clock.now() / 1000) + 1));
    // A token issued at the mark's second lives 600 s, and validates for 30 s more (tolerance).
    expect(mark.ttlMs).toBe((Math.floor(s.clock.now() / 1000) + 1 + 600 + 30) * 1000 - s.clock.now());
    s.clock.advance(mark.ttlMs);
    expect(s.store.entries().filter((e) => e.key.endsWith(':revoked-before'))).toHaveLength(0);
  });

  // Regression: at a whole-second `now`, rounding up left the mark equal to the `iat` of a token
  // issued in that same millisecond, and the token survived the sign-out.
  it('refuses a token issued in the very millisecond of the revocation, at a whole second', async () => {
    const s = setup();
    const token = await signIn(s);
    expect(s.clock.now() % 1000).toBe(0);
    const { subject } = await s.np.validateToken(token);
    await s.np.revokeSubject(subject);
    await expectRefused(s.np, token);
  });

  it('refuses what is not a subject, and needs checkRevocation', async () => {
    const s = setup();
    for (const bad of ['', 'ada@example.com', 'x'.repeat(43) + '=', 42, undefined]) {
      await expect(s.np.revokeSubject(bad as string)).rejects.toBeInstanceOf(TypeError);
    }
    const stateless = setup({ checkRevocation: false });
    const { subject } = await stateless.np.validateToken(await signIn(stateless));
    await expect(stateless.np.revokeSubject(subject)).rejects.toThrow(/checkRevocation/);
  });

  it('validateToken reads both revocations in one store transaction', async () => {
    const s = setup();
    const token = await signIn(s);
    const seen: unknown[] = [];
    const np = new NpUser({
      secret: SECRET,
      mailer: s.mailer,
      now: s.clock.now,
      store: {
        ...s.store,
        get: () => Promise.reject(new Error('single reads are not expected')),
        transact: (steps) => (seen.push(steps.map((step) => step.op)), Promise.resolve(steps.map(() => undefined))),
      },
    });
    await np.validateToken(token);
    expect(seen).toEqual([['get', 'get']]);
  });
});

describe('session length options', () => {
  it('maxSessionSeconds defaults to 30 days: a user who keeps coming back within the hour stays signed in that long', async () => {
    const s = setup();
    let current = await signIn(s);
    let refreshes = 0;
    for (;;) {
      s.clock.advance(30 * 60_000);
      const renewed = await s.np.refreshToken(current).catch(() => undefined);
      if (renewed === undefined) break;
      current = renewed.token;
      refreshes += 1;
    }
    const claims = decodeJwt(current);
    expect(claims.exp! - (claims.auth_time as number)).toBe(30 * 24 * 3600);
    // Every half hour for 30 days; the refresh at the very end is refused, the session is over.
    expect(refreshes).toBe(30 * 48 - 1);
  });
});
