import { NpUserError } from '../errors.js';
import type { NpUserEventReason, NpUserEventType, StoreEntry, StoreCounter, StoreStep, StoreStepResult } from '../types.js';
import { stepStopped } from './guarded-store.js';

/** @internal */
export const HOUR_MS = 3_600_000;
/** @internal */
export const DAY_MS = 24 * HOUR_MS;

/**
 * Whole seconds until a window that has `ttlMs` left is over: rounded up, so
 * a client that waits that long is never refused again by the same window.
 * @internal
 */
export function retryAfterSeconds(ttlMs: number): number {
  return Math.ceil(ttlMs / 1000);
}

/**
 * One limit as a store step with a stop condition, and what npuser answers
 * when the condition stops the transaction.
 * @internal
 */
export interface Limit {
  readonly step: StoreStep;
  readonly code: 'ERR_NPUSER_ADDRESS_LOCKED' | 'ERR_NPUSER_RATE_LIMITED' | 'ERR_NPUSER_TOO_MANY_ATTEMPTS';
  readonly reason: NpUserEventReason;
  /** The event reported when it refuses. */
  readonly type: NpUserEventType;
  /** Whether the answer says when to retry (the window's time left). */
  readonly retryAfter: boolean;
}

/**
 * The address is locked once its failures in the current window reach
 * `maxFailures`. Read, not counted: only a failure counts.
 * @internal
 */
export function addressLock(failuresKey: string, maxFailures: number, type: NpUserEventType): Limit {
  return {
    step: { op: 'get', key: failuresKey, stopIfCountAtLeast: maxFailures },
    code: 'ERR_NPUSER_ADDRESS_LOCKED',
    reason: 'address-locked',
    type,
    retryAfter: true,
  };
}

/**
 * A look at the resend cooldown before anything is spent: a user pressing
 * "resend" too early must not spend the budget of everyone behind the same
 * client key.
 * @internal
 */
export function cooldownPeek(cooldownKey: string): Limit {
  return {
    step: { op: 'get', key: cooldownKey, stopIfPresent: true },
    code: 'ERR_NPUSER_RATE_LIMITED',
    reason: 'cooldown',
    type: 'rate.limited',
    retryAfter: true,
  };
}

/**
 * One use of a fixed window that opens at its first use and allows `limit`
 * uses, counted atomically before the work it guards.
 * @internal
 */
export function windowSpend(key: string, windowMs: number, limit: number, reason: NpUserEventReason): Limit {
  return {
    step: { op: 'increment', key, ttlMs: windowMs, stopIfCountAbove: limit },
    code: 'ERR_NPUSER_RATE_LIMITED',
    reason,
    type: 'rate.limited',
    retryAfter: true,
  };
}

/**
 * One attempt at the address's pending code, counted before the comparison.
 * Past `maxAttempts` nothing is compared until a new code is sent. The answer
 * has no retry time: a new code can be requested at once.
 * @internal
 */
export function attemptSpend(attemptsKey: string, windowMs: number, maxAttempts: number): Limit {
  return {
    step: { op: 'increment', key: attemptsKey, ttlMs: windowMs, stopIfCountAbove: maxAttempts },
    code: 'ERR_NPUSER_TOO_MANY_ATTEMPTS',
    reason: 'attempts-exhausted',
    type: 'code.failed',
    retryAfter: false,
  };
}

/** A limit that stopped a transaction: the error to answer and the event to report. @internal */
export interface Refusal {
  readonly error: NpUserError;
  readonly type: NpUserEventType;
  readonly reason: NpUserEventReason;
}

/**
 * The refusal of the first limit whose step stopped the transaction, if any.
 * `steps` are the transaction's steps, in order; a limit is matched to its
 * step by identity.
 * @internal
 */
export function refusalOf(limits: readonly Limit[], steps: readonly StoreStep[], results: readonly StoreStepResult[]): Refusal | undefined {
  const index = results.length - 1;
  const step = steps[index];
  if (step === undefined || !stepStopped(step, results[index])) return undefined;
  const limit = limits.find((l) => l.step === step);
  if (limit === undefined) return undefined;
  const result = results[index] as StoreEntry | StoreCounter;
  return {
    error: new NpUserError(limit.code, limit.retryAfter ? { retryAfterSeconds: retryAfterSeconds(result.ttlMs) } : {}),
    type: limit.type,
    reason: limit.reason,
  };
}
