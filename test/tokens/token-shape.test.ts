import { describe, expect, it, vi } from 'vitest';
import { isNpUserError } from 'npuser';
import { setup } from '../support/helpers.js';

// Count what starts parsing a token: npuser's own decoder, and jose's jwtVerify
// (the reference verifier the token suite also runs against). Malformed and
// oversized tokens must be refused before either sees them.
const parsers = vi.hoisted(() => ({ calls: 0 }));
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return {
    ...jose,
    jwtVerify: (...args: Parameters<typeof jose.jwtVerify>) => {
      parsers.calls += 1;
      return jose.jwtVerify(...args);
    },
  };
});
vi.mock('../../src/lib/jws.js', async (importOriginal) => {
  const jws = await importOriginal<typeof import('../../src/lib/jws.js')>();
  return {
    ...jws,
    decodeSegment: (segment: string) => {
      parsers.calls += 1;
      return jws.decodeSegment(segment);
    },
  };
});

describe('token shape check', () => {
  it('refuses malformed and oversized tokens without parsing them', async () => {
    const { np } = setup();
    const malformed = ['', 'a.b', 'a.b.c.d', 'a.b.c=', ' a.b.c', 'a.b.', `${'a'.repeat(5000)}.b.c`, 'ä.b.c'];
    for (const token of malformed) {
      const err = await np.validateToken(token).catch((e: unknown) => e);
      expect(isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
    }
    expect(parsers.calls).toBe(0);
    // A well-shaped token does reach a parser (so the counter works).
    await np.validateToken('aaaa.bbbb.cccc').catch(() => undefined);
    expect(parsers.calls).toBeGreaterThan(0);
  });
});
