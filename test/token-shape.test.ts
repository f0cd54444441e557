import { describe, expect, it, vi } from 'vitest';
import { isNpUserError } from 'npuser';
import { setup } from './helpers.js';

// Count jose's verifications: malformed and oversized tokens must be refused before jose parses them.
const jwtVerify = vi.hoisted(() => ({ calls: 0 }));
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return {
    ...jose,
    jwtVerify: (...args: Parameters<typeof jose.jwtVerify>) => {
      jwtVerify.calls += 1;
      return jose.jwtVerify(...args);
    },
  };
});

describe('token shape check', () => {
  it('refuses malformed and oversized tokens without calling jose', async () => {
    const { np } = setup();
    const malformed = ['', 'a.b', 'a.b.c.d', 'a.b.c=', ' a.b.c', 'a.b.', `${'a'.repeat(5000)}.b.c`, 'ä.b.c'];
    for (const token of malformed) {
      const err = await np.validateToken(token).catch((e: unknown) => e);
      expect(isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
    }
    expect(jwtVerify.calls).toBe(0);
    // A well-shaped token does reach jose (so the counter works).
    await np.validateToken('aaaa.bbbb.cccc').catch(() => undefined);
    expect(jwtVerify.calls).toBe(1);
  });
});
