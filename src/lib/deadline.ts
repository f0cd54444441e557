/**
 * Deadlines for calls into code npuser does not control (stores, mailers):
 * one way to bound them, built on `AbortSignal.timeout` and `AbortSignal.any`.
 * @internal
 */

/**
 * Whether `signal` has fired. A function rather than `signal?.aborted`
 * inline: TypeScript narrows `signal.aborted` to `false` after a first check,
 * and would then call a second check after an `await` always false.
 * @internal
 */
export function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/**
 * Settle as `work` settles, or reject with the signal's reason as soon as
 * `signal` fires, whichever comes first. A late rejection of abandoned work
 * is handled, so it never becomes an unhandled rejection.
 * @internal
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(ignore);
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // Whatever `work` rejected with is passed on as it is: wrapping it would change the caller's error.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(err);
      },
    );
  });
}

/** How {@link withDeadline} bounds a call. @internal */
export interface DeadlineOptions {
  /** Milliseconds before the call is abandoned. */
  readonly timeoutMs: number;
  /** The error the call rejects with once `timeoutMs` has passed. */
  readonly onTimeout: () => Error;
  /** A caller's own signal: when it fires first, the call rejects with its reason. */
  readonly parent?: AbortSignal | undefined;
}

/**
 * Run `call` with a signal that fires after `timeoutMs` (or when `parent`
 * does), and settle no later than that signal. A synchronous throw of `call`
 * becomes a rejection. The timer is Node's own for `AbortSignal.timeout`,
 * which never keeps the process alive.
 * @internal
 */
export function withDeadline<T>(call: (signal: AbortSignal) => T | PromiseLike<T>, options: DeadlineOptions): Promise<T> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.parent === undefined ? timeout : AbortSignal.any([options.parent, timeout]);
  const work = Promise.resolve().then(() => call(signal));
  return untilAborted(work, signal).catch((err: unknown) => {
    // AbortSignal.timeout's own reason is a bare DOMException: say which call timed out instead.
    if (timeout.aborted && err === timeout.reason) throw options.onTimeout();
    throw err;
  });
}

function ignore(): undefined {
  return undefined;
}
