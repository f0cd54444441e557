/**
 * Option checks for stores and mailers: one helper, one message format,
 * `npuser: <who> options.<name> <expectation>`, so every misconfiguration
 * reads the same wherever it is caught.
 * @internal
 */

/**
 * The `TypeError` for a bad option of `who` (`redisCodeStore`, `nodemailerMailer`, …).
 * @internal
 */
export function optionError(who: string, name: string, expectation: string): TypeError {
  return new TypeError(`npuser: ${who} options.${name} ${expectation}`);
}

/**
 * The options object itself, or a `TypeError` when it is not an object.
 * Spread once, so each option (even a getter) is read exactly once.
 * @internal
 */
export function optionsObject<T extends object>(who: string, options: unknown, fallback?: T): Partial<Record<keyof T, unknown>> {
  if (options === undefined && fallback !== undefined) return { ...fallback };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`npuser: ${who}(options) takes an options object`);
  }
  return { ...(options as T) };
}

/**
 * An integer option within `[min, max]`, or `fallback` when it is not given.
 * @internal
 */
export function integerOption(who: string, name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw optionError(who, name, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * A boolean option, or `fallback` when it is not given.
 * @internal
 */
export function booleanOption(who: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw optionError(who, name, 'must be a boolean');
  return value;
}

/**
 * A function option, or `undefined` when it is not given.
 * @internal
 */
// F names the signature the caller documents for the option; only "is a
// function" can be checked at run time, so F is the caller's word, by design.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export function functionOption<F extends (...args: never[]) => unknown>(who: string, name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw optionError(who, name, 'must be a function');
  return value as F;
}

/**
 * The `TypeError` for a bad argument of a store or mailer call: the same
 * format as {@link optionError}, naming the argument instead of the option
 * (`npuser: memoryCodeStore transact steps[2].ttlMs must be a positive number`).
 * @internal
 */
export function argumentError(who: string, name: string, expectation: string): TypeError {
  return new TypeError(`npuser: ${who} ${name} ${expectation}`);
}
