// What only npuser's own verifier has: the cache of verified tokens, and
// asymmetric signatures checked on the thread pool when calls are waiting.
// (The verdicts themselves are the jose reference's: verifier-equivalence.test.ts.)
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { deriveKeys } from '../../src/lib/keys.js';
import { tokenSettings, verifyToken } from '../../src/token.js';
import { EMAIL, SECRET, expectRefused, setup, signIn, testClock } from '../support/helpers.js';
import { spyStore } from '../support/spy-store.js';

const checked = vi.hoisted(() => ({ signatures: 0, inPool: 0 }));
vi.mock('../../src/lib/jws.js', async (importOriginal) => {
  const jws = await importOriginal<typeof import('../../src/lib/jws.js')>();
  return {
    ...jws,
    verifyInput: (...args: Parameters<typeof jws.verifyInput>) => {
      checked.signatures += 1;
      return jws.verifyInput(...args);
    },
    verifyInPool: (...args: Parameters<typeof jws.verifyInPool>) => {
      checked.inPool += 1;
      return jws.verifyInPool(...args);
    },
  };
});

beforeEach(() => {
  checked.signatures = 0;
  checked.inPool = 0;
});

/** Validate `token` `times` times; how many of those checked its signature. */
async function signatureChecks(np: NpUser, token: string, times: number): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < times; i += 1) {
    const before = checked.signatures;
    await np.validateToken(token);
    counts.push(checked.signatures - before);
  }
  return counts;
}

describe('the cache of verified tokens', () => {
  it('takes a token in the second time it is verified; from then on its signature is not checked again', async () => {
    const s = setup();
    const token = await signIn(s);
    expect(await signatureChecks(s.np, token, 4)).toEqual([1, 1, 0, 0]);
  });

  it('checks expiry on every use, on the now clock', async () => {
    const s = setup();
    const token = await signIn(s);
    await signatureChecks(s.np, token, 2);
    s.clock.advance(3600_000 + 30_000 - 1000);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    s.clock.advance(1000);
    await expectRefused(s.np, token, 'ERR_NPUSER_TOKEN_EXPIRED');
    // Refused from the cache: the signature was not checked again.
    expect(checked.signatures).toBe(2);
  });

  it('checks maxTokenAgeSeconds and a clock that went back on every use', async () => {
    const s = setup();
    const token = await signIn(s);
    await signatureChecks(s.np, token, 2);
    s.clock.advance(600_000);
    const err = await s.np.validateToken(token, { maxTokenAgeSeconds: 60 }).catch((e: unknown) => e);
    expect(isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')).toBe(true);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    // Back before the token was issued, beyond the tolerance: not yet valid.
    s.clock.advance(-600_000 - 31_000);
    await expectRefused(s.np, token, 'ERR_NPUSER_INVALID_TOKEN');
    expect(checked.signatures).toBe(2);
  });

  it('refuses a cached token once it is revoked, here or by another instance sharing the store', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const mailer = memoryMailer();
    const a = new NpUser({ secret: SECRET, store, mailer, now: clock.now });
    const b = new NpUser({ secret: SECRET, store, mailer, now: clock.now });
    await a.requestCode(EMAIL);
    const { token } = await a.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    await signatureChecks(a, token, 3);
    await b.revokeToken(token);
    await expectRefused(a, token);
    const other = setup();
    const second = await signIn(other);
    await signatureChecks(other.np, second, 3);
    await other.np.revokeToken(second);
    await expectRefused(other.np, second);
  });

  it('refuses a cached token once its subject is signed out everywhere', async () => {
    const s = setup();
    const token = await signIn(s);
    const [{ subject }] = [await s.np.validateToken(token), await s.np.validateToken(token)];
    s.clock.advance(500);
    await s.np.revokeSubject(subject);
    await expectRefused(s.np, token);
  });

  it('still reads the store on every call, cached or not (the revocation marks live there, not in the cache)', async () => {
    const clock = testClock();
    const store = spyStore(memoryCodeStore({ now: clock.now }));
    const mailer = memoryMailer();
    const np = new NpUser({ secret: SECRET, store, mailer, now: clock.now });
    await np.requestCode(EMAIL);
    const { token } = await np.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    const reads: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const before = store.calls.get;
      await np.validateToken(token);
      reads.push(store.calls.get - before);
    }
    expect(reads).toEqual([2, 2, 2, 2]);
    expect(checked.signatures).toBe(2);
  });

  it('belongs to one NpUser: a rotated secret refuses the token, and a new instance verifies it afresh', async () => {
    const clock = testClock();
    const mailer = memoryMailer();
    const before = new NpUser({ secret: SECRET, mailer, now: clock.now });
    await before.requestCode(EMAIL);
    const { token } = await before.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    await signatureChecks(before, token, 3);
    const rotated = new NpUser({ secret: 'a brand new signing secret, 32+ bytes', subjectSecret: SECRET, mailer, now: clock.now });
    await expectRefused(rotated, token);
    const again = new NpUser({ secret: SECRET, mailer, now: clock.now });
    expect(await signatureChecks(again, token, 1)).toEqual([1]);
  });

  it('gives every call its own result: changing one changes no other', async () => {
    const s = setup({ tokenClaims: () => ({ org: { id: 7 } }) });
    const token = await signIn(s);
    const first = await s.np.validateToken(token);
    const second = await s.np.validateToken(token);
    (first.claims.org as { id: number }).id = 666;
    first.issuedAt.setTime(0);
    const third = await s.np.validateToken(token);
    expect(third).toEqual(second);
    expect(third.claims).toMatchObject({ org: { id: 7 } });
    expect(third.issuedAt.getTime()).not.toBe(0);
    expect(third.claims).not.toBe(second.claims);
  });

  it('never holds a token that failed: a forgery is checked, and refused, every time', async () => {
    const s = setup();
    const token = await signIn(s);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    for (let i = 0; i < 3; i += 1) await expectRefused(s.np, forged);
    expect(checked.signatures).toBe(3);
  });

  it('is bounded: the least recently used tokens leave it first', async () => {
    const hmacKey = deriveKeys(new TextEncoder().encode(SECRET), undefined).signing;
    const settings = tokenSettings({
      hmacKey,
      signingKeys: undefined,
      issuer: 'npuser',
      audience: 'npuser',
      ttlSeconds: 3600,
      maxSessionSeconds: 86_400,
      clockToleranceSeconds: 30,
      cacheSize: 2,
    });
    const tokens = [await signIn(setup()), await signIn(setup()), await signIn(setup())];
    const now = testClock().now();
    for (const token of tokens) {
      await verifyToken(settings, token, now);
      await verifyToken(settings, token, now);
    }
    expect(tokens.map((t) => settings.verified?.has(t))).toEqual([false, true, true]);
  });
});

describe('asymmetric signatures while other calls wait', () => {
  it.each([
    ['EdDSA', generateKeyPairSync('ed25519')],
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ] as const)('%s: checked on the thread pool, with the same verdicts', async (alg, pair) => {
    const s = setup({ signingKeys: [{ kid: 'k1', key: pair.privateKey }] });
    const iat = Math.floor(s.clock.now() / 1000);
    const sign = (sub: string) =>
      new SignJWT({ iss: 'npuser', aud: 'npuser', sub, iat, exp: iat + 600, jti: `jti-${sub}`, auth_time: iat })
        .setProtectedHeader({ alg, typ: 'npuser+jwt', kid: 'k1' })
        .sign(pair.privateKey);
    const good = await Promise.all(Array.from({ length: 6 }, (_, i) => sign(`subject-${i}`)));
    const bad = good.map((t) => `${t.slice(0, -2)}${t.endsWith('AA') ? 'BA' : 'AA'}`);
    const results = await Promise.all(
      [...good, ...bad].map((t) =>
        s.np.validateToken(t).then(
          (r) => r.subject,
          (e: unknown) => (isNpUserError(e) ? e.code : 'other'),
        ),
      ),
    );
    expect(results).toEqual([...good.map((_, i) => `subject-${i}`), ...bad.map(() => 'ERR_NPUSER_INVALID_TOKEN')]);
    expect(checked.inPool).toBeGreaterThan(0);
    // One at a time, the signature is checked inline: the hop to the pool costs more than it saves.
    checked.inPool = 0;
    await s.np.validateToken(await sign('alone'));
    expect(checked.inPool).toBe(0);
  });
});
