import { SignJWT, decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { deriveKeys } from '../../src/lib/keys.js';
import { EMAIL, SECRET, setup, signIn, testClock } from '../support/helpers.js';

async function invalid(promise: Promise<unknown>): Promise<boolean> {
  return promise.then(
    () => false,
    (err: unknown) => isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN'),
  );
}

describe('revokeToken', () => {
  it('logs a token out: it validates before, and is refused after', async () => {
    const s = setup();
    const token = await signIn(s);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    await s.np.revokeToken(token);
    expect(await invalid(s.np.validateToken(token))).toBe(true);
  });

  it('revokes only that token: another sign-in of the same person still validates', async () => {
    const s = setup({ resendCooldownSeconds: 0 });
    const first = await signIn(s);
    const second = await signIn(s);
    await s.np.revokeToken(first);
    await expect(s.np.validateToken(second)).resolves.toBeDefined();
  });

  it('holds across instances sharing a store', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const mailer = memoryMailer();
    const a = new NpUser({ secret: SECRET, store, mailer, now: clock.now });
    const b = new NpUser({ secret: SECRET, store, mailer, now: clock.now });
    await a.requestCode(EMAIL);
    const { token } = await a.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    await b.revokeToken(token);
    expect(await invalid(a.validateToken(token))).toBe(true);
  });

  it('is keyed by jti: the same claims re-encoded into another string stay revoked', async () => {
    const s = setup();
    const token = await signIn(s);
    await s.np.revokeToken(token);
    const payload = decodeJwt(token);
    const key = deriveKeys(new TextEncoder().encode(SECRET), undefined).signing;
    // Same claims, header members in another order: a different string, equally genuine.
    const reencoded = await new SignJWT(payload).setProtectedHeader({ typ: 'npuser+jwt', alg: 'HS256' }).sign(key);
    expect(reencoded).not.toBe(token);
    expect(await invalid(s.np.validateToken(reencoded))).toBe(true);
  });

  it('keeps the entry exactly as long as validation could accept the token, then the store is clean', async () => {
    const s = setup();
    const token = await signIn(s);
    await s.np.revokeToken(token);
    const revoked = s.store.entries().filter((e) => e.key.includes(':revoked:'));
    expect(revoked).toHaveLength(1);
    const { exp } = decodeJwt(token);
    expect(revoked[0]!.ttlMs).toBe(exp! * 1000 + 30_000 - s.clock.now());
    s.clock.advance(revoked[0]!.ttlMs - 1);
    expect(await invalid(s.np.validateToken(token))).toBe(true);
    s.clock.advance(1);
    expect(s.store.entries().filter((e) => e.key.includes(':revoked:'))).toHaveLength(0);
  });

  it('refuses to revoke a forged token (no attacker-chosen entries), and resolves for an expired one', async () => {
    const s = setup();
    const token = await signIn(s);
    const [h, p] = token.split('.') as [string, string, string];
    await expect(s.np.revokeToken(`${h}.${p}.AAAA`)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    s.clock.advance(2 * 3600_000);
    await expect(s.np.revokeToken(token)).resolves.toBeUndefined();
    expect(s.store.entries().filter((e) => e.key.includes(':revoked:'))).toHaveLength(0);
  });

  it('stores neither the token nor anything readable', async () => {
    const s = setup();
    const token = await signIn(s);
    await s.np.revokeToken(token);
    const dump = JSON.stringify(s.store.entries());
    expect(dump).not.toContain(decodeJwt(token).jti!);
    expect(dump).not.toContain(token.split('.')[2]!);
  });

  it('with checkRevocation off, validation never reads the store and revokeToken is refused', async () => {
    const s = setup({ checkRevocation: false });
    const token = await signIn(s);
    await expect(s.np.revokeToken(token)).rejects.toBeInstanceOf(TypeError);
    let reads = 0;
    const counting = new NpUser({
      secret: SECRET,
      mailer: memoryMailer(),
      now: s.clock.now,
      checkRevocation: false,
      store: { ...s.store, get: (key) => ((reads += 1), s.store.get(key)) },
    });
    await counting.validateToken(token);
    expect(reads).toBe(0);
  });

  it('fails closed when the revocation list cannot be read', async () => {
    const s = setup();
    const token = await signIn(s);
    const broken = new NpUser({
      secret: SECRET,
      mailer: memoryMailer(),
      now: s.clock.now,
      store: { ...s.store, get: () => Promise.reject(new Error('down')), transact: () => Promise.reject(new Error('down')) },
    });
    await expect(broken.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_STORE_FAILED' });
  });
});

describe('validateToken maxTokenAgeSeconds', () => {
  it('refuses, as expired, a genuine token issued longer ago than asked', async () => {
    const s = setup();
    const token = await signIn(s);
    s.clock.advance(300_000);
    await expect(s.np.validateToken(token, { maxTokenAgeSeconds: 330 })).resolves.toBeDefined();
    await expect(s.np.validateToken(token, { maxTokenAgeSeconds: 200 })).rejects.toMatchObject({ code: 'ERR_NPUSER_TOKEN_EXPIRED' });
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
  });

  it('refuses malformed options with a TypeError', async () => {
    const s = setup();
    const token = await signIn(s);
    for (const bad of [null, 'x', { maxTokenAgeSeconds: -1 }, { maxTokenAgeSeconds: 1.5 }, { maxTokenAgeSeconds: '60' }]) {
      await expect(s.np.validateToken(token, bad as never)).rejects.toBeInstanceOf(TypeError);
    }
  });
});
