/**
 * What the built-in stores share about store operations: argument checks,
 * the steps of `transact` as checked copies, their stop conditions, and what
 * a counter looks like. One place, so the memory and Redis stores refuse the
 * same steps and stop on the same results.
 * @internal
 */
import { argumentError } from '../lib/checks.js';
import type { StoreCounter, StoreEntry, StoreStep, StoreStepResult } from '../types.js';

/**
 * A step as the stores run it: read once from the caller's object and
 * checked, so nothing the caller does afterwards (a getter, a mutation)
 * changes what runs.
 * @internal
 */
export type CheckedStep =
  | { readonly op: 'get'; readonly key: string; readonly stopIfPresent: boolean; readonly stopIfCountAtLeast: number | undefined }
  | { readonly op: 'increment'; readonly key: string; readonly ttlMs: number; readonly stopIfCountAbove: number | undefined }
  | { readonly op: 'set'; readonly key: string; readonly value: string; readonly ttlMs: number }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'consume'; readonly key: string; readonly expected: string | undefined };

// The properties each op takes. Anything else is refused rather than ignored:
// a stop condition a store does not know, silently skipped, would let a
// transaction run further than the caller allowed.
const PROPERTIES: Readonly<Record<StoreStep['op'], readonly string[]>> = {
  get: ['op', 'key', 'stopIfPresent', 'stopIfCountAtLeast'],
  increment: ['op', 'key', 'ttlMs', 'stopIfCountAbove'],
  set: ['op', 'key', 'value', 'ttlMs'],
  delete: ['op', 'key'],
  consume: ['op', 'key', 'expected'],
};

const isOp = (op: unknown): op is StoreStep['op'] => typeof op === 'string' && Object.hasOwn(PROPERTIES, op);

/**
 * A counter as the stores write it: decimal digits, no sign, no leading zero,
 * at most 15 digits (so every count is exact in a double and in Lua).
 * @internal
 */
export const COUNTER = /^(?:0|[1-9][0-9]{0,14})$/;

/** @internal */
export function checkKey(who: string, key: unknown, name = 'key'): string {
  if (typeof key !== 'string' || key.length === 0) throw argumentError(who, name, 'must be a non-empty string');
  return key;
}

/** @internal */
export function checkTtl(who: string, ttlMs: unknown, name = 'ttlMs'): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) throw argumentError(who, name, 'must be a positive number');
  return ttlMs;
}

/** @internal */
export function checkValue(who: string, value: unknown, name = 'value'): string {
  if (typeof value !== 'string') throw argumentError(who, name, 'must be a string');
  return value;
}

/** @internal */
export function checkExpected(who: string, expected: unknown, name = 'expected'): string | undefined {
  if (expected !== undefined && typeof expected !== 'string') throw argumentError(who, name, 'must be a string when given');
  return expected;
}

function checkThreshold(who: string, value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw argumentError(who, name, 'must be a non-negative integer when given');
  }
  return value;
}

/**
 * Check one step, `where` naming it in messages (`transact steps[2]`).
 * @internal
 */
function checkStep(who: string, step: unknown, where: string): CheckedStep {
  if (typeof step !== 'object' || step === null || Array.isArray(step)) throw argumentError(who, where, 'must be a step object');
  // One read of each property, whatever the object does on access.
  const fields = { ...(step as Record<string, unknown>) };
  const { op } = fields;
  if (!isOp(op)) throw argumentError(who, `${where}.op`, "must be 'get', 'increment', 'set', 'delete' or 'consume'");
  const allowed = PROPERTIES[op];
  for (const name of Object.keys(fields)) {
    // An optional property given as undefined is the same as one left out.
    if (!allowed.includes(name) && fields[name] !== undefined) {
      throw argumentError(who, where, `has a property a '${op}' step does not take: ${JSON.stringify(name.slice(0, 40))}`);
    }
  }
  const key = checkKey(who, fields.key, `${where}.key`);
  switch (op) {
    case 'get': {
      const { stopIfPresent } = fields;
      if (stopIfPresent !== undefined && typeof stopIfPresent !== 'boolean') {
        throw argumentError(who, `${where}.stopIfPresent`, 'must be a boolean when given');
      }
      const stopIfCountAtLeast = checkThreshold(who, fields.stopIfCountAtLeast, `${where}.stopIfCountAtLeast`);
      return { op, key, stopIfPresent: stopIfPresent === true, stopIfCountAtLeast };
    }
    case 'increment': {
      const ttlMs = checkTtl(who, fields.ttlMs, `${where}.ttlMs`);
      return { op, key, ttlMs, stopIfCountAbove: checkThreshold(who, fields.stopIfCountAbove, `${where}.stopIfCountAbove`) };
    }
    case 'set': {
      const value = checkValue(who, fields.value, `${where}.value`);
      return { op, key, value, ttlMs: checkTtl(who, fields.ttlMs, `${where}.ttlMs`) };
    }
    case 'delete':
      return { op, key };
    case 'consume':
      return { op, key, expected: checkExpected(who, fields.expected, `${where}.expected`) };
  }
}

/**
 * Check every step of a transaction before any runs: a bad one refuses the
 * whole call, and nothing has happened yet.
 * @internal
 */
export function checkSteps(who: string, steps: unknown): CheckedStep[] {
  if (!Array.isArray(steps)) throw argumentError(who, 'transact steps', 'must be an array of steps');
  // A copy first: the caller's array cannot change length or items while it is checked.
  return [...(steps as unknown[])].map((step, index) => checkStep(who, step, `transact steps[${index}]`));
}

/**
 * The count a counter holds, or an `Error` naming `who` when the value is
 * not a counter.
 * @internal
 */
export function counterValue(who: string, value: string): number {
  if (!COUNTER.test(value)) throw new Error(`npuser: ${who} found a value that is not a counter where a counter was expected`);
  return Number(value);
}

/**
 * Whether the transaction ends after `step`, given what it produced.
 * @internal
 */
export function stops(who: string, step: CheckedStep, result: StoreStepResult): boolean {
  if (step.op === 'get') {
    if (result === undefined) return false;
    const { value } = result as StoreEntry;
    // Checked even when stopIfPresent already stops: a non-counter is refused the same either way.
    const atLeast = step.stopIfCountAtLeast !== undefined && counterValue(who, value) >= step.stopIfCountAtLeast;
    return step.stopIfPresent || atLeast;
  }
  if (step.op === 'increment') {
    return step.stopIfCountAbove !== undefined && (result as StoreCounter).count > step.stopIfCountAbove;
  }
  return false;
}
