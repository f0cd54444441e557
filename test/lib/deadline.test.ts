// Deadlines.run: the mailer's deadline on one shared timer, with a signal made
// only when the mailer reads it. On fake timers (performance.now included), so
// no test waits for real time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../../src/lib/deadline.js';
import { caught } from '../support/errors.js';
import { collectUnhandledRejections } from '../support/unhandled-rejections.js';

const TIMEOUT_MS = 1000;
const timedOut = () => Object.assign(new Error('mailer did not answer'), { name: 'TimeoutError' });
const never = () => new Promise<never>(() => undefined);

const unhandled = collectUnhandledRejections();

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Deadlines.run', () => {
  it('settles as the call settles: its value, its rejection, a synchronous throw as a rejection', async () => {
    const deadlines = new Deadlines(TIMEOUT_MS);
    expect(await deadlines.run(() => Promise.resolve('sent'), timedOut)).toBe('sent');
    expect(await deadlines.run(() => 'at once', timedOut)).toBe('at once');
    const failure = new Error('ECONNRESET');
    expect(await caught(deadlines.run(() => Promise.reject(failure), timedOut))).toBe(failure);
    expect(
      await caught(
        deadlines.run(() => {
          throw failure;
        }, timedOut),
      ),
    ).toBe(failure);
  });

  it('a hostile answer is a rejection too: a thenable whose then throws, a promise whose constructor getter throws', async () => {
    const deadlines = new Deadlines(TIMEOUT_MS);
    const failure = new Error('hostile');
    const thenable = {
      get then(): never {
        throw failure;
      },
    };
    expect(await caught(deadlines.run(() => thenable, timedOut))).toBe(failure);
    const promise = Promise.resolve('sent');
    void Object.defineProperty(promise, 'constructor', {
      get(): never {
        throw failure;
      },
    });
    expect(await caught(deadlines.run(() => promise, timedOut))).toBe(failure);
  });

  it('a call that hangs rejects with onTimeout() once the timeout has passed, and its signal fires with a TimeoutError', async () => {
    const deadlines = new Deadlines(TIMEOUT_MS);
    let signal: AbortSignal | undefined;
    const result = caught(
      deadlines.run((options) => {
        signal = options.signal;
        return never();
      }, timedOut),
    );
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 100);
    expect(signal?.aborted).toBe(false);
    // At most a tenth of the timeout late: one sweep of the shared timer.
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS / 10 + 100);
    expect(((await result) as Error).message).toBe('mailer did not answer');
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as DOMException).name).toBe('TimeoutError');
  });

  it('makes the signal only when it is read: read after the timeout, it has already fired; read twice, it is the same', async () => {
    const deadlines = new Deadlines(TIMEOUT_MS);
    let options: { readonly signal: AbortSignal } | undefined;
    const result = caught(
      deadlines.run((given) => {
        options = given;
        return never();
      }, timedOut),
    );
    await vi.advanceTimersByTimeAsync(2 * TIMEOUT_MS);
    await result;
    expect(options?.signal.aborted).toBe(true);
    expect(options?.signal).toBe(options?.signal);
  });

  it('a call that answers after its deadline changes nothing and leaves no unhandled rejection', async () => {
    const deadlines = new Deadlines(TIMEOUT_MS);
    let fail: (err: Error) => void = () => undefined;
    const result = caught(deadlines.run(() => new Promise<never>((_, reject) => (fail = reject)), timedOut));
    await vi.advanceTimersByTimeAsync(2 * TIMEOUT_MS);
    expect(((await result) as Error).name).toBe('TimeoutError');
    fail(new Error('late'));
    await vi.advanceTimersByTimeAsync(10);
    expect(unhandled).toEqual([]);
  });

  it('one timer for many calls, none once they are all done', async () => {
    const deadlines = new Deadlines(TIMEOUT_MS);
    await Promise.all(Array.from({ length: 100 }, (_, i) => deadlines.run(() => Promise.resolve(i), timedOut)));
    expect(vi.getTimerCount()).toBeLessThanOrEqual(1);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(vi.getTimerCount()).toBe(0);
  });
});
