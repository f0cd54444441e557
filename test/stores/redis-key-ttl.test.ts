import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { NpUser, isNpUserError, type CodeStore, type NpUserOptions } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { SECRET, testClock, wrongCode } from '../support/helpers.js';
import { connect, deleteKeys, keysWithoutTtl, probeRedis, scanKeys, testPrefix } from '../support/redis.js';

// "Every npuser key in Redis has PTTL > 0 after any sequence of operations",
// as a property: random sequences of requestCode, verifyCode (right and wrong
// codes), revokeToken and validateToken, over 1–3 addresses with and without
// client keys, on a clock that moves, against redisCodeStore on the shared
// Redis. After every step each key npuser has written must still have a TTL
// (or be gone); after every sequence each key under the run's prefix must have
// one, and no key or value may contain an address, a client key or a code.
//
// Two clocks: npuser's is injected and moved by the steps; Redis expires keys
// on its own (real) clock, which barely moves during a run. The property does
// not depend on which is ahead, because npuser hands Redis durations (window
// lengths, the code lifetime, a revoked token's remaining life), never
// deadlines. The advances are still kept inside the TTLs: at most 2 min a
// step and 25 steps, so npuser's clock moves at most 50 min. Tokens (1 h)
// stay valid, so every revocation is really written, with a TTL of minutes;
// codes (10 min) may expire on npuser's clock while Redis still holds them,
// which covers the "expired" path without changing what Redis must hold.

const reachable = await probeRedis();

const ADDRESSES = ['ada.lovelace@example.com', 'grace.hopper@example.org', 'alan.turing@example.net'] as const;
const CLIENT_KEYS = ['203.0.113.7', '198.51.100.23', 'device-4f1c9e'] as const;
const MAX_ADVANCE_MS = 120_000;
const MAX_STEPS = 25;
const CODE_TTL_MS = 600_000; // the default code lifetime, which the runs keep
const NOT_A_TOKEN = 'xxxx.yyyy.zzzz';

type Step =
  | { kind: 'request'; address: number; client: number | undefined }
  | { kind: 'verify'; address: number; right: boolean; client: number | undefined }
  | { kind: 'revoke'; token: number }
  | { kind: 'validate'; token: number }
  | { kind: 'advance'; ms: number };

/** The limits a run uses: small ones reach the lock-out, burn and rate-limit paths within 25 steps. */
type Limits = Pick<
  NpUserOptions,
  'maxAttempts' | 'maxFailuresPerDay' | 'resendCooldownSeconds' | 'maxCodesPerHour' | 'maxCodesPerClientPerHour'
>;

interface Scenario {
  addressCount: number;
  limits: Limits;
  steps: Step[];
}

const clientArb = fc.option(fc.nat({ max: CLIENT_KEYS.length - 1 }), { nil: undefined });
const addressArb = fc.nat({ max: ADDRESSES.length - 1 });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('request' as const), address: addressArb, client: clientArb }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('verify' as const), address: addressArb, right: fc.boolean(), client: clientArb }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), token: fc.nat({ max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('validate' as const), token: fc.nat({ max: 9 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: MAX_ADVANCE_MS }) }) },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  addressCount: fc.integer({ min: 1, max: ADDRESSES.length }),
  limits: fc.record({
    maxAttempts: fc.integer({ min: 1, max: 5 }),
    maxFailuresPerDay: fc.constantFrom(2, 100),
    // 0: codes can be re-requested at once; 60: the cooldown key is written too.
    resendCooldownSeconds: fc.constantFrom(0, 60),
    maxCodesPerHour: fc.constantFrom(2, 5),
    maxCodesPerClientPerHour: fc.constantFrom(3, 30),
  }),
  // size 'max': lengths spread over 1–25 (fast-check's default size keeps arrays to about 10).
  steps: fc.array(stepArb, { minLength: 1, maxLength: MAX_STEPS, size: 'max' }),
});

/**
 * A sequence that writes every kind of key, run first: the generated ones
 * are random, this one makes sure the property is never checked only on
 * sequences that happen to write little.
 */
const EVERY_KIND: Scenario = {
  addressCount: 2,
  limits: { maxAttempts: 2, maxFailuresPerDay: 100, resendCooldownSeconds: 60, maxCodesPerHour: 5, maxCodesPerClientPerHour: 30 },
  steps: [
    { kind: 'request', address: 0, client: 0 }, // code, attempts, cooldown, hourly, client requests
    { kind: 'verify', address: 0, right: false, client: 0 }, // failures, the client's verify counter
    { kind: 'verify', address: 0, right: true, client: 0 },
    { kind: 'revoke', token: 0 }, // revoked
    { kind: 'validate', token: 0 },
    { kind: 'advance', ms: MAX_ADVANCE_MS },
    { kind: 'request', address: 1, client: undefined },
    { kind: 'verify', address: 1, right: false, client: undefined },
    { kind: 'verify', address: 1, right: false, client: undefined }, // burns the code
    { kind: 'request', address: 0, client: 1 }, // refused by the cooldown on Redis's clock
  ],
};

/** Errors a step may end in: npuser's refusals. A store failure here would mean npuser met a key it cannot trust. */
const EXPECTED_REFUSALS = new Set([
  'ERR_NPUSER_INVALID_CODE',
  'ERR_NPUSER_TOO_MANY_ATTEMPTS',
  'ERR_NPUSER_ADDRESS_LOCKED',
  'ERR_NPUSER_RATE_LIMITED',
  'ERR_NPUSER_INVALID_TOKEN',
  'ERR_NPUSER_TOKEN_EXPIRED',
]);

/** What npuser asked the store to write, as npuser names keys (without the prefix). */
interface Writes {
  keys: Set<string>;
  values: string[];
}

/** Passes every call to `inner`, noting each key written (set, increment) and each value set. */
function noting(inner: CodeStore, writes: Writes): CodeStore {
  return {
    set: (key, value, ttlMs) => {
      writes.keys.add(key);
      writes.values.push(value);
      return inner.set(key, value, ttlMs);
    },
    increment: (key, ttlMs) => {
      writes.keys.add(key);
      return inner.increment(key, ttlMs);
    },
    get: (key) => inner.get(key),
    consume: (key, expected) => inner.consume(key, expected),
    delete: (key) => inner.delete(key),
  };
}

/** The kind of a key as npuser names it: `{tag}:code` → `code`, `{tag}:attempts:id` → `attempts`. */
function kindOf(key: string): string {
  return /^\{[^}]*\}:([a-z-]+)/.exec(key)?.[1] ?? key;
}

describe.skipIf(!reachable)('every key npuser writes to Redis has a TTL, after any sequence of operations', () => {
  const prefix = testPrefix('key-ttl');
  let client: Redis;
  let runs = 0;
  // Every kind of key written over all runs, to show the property was checked on each.
  const kindsWritten = new Set<string>();

  beforeAll(async () => {
    client = await connect();
  });

  afterAll(async () => {
    // deleteKeys checks the TTLs of everything left under the prefix once more.
    await deleteKeys(client, prefix);
    expect(await scanKeys(client, prefix)).toEqual([]);
    await client.quit();
  });

  async function runScenario({ addressCount, limits, steps }: Scenario): Promise<void> {
    // A prefix per run, shrinking included: every sequence starts on an empty
    // store, and counters of one run never limit the next.
    runs += 1;
    const runPrefix = `${prefix}run${runs}:`;
    const writes: Writes = { keys: new Set(), values: [] };
    const mailer = memoryMailer();
    const clock = testClock();
    const startedAt = clock.now();
    const np = new NpUser({
      secret: SECRET,
      mailer,
      store: noting(redisCodeStore({ client, keyPrefix: runPrefix }), writes),
      now: clock.now,
      storeTimeoutMs: 5000,
      ...limits,
    });
    const addresses = ADDRESSES.slice(0, addressCount);
    const tokens: string[] = [];

    for (const [index, step] of steps.entries()) {
      let call: Promise<unknown> | undefined;
      switch (step.kind) {
        case 'request': {
          const context = step.client === undefined ? undefined : { clientKey: CLIENT_KEYS[step.client]! };
          call = np.requestCode(addresses[step.address % addressCount]!, context);
          break;
        }
        case 'verify': {
          const email = addresses[step.address % addressCount]!;
          const context = step.client === undefined ? undefined : { clientKey: CLIENT_KEYS[step.client]! };
          // "Right" is the last code mailed, which may be used, burned or expired by now.
          const code = mailer.lastCodeFor(email) ?? '000000';
          call = np.verifyCode(email, step.right ? code : wrongCode(code), context).then(({ token }) => void tokens.push(token));
          break;
        }
        case 'revoke':
          call = np.revokeToken(tokens.length === 0 ? NOT_A_TOKEN : tokens[step.token % tokens.length]!);
          break;
        case 'validate':
          call = np.validateToken(tokens.length === 0 ? NOT_A_TOKEN : tokens[step.token % tokens.length]!);
          break;
        case 'advance':
          clock.advance(step.ms);
          break;
      }
      const error =
        call === undefined
          ? undefined
          : await call.then(
              () => undefined,
              (err: unknown) => err,
            );
      if (error !== undefined) {
        expect(
          isNpUserError(error) && EXPECTED_REFUSALS.has(error.code),
          `step ${index} (${step.kind}) failed with ${error instanceof Error ? `${error.name}: ${error.message}` : typeof error}`,
        ).toBe(true);
      }
      // After every step, not only at the end: a key written without a TTL
      // and deleted a step later (a consumed code, a success's clean-up) would
      // otherwise never be seen.
      const untimed = await keysWithoutTtl(
        client,
        [...writes.keys].map((key) => runPrefix + key),
      );
      expect(untimed, `after step ${index} (${step.kind})`).toEqual([]);
    }

    for (const key of writes.keys) kindsWritten.add(kindOf(key));

    // What Redis holds under the run's prefix, read back independently of npuser.
    const stored = await scanKeys(client, runPrefix);
    // Every key there came through set or increment, so the per-step check saw it.
    expect(stored.filter((key) => !writes.keys.has(key.slice(runPrefix.length)))).toEqual([]);
    expect(await keysWithoutTtl(client, stored)).toEqual([]);
    const pipeline = client.pipeline();
    for (const key of stored) pipeline.pttl(key).get(key);
    const replies = (await pipeline.exec()) ?? [];

    const codes = mailer.messages.map((m) => m.code);
    expect(codes.every((code) => /^[0-9]{6}$/.test(code))).toBe(true);
    const secrets = [...addresses, ...addresses.map((a) => a.split('@')[0]!), ...CLIENT_KEYS].map((s) => s.toLowerCase());
    /** `text` (a key or a value, or the checkable part of one) holds no address, client key or code. */
    const expectClean = (text: string, where: string) => {
      for (const secret of secrets) expect(text.toLowerCase(), where).not.toContain(secret);
      for (const code of codes) expect(text, where).not.toContain(code);
    };

    for (const [index, key] of stored.entries()) {
      const [pttlError, pttl] = replies[index * 2]!;
      const [valueError, value] = replies[index * 2 + 1]!;
      expect(pttlError ?? valueError).toBeNull();
      // Nothing expires in the milliseconds since the check above: every TTL npuser writes here is a minute or more.
      expect(pttl, key).toBeGreaterThan(0);
      const name = key.slice(runPrefix.length);
      // npuser's keys: a keyed-hash tag and a kind, with a hashed token id for revocations.
      expect(name).toMatch(/^\{[A-Za-z0-9_-]{43}\}:[a-z-]+(?::[A-Za-z0-9_-]{43})?$/);
      expectClean(name, key);
      expectClean(String(value), key);
    }
    // Every value npuser ever set, including the ones consumed or deleted since.
    for (const value of writes.values) {
      const record = /^v1\.([A-Za-z0-9_-]{16})\.([0-9]{13})\.([A-Za-z0-9_-]{43})$/.exec(value);
      if (record === null) {
        // Revocation marks: a few digits, never six.
        expect(value).toMatch(/^[0-9]{1,3}$/);
        continue;
      }
      // A code record: an id, the expiry on npuser's clock and a digest. The
      // expiry's 13 digits may contain a code by chance, so it is checked as
      // the timestamp it must be instead.
      expectClean(`${record[1]!} ${record[3]!}`, 'a code record');
      const expiresAt = Number(record[2]);
      expect(expiresAt).toBeGreaterThanOrEqual(startedAt + CODE_TTL_MS);
      expect(expiresAt).toBeLessThanOrEqual(clock.now() + CODE_TTL_MS);
    }
  }

  it('random sequences of request, verify, revoke and validate, with 1–3 addresses, client keys and a moving clock', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (scenario) => runScenario(scenario)),
      { numRuns: 30, examples: [[EVERY_KIND]] },
    );
    // The property was checked on every kind of key npuser writes.
    const kinds = [...kindsWritten].sort();
    expect(kinds).toEqual(
      expect.arrayContaining(['attempts', 'client-requests', 'client-verifications', 'code', 'cooldown', 'failures', 'hourly', 'revoked']),
    );
  }, 120_000);
});
