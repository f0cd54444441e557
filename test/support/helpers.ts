import { expect } from 'vitest';
import {
  NpUser,
  isNpUserError,
  memoryCodeStore,
  type MemoryCodeStore,
  type NpUserErrorCode,
  type NpUserEvent,
  type NpUserOptions,
} from 'npuser';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';

export const SECRET = 'test secret: at least thirty-two bytes long!';
export const EMAIL = 'ada@example.com';

/** A clock tests move by hand. */
export interface TestClock {
  now: () => number;
  advance: (ms: number) => void;
}

export function testClock(start = Date.UTC(2026, 0, 1)): TestClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
  };
}

export interface Setup {
  np: NpUser;
  mailer: MemoryMailer;
  store: MemoryCodeStore;
  clock: TestClock;
  events: NpUserEvent[];
}

/** An NpUser on a hand-moved clock, a memory store on the same clock and a memory mailer. */
export function setup(options: Partial<NpUserOptions> = {}, clock = testClock()): Setup {
  const mailer = memoryMailer();
  const store = memoryCodeStore({ now: clock.now });
  const events: NpUserEvent[] = [];
  const np = new NpUser({
    secret: SECRET,
    mailer,
    store,
    now: clock.now,
    onEvent: (event) => void events.push(event),
    ...options,
  });
  return { np, mailer, store, clock, events };
}

/** Request a code and return it as mailed. */
export async function requestAndRead(s: Setup, email = EMAIL): Promise<string> {
  await s.np.requestCode(email);
  const code = s.mailer.lastCodeFor(email);
  if (code === undefined) throw new Error('no code was mailed');
  return code;
}

/** A code of the right shape that differs from `code`. */
export function wrongCode(code: string): string {
  return code.replace(/^./, (d) => String((Number(d) + 1) % 10));
}

/** Request a code, verify it, and return the token. */
export async function signIn(s: Setup): Promise<string> {
  return (await s.np.verifyCode(EMAIL, await requestAndRead(s))).token;
}

/** `np` refuses `token` with NpUserError `code`. */
export async function expectRefused(np: NpUser, token: string, code: NpUserErrorCode = 'ERR_NPUSER_INVALID_TOKEN'): Promise<void> {
  const err = await np.validateToken(token).then(
    () => new Error('token was accepted'),
    (e: unknown) => e,
  );
  expect(isNpUserError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
}
