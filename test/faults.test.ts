import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  NpUser,
  isNpUserError,
  memoryCodeStore,
  type CodeMessage,
  type CodeStore,
  type Mailer,
  type MailerSendOptions,
  type MemoryCodeStore,
  type NpUserOptions,
} from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL } from './support/helpers.js';
import { caught, rejectsWith } from './support/errors.js';
import { reachableStrings } from './support/reachable-strings.js';
import { collectUnhandledRejections } from './support/unhandled-rejections.js';

// A fault must never escape as an unhandled rejection (a late store reply, a
// timer, a listener's promise). Recorded here, asserted by the last test.
const unhandled = collectUnhandledRejections();

const SECRET = 'fault injection test secret, at least 32 bytes';
const CODE = '123456';
const START = Date.UTC(2026, 0, 1);

const METHODS = ['set', 'get', 'consume', 'delete', 'increment'] as const;
type Method = (typeof METHODS)[number];
type AnyMethod = (...args: unknown[]) => Promise<unknown>;
/** Replaces one store method: gets the key and a `next()` that runs the real call. */
type Fault = (key: string, next: () => Promise<unknown>) => unknown;

interface FaultyStore extends CodeStore {
  readonly inner: MemoryCodeStore;
  readonly calls: Record<Method, number>;
  /** Turn the faults on or off. */
  faulty: boolean;
}

function faultyStore(inner: MemoryCodeStore, faults: Partial<Record<Method, Fault>>): FaultyStore {
  const calls: Record<Method, number> = { set: 0, get: 0, consume: 0, delete: 0, increment: 0 };
  const state = { faulty: true };
  const methods = Object.fromEntries(
    METHODS.map((m) => [
      m,
      (...args: unknown[]): unknown => {
        calls[m] += 1;
        const next = () => (inner[m] as AnyMethod).apply(inner, args);
        const fault = faults[m];
        return fault && state.faulty ? fault(String(args[0]), next) : next();
      },
    ]),
  ) as unknown as CodeStore;
  // defineProperties, not Object.assign: `faulty` must stay a live accessor.
  return Object.defineProperties(methods, {
    inner: { value: inner },
    calls: { value: calls },
    faulty: {
      get: () => state.faulty,
      set: (value: boolean) => {
        state.faulty = value;
      },
    },
  }) as FaultyStore;
}

function setup(faults: Partial<Record<Method, Fault>> = {}, options: Partial<NpUserOptions> = {}) {
  let t = START;
  const now = () => t;
  const store = faultyStore(memoryCodeStore({ now }), faults);
  const mailer = memoryMailer();
  const np = new NpUser({
    secret: SECRET,
    store,
    mailer,
    now,
    generateCode: () => CODE,
    storeTimeoutMs: 20,
    mailerTimeoutMs: 20,
    ...options,
  });
  return {
    np,
    store,
    mailer,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const never = () => new Promise<never>(() => undefined);
const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const codeKeys = (store: MemoryCodeStore) => store.entries().filter((e) => e.key.endsWith(':code'));

function expectNoSecrets(err: unknown, secrets: readonly string[]): void {
  const texts = [...reachableStrings(err), inspect(err, { depth: 20, showHidden: true })];
  for (const text of texts) {
    for (const secret of secrets) {
      expect(text.toLowerCase(), `leaked ${JSON.stringify(secret)}`).not.toContain(secret.toLowerCase());
    }
  }
}

describe('store faults fail closed with ERR_NPUSER_STORE_FAILED', () => {
  const everyMethod = (fault: Fault) => Object.fromEntries(METHODS.map((m) => [m, fault])) as Record<Method, Fault>;

  it.each([
    ['rejects', everyMethod(() => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379')))],
    [
      'throws synchronously',
      everyMethod(() => {
        throw new Error('client is closed');
      }),
    ],
    ['hangs (storeTimeoutMs: 20)', everyMethod(never)],
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a store rejecting with a non-Error is the fault
    ['rejects with a non-Error', everyMethod(() => Promise.reject('down'))],
    [
      'returns a rejected thenable',
      everyMethod(() => ({
        then: (_: unknown, reject: (e: Error) => void) => {
          reject(new Error('thenable'));
        },
      })),
    ],
    [
      'returns a thenable whose then throws',
      everyMethod(() => ({
        get then() {
          throw new Error('then getter');
        },
      })),
    ],
  ])('a store whose every method %s', async (_name, faults) => {
    const s = setup(faults);
    const err = await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
    // The store's own failure is kept for diagnosis (its keys are hashes, so it names no one).
    expect(err.cause).toBeDefined();
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    await rejectsWith(s.np.verifyCode(EMAIL, CODE, { clientKey: 'c' }), 'ERR_NPUSER_STORE_FAILED');
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('a timed-out call says so in its cause, and the timeout is bounded', async () => {
    const s = setup({ get: never });
    const started = Date.now();
    const err = await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
    expect(Date.now() - started).toBeLessThan(5000);
    expect((err.cause as Error).message).toMatch(/20 ms/);
  });

  it('a late rejection after the timeout is not an unhandled rejection; a late success changes nothing', async () => {
    const s = setup({
      get: async () => {
        await later(60);
        throw new Error('late failure');
      },
      increment: async (_key, next) => {
        await later(60);
        return next();
      },
    });
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
    // Let the late replies land: the late rejection must be handled, and nothing is mailed.
    await later(100);
    expect(s.mailer.messages).toHaveLength(0);
  });

  const GARBAGE_GET: readonly (readonly [string, unknown])[] = [
    ['a number', 42],
    ['a string', '1'],
    ['null', null],
    ['true', true],
    ['an array', ['1', 1000]],
    ['{ value: 42 }', { value: 42 }],
    ['{ value: 42, ttlMs: 1000 }', { value: 42, ttlMs: 1000 }],
    ["{ value: 'x' } without ttlMs", { value: 'x' }],
    ["{ value: 'x', ttlMs: -1 }", { value: 'x', ttlMs: -1 }],
    ["{ value: '1', ttlMs: 0 }", { value: '1', ttlMs: 0 }],
    ["{ value: '1', ttlMs: NaN }", { value: '1', ttlMs: NaN }],
    ["{ value: '1', ttlMs: Infinity }", { value: '1', ttlMs: Infinity }],
    ["{ value: '1', ttlMs: '1000' }", { value: '1', ttlMs: '1000' }],
    ["a counter that is not decimal: { value: 'x' }", { value: 'x', ttlMs: 1000 }],
    ["a negative counter: { value: '-5' }", { value: '-5', ttlMs: 1000 }],
    ["an exponent counter: { value: '1e3' }", { value: '1e3', ttlMs: 1000 }],
    ["a hex counter: { value: '0x10' }", { value: '0x10', ttlMs: 1000 }],
    ["a counter with junk: { value: '3abc' }", { value: '3abc', ttlMs: 1000 }],
    ["an empty counter: { value: '' }", { value: '', ttlMs: 1000 }],
    ["a huge counter: { value: '9'.repeat(400) }", { value: '9'.repeat(400), ttlMs: 1000 }],
  ];

  it.each(GARBAGE_GET)('get() returning %s', async (_name, reply) => {
    const s = setup({ get: () => Promise.resolve(reply) });
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('get() returning an entry whose property getter throws', async () => {
    const reply = {
      get value(): string {
        throw new Error('lazy field failed');
      },
      ttlMs: 1000,
    };
    const s = setup({ get: () => Promise.resolve(reply) });
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
  });

  const GARBAGE_INCREMENT: readonly (readonly [string, unknown])[] = [
    ['undefined', undefined],
    ['a number', 1],
    ["{ count: 'NaN' }", { count: 'NaN', ttlMs: 1000 }],
    ["{ count: '1' }", { count: '1', ttlMs: 1000 }],
    ['{ count: NaN }', { count: NaN, ttlMs: 1000 }],
    ['{ count: 0 }', { count: 0, ttlMs: 1000 }],
    ['{ count: -1 }', { count: -1, ttlMs: 1000 }],
    ['{ count: 1.5 }', { count: 1.5, ttlMs: 1000 }],
    ['{ count: 2 ** 53 }', { count: 2 ** 53, ttlMs: 1000 }],
    ['{ count: 1 } without ttlMs', { count: 1 }],
    ['{ count: 1, ttlMs: 0 }', { count: 1, ttlMs: 0 }],
    ['{ count: 1, ttlMs: -1 }', { count: 1, ttlMs: -1 }],
  ];

  it.each(GARBAGE_INCREMENT)('increment() returning %s', async (_name, reply) => {
    const s = setup({ increment: () => Promise.resolve(reply) });
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
    expect(s.mailer.messages).toHaveLength(0);
  });

  it.each(GARBAGE_INCREMENT)('increment() returning %s while verifying a correct code', async (_name, reply) => {
    const s = setup();
    await s.np.requestCode(EMAIL);
    // The same store contents seen through a store whose increment answers garbage.
    const np = new NpUser({
      secret: SECRET,
      store: faultyStore(s.store.inner, { increment: () => Promise.resolve(reply) }),
      mailer: s.mailer,
      now: () => START,
      storeTimeoutMs: 20,
    });
    await rejectsWith(np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    // The code is still there, untaken: nothing was granted.
    expect(codeKeys(s.store.inner)).toHaveLength(1);
  });

  it.each([
    ['an object', { value: 'v1.x' }],
    ['a number', 42],
    ['null', null],
    ['a Buffer', Buffer.from('v1')],
    ['an array', ['v1']],
  ])('consume() returning %s after get and increment succeeded', async (_name, reply) => {
    const s = setup({ consume: () => Promise.resolve(reply) });
    await s.np.requestCode(EMAIL);
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    expect(s.store.calls.consume).toBe(1);
  });

  it.each([
    ['garbage', 'not a record'],
    ['an empty string', ''],
    ['a counter', '1'],
    ['a future version', 'v2.AAAAAAAAAAAAAAAA.1767226200000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a record with a short digest', 'v1.AAAAAAAAAAAAAAAA.1767226200000.AAAA'],
    ['a record with a non-numeric expiry', 'v1.AAAAAAAAAAAAAAAA.soon.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['JSON', '{"code":"123456"}'],
    ['a megabyte', 'v1.'.repeat(1 << 18)],
  ])('a code record that is not npuser’s format (%s)', async (_name, value) => {
    const s = setup();
    await s.np.requestCode(EMAIL);
    const [entry] = codeKeys(s.store.inner);
    await s.store.inner.set(entry!.key, value, entry!.ttlMs);
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
  });

  it('consume() returning a malformed record after the stored one compared equal', async () => {
    const s = setup({ consume: () => Promise.resolve('v1.garbage') });
    await s.np.requestCode(EMAIL);
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
  });

  it('consume() finding nothing after get() saw the code (another caller took it) grants no token', async () => {
    const s = setup({ consume: () => Promise.resolve(undefined) });
    await s.np.requestCode(EMAIL);
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_INVALID_CODE');
  });

  it('consume() handing back another record than the one asked for (outside the contract) grants no token', async () => {
    const s = setup({}, { resendCooldownSeconds: 0 });
    await s.np.requestCode(EMAIL);
    const [first] = codeKeys(s.store.inner);
    await s.np.requestCode(EMAIL);
    const [second] = codeKeys(s.store.inner);
    expect(second!.value).not.toBe(first!.value);
    // get() shows the newest record, consume() hands back the older one (same code, other
    // codeId) although npuser asked for the newest: a store ignoring `expected`.
    const np = new NpUser({
      secret: SECRET,
      store: faultyStore(s.store.inner, { consume: () => Promise.resolve(first!.value) }),
      mailer: s.mailer,
      now: () => START,
    });
    await rejectsWith(np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
  });

  it('a store that swaps in another address’s record never grants a token', async () => {
    const s = setup({}, { resendCooldownSeconds: 0 });
    await s.np.requestCode('eve@example.com');
    const eveRecord = codeKeys(s.store.inner)[0]!;
    await s.np.requestCode(EMAIL);
    const adaRecord = codeKeys(s.store.inner).find((e) => e.key !== eveRecord.key)!;
    // Eve knows her own code (the same CODE); the store hands back her record under Ada's key.
    await s.store.inner.set(adaRecord.key, eveRecord.value, adaRecord.ttlMs);
    await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_INVALID_CODE');
  });

  it('a store that never expires anything still cannot revive an expired code (the app clock checks too)', async () => {
    let t = START;
    const frozen = memoryCodeStore({ now: () => START });
    const np = new NpUser({ secret: SECRET, store: frozen, mailer: memoryMailer(), now: () => t, generateCode: () => CODE });
    await np.requestCode(EMAIL);
    t += 600_000;
    await rejectsWith(np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_INVALID_CODE');
  });

  describe('a store that fails halfway', () => {
    it('consume rejects after get and increment succeeded', async () => {
      const s = setup({ consume: () => Promise.reject(new Error('READONLY replica')) });
      await s.np.requestCode(EMAIL);
      await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
      expect(s.store.calls.get).toBeGreaterThan(0);
      expect(s.store.calls.increment).toBeGreaterThan(0);
      expect(s.store.calls.consume).toBe(1);
    });

    it('consume hangs after get and increment succeeded', async () => {
      const s = setup({ consume: never });
      await s.np.requestCode(EMAIL);
      await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    });

    it('consume throws synchronously', async () => {
      const s = setup({
        consume: () => {
          throw new Error('sync');
        },
      });
      await s.np.requestCode(EMAIL);
      await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    });

    it('the attempt counter fails after the code was read', async () => {
      const s = setup();
      await s.np.requestCode(EMAIL);
      const np = new NpUser({
        secret: SECRET,
        store: faultyStore(s.store.inner, {
          increment: (key, next) => (key.endsWith(':attempts') ? Promise.reject(new Error('OOM')) : next()),
        }),
        mailer: s.mailer,
        now: () => START,
      });
      await rejectsWith(np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    });

    it('only the code lookup fails while the counters answer', async () => {
      const s = setup({ get: (key, next) => (key.endsWith(':code') ? Promise.reject(new Error('MOVED')) : next()) });
      s.store.faulty = false;
      await s.np.requestCode(EMAIL);
      s.store.faulty = true;
      await rejectsWith(s.np.verifyCode(EMAIL, CODE, { clientKey: 'c' }), 'ERR_NPUSER_STORE_FAILED');
    });

    it('set fails after the limits were counted: nothing is mailed', async () => {
      const s = setup({ set: () => Promise.reject(new Error('OOM command not allowed')) });
      await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
      expect(s.store.calls.increment).toBeGreaterThan(0);
      expect(s.mailer.messages).toHaveLength(0);
    });

    it('counting a wrong guess fails: still a typed error, never a token', async () => {
      const s = setup();
      await s.np.requestCode(EMAIL);
      const np = new NpUser({
        secret: SECRET,
        store: faultyStore(s.store.inner, {
          increment: (key, next) => (key.endsWith(':failures') ? Promise.reject(new Error('down')) : next()),
        }),
        mailer: s.mailer,
        now: () => START,
      });
      await rejectsWith(np.verifyCode(EMAIL, '654321'), 'ERR_NPUSER_STORE_FAILED');
    });

    it('burning an exhausted code fails: still a typed error, never a token', async () => {
      const s = setup({ consume: () => Promise.reject(new Error('down')) }, { maxAttempts: 1 });
      await s.np.requestCode(EMAIL);
      const err = await caught(s.np.verifyCode(EMAIL, '654321'));
      expect(isNpUserError(err, 'ERR_NPUSER_STORE_FAILED') || isNpUserError(err, 'ERR_NPUSER_TOO_MANY_ATTEMPTS')).toBe(true);
      // The right code after the burn attempt: the counter says exhausted, so no token either.
      const again = await caught(s.np.verifyCode(EMAIL, CODE));
      expect(isNpUserError(again, 'ERR_NPUSER_STORE_FAILED') || isNpUserError(again, 'ERR_NPUSER_TOO_MANY_ATTEMPTS')).toBe(true);
    });

    it('the consuming step fails after the code was taken: no token, a typed error, and nothing leaks', async () => {
      // The code is consumed together with its attempt counter; a store that takes the code and
      // then fails leaves npuser unable to confirm the sign-in, so it answers as any failure does.
      const s = setup({ delete: () => Promise.reject(new Error('down')) });
      s.store.faulty = false;
      await s.np.requestCode(EMAIL);
      s.store.faulty = true;
      const err = await caught(s.np.verifyCode(EMAIL, CODE));
      expect(isNpUserError(err, 'ERR_NPUSER_STORE_FAILED')).toBe(true);
      expect(inspect(err, { depth: Infinity })).not.toContain(CODE);
      s.store.faulty = false;
      await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_INVALID_CODE');
    });
  });

  it('the process keeps working after faults: the next call on a healthy store succeeds', async () => {
    const s = setup(Object.fromEntries(METHODS.map((m) => [m, () => Promise.reject(new Error('down'))])));
    for (let i = 0; i < 5; i += 1) {
      await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_STORE_FAILED');
      await rejectsWith(s.np.verifyCode(EMAIL, CODE), 'ERR_NPUSER_STORE_FAILED');
    }
    s.store.faulty = false;
    await s.np.requestCode(EMAIL);
    const { token } = await s.np.verifyCode(EMAIL, CODE);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
  });
});

interface RecordingMailer extends Mailer {
  readonly received: CodeMessage[];
  readonly signals: AbortSignal[];
}

function recordingMailer(behaviour: (message: CodeMessage, options: MailerSendOptions) => Promise<void>): RecordingMailer {
  const received: CodeMessage[] = [];
  const signals: AbortSignal[] = [];
  return {
    received,
    signals,
    send(message, options) {
      received.push(message);
      signals.push(options.signal);
      return behaviour(message, options);
    },
  };
}

function mailerSetup(mailer: Mailer, options: Partial<NpUserOptions> = {}) {
  const now = () => START;
  const store = memoryCodeStore({ now });
  const np = new NpUser({ secret: SECRET, store, mailer, now, mailerTimeoutMs: 20, storeTimeoutMs: 1000, ...options });
  return { np, store };
}

describe('mailer faults fail closed with ERR_NPUSER_MAILER_FAILED and delete the code', () => {
  async function expectCodeGone(np: NpUser, store: MemoryCodeStore, mailer: RecordingMailer): Promise<void> {
    expect(codeKeys(store)).toHaveLength(0);
    expect(mailer.received).toHaveLength(1);
    // The code nobody received must not work, even for someone who saw it in transit.
    await rejectsWith(np.verifyCode(mailer.received[0]!.to, mailer.received[0]!.code), 'ERR_NPUSER_INVALID_CODE');
  }

  it('a mailer that rejects', async () => {
    const mailer = recordingMailer(() => Promise.reject(new Error('ECONNRESET')));
    const { np, store } = mailerSetup(mailer);
    await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    await expectCodeGone(np, store, mailer);
  });

  it('a mailer that throws synchronously', async () => {
    const mailer = recordingMailer(() => {
      throw new Error('transport not configured');
    });
    const { np, store } = mailerSetup(mailer);
    await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    await expectCodeGone(np, store, mailer);
  });

  it('a mailer that hangs times out, is aborted, and its code is deleted', async () => {
    const mailer = recordingMailer(never);
    const { np, store } = mailerSetup(mailer);
    const err = await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    expect(mailer.signals).toHaveLength(1);
    expect(mailer.signals[0]!.aborted).toBe(true);
    expectNoSecrets(mailer.signals[0]!.reason, [EMAIL, mailer.received[0]!.code]);
    expectNoSecrets(err, [EMAIL, mailer.received[0]!.code]);
    await expectCodeGone(np, store, mailer);
  });

  it('a mailer that answers after the timeout: still failed, code still deleted, no unhandled rejection', async () => {
    const late = recordingMailer(async () => {
      await later(60);
      throw new Error('late failure');
    });
    const a = mailerSetup(late);
    await rejectsWith(a.np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    const slow = recordingMailer(() => later(60).then(() => undefined));
    const b = mailerSetup(slow);
    await rejectsWith(b.np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    await later(100);
    await expectCodeGone(a.np, a.store, late);
    await expectCodeGone(b.np, b.store, slow);
  });

  it('a mailer that rejects while the store cannot delete: still MAILER_FAILED, and nothing escapes', async () => {
    const mailer = recordingMailer(() => Promise.reject(new Error('down')));
    const inner = memoryCodeStore({ now: () => START });
    const store = faultyStore(inner, { consume: () => Promise.reject(new Error('store down too')) });
    const np = new NpUser({ secret: SECRET, store, mailer, now: () => START, mailerTimeoutMs: 20 });
    await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    expect(store.calls.consume).toBe(1);
  });

  it('a failed send still counts against the limits (the cooldown holds)', async () => {
    const mailer = recordingMailer(() => Promise.reject(new Error('down')));
    const { np } = mailerSetup(mailer);
    await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
    await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_RATE_LIMITED');
  });

  describe('what the error carries', () => {
    const secretsOf = (mailer: RecordingMailer) => [EMAIL, mailer.received[0]!.code];

    it('neither the address nor the code, even when the mailer’s error quotes both; the cause keeps its string code', async () => {
      const mailer = recordingMailer((message) => {
        const inner = new Error(`inner: RCPT TO:<${message.to}> code ${message.code}`);
        const error = Object.assign(new Error(`550 <${message.to}> rejected code ${message.code}`, { cause: inner }), {
          code: 'EENVELOPE',
          response: `550 5.1.1 <${message.to}>: Recipient address rejected`,
          responseCode: 550,
          command: `RCPT TO:<${message.to}>`,
          rejected: [message.to],
          envelope: { from: 'noreply@app.example', to: [message.to] },
          text: `Your code: ${message.code}`,
        });
        return Promise.reject(error);
      });
      const { np } = mailerSetup(mailer);
      const err = await rejectsWith(np.requestCode('  ADA@Example.COM '), 'ERR_NPUSER_MAILER_FAILED');
      expectNoSecrets(err, secretsOf(mailer));
      expect(err.cause).toBeInstanceOf(Error);
      expect((err.cause as { code?: unknown }).code).toBe('EENVELOPE');
      // Still useful for diagnosis: the redacted message keeps the server's words.
      expect((err.cause as Error).message).toMatch(/550/);
    });

    it('neither, when the server echoes the address in another case', async () => {
      const mailer = recordingMailer((m) => Promise.reject(new Error(`550 <${m.to.toUpperCase()}> unknown; code=${m.code}`)));
      const { np } = mailerSetup(mailer);
      expectNoSecrets(await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED'), secretsOf(mailer));
    });

    it('neither, when the mailer rejects with a string or a plain object', async () => {
      const a = recordingMailer((m) => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a mailer rejecting with a non-Error is the fault
        return Promise.reject(`failed to send ${m.code} to ${m.to}`);
      });
      expectNoSecrets(await rejectsWith(mailerSetup(a).np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED'), secretsOf(a));
      const b = recordingMailer((m) => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a mailer rejecting with a non-Error is the fault
        return Promise.reject({ message: `failed ${m.code}`, to: m.to, toString: () => `${m.to} ${m.code}` });
      });
      expectNoSecrets(await rejectsWith(mailerSetup(b).np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED'), secretsOf(b));
    });

    it('neither, when an HTTP mail API echoes the payload it was sent (code grouped as in the body)', async () => {
      // A plausible custom mailer: `throw new Error(`API 400: ${await res.text()}`)`, where the
      // API echoes the JSON it received, body included: the body shows the code as "123 456".
      const mailer = recordingMailer((m) => {
        const body = `Your code to sign in to npuser:\n\n    ${m.code.slice(0, 3)} ${m.code.slice(3)}\n`;
        return Promise.reject(new Error(`API 400: ${JSON.stringify({ to: m.to, text: body })}`));
      });
      const { np } = mailerSetup(mailer);
      const err = await rejectsWith(np.requestCode(EMAIL), 'ERR_NPUSER_MAILER_FAILED');
      const code = mailer.received[0]!.code;
      expectNoSecrets(err, [EMAIL, code, `${code.slice(0, 3)} ${code.slice(3)}`]);
    });
  });
});

describe('event listener faults never break sign-in', () => {
  const LISTENERS: readonly (readonly [string, NonNullable<NpUserOptions['onEvent']>])[] = [
    [
      'throws',
      () => {
        throw new Error('listener bug');
      },
    ],
    [
      'rejects',
      async () => {
        await Promise.resolve();
        throw new Error('listener async bug');
      },
    ],
    ['rejects later', () => later(5).then(() => Promise.reject(new Error('late listener bug')))],
    [
      'returns a thenable whose then throws',
      () =>
        ({
          then() {
            throw new Error('bad thenable');
          },
        }) as unknown as Promise<void>,
    ],
    ['never settles', () => never()],
  ];

  it.each(LISTENERS)('a listener that %s', async (_name, onEvent) => {
    const s = setup({}, { onEvent, maxAttempts: 3 });
    await s.np.requestCode(EMAIL);
    await rejectsWith(s.np.verifyCode(EMAIL, '000000'), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_RATE_LIMITED');
    const { token } = await s.np.verifyCode(EMAIL, CODE);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    await later(20);
  });
});

describe('unhandled rejections', () => {
  it('none fired during this file', async () => {
    await later(100);
    for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled.map((r) => inspect(r))).toEqual([]);
  });
});
