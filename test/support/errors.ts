// Catching what a call threw or rejected with, so a test can assert on the error itself.
import { inspect } from 'node:util';
import { expect } from 'vitest';
import { isNpUserError, type NpUserError, type NpUserErrorCode } from 'npuser';

/** What `promise` rejected with; resolving fails the test. */
export async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value: unknown) => {
      throw new Error(`expected a rejection, but it resolved with ${inspect(value)}`);
    },
    (err: unknown) => err,
  );
}

/** What `run` threw; returning fails the test. */
export function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

/** The NpUserError `code` that `promise` rejected with; anything else fails the test. */
export async function rejectsWith(promise: Promise<unknown>, code: NpUserErrorCode): Promise<NpUserError> {
  const err = await caught(promise);
  expect(isNpUserError(err, code), `expected ${code}, got ${inspect(err)}`).toBe(true);
  return err as NpUserError;
}
