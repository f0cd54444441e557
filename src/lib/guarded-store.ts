import { NpUserError } from '../errors.js';
import type { CodeStore, StoreCounter, StoreEntry } from '../types.js';
import { safeErrorCopy } from './redact.js';

function storeFailed(cause: unknown): NpUserError {
  return new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: safeErrorCopy(cause) });
}

function garbage(operation: string): NpUserError {
  return storeFailed(new Error(`store.${operation}() returned a value outside the CodeStore contract`));
}

const isPositive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
const isPositiveInteger = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * A CodeStore seen through npuser's fail-closed rules: every call is bounded
 * by a timeout, every error becomes `ERR_NPUSER_STORE_FAILED`, and every reply
 * is checked against the contract, so a broken store can refuse a sign-in
 * but never grant one. Keys reaching the store are already hashes, so keeping
 * the store's error as the cause reveals no address.
 * @internal
 */
export class GuardedStore {
  readonly #store: CodeStore;
  readonly #timeoutMs: number;

  constructor(store: CodeStore, timeoutMs: number) {
    this.#store = store;
    this.#timeoutMs = timeoutMs;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#call('set', () => this.#store.set(key, value, ttlMs), ignore);
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    return this.#call(
      'get',
      () => this.#store.get(key),
      // Typed as the contract promises, checked as what a broken store may really return.
      (entry: unknown) => {
        if (entry === undefined) return undefined;
        if (!isRecord(entry) || typeof entry.value !== 'string' || !isPositive(entry.ttlMs)) throw garbage('get');
        return { value: entry.value, ttlMs: entry.ttlMs };
      },
    );
  }

  /**
   * With `expected`, only that value may come back: a store that returns
   * another one ignored `expected` (and may have deleted a newer code), which
   * is garbage like any other reply outside the contract.
   */
  async consume(key: string, expected?: string): Promise<string | undefined> {
    return this.#call(
      'consume',
      // `expected` is passed only when given: a store sees `consume(key)` exactly as before.
      () => (expected === undefined ? this.#store.consume(key) : this.#store.consume(key, expected)),
      (value: unknown) => {
        if (value === undefined) return undefined;
        if (typeof value !== 'string' || (expected !== undefined && value !== expected)) throw garbage('consume');
        return value;
      },
    );
  }

  async delete(key: string): Promise<void> {
    await this.#call('delete', () => this.#store.delete(key), ignore);
  }

  async increment(key: string, ttlMs: number): Promise<StoreCounter> {
    return this.#call(
      'increment',
      () => this.#store.increment(key, ttlMs),
      (counter: unknown) => {
        if (!isRecord(counter) || !isPositiveInteger(counter.count) || !isPositive(counter.ttlMs)) throw garbage('increment');
        return { count: counter.count, ttlMs: counter.ttlMs };
      },
    );
  }

  /**
   * Run one store operation under the timeout and read its reply with `check`,
   * inside the same guard: even a reply whose getters throw fails closed.
   */
  async #call<R>(operation: string, run: () => Promise<unknown>, check: (reply: unknown) => R): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(storeFailed(new Error(`store.${operation}() did not answer within ${this.#timeoutMs} ms`)));
      }, this.#timeoutMs);
    });
    try {
      // `then` turns a synchronous throw into a rejection; `race` keeps a late
      // rejection of a timed-out call handled, so it never goes unhandled.
      return check(await Promise.race([Promise.resolve().then(run), timeout]));
    } catch (err) {
      throw err instanceof NpUserError ? err : storeFailed(err);
    } finally {
      clearTimeout(timer);
    }
  }
}

function ignore(): undefined {
  return undefined;
}
