import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { NpUser } from 'npuser';
import { EMAIL, SECRET, requestAndRead, setup } from '../support/helpers.js';

describe('opt-in claims', () => {
  it('includeEmail adds the canonical address as email, with email_verified', async () => {
    const s = setup({ includeEmail: true });
    await s.np.requestCode('  ADA@Example.com');
    const { token } = await s.np.verifyCode(EMAIL, s.mailer.lastCodeFor(EMAIL)!);
    expect(decodeJwt(token)).toMatchObject({ email: EMAIL, email_verified: true });
    expect((await s.np.validateToken(token)).claims.email).toBe(EMAIL);
  });

  it('tokenClaims adds app claims, given the subject and the address', async () => {
    const seen: unknown[] = [];
    const s = setup({
      tokenClaims: (context) => {
        seen.push(context);
        return { role: 'editor', org: { id: 7 } };
      },
    });
    const result = await s.np.verifyCode(EMAIL, await requestAndRead(s));
    expect(seen).toEqual([{ subject: result.subject, email: EMAIL }]);
    expect(decodeJwt(result.token)).toMatchObject({ role: 'editor', org: { id: 7 } });
    expect(Object.keys(decodeJwt(result.token)).sort()).toEqual(['aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'org', 'role', 'sub']);
  });

  it.each(['sub', 'iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'auth_time', 'email', 'email_verified'])(
    'tokenClaims can never set %s; the code survives the refusal',
    async (claim) => {
      const s = setup({ tokenClaims: () => ({ [claim]: 'forged' }) });
      const code = await requestAndRead(s);
      await expect(s.np.verifyCode(EMAIL, code)).rejects.toThrow(TypeError);
      // The refusal came before the code was consumed: with the configuration fixed, the same code signs in.
      const fixed = new NpUser({ secret: SECRET, mailer: s.mailer, store: s.store, now: s.clock.now });
      await expect(fixed.verifyCode(EMAIL, code)).resolves.toBeDefined();
    },
  );

  it('tokenClaims returning a non-object is a TypeError', async () => {
    for (const bad of [null, 'x', [1], 42]) {
      const s = setup({ tokenClaims: () => bad as never });
      await expect(s.np.verifyCode(EMAIL, await requestAndRead(s))).rejects.toThrow(TypeError);
    }
  });

  it('claims that would make the token longer than validation accepts are a TypeError', async () => {
    const s = setup({ tokenClaims: () => ({ blob: 'x'.repeat(5000) }) });
    await expect(s.np.verifyCode(EMAIL, await requestAndRead(s))).rejects.toThrow(/4096/);
  });

  it('includeEmail and checkRevocation must be booleans', () => {
    expect(() => setup({ includeEmail: 'yes' as never })).toThrow(/options\.includeEmail/);
    expect(() => setup({ checkRevocation: 0 as never })).toThrow(/options\.checkRevocation/);
  });
});
