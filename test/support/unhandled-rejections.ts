// Records every unhandled rejection while the enclosing file or describe block runs, for a test to assert there were none.
import { afterAll, beforeAll } from 'vitest';

/** Listens from beforeAll to afterAll of the current scope; returns the live list of reasons. */
export function collectUnhandledRejections(): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  return unhandled;
}
