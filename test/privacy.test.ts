import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  NpUser,
  isNpUserError,
  memoryCodeStore,
  renderCodeMessage,
  type NpUserErrorCode,
  type NpUserEvent,
  type NpUserOptions,
} from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { captureStdout } from './support/output.js';
import { reachableStrings } from './support/reachable-strings.js';
import { spyStore } from './support/spy-store.js';

const SECRET = 'privacy test secret, at least thirty-two bytes';
const OTHER_SECRET = 'another app with its own secret of 32+ bytes';
const SUBJECT_SECRET = 'a separate subject secret, also 32+ bytes long';
const START = Date.UTC(2026, 0, 1);
const SECOND = 1000;
const HOUR = 3600 * SECOND;

// Long and full of dots and pluses, so that neither they nor their parts can
// turn up by chance inside a base64url hash or a number.
const TYPED = '  Ada.Lovelace+NpUser-Test@Analytical-Engine.EXAMPLE ';
const ADDRESS = 'ada.lovelace+npuser-test@analytical-engine.example';
const LOCAL = 'ada.lovelace+npuser-test';
const DOMAIN = 'analytical-engine.example';
const CODE = '987654';
const SECOND_CODE = '975310';
const WRONG = ['123450', '555555', '000017'];
const CLIENT_KEY = 'client:203.0.113.77';

const SENSITIVE = [ADDRESS, TYPED.trim(), LOCAL, DOMAIN, CODE, SECOND_CODE, CLIENT_KEY, '203.0.113.77'];

function setup(options: Partial<NpUserOptions> = {}) {
  let t = START;
  const now = () => t;
  const store = spyStore(memoryCodeStore({ now }), { record: true });
  const mailer = memoryMailer();
  const events: NpUserEvent[] = [];
  const codes = [CODE, SECOND_CODE];
  let issued = 0;
  const np = new NpUser({
    secret: SECRET,
    store,
    mailer,
    now,
    generateCode: () => codes[Math.min(issued++, codes.length - 1)]!,
    onEvent: (event) => void events.push(event),
    ...options,
  });
  return {
    np,
    store,
    mailer,
    events,
    now,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function expectNothingSensitive(texts: readonly string[], what: string, sensitive: readonly string[] = SENSITIVE): void {
  for (const text of texts) {
    const lower = text.toLowerCase();
    for (const secret of sensitive) {
      expect(lower.includes(secret.toLowerCase()), `${what} contains ${JSON.stringify(secret)}: ${text.slice(0, 200)}`).toBe(false);
    }
  }
}

function decodeSegment(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
}

type Setup = ReturnType<typeof setup>;

interface FlowResult {
  token: string;
  subject: string;
  errors: unknown[];
}

/**
 * A full flow: a request with a client key, two wrong guesses, a success, a
 * rate-limited request, then a later request and one more wrong guess (which
 * leaves a failure window behind).
 */
async function fullFlow(s: Setup): Promise<FlowResult> {
  const errors: unknown[] = [];
  const expectCode = async (promise: Promise<unknown>, code: NpUserErrorCode) => {
    const err = await promise.then(
      () => new Error(`expected ${code}`),
      (e: unknown) => e,
    );
    expect(isNpUserError(err, code), inspect(err)).toBe(true);
    errors.push(err);
  };
  await s.np.requestCode(TYPED, { clientKey: CLIENT_KEY, locale: 'fr' });
  await expectCode(s.np.verifyCode(TYPED, WRONG[0]!, { clientKey: CLIENT_KEY }), 'ERR_NPUSER_INVALID_CODE');
  await expectCode(s.np.verifyCode(ADDRESS, WRONG[1]!, { clientKey: CLIENT_KEY }), 'ERR_NPUSER_INVALID_CODE');
  const { token, subject, email } = await s.np.verifyCode(TYPED, CODE, { clientKey: CLIENT_KEY });
  expect(email).toBe(ADDRESS);
  await expectCode(s.np.verifyCode(ADDRESS, CODE, { clientKey: CLIENT_KEY }), 'ERR_NPUSER_INVALID_CODE');
  await expectCode(s.np.requestCode(ADDRESS, { clientKey: CLIENT_KEY }), 'ERR_NPUSER_RATE_LIMITED');
  s.advance(61 * SECOND);
  await s.np.requestCode(ADDRESS, { clientKey: CLIENT_KEY });
  await expectCode(s.np.verifyCode(ADDRESS, WRONG[2]!, { clientKey: CLIENT_KEY }), 'ERR_NPUSER_INVALID_CODE');
  await expectCode(s.np.validateToken(`${token}x`), 'ERR_NPUSER_INVALID_TOKEN');
  return { token, subject, errors };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('privacy: what the store sees', () => {
  it('no key or value, written or read, carries the address (any case), its parts, the code or the client key', async () => {
    const s = setup();
    await fullFlow(s);
    expect(s.store.calls.set).toBeGreaterThan(0);
    expect(s.store.calls.increment).toBeGreaterThan(0);
    const dump = s.store.inner.entries();
    expect(dump.length).toBeGreaterThan(3);
    expectNothingSensitive(s.store.seen, 'a store key or value');
    expectNothingSensitive([JSON.stringify(dump)], 'the store dump');
  });

  it('store keys are keyed hashes, not plain hashes of the address or the client key', async () => {
    const s = setup();
    await fullFlow(s);
    const plain = [ADDRESS, CLIENT_KEY].flatMap((value) =>
      ['sha256', 'sha1', 'md5'].flatMap((algorithm) => {
        const digest = createHash(algorithm).update(value).digest();
        return [digest.toString('hex'), digest.toString('base64url'), digest.toString('base64')];
      }),
    );
    expectNothingSensitive(s.store.seen, 'a store key', plain);
  });

  it('after every code and window has expired (24 h), the memory store is empty', async () => {
    const s = setup();
    await fullFlow(s);
    const entries = s.store.inner.entries();
    expect(entries.length).toBeGreaterThan(0);
    // Every entry has a TTL from the moment it exists, and none outlives the 24 h failure window.
    const longest = Math.max(...entries.map((e) => e.ttlMs));
    expect(longest).toBeGreaterThan(0);
    expect(longest).toBeLessThanOrEqual(24 * HOUR);
    s.advance(longest - 1);
    expect(s.store.inner.entries().length).toBeGreaterThan(0);
    s.advance(1);
    // Nothing live is left. (`size` still counts the expired entries until a
    // write or a sweep removes them: reads never change the store.)
    expect(s.store.inner.entries()).toEqual([]);
  });
});

describe('privacy: events', () => {
  it('carry only type, reason, subject and at, with the pseudonym and no address, code or client key', async () => {
    const s = setup();
    const { subject } = await fullFlow(s);
    expect(s.events.length).toBeGreaterThanOrEqual(6);
    for (const event of s.events) {
      expect(Object.keys(event).sort()).toEqual(['at', 'reason', 'subject', 'type']);
      expect(event.subject).toBe(subject);
      expect(event.at).toBeInstanceOf(Date);
    }
    expect(s.events.map((e) => `${e.type}:${e.reason}`)).toEqual(
      expect.arrayContaining(['code.requested:sent', 'code.failed:wrong-code', 'code.verified:verified', 'rate.limited:cooldown']),
    );
    expectNothingSensitive([JSON.stringify(s.events), inspect(s.events, { depth: 5 })], 'an event');
  });
});

describe('privacy: tokens', () => {
  it('carry exactly iss, aud, sub, iat, exp, jti, auth_time and no address anywhere', async () => {
    const s = setup();
    const { token, subject } = await fullFlow(s);
    const [header, payload, signature] = token.split('.');
    expect(signature).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Object.keys(decodeSegment(header!)).sort()).toEqual(['alg', 'typ']);
    const claims = decodeSegment(payload!);
    expect(Object.keys(claims).sort()).toEqual(['aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'sub']);
    expect(claims.sub).toBe(subject);
    const decoded = [token, JSON.stringify(decodeSegment(header!)), JSON.stringify(claims)];
    expectNothingSensitive(decoded, 'the token');
    const validated = await s.np.validateToken(token);
    expectNothingSensitive([JSON.stringify(validated)], 'the validated token');
    expect(Object.keys(validated.claims).sort()).toEqual(['aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'sub']);
  });
});

describe('privacy: subjects', () => {
  async function subjectOf(options: Partial<NpUserOptions>, typed = ADDRESS): Promise<{ subject: string; token: string }> {
    const s = setup(options);
    await s.np.requestCode(typed);
    const { subject, token } = await s.np.verifyCode(typed, CODE);
    return { subject, token };
  }

  it('sub is not a plain or obviously keyed hash of the address', async () => {
    const { subject } = await subjectOf({});
    const candidates: Buffer[] = [];
    for (const value of [ADDRESS, TYPED, TYPED.trim(), ADDRESS.toUpperCase()]) {
      for (const algorithm of ['sha256', 'sha512', 'sha1', 'md5']) candidates.push(createHash(algorithm).update(value).digest());
      for (const key of [SECRET, '', 'npuser', 'npuser/v1 subject', Buffer.alloc(32)]) {
        candidates.push(createHmac('sha256', key).update(value).digest());
      }
      candidates.push(
        createHash('sha256')
          .update(SECRET + value)
          .digest(),
      );
      candidates.push(
        createHash('sha256')
          .update(value + SECRET)
          .digest(),
      );
      candidates.push(createHmac('sha256', value).update(SECRET).digest());
    }
    const encodings = candidates.flatMap((digest) => [digest.toString('base64url'), digest.toString('hex'), digest.toString('base64')]);
    expect(encodings).not.toContain(subject);
    expect(subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('differs between two apps with different secrets', async () => {
    const a = await subjectOf({});
    const b = await subjectOf({ secret: OTHER_SECRET });
    expect(a.subject).not.toBe(b.subject);
  });

  it('is the same across two instances (a restart) with the same secret, whatever the case typed', async () => {
    const a = await subjectOf({});
    const b = await subjectOf({}, TYPED);
    expect(b.subject).toBe(a.subject);
  });

  it('survives rotating secret when subjectSecret stays; tokens signed with the old secret are then refused', async () => {
    const before = await subjectOf({ subjectSecret: SUBJECT_SECRET });
    const after = setup({ secret: OTHER_SECRET, subjectSecret: SUBJECT_SECRET });
    await after.np.requestCode(ADDRESS);
    const { subject } = await after.np.verifyCode(ADDRESS, CODE);
    expect(subject).toBe(before.subject);
    const err = await after.np.validateToken(before.token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
  });

  it('an app that started without subjectSecret can rotate by moving the old secret to subjectSecret', async () => {
    const before = await subjectOf({ secret: SECRET });
    const after = await subjectOf({ secret: OTHER_SECRET, subjectSecret: SECRET });
    expect(after.subject).toBe(before.subject);
    // And subjectSecret really is what decides it.
    const other = await subjectOf({ secret: SECRET, subjectSecret: SUBJECT_SECRET });
    expect(other.subject).not.toBe(before.subject);
  });

  it('differs between two addresses, including look-alikes', async () => {
    const a = await subjectOf({});
    const b = await subjectOf({}, 'ada.lovelace+npuser-test@analytical-engine.examp1e');
    const c = await subjectOf({}, 'ada.lovelace+npuser-tes@analytical-engine.example');
    expect(new Set([a.subject, b.subject, c.subject]).size).toBe(3);
  });
});

describe('privacy: errors and output', () => {
  it('no error thrown in the flow carries the address, its parts, the code or the client key', async () => {
    const s = setup();
    const { errors } = await fullFlow(s);
    expect(errors.length).toBeGreaterThanOrEqual(6);
    for (const err of errors) {
      expectNothingSensitive([...reachableStrings(err), inspect(err, { depth: 10, showHidden: true })], 'an error');
    }
  });

  it('nor do refusals of hostile input (invalid address, bad code, bad context)', async () => {
    const s = setup();
    const attempts = [
      s.np.requestCode(`${ADDRESS}\r\nBcc: x@y.example`),
      s.np.requestCode(`"${LOCAL}"@${DOMAIN}`),
      s.np.verifyCode(ADDRESS, `${CODE}0`),
      s.np.verifyCode(ADDRESS, `${CODE}\n`),
      s.np.requestCode(ADDRESS, { clientKey: CLIENT_KEY, locale: `${ADDRESS}!!` }),
      s.np.requestCode(ADDRESS, { clientKey: `${CLIENT_KEY}${'x'.repeat(600)}` }),
      s.np.validateToken(`${ADDRESS}.${CODE}.${CLIENT_KEY}`),
    ];
    const errors = await Promise.all(
      attempts.map((p) =>
        p.then(
          () => new Error('resolved'),
          (e: unknown) => e,
        ),
      ),
    );
    for (const err of errors) {
      expect(err instanceof TypeError || isNpUserError(err), inspect(err)).toBe(true);
      expectNothingSensitive([...reachableStrings(err), inspect(err, { depth: 10 })], 'an error');
    }
  });

  it('the library prints nothing during a full flow with a non-console mailer', async () => {
    const spies = [
      vi.spyOn(process.stdout, 'write'),
      vi.spyOn(process.stderr, 'write'),
      ...(['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table'] as const).map((method) =>
        vi.spyOn(console, method).mockImplementation(() => undefined),
      ),
    ];
    const s = setup();
    await fullFlow(s);
    s.advance(25 * HOUR);
    await s.np.requestCode(ADDRESS);
    const calls = spies.map((spy) => spy.mock.calls.length);
    for (const spy of spies) spy.mockRestore();
    expect(calls).toEqual(spies.map(() => 0));
  });

  it('positive control: the default console mailer does print (to stdout), so the spies above would see it', async () => {
    vi.stubEnv('NODE_ENV', 'development');
    const stdout = captureStdout();
    const np = new NpUser({ secret: SECRET, generateCode: () => CODE, now: () => START });
    await np.requestCode(ADDRESS);
    stdout.restore();
    vi.unstubAllEnvs();
    expect(stdout.text()).toContain(CODE);
  });

  it('the message subject (lock-screen preview) does not carry the code', async () => {
    const s = setup();
    await s.np.requestCode(ADDRESS);
    const message = s.mailer.messages[0]!;
    expect(message.to).toBe(ADDRESS);
    const { subject, text } = renderCodeMessage(message);
    expect(subject).not.toContain(CODE);
    expect(subject).not.toContain('987 654');
    expect(text.replace(/\s/g, '')).toContain(CODE);
  });
});
