// Whatever a mailer or a store rejects with, requestCode answers with its own typed error, whose cause
// is a plain redacted copy: never a raw TypeError, never an unhandled rejection, never a secret in any spelling.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { NpUser, NpUserError, isNpUserError, memoryCodeStore, type CodeStore, type Mailer } from 'npuser';
import { SECRET } from './support/helpers.js';
import { rejectsWith } from './support/errors.js';
import { expectSafeShape, hostileProxy, oddErrors } from './support/odd-errors.js';
import { reachableStrings } from './support/reachable-strings.js';
import { collectUnhandledRejections } from './support/unhandled-rejections.js';
import { ENCODINGS, ENCODING_NAMES, revealsSecret, secretSpellings, spreadOverMarkup } from './support/secret-forms.js';

const unhandled = collectUnhandledRejections();

// An internationalised address, so both domain spellings are at stake.
const EMAIL = 'ada.lovelace@bücher.de';
const ADDRESS = 'ada.lovelace@xn--bcher-kva.de';
const CODE = '512904';
const SPELLINGS = secretSpellings(ADDRESS, CODE);

function withMailer(send: Mailer['send']): NpUser {
  return new NpUser({ secret: SECRET, store: memoryCodeStore(), mailer: { send }, generateCode: () => CODE, mailerTimeoutMs: 1000 });
}

function withStore(fault: () => unknown): NpUser {
  const inner = memoryCodeStore();
  const store: CodeStore = {
    set: (key, value, ttlMs) => inner.set(key, value, ttlMs),
    get: () => fault() as never,
    consume: (key, expected) => inner.consume(key, expected),
    delete: (key) => inner.delete(key),
    increment: (key, ttlMs) => inner.increment(key, ttlMs),
  };
  return new NpUser({ secret: SECRET, store, mailer: { send: () => Promise.resolve() }, storeTimeoutMs: 1000 });
}

function expectNothingOfTheOriginal(err: NpUserError): void {
  expectSafeShape(err.cause);
  // Bounded: a megabyte message is not carried along.
  expect((err.cause as Error).message.length).toBeLessThan(4096);
  // inspect indents the cause, which breaks up wrapped encodings: the strings themselves are searched too.
  for (const text of [inspect(err, { depth: Infinity, showHidden: true }), ...reachableStrings(err)]) {
    expect(revealsSecret(text, SPELLINGS), text).toBeUndefined();
  }
}

// A store sees keyed hashes only, so its errors quote those: their message is kept (capped), the rest is dropped.
const STORE_KEY = 'npuser:v1:code:3q2-7wEh0ZfB';
const STORE_VALUE = '918273';

describe('odd rejection values: the typed error, with a safe copy as the cause', () => {
  const storeShapes = new Map(oddErrors(STORE_KEY, STORE_VALUE));

  // Regression: a Proxy, throwing getters or a hostile toString made requestCode reject with a raw TypeError;
  // a store's value was kept as the cause as it was (null, a number, every property, its stack and cause).
  it.each(oddErrors(ADDRESS, CODE))('%s, from a mailer and from a store, rejected or thrown', async (name, make) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejecting with a non-Error is the fault
    const rejecting = withMailer(() => Promise.reject(make()));
    expectNothingOfTheOriginal(await rejectsWith(rejecting.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED'));
    const throwing = withMailer(() => {
      throw make() as Error;
    });
    expectNothingOfTheOriginal(await rejectsWith(throwing.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED'));

    const storeMake = storeShapes.get(name) ?? make;
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejecting with a non-Error is the fault
    const rejectingStore = withStore(() => Promise.reject(storeMake()));
    expectNothingOfTheOriginal(await rejectsWith(rejectingStore.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED'));
    const throwingStore = withStore(() => {
      throw storeMake() as Error;
    });
    expectNothingOfTheOriginal(await rejectsWith(throwingStore.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED'));
    await expectNoUnhandledRejection();
  });
});

describe('telling an NpUserError from anything else never throws', () => {
  // Regression: `err instanceof NpUserError` in the store guard threw the trap's TypeError past it.
  it('instanceof NpUserError and isNpUserError are false for a hostile or revoked Proxy', () => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const value of [hostileProxy({}), hostileProxy(new NpUserError('ERR_NPUSER_STORE_FAILED')), revoked]) {
      expect(value instanceof NpUserError).toBe(false);
      expect(isNpUserError(value)).toBe(false);
      expect(isNpUserError(value, 'ERR_NPUSER_STORE_FAILED')).toBe(false);
    }
    expect(new NpUserError('ERR_NPUSER_STORE_FAILED') instanceof NpUserError).toBe(true);
    expect(new NpUserError('ERR_NPUSER_STORE_FAILED') instanceof Error).toBe(true);
  });
});

describe('a store error', () => {
  it('keeps what helps diagnosis: the message, an identifier-like name, a string code', async () => {
    const np = withStore(() =>
      Promise.reject(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379', { cause: new Error('inner') }), {
          name: 'RedisError',
          code: 'ECONNREFUSED',
          port: 6379,
        }),
      ),
    );
    const err = await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
    expect(err.cause).toMatchObject({ message: 'connect ECONNREFUSED 127.0.0.1:6379', name: 'RedisError', code: 'ECONNREFUSED' });
    expect(Object.keys(err.cause as object)).toEqual(['code']);
  });
});

describe('a mailer whose error echoes the message it was sent, in any encoding', () => {
  const forms = ENCODING_NAMES.flatMap((encoding) => [
    [encoding, 'the address', ADDRESS, (to: string) => ENCODINGS[encoding](to)] as const,
    [encoding, 'the address with its Unicode domain', EMAIL, () => ENCODINGS[encoding](EMAIL)] as const,
    [encoding, 'the code', CODE, (_to: string, code: string) => ENCODINGS[encoding](code)] as const,
    [encoding, 'the code spread over markup', '', (_to: string, code: string) => ENCODINGS[encoding](spreadOverMarkup(code, 300))] as const,
  ]);
  // Where the encoding leaves the secret spelled out (in another case, or the code's digits with only
  // non-digits between them), the plain redaction tests in faults.test.ts apply.
  const spelledOut = (secret: string, text: string) =>
    text.toLowerCase().includes(secret.toLowerCase()) || (secret === CODE && text.replace(/[^0-9]/g, '').includes(CODE));
  const encoded = forms.filter(([, , secret, echo]) => secret === '' || !spelledOut(secret, echo(ADDRESS, CODE)));

  // Regression: each of these stayed in err.cause.
  it.each(encoded)('%s: %s', async (_encoding, _what, _secret, echo) => {
    const np = withMailer((message) => Promise.reject(new Error(`API 400: {"to":"${echo(message.to, message.code)}","error":"invalid"}`)));
    const err = await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    expectNothingOfTheOriginal(err);
    expect((err.cause as Error).message).toMatch(/^API 400: /);
  });
});

// Node reports a rejection nobody handled once the microtasks of its turn have run.
async function expectNoUnhandledRejection(): Promise<void> {
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled.map(describeSafely)).toEqual([]);
}

// A reason may be a hostile Proxy that inspect itself would trip over.
function describeSafely(reason: unknown): string {
  try {
    return inspect(reason);
  } catch {
    return `an uninspectable ${typeof reason}`;
  }
}
