import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  NpUser,
  OPTION_BOUNDS,
  consoleMailer,
  isNpUserError,
  memoryCodeStore,
  type CodeStore,
  type Mailer,
  type NpUserErrorCode,
  type NpUserOptions,
  type RequestContext,
} from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL } from './support/helpers.js';
import { caught, thrown } from './support/errors.js';
import { captureStdout } from './support/output.js';
import { spySetup } from './support/spy-store.js';
import { collectUnhandledRejections } from './support/unhandled-rejections.js';

// Every rejection in this file must be handled by the library or by the test:
// a rejection that escapes (a timer, a fire-and-forget promise) is a bug.
const unhandled = collectUnhandledRejections();

const SECRET = 'hostile input test secret, at least 32 bytes';
const MB = 1 << 20;
const MEGA = 'x'.repeat(MB);

const setup = (options: Partial<NpUserOptions> = {}) => spySetup(SECRET, options);

/**
 * Call `run` and return what the promise rejected with. A synchronous throw
 * from an async API (which callers using `.catch()` would miss) fails the test.
 */
async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  let promise: Promise<unknown>;
  try {
    promise = run();
  } catch (err) {
    throw new Error(`threw synchronously instead of rejecting: ${String(err)}`);
  }
  expect(promise).toBeInstanceOf(Promise);
  return caught(promise);
}

/** A proxy whose every property access (and every trap) throws. */
function explodingProxy(): object {
  const boom = (): never => {
    throw new Error('trap: property access');
  };
  return new Proxy({}, { get: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, getPrototypeOf: boom });
}

const HOSTILE_VALUES: readonly (readonly [name: string, value: unknown])[] = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 42],
  ['NaN', NaN],
  ['a bigint', 42n],
  ['a boolean', true],
  ['a Symbol', Symbol('x')],
  ['an object with toString', { toString: () => EMAIL }],
  ['an object with valueOf', { valueOf: () => EMAIL }],
  ['a String object', new String(EMAIL)],
  ['an array', [EMAIL]],
  ['a function', () => EMAIL],
  ['a throwing proxy', explodingProxy()],
];

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('new NpUser(options): hostile options', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', SECRET],
    ['a number', 42],
    ['an array', [SECRET]],
  ])('options = %s → TypeError', (_name, options) => {
    expect(thrown(() => new NpUser(options as unknown as NpUserOptions))).toBeInstanceOf(TypeError);
  });

  it('a throwing proxy as options is refused at construction', () => {
    expect(() => new NpUser(explodingProxy() as NpUserOptions)).toThrow();
  });

  const numericCases: (readonly [name: string, label: string, value: unknown])[] = [];
  for (const [name, { min, max }] of Object.entries(OPTION_BOUNDS)) {
    numericCases.push(
      [name, `min - 1 (${min - 1})`, min - 1],
      [name, `max + 1 (${max + 1})`, max + 1],
      [name, `non-integer (${min + 0.5})`, min + 0.5],
      [name, 'NaN', NaN],
      [name, 'Infinity', Infinity],
      [name, '-Infinity', -Infinity],
      [name, 'a numeric string', String(min)],
      [name, 'an object with valueOf', { valueOf: () => min }],
      [name, 'null', null],
      [name, 'a boolean', true],
      [name, 'a bigint', BigInt(min)],
      [name, 'MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER],
    );
  }

  it.each(numericCases)('%s = %s → TypeError naming the option', (name, _label, value) => {
    const err = thrown(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), [name]: value }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(new RegExp(`options\\.${name}\\b`));
  });

  it.each(Object.entries(OPTION_BOUNDS))('%s accepts exactly its bounds', (name, { min, max }) => {
    // A session is at least one token long, so the shortest session needs the shortest token.
    const fit = name === 'maxSessionSeconds' ? { tokenTtlSeconds: OPTION_BOUNDS.tokenTtlSeconds.min } : {};
    for (const value of [min, max]) {
      expect(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), ...fit, [name]: value })).not.toThrow();
    }
  });

  it('maxSessionSeconds shorter than tokenTtlSeconds is refused: no token may outlive its sign-in', () => {
    expect(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), tokenTtlSeconds: 7200, maxSessionSeconds: 3600 })).toThrow(
      /options\.maxSessionSeconds must be at least tokenTtlSeconds/,
    );
    expect(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), tokenTtlSeconds: 3600, maxSessionSeconds: 3600 })).not.toThrow();
  });

  const SECRETS: readonly (readonly [string, unknown])[] = [
    ['missing', undefined],
    ['null', null],
    ['empty string', ''],
    ['31 ASCII bytes', 's'.repeat(31)],
    ['15 two-byte characters (30 bytes)', 'é'.repeat(15)],
    ['31-byte Uint8Array', new Uint8Array(31)],
    ['empty Uint8Array', new Uint8Array(0)],
    ['a number', 1234567890123456],
    ['an ArrayBuffer', new ArrayBuffer(64)],
    ['a DataView', new DataView(new ArrayBuffer(64))],
    ['an array of 64 numbers', new Array<number>(64).fill(7)],
    ['an object with toString', { toString: () => SECRET }],
    ['a String object', new String(SECRET)],
    ['a Symbol', Symbol(SECRET)],
  ];

  it.each(SECRETS)('secret: %s → TypeError naming secret', (_name, secret) => {
    const err = thrown(() => new NpUser({ secret: secret as string, mailer: memoryMailer() }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/options\.secret\b/);
  });

  it.each(SECRETS.filter(([name]) => name !== 'missing'))('subjectSecret: %s → TypeError naming subjectSecret', (_name, subjectSecret) => {
    const err = thrown(() => new NpUser({ secret: SECRET, subjectSecret: subjectSecret as string, mailer: memoryMailer() }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/options\.subjectSecret\b/);
  });

  it('accepts a 32-byte secret as a string or bytes, and copies the bytes', async () => {
    const bytes = new Uint8Array(32).fill(1);
    const s = setup({ secret: bytes });
    await s.np.requestCode(EMAIL);
    // Zeroing the caller's buffer afterwards must not change the keys in use.
    bytes.fill(0);
    const { token } = await s.np.verifyCode(EMAIL, s.mailer.lastCodeFor(EMAIL)!);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    const zeroKeyed = new NpUser({ secret: new Uint8Array(32), mailer: memoryMailer(), now: () => Date.UTC(2026, 0, 1) });
    expect(isNpUserError(await rejection(() => zeroKeyed.validateToken(token)), 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
  });

  it.each([
    ['issuer', ''],
    ['issuer', 'i'.repeat(257)],
    ['issuer', 'npuser\r\nx'],
    ['issuer', 42],
    ['audience', ''],
    ['audience', 'a\u0000b'],
    ['audience', null],
    ['appName', 'Blog\r\nBcc: evil@example.com'],
    ['appName', 'Blog\nSubject: hi'],
    ['appName', 'a'.repeat(257)],
    ['appName', MEGA],
    ['appName', { toString: () => 'Blog' }],
  ])('%s = %j → TypeError naming it', (name, value) => {
    const err = thrown(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), [name]: value }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(new RegExp(`options\\.${name}\\b`));
  });

  const methods = { set: vi.fn(), get: vi.fn(), consume: vi.fn(), delete: vi.fn(), increment: vi.fn() };
  it.each([
    ['null', null],
    ['a string', 'redis://localhost'],
    ['an empty object', {}],
    ['an object missing increment', { ...methods, increment: undefined }],
    ['an object missing consume', { ...methods, consume: undefined }],
    ['methods that are not functions', { ...methods, get: 'get' }],
    ['a number', 42],
  ])('store: %s → TypeError naming store', (_name, store) => {
    const err = thrown(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), store: store as unknown as CodeStore }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/options\.store\b/);
  });

  it.each([
    ['null', null],
    ['a string', 'smtp://localhost'],
    ['an empty object', {}],
    ['send that is not a function', { send: 'send' }],
    ['a function', () => undefined],
  ])('mailer: %s → TypeError naming mailer', (_name, mailer) => {
    const err = thrown(() => new NpUser({ secret: SECRET, mailer: mailer as unknown as Mailer }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/options\.mailer\b/);
  });

  it.each(['now', 'generateCode', 'onEvent'])('%s that is not a function → TypeError naming it', (name) => {
    for (const value of ['Date.now', 42, {}, null, true]) {
      const err = thrown(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), [name]: value }));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(new RegExp(`options\\.${name}\\b`));
    }
  });

  it('a store or mailer behind a throwing proxy is refused at construction', () => {
    expect(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), store: explodingProxy() as CodeStore })).toThrow();
    expect(() => new NpUser({ secret: SECRET, mailer: explodingProxy() as Mailer })).toThrow();
  });

  it('options are copied at construction: mutating the object afterwards changes nothing', async () => {
    const mailer = memoryMailer();
    const options: NpUserOptions = { secret: SECRET, mailer, maxAttempts: 1, generateCode: () => '111111' };
    const np = new NpUser(options);
    options.generateCode = () => '999999';
    options.maxAttempts = 10;
    options.secret = 'a completely different secret of 32+ bytes';
    await np.requestCode(EMAIL);
    expect(mailer.lastCodeFor(EMAIL)).toBe('111111');
    // maxAttempts is still 1: the first wrong guess burns the code.
    expect(isNpUserError(await rejection(() => np.verifyCode(EMAIL, '222222')), 'ERR_NPUSER_TOO_MANY_ATTEMPTS')).toBe(true);
  });
});

describe('NODE_ENV=production', () => {
  it('new NpUser({ secret }) without a mailer is a clear TypeError', () => {
    vi.stubEnv('NODE_ENV', 'production');
    const err = thrown(() => new NpUser({ secret: SECRET }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/options\.mailer/);
    expect((err as Error).message).toMatch(/production/);
    expect(thrown(() => new NpUser({ secret: SECRET, mailer: undefined }))).toBeInstanceOf(TypeError);
  });

  it('consoleMailer() is refused unless { force: true } (exactly true)', () => {
    vi.stubEnv('NODE_ENV', 'production');
    for (const options of [undefined, {}, { force: false }, { force: 'true' }, { force: 1 }, { force: {} }]) {
      const err = thrown(() => consoleMailer(options as { force?: boolean }));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/production/);
    }
    expect(() => consoleMailer({ force: true, write: () => undefined })).not.toThrow();
  });

  it('an explicit mailer works, and a forced console mailer is allowed', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const s = setup();
    await s.np.requestCode(EMAIL);
    expect(s.mailer.messages).toHaveLength(1);
    const printed: string[] = [];
    expect(() => new NpUser({ secret: SECRET, mailer: consoleMailer({ force: true, write: (t) => void printed.push(t) }) })).not.toThrow();
  });

  it('outside production the defaults are allowed (the guard is really the environment)', () => {
    vi.stubEnv('NODE_ENV', 'development');
    const stdout = captureStdout();
    expect(() => new NpUser({ secret: SECRET })).not.toThrow();
    expect(() => consoleMailer()).not.toThrow();
    stdout.restore();
  });
});

describe('requestCode / verifyCode: hostile arguments touch neither store nor mailer', () => {
  it.each(HOSTILE_VALUES)('email = %s → TypeError', async (_name, email) => {
    const s = setup();
    expect(await rejection(() => s.np.requestCode(email as string))).toBeInstanceOf(TypeError);
    expect(await rejection(() => s.np.verifyCode(email as string, '123456'))).toBeInstanceOf(TypeError);
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });

  it.each(HOSTILE_VALUES)('code = %s → TypeError', async (_name, code) => {
    const s = setup();
    expect(await rejection(() => s.np.verifyCode(EMAIL, code as string))).toBeInstanceOf(TypeError);
    expect(s.store.total()).toBe(0);
  });

  it.each([
    ['a megabyte email', `${MEGA}@example.com`, 'ERR_NPUSER_INVALID_EMAIL'],
    ['an email with CRLF', 'ada@example.com\r\nBcc: eve@example.com', 'ERR_NPUSER_INVALID_EMAIL'],
    ['an email with NUL', 'ada\u0000@example.com', 'ERR_NPUSER_INVALID_EMAIL'],
    ['an email of control characters', '\u0001\u0002@\u0003.\u0004', 'ERR_NPUSER_INVALID_EMAIL'],
    ['an email with lone surrogates', 'ada\uD800@example.com', 'ERR_NPUSER_INVALID_EMAIL'],
    ['an email with a lone surrogate in the domain', 'ada@exam\uDC00ple.com', 'ERR_NPUSER_INVALID_EMAIL'],
  ] as const)('%s → %s', async (_name, email, code: NpUserErrorCode) => {
    const s = setup();
    expect(isNpUserError(await rejection(() => s.np.requestCode(email)), code)).toBe(true);
    expect(isNpUserError(await rejection(() => s.np.verifyCode(email, '123456')), code)).toBe(true);
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });

  it.each([
    ['a megabyte code', MEGA],
    ['a megabyte of digits', '1'.repeat(MB)],
    ['a code with control characters', '12\u000134\u00025'],
    ['a code with CRLF', '123456\r\n'],
  ])('%s → ERR_NPUSER_INVALID_CODE', async (_name, code) => {
    const s = setup();
    expect(isNpUserError(await rejection(() => s.np.verifyCode(EMAIL, code)), 'ERR_NPUSER_INVALID_CODE')).toBe(true);
    expect(s.store.total()).toBe(0);
  });

  const BAD_CONTEXTS: readonly (readonly [name: string, context: unknown])[] = [
    ['null', null],
    ['a string', '203.0.113.7'],
    ['a number', 42],
    ['an array', [{ clientKey: 'x' }]],
    ['a boolean', true],
    ['a Symbol', Symbol('ctx')],
    ['a function', () => ({})],
    ['a throwing proxy', explodingProxy()],
    ['clientKey: number', { clientKey: 42 }],
    ['clientKey: null', { clientKey: null }],
    ['clientKey: empty', { clientKey: '' }],
    ['clientKey: 513 characters', { clientKey: 'k'.repeat(513) }],
    ['clientKey: 1 MB', { clientKey: MEGA }],
    ['clientKey: object with toString', { clientKey: { toString: () => '203.0.113.7' } }],
    ['clientKey: array', { clientKey: ['203.0.113.7'] }],
    ['clientKey: Symbol', { clientKey: Symbol('ip') }],
    ['clientKey: String object', { clientKey: new String('203.0.113.7') }],
    ['locale: number', { locale: 42 }],
    ['locale: null', { locale: null }],
    ['locale: empty', { locale: '' }],
    ['locale: 1 MB', { locale: MEGA }],
    ['locale: 1 MB of a valid-looking tag', { locale: `en${'-abcdefgh'.repeat(MB / 9)}` }],
    ['locale: not BCP 47', { locale: 'not a locale' }],
    ['locale: underscore', { locale: 'en_US' }],
    ['locale: header injection', { locale: 'en\r\nBcc: eve@example.com' }],
    ['locale: NUL', { locale: 'en\u0000' }],
    ['locale: path', { locale: '../../etc/passwd' }],
    ['locale: markup', { locale: '<script>' }],
    ['locale: array', { locale: ['en'] }],
    ['locale: object with toString', { locale: { toString: () => 'en' } }],
  ];

  it.each(BAD_CONTEXTS)('context %s → TypeError (or the proxy’s own error), nothing touched', async (name, context) => {
    const s = setup();
    const errors = [
      await rejection(() => s.np.requestCode(EMAIL, context as RequestContext)),
      await rejection(() => s.np.verifyCode(EMAIL, '123456', context as RequestContext)),
    ];
    for (const err of errors) {
      if (name === 'a throwing proxy') {
        // The library cannot read the object, so the caller's own error surfaces.
        expect(err instanceof TypeError || (err as Error).message === 'trap: property access').toBe(true);
      } else {
        expect(err).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/context/);
      }
      // The message never echoes the hostile value.
      expect((err as Error).message.length).toBeLessThan(300);
    }
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('accepts boundary contexts: a 512-character clientKey, a canonicalised locale', async () => {
    const s = setup();
    await s.np.requestCode(EMAIL, { clientKey: 'k'.repeat(512), locale: 'EN-gb' });
    expect(s.mailer.messages[0]!.locale).toBe('en-GB');
  });

  it('reads each context field once, so a getter cannot swap in an unchecked value', async () => {
    const s = setup({ generateCode: () => '123456' });
    const reads = { clientKey: 0, locale: 0 };
    const context = {
      get clientKey() {
        reads.clientKey += 1;
        return reads.clientKey === 1 ? 'client-1' : MEGA;
      },
      get locale() {
        reads.locale += 1;
        return reads.locale === 1 ? 'fr' : 'en\r\nBcc: eve@example.com';
      },
    };
    await s.np.requestCode(EMAIL, context);
    expect(reads).toEqual({ clientKey: 1, locale: 1 });
    expect(s.mailer.messages[0]!.locale).toBe('fr');
  });
});

/** Strings that are not a token of any app: malformed, oversized, or unsigned. */
const MALFORMED_TOKENS: readonly (readonly [name: string, token: string])[] = [
  ['empty', ''],
  ['one segment', 'abc'],
  ['two segments', 'abc.def'],
  ['four segments', 'a.b.c.d'],
  ['empty segments', '..'],
  ['1 MB', MEGA],
  ['1 MB in three segments', `${MEGA}.${MEGA}.${MEGA}`],
  ['4097 characters in three segments', `${'a'.repeat(4000)}.${'b'.repeat(48)}.${'c'.repeat(47)}`],
  ['CRLF', 'a.b.c\r\n'],
  ['NUL', 'a.b\u0000.c'],
  ['spaces', ' a.b.c '],
  ['padding', 'YQ==.YQ==.YQ=='],
  ['standard base64 characters', 'a+b.c/d.e'],
  ['non-ASCII', 'ä.ö.ü'],
  ['JSON', '{"alg":"none"}'],
  ['garbage base64url', 'xxxx.yyyy.zzzz'],
  [
    'alg none',
    `${Buffer.from('{"alg":"none","typ":"npuser+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.x`,
  ],
  ['control characters only', '\u0001\u0002.\u001b[0m.\u007f'],
];

describe('validateToken: hostile tokens', () => {
  it.each(HOSTILE_VALUES)('%s → TypeError', async (_name, token) => {
    const s = setup();
    expect(await rejection(() => s.np.validateToken(token as string))).toBeInstanceOf(TypeError);
    expect(s.store.total()).toBe(0);
  });

  it.each(MALFORMED_TOKENS)('%s → ERR_NPUSER_INVALID_TOKEN', async (_name, token) => {
    const s = setup();
    const err = await rejection(() => s.np.validateToken(token));
    expect(isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
    expect((err as Error).message).not.toContain(token.slice(0, 20) || '\u0000never');
    expect(s.store.total()).toBe(0);
  });

  it('a genuine token with anything appended is refused', async () => {
    const s = setup();
    await s.np.requestCode(EMAIL);
    const { token } = await s.np.verifyCode(EMAIL, s.mailer.lastCodeFor(EMAIL)!);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    for (const suffix of ['\n', ' ', '\u0000', '.', '.x', 'A'.repeat(4096)]) {
      expect(
        isNpUserError(await rejection(() => s.np.validateToken(token + suffix)), 'ERR_NPUSER_INVALID_TOKEN'),
        JSON.stringify(suffix.slice(0, 4)),
      ).toBe(true);
    }
  });
});

describe('revokeToken: hostile tokens never reach the store', () => {
  // revokeToken writes to the store (the revoked jti) only for a genuine,
  // unexpired token of this app; everything else must be refused before the
  // store, so nobody can fill it with entries of their choosing.

  /** A genuine token of `s`, from a real sign-in; returns it with the store's call count afterwards. */
  async function signedIn(s: ReturnType<typeof setup>): Promise<{ token: string; calls: number }> {
    await s.np.requestCode(EMAIL);
    const { token } = await s.np.verifyCode(EMAIL, s.mailer.lastCodeFor(EMAIL)!);
    return { token, calls: s.store.total() };
  }

  it('the spy sees a revocation: a genuine token is revoked with exactly one write, then refused', async () => {
    // The control for the tests below: the same setup does write when the token is genuine.
    const s = setup();
    const { token, calls } = await signedIn(s);
    const sets = s.store.calls.set;
    await expect(s.np.revokeToken(token)).resolves.toBeUndefined();
    expect(s.store.total() - calls).toBe(1);
    expect(s.store.calls.set - sets).toBe(1);
    expect(isNpUserError(await rejection(() => s.np.validateToken(token)), 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
  });

  it.each(HOSTILE_VALUES)('%s → TypeError about the token, store untouched', async (_name, token) => {
    const s = setup();
    const err = await rejection(() => s.np.revokeToken(token as string));
    expect(err).toBeInstanceOf(TypeError);
    // Not the other TypeError revokeToken has (checkRevocation off): this one is about the argument.
    expect((err as Error).message).not.toMatch(/checkRevocation/);
    expect(s.store.total()).toBe(0);
  });

  it.each(MALFORMED_TOKENS)('%s → ERR_NPUSER_INVALID_TOKEN, store untouched', async (_name, token) => {
    const s = setup();
    const err = await rejection(() => s.np.revokeToken(token));
    expect(isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
    expect((err as Error).message).not.toContain(token.slice(0, 20) || '\u0000never');
    expect(s.store.total()).toBe(0);
  });

  it('forged tokens (another app’s; the right key with another audience or issuer; a swapped payload; anything appended) → ERR_NPUSER_INVALID_TOKEN, nothing written', async () => {
    const s = setup();
    const { token, calls } = await signedIn(s);
    const forged: Array<[string, string]> = [];

    // Genuine tokens of other apps. Same secret, other audience or issuer: signed
    // with the very key this app verifies with, refused only by their claims.
    const others: Array<[string, Partial<NpUserOptions>]> = [
      ['another secret', { secret: 'a different secret, also at least 32 bytes' }],
      ['the same secret, another audience', { audience: 'another-app' }],
      ['the same secret, another issuer', { issuer: 'another-issuer' }],
    ];
    for (const [name, options] of others) {
      const other = setup(options);
      forged.push([name, (await signedIn(other)).token]);
    }

    // This app's token with another jti and the original signature.
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    forged.push([
      'a swapped payload',
      `${header}.${Buffer.from(JSON.stringify({ ...claims, jti: 'A'.repeat(22) })).toString('base64url')}.${signature}`,
    ]);
    // The genuine header and payload with garbage for a signature.
    forged.push(['a garbage signature', `${header}.${payload}.${'A'.repeat(signature.length)}`]);
    for (const suffix of ['\n', '\u0000', '.x', 'A'.repeat(4096)])
      forged.push([`the genuine token + ${JSON.stringify(suffix.slice(0, 4))}`, token + suffix]);

    for (const [name, candidate] of forged) {
      expect(isNpUserError(await rejection(() => s.np.revokeToken(candidate)), 'ERR_NPUSER_INVALID_TOKEN'), name).toBe(true);
    }
    expect(s.store.total()).toBe(calls);
    // Nothing was revoked by the forgeries: the genuine token still validates.
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
  });

  it('an expired genuine token resolves without touching the store (nothing left to revoke)', async () => {
    const s = setup();
    const { token, calls } = await signedIn(s);
    s.advance(2 * 3600_000); // past the 1 h lifetime and the 30 s tolerance
    await expect(s.np.revokeToken(token)).resolves.toBeUndefined();
    expect(s.store.total()).toBe(calls);
  });
});

describe('memoryCodeStore: hostile arguments', () => {
  it.each([
    ['maxEntries 0', { maxEntries: 0 }],
    ['maxEntries -1', { maxEntries: -1 }],
    ['maxEntries 1.5', { maxEntries: 1.5 }],
    ['maxEntries NaN', { maxEntries: NaN }],
    ['maxEntries Infinity', { maxEntries: Infinity }],
    ['maxEntries "10"', { maxEntries: '10' }],
    ['maxEntries 2^53', { maxEntries: 2 ** 53 }],
    ['now a string', { now: 'Date.now' }],
    ['now a number', { now: 42 }],
    ['options null', null],
  ])('memoryCodeStore(%s) → TypeError', (_name, options) => {
    expect(thrown(() => memoryCodeStore(options as Parameters<typeof memoryCodeStore>[0]))).toBeInstanceOf(TypeError);
  });

  const BAD_KEYS: readonly unknown[] = [undefined, null, '', 42, Symbol('k'), { toString: () => 'k' }, ['k'], new String('k')];
  const BAD_TTLS: readonly unknown[] = [undefined, null, 0, -1, NaN, Infinity, -Infinity, '1000', { valueOf: () => 1000 }, 10n];
  const BAD_VALUES: readonly unknown[] = [undefined, null, 42, { toString: () => 'v' }, ['v'], Buffer.from('v'), Symbol('v')];

  it('every method rejects (never throws synchronously) with a TypeError on a bad key, and stores nothing', async () => {
    const store = memoryCodeStore();
    for (const key of BAD_KEYS) {
      const k = key as string;
      expect(await rejection(() => store.set(k, 'v', 1000))).toBeInstanceOf(TypeError);
      expect(await rejection(() => store.get(k))).toBeInstanceOf(TypeError);
      expect(await rejection(() => store.consume(k))).toBeInstanceOf(TypeError);
      expect(await rejection(() => store.delete(k))).toBeInstanceOf(TypeError);
      expect(await rejection(() => store.increment(k, 1000))).toBeInstanceOf(TypeError);
    }
    expect(store.size).toBe(0);
  });

  it('set and increment reject a bad TTL with a TypeError and store nothing', async () => {
    const store = memoryCodeStore();
    for (const ttl of BAD_TTLS) {
      expect(await rejection(() => store.set('k', 'v', ttl as number))).toBeInstanceOf(TypeError);
      expect(await rejection(() => store.increment('c', ttl as number))).toBeInstanceOf(TypeError);
    }
    expect(store.size).toBe(0);
  });

  it('set rejects a non-string value with a TypeError and stores nothing', async () => {
    const store = memoryCodeStore();
    for (const value of BAD_VALUES) {
      expect(await rejection(() => store.set('k', value as string, 1000))).toBeInstanceOf(TypeError);
    }
    expect(store.size).toBe(0);
  });

  it('increment on a value that is not a counter rejects instead of returning NaN', async () => {
    const store = memoryCodeStore();
    await store.set('k', 'v1.not-a-counter', 1000);
    await rejection(() => store.increment('k', 1000));
    expect((await store.get('k'))?.value).toBe('v1.not-a-counter');
  });

  it('keys that look like prototype properties are ordinary keys', async () => {
    const store = memoryCodeStore();
    for (const key of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
      expect(await store.get(key)).toBeUndefined();
      await store.set(key, `value of ${key}`, 1000);
      expect((await store.get(key))?.value).toBe(`value of ${key}`);
      expect((await store.increment(`${key}:n`, 1000)).count).toBe(1);
    }
    expect(store.size).toBe(8);
    expect(({} as Record<string, unknown>)['value of __proto__']).toBeUndefined();
  });
});

describe('consoleMailer: hostile options', () => {
  it.each([
    ['write a string', { write: 'stdout' }],
    ['write a number', { write: 1 }],
    ['write an object', { write: {} }],
    ['options null', null],
  ])('consoleMailer(%s) → TypeError', (_name, options) => {
    vi.stubEnv('NODE_ENV', 'test');
    expect(thrown(() => consoleMailer(options as Parameters<typeof consoleMailer>[0]))).toBeInstanceOf(TypeError);
  });
});

describe('unhandled rejections', () => {
  it('none fired during this file', async () => {
    // Give any stray rejection a few turns of the event loop to surface.
    for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });
});
