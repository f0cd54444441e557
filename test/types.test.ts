// Type-level tests: `npm run typecheck` checks them (expectTypeOf does nothing at run time).
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  NP_USER_ERROR_CODES,
  NpUserError,
  isNpUserError,
  type CodeStore,
  type NpUserErrorCode,
  type RequestContext,
  type StoreCounter,
  type StoreEntry,
} from 'npuser';

describe('types', () => {
  it('isNpUserError narrows to NpUserError, and with a code narrows err.code to it', () => {
    const err: unknown = new NpUserError('ERR_NPUSER_RATE_LIMITED', { retryAfterSeconds: 30 });
    if (isNpUserError(err)) {
      expectTypeOf(err).toExtend<NpUserError>();
      expectTypeOf(err.code).toEqualTypeOf<NpUserErrorCode>();
      expectTypeOf(err.retryAfterSeconds).toEqualTypeOf<number | undefined>();
    }
    if (isNpUserError(err, 'ERR_NPUSER_RATE_LIMITED')) {
      expectTypeOf(err).toExtend<NpUserError>();
      expectTypeOf(err.code).toEqualTypeOf<'ERR_NPUSER_RATE_LIMITED'>();
    }
    expectTypeOf(isNpUserError).parameter(1).toEqualTypeOf<NpUserErrorCode | undefined>();
    // @ts-expect-error: not a code npuser has
    isNpUserError(err, 'ERR_NPUSER_NO_SUCH_CODE');
    expect(isNpUserError(err, 'ERR_NPUSER_RATE_LIMITED')).toBe(true);
  });

  it('NpUserErrorCode is the union of NP_USER_ERROR_CODES, not string', () => {
    expectTypeOf<NpUserErrorCode>().toEqualTypeOf<(typeof NP_USER_ERROR_CODES)[number]>();
    expectTypeOf<string>().not.toExtend<NpUserErrorCode>();
    expectTypeOf(NP_USER_ERROR_CODES).toExtend<readonly NpUserErrorCode[]>();
    expectTypeOf<'ERR_NPUSER_INVALID_CODE' | 'ERR_NPUSER_STORE_FAILED'>().toExtend<NpUserErrorCode>();
    expect(new Set(NP_USER_ERROR_CODES).size).toBe(NP_USER_ERROR_CODES.length);
  });

  it('a hand-written object satisfies CodeStore', () => {
    const entries = new Map<string, { value: string; expiresAt: number }>();
    const live = (key: string): StoreEntry | undefined => {
      const entry = entries.get(key);
      const ttlMs = entry === undefined ? 0 : entry.expiresAt - Date.now();
      return entry === undefined || ttlMs <= 0 ? undefined : { value: entry.value, ttlMs };
    };
    const store = {
      set(key: string, value: string, ttlMs: number) {
        entries.set(key, { value, expiresAt: Date.now() + ttlMs });
        return Promise.resolve();
      },
      get: (key: string) => Promise.resolve(live(key)),
      consume(key: string, expected?: string) {
        const entry = live(key);
        if (entry === undefined || (expected !== undefined && entry.value !== expected)) return Promise.resolve(undefined);
        entries.delete(key);
        return Promise.resolve(entry.value);
      },
      delete(key: string) {
        entries.delete(key);
        return Promise.resolve();
      },
      increment(key: string, ttlMs: number): Promise<StoreCounter> {
        const entry = live(key);
        const count = entry === undefined ? 1 : Number(entry.value) + 1;
        entries.set(key, { value: String(count), expiresAt: entry === undefined ? Date.now() + ttlMs : Date.now() + entry.ttlMs });
        return Promise.resolve({ count, ttlMs: entry?.ttlMs ?? ttlMs });
      },
    } satisfies CodeStore;
    expectTypeOf(store).toExtend<CodeStore>();
    // transact is optional; the five methods are not.
    expectTypeOf<Omit<CodeStore, 'transact'>>().toExtend<CodeStore>();
    expectTypeOf<Omit<CodeStore, 'increment'>>().not.toExtend<CodeStore>();
    // A get that answers a bare string is not a store.
    expectTypeOf<Omit<CodeStore, 'get'> & { get(key: string): Promise<string> }>().not.toExtend<CodeStore>();
  });

  it('RequestContext accepts { clientKey: req.ip } where req.ip may be undefined (exactOptionalPropertyTypes)', () => {
    // Express, Fastify and node:http all type the client address as string | undefined.
    const req: { readonly ip: string | undefined } = { ip: undefined };
    // Regression: `clientKey?: string` refused an explicit undefined under exactOptionalPropertyTypes.
    const context: RequestContext = { clientKey: req.ip };
    expectTypeOf(context).toExtend<RequestContext>();
    expectTypeOf<{ clientKey: string; locale: string }>().toExtend<RequestContext>();
  });
});
