// The token suite runs twice (vitest.config.ts): with npuser's node:crypto
// verifier, and with the jose-based reference in its place. This proves each
// run verifies with the verifier it names, so passing both means something.
import { describe, expect, it, vi } from 'vitest';
import { setup, signIn } from '../support/helpers.js';

const calls = vi.hoisted(() => ({ jose: 0, native: 0 }));
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return {
    ...jose,
    jwtVerify: (...args: Parameters<typeof jose.jwtVerify>) => {
      calls.jose += 1;
      return jose.jwtVerify(...args);
    },
  };
});
vi.mock('../../src/lib/jws.js', async (importOriginal) => {
  const jws = await importOriginal<typeof import('../../src/lib/jws.js')>();
  return {
    ...jws,
    verifyInput: (...args: Parameters<typeof jws.verifyInput>) => {
      calls.native += 1;
      return jws.verifyInput(...args);
    },
  };
});

describe('the verifier in use', () => {
  it('is jose in the reference project and node:crypto in every other', async ({ task }) => {
    const s = setup();
    const token = await signIn(s);
    calls.jose = 0;
    calls.native = 0;
    await s.np.validateToken(token);
    const reference = task.file.projectName === 'tokens: jose reference';
    expect(calls).toEqual(reference ? { jose: 1, native: 0 } : { jose: 0, native: 1 });
  });
});
