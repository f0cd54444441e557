// Whatever a mailer or a store may reject with that is not a well-behaved Error, each quoting the secrets where it can.
import { expect } from 'vitest';

/** A Proxy whose every trap throws (the handler itself is a Proxy, so even traps nobody listed throw). */
export function hostileProxy<T extends object>(target: T): T {
  const handler = new Proxy(
    {},
    {
      get: () => () => {
        throw new TypeError('trap');
      },
    },
  );
  return new Proxy(target, handler);
}

/** A getter that throws what cannot be handled politely: a Proxy whose every trap throws. */
function throwing(): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- throwing a hostile non-Error is the point
  throw hostileProxy({});
}

const SAFE_KEYS = new Set<PropertyKey>(['stack', 'message', 'name', 'code']);

/**
 * Odd rejection values by name; each factory makes a fresh one. `address` and
 * `code` are what must not survive.
 */
export function oddErrors(address: string, code: string): readonly (readonly [string, () => unknown])[] {
  const both = `${address} ${code}`;
  return [
    ['an Error whose message is a number', () => Object.defineProperty(new Error(), 'message', { value: Number(code) })],
    [
      'an Error whose message is an object with a hostile toString',
      () => Object.defineProperty(new Error(), 'message', { value: { toString: () => both, [Symbol.toPrimitive]: () => both } }),
    ],
    [
      'an Error whose every getter throws',
      () => {
        const err = new Error(both);
        // `stack` first: V8 formats a pending stack when it is redefined, reading `message`.
        for (const key of ['stack', 'message', 'name', 'code', 'cause', 'constructor']) Object.defineProperty(err, key, { get: throwing });
        return err;
      },
    ],
    [
      'a plain object whose every getter throws',
      () =>
        Object.defineProperties(
          {},
          Object.fromEntries(
            ['message', 'name', 'code', 'stack', 'cause', 'then'].map((key) => [key, { get: throwing, enumerable: true }]),
          ),
        ),
    ],
    ['a Proxy whose every trap throws', () => hostileProxy(new Error(both))],
    [
      'a revoked Proxy',
      () => {
        const { proxy, revoke } = Proxy.revocable(new Error(both), {});
        revoke();
        return proxy;
      },
    ],
    [
      'a Proxy that answers every read with the secrets',
      () =>
        new Proxy(new Error(), {
          get: () => both,
          getOwnPropertyDescriptor: () => ({ value: both, configurable: true, enumerable: true, writable: true }),
        }),
    ],
    [
      'a frozen Error quoting both',
      () => Object.freeze(Object.assign(new Error(`550 <${address}> rejected code ${code}`), { code: 'EENVELOPE', response: both })),
    ],
    ['a string quoting both', () => `failed to send ${code} to ${address}`],
    ['the code as a number', () => Number(code)],
    ['the code as a bigint', () => BigInt(code)],
    ['a symbol named after the address', () => Symbol(both)],
    ['a boolean', () => false],
    ['null', () => null],
    ['undefined', () => undefined],
    ['a function named after the address', () => Object.defineProperties(() => both, { name: { value: both }, message: { value: both } })],
    [
      'an Error with a circular cause quoting both',
      () => {
        const err = new Error('send failed', { cause: undefined });
        const inner = new Error(both, { cause: err });
        err.cause = inner;
        return Object.assign(err, { self: err });
      },
    ],
    [
      'an object with a hostile toString and Symbol.toPrimitive',
      () => ({
        toString: throwing,
        valueOf: throwing,
        [Symbol.toPrimitive]: throwing,
        get [Symbol.toStringTag]() {
          return throwing();
        },
      }),
    ],
    ['an object whose toString returns the secrets', () => ({ message: `failed ${code}`, to: address, toString: () => both })],
    [
      'an Error whose name and code quote the secrets',
      () => Object.assign(new Error('rejected'), { name: `SmtpError ${address}`, code: `E${code}` }),
    ],
    [
      'an Error whose name is identifier-like but is the code in base64',
      () => Object.assign(new Error('rejected'), { name: Buffer.from(`x${code}`).toString('base64').replace(/=+$/, '') }),
    ],
    ['an Error with a megabyte message quoting both', () => new Error(`${'x'.repeat(1 << 20)} ${both}`)],
  ];
}

/** What every copy must be: an Error with a string message, a safe name, a safe string code or none, and nothing else. */
export function expectSafeShape(copy: unknown): void {
  expect(copy).toBeInstanceOf(Error);
  const err = copy as Error & { code?: unknown };
  expect(typeof err.message).toBe('string');
  expect(err.name).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,63}$/);
  if (err.code !== undefined) expect(err.code).toMatch(/^[A-Z][A-Z0-9_]{0,63}$/);
  expect(err.cause).toBeUndefined();
  for (const key of Reflect.ownKeys(err)) expect(SAFE_KEYS.has(key), `unexpected own property ${String(key)}`).toBe(true);
}
