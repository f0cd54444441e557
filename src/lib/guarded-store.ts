import { NpUserError } from '../errors.js';
import type { CodeStore, StoreCounter, StoreEntry, StoreStep, StoreStepResult } from '../types.js';
import { parseCounter } from './code-record.js';
import { Deadlines } from './deadline.js';
import { safeErrorCopy } from './redact.js';

function storeFailed(cause: unknown): NpUserError {
  return new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: safeErrorCopy(cause) });
}

function garbage(operation: string): NpUserError {
  return storeFailed(new Error(`store.${operation}() returned a value outside the CodeStore contract`));
}

/**
 * Where an in-process store of npuser's own (the memory store) offers its
 * transaction as a synchronous call: it cannot hang, so it needs no
 * deadline, and the steps are npuser's own, so they need no defensive copy.
 * A module's own symbol, never `Symbol.for`: no other store can claim it and
 * so escape the deadline or the reply checks.
 * @internal
 */
export const INLINE_TRANSACT: unique symbol = Symbol('npuser inline transact');

/** What a store offers under {@link INLINE_TRANSACT}. @internal */
export interface InlineTransact {
  /** The store's own `transact` (compared, never called): the inline path is taken only while the store still has it. */
  readonly transact: unknown;
  /** The same transaction, run synchronously; throws what `transact` would reject with. */
  readonly run: (steps: readonly StoreStep[]) => StoreStepResult[];
  /**
   * Whether the store holds any entry, live or expired, under the hash tag
   * of `key` (the `{…}` npuser's keys start with); true for a key without one.
   */
  readonly holdsTag: (key: string) => boolean;
}

function inlineOf(store: CodeStore): InlineTransact | undefined {
  const offered = (store as { [INLINE_TRANSACT]?: unknown })[INLINE_TRANSACT];
  return typeof offered === 'object' && offered !== null ? (offered as InlineTransact) : undefined;
}

const isPositive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
const isPositiveInteger = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * Whether `step`'s stop condition holds for `result`. npuser decides this
 * itself, on replies it has already checked, rather than trusting where a
 * store says it stopped: a transaction that stops at its last step has as
 * many results as one that ran through.
 * @internal
 */
export function stepStopped(step: StoreStep, result: StoreStepResult): boolean {
  if (step.op === 'get') {
    const entry = result as StoreEntry | undefined;
    if (entry === undefined) return false;
    if (step.stopIfPresent === true) return true;
    return step.stopIfCountAtLeast !== undefined && parseCounter(entry.value) >= step.stopIfCountAtLeast;
  }
  if (step.op === 'increment') {
    return step.stopIfCountAbove !== undefined && (result as StoreCounter).count > step.stopIfCountAbove;
  }
  return false;
}

/**
 * A CodeStore seen through npuser's fail-closed rules: every call is bounded
 * by a deadline, every error becomes `ERR_NPUSER_STORE_FAILED`, and every reply
 * is checked against the contract, so a broken store can refuse a sign-in
 * but never grant one. Keys reaching the store are already hashes.
 *
 * `transact` uses the store's own `transact` when it has one (one round
 * trip, atomic as a whole), and otherwise runs the steps one by one with the
 * single methods, each atomic on its own, stopping where the store would.
 * @internal
 */
export class GuardedStore {
  readonly #store: CodeStore;
  readonly #timeoutMs: number;
  readonly #deadlines: Deadlines;
  readonly #inline: InlineTransact | undefined;

  constructor(store: CodeStore, timeoutMs: number) {
    this.#store = store;
    this.#timeoutMs = timeoutMs;
    this.#deadlines = new Deadlines(timeoutMs);
    this.#inline = inlineOf(store);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#call('set', () => this.#store.set(key, value, ttlMs), ignore);
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    return this.#call('get', () => this.#store.get(key), checkEntry);
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
      (value) => checkConsumed(value, expected),
    );
  }

  async delete(key: string): Promise<void> {
    await this.#call('delete', () => this.#store.delete(key), ignore);
  }

  async increment(key: string, ttlMs: number): Promise<StoreCounter> {
    return this.#call('increment', () => this.#store.increment(key, ttlMs), checkCounter);
  }

  /**
   * False only when the store can tell at once, without a call, that it holds
   * nothing at all under the hash tag of `key` (the in-process store can): then
   * every key of that tag reads as missing, and the caller may skip the work
   * of naming the others. True otherwise, and always for any other store.
   */
  mayHoldTag(key: string): boolean {
    const inline = this.#inline;
    if (inline === undefined || this.#store.transact !== inline.transact) return true;
    try {
      return inline.holdsTag(key);
    } catch {
      return true;
    }
  }

  /**
   * {@link transact} at once, without a promise, when the store runs its
   * transactions inline (the in-process store): its results, or a thrown
   * `ERR_NPUSER_STORE_FAILED`. Undefined when the store has to be called:
   * then `transact` does it. The flows take this path first, since waiting
   * for a promise costs more than the transaction itself.
   */
  runInline(steps: readonly StoreStep[]): StoreStepResult[] | undefined {
    const inline = this.#inline;
    // Not once the app has replaced the store's transact (a test's spy, a wrapper): then the store is called.
    // The reply is npuser's own store's, made by this package's code: it is not checked again.
    if (inline === undefined || this.#store.transact !== inline.transact) return undefined;
    try {
      return inline.run(steps);
    } catch (err) {
      throw storeFailed(err);
    }
  }

  /**
   * Run `steps` as one transaction; resolves with the checked result of every
   * step that ran. Use {@link stepStopped} on the last one to learn whether
   * the transaction was cut short.
   */
  async transact(steps: readonly StoreStep[]): Promise<StoreStepResult[]> {
    const done = this.runInline(steps);
    if (done !== undefined) return done;
    const store = this.#store;
    if (typeof store.transact !== 'function') return this.#transactOneByOne(steps);
    return this.#call(
      'transact',
      () => (store.transact as NonNullable<CodeStore['transact']>).call(store, steps),
      (reply) => checkTransaction(steps, reply),
    );
  }

  async #transactOneByOne(steps: readonly StoreStep[]): Promise<StoreStepResult[]> {
    const results: StoreStepResult[] = [];
    for (const step of steps) {
      const result = await this.#step(step);
      results.push(result);
      if (stepStopped(step, result)) break;
    }
    return results;
  }

  #step(step: StoreStep): Promise<StoreStepResult> {
    switch (step.op) {
      case 'get':
        return this.get(step.key);
      case 'increment':
        return this.increment(step.key, step.ttlMs);
      case 'set':
        return this.set(step.key, step.value, step.ttlMs).then(ignore);
      case 'delete':
        return this.delete(step.key).then(ignore);
      case 'consume':
        return this.consume(step.key, step.expected);
    }
  }

  /**
   * Run one store operation under the deadline and read its reply with
   * `check`, inside the same guard: even a reply whose getters throw fails closed.
   */
  async #call<R>(operation: string, run: () => Promise<unknown>, check: (reply: unknown) => R): Promise<R> {
    try {
      // `then` turns a synchronous throw of the store into a rejection.
      const reply = await this.#deadlines.bound(
        Promise.resolve().then(run),
        () => new Error(`store.${operation}() did not answer within ${this.#timeoutMs} ms`),
      );
      return check(reply);
    } catch (err) {
      throw err instanceof NpUserError ? err : storeFailed(err);
    }
  }
}

// Typed as the contract promises, checked as what a broken store may really return.
function checkEntry(entry: unknown): StoreEntry | undefined {
  if (entry === undefined) return undefined;
  if (!isRecord(entry) || typeof entry.value !== 'string' || !isPositive(entry.ttlMs)) throw garbage('get');
  return { value: entry.value, ttlMs: entry.ttlMs };
}

function checkCounter(counter: unknown): StoreCounter {
  if (!isRecord(counter) || !isPositiveInteger(counter.count) || !isPositive(counter.ttlMs)) throw garbage('increment');
  return { count: counter.count, ttlMs: counter.ttlMs };
}

function checkConsumed(value: unknown, expected: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || (expected !== undefined && value !== expected)) throw garbage('consume');
  return value;
}

/**
 * A transaction's reply: one checked result per step that ran, and exactly
 * as many as the stop conditions allow. A store that ran past a stop, or
 * stopped where no condition held, broke the contract: that fails closed.
 */
function checkTransaction(steps: readonly StoreStep[], reply: unknown): StoreStepResult[] {
  if (!Array.isArray(reply) || reply.length === 0 || reply.length > steps.length) throw garbage('transact');
  const results: StoreStepResult[] = [];
  for (const [index, step] of steps.entries()) {
    if (index >= reply.length) break;
    const raw: unknown = reply[index];
    const result = checkStepResult(step, raw);
    results.push(result);
    const stopped = stepStopped(step, result);
    const last = index === reply.length - 1;
    // Before the last result nothing may have stopped; a short reply must end on a stop.
    if ((stopped && !last) || (last && !stopped && reply.length < steps.length)) throw garbage('transact');
  }
  return results;
}

function checkStepResult(step: StoreStep, raw: unknown): StoreStepResult {
  switch (step.op) {
    case 'get':
      return checkEntry(raw);
    case 'increment':
      return checkCounter(raw);
    case 'consume':
      return checkConsumed(raw, step.expected);
    case 'set':
    case 'delete':
      // Nothing to read back; whatever a store says for them is not trusted for anything.
      return undefined;
  }
}

function ignore(): undefined {
  return undefined;
}
