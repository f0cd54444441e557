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
  return new Promise<T>((resolve, rejectWith) => {
    // Whatever the signal or the work rejects with is passed on as it is.
    const reject: (reason: unknown) => void = rejectWith;
    const onAbort = (): void => {
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work
      .finally(() => {
        signal.removeEventListener('abort', onAbort);
      })
      .then(resolve, reject);
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

/**
 * Send options whose `signal` is made when first read: a class rather than
 * an object literal with a getter, which V8 builds far more slowly.
 */
class LazySignal {
  #controller: AbortController | undefined;

  get signal(): AbortSignal {
    return this.#made().signal;
  }

  abort(reason: unknown): void {
    this.#made().abort(reason);
  }

  #made(): AbortController {
    this.#controller ??= new AbortController();
    return this.#controller;
  }
}

interface Watched {
  readonly deadline: number;
  readonly expire: () => void;
}

/**
 * One deadline for many calls of the same kind: a timer per call (even
 * `AbortSignal.timeout`) costs more than a call to an in-memory store, so
 * calls in flight are kept in a set that one timer sweeps while the set is
 * not empty. A call is abandoned at most one sweep interval (a tenth of the
 * timeout) after its deadline. The timer never keeps the process alive.
 * @internal
 */
export class Deadlines {
  readonly #timeoutMs: number;
  readonly #intervalMs: number;
  readonly #inFlight = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#intervalMs = Math.max(1, Math.ceil(timeoutMs / 10));
  }

  /**
   * Settle as `work` settles, or reject with `onTimeout()` once the timeout
   * has passed. A late rejection of abandoned work is handled.
   */
  bound<T>(work: Promise<T>, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, rejectWith) => {
      const reject: (reason: unknown) => void = rejectWith;
      const watched: Watched = {
        deadline: performance.now() + this.#timeoutMs,
        expire: () => {
          reject(onTimeout());
        },
      };
      this.#inFlight.add(watched);
      if (this.#timer === undefined) this.#timer = this.#start();
      work.then(
        (value) => {
          this.#inFlight.delete(watched);
          resolve(value);
        },
        (err: unknown) => {
          this.#inFlight.delete(watched);
          reject(err);
        },
      );
    });
  }

  /**
   * {@link withDeadline} on this shared timer: `call` gets options whose
   * `signal` fires once the timeout has passed (with the reason
   * `AbortSignal.timeout` gives), and the returned promise then rejects with
   * `onTimeout()`. A synchronous throw of `call` becomes a rejection. The
   * signal is made when first read (a fast call that never reads it costs no
   * `AbortController`); read after the timeout, it has already fired.
   */
  run<T>(call: (options: { readonly signal: AbortSignal }) => T | PromiseLike<T>, onTimeout: () => Error): Promise<T> {
    const options = new LazySignal();
    let work: Promise<T>;
    try {
      // Promise.resolve hands back a native promise as it is: no job to adopt it, as `new Promise` would need.
      work = Promise.resolve(call(options));
    } catch (err: unknown) {
      // Whatever `call` threw is passed on as it is, as a rejection.
      work = new Promise<T>((_, rejectWith) => {
        const reject: (reason: unknown) => void = rejectWith;
        reject(err);
      });
    }
    return this.bound(work, () => {
      options.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      return onTimeout();
    });
  }

  #start(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => {
      const now = performance.now();
      for (const watched of this.#inFlight) {
        if (watched.deadline > now) continue;
        this.#inFlight.delete(watched);
        watched.expire();
      }
      if (this.#inFlight.size === 0) {
        clearInterval(timer);
        this.#timer = undefined;
      }
    }, this.#intervalMs);
    timer.unref();
    return timer;
  }
}
