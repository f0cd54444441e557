import { describe, expect, it } from 'vitest';
import { DEFAULTS, NpUser, memoryCodeStore } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { EMAIL, SECRET, requestAndRead, setup, testClock, wrongCode } from './support/helpers.js';
import { rejectsWith } from './support/errors.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('NpUser: the sign-in flow', () => {
  it('mails a code to the canonical address only and verifies it into a token for the pairwise subject', async () => {
    const s = setup({ appName: 'My blog' });
    const { email, expiresAt } = await s.np.requestCode('  Ada@EXAMPLE.com ');
    expect(email).toBe(EMAIL);
    expect(expiresAt.getTime()).toBe(s.clock.now() + DEFAULTS.codeTtlSeconds * 1000);

    expect(s.mailer.messages).toHaveLength(1);
    const message = s.mailer.messages[0]!;
    expect(message.to).toBe(EMAIL);
    expect(message.appName).toBe('My blog');
    expect(message.ttlSeconds).toBe(600);
    expect(message.code).toMatch(/^[0-9]{6}$/);

    const result = await s.np.verifyCode('ADA@example.com', message.code);
    expect(result.email).toBe(EMAIL);
    expect(result.subject).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const validated = await s.np.validateToken(result.token);
    expect(validated.subject).toBe(result.subject);
    expect(validated.expiresAt).toEqual(result.expiresAt);
  });

  it('passes a valid locale to the mailer in canonical form', async () => {
    const s = setup();
    await s.np.requestCode(EMAIL, { locale: 'pt-br' });
    expect(s.mailer.messages[0]?.locale).toBe('pt-BR');
  });

  it('accepts a code typed with ASCII spaces or hyphens', async () => {
    const s = setup({ generateCode: () => '042917' });
    await s.np.requestCode(EMAIL);
    await expect(s.np.verifyCode(EMAIL, ' 042-917 ')).resolves.toMatchObject({ email: EMAIL });
  });

  it('honours codeLength', async () => {
    const s = setup({ codeLength: 8 });
    const code = await requestAndRead(s);
    expect(code).toMatch(/^[0-9]{8}$/);
    await rejectsWith(s.np.verifyCode(EMAIL, code.slice(0, 6)), 'ERR_NPUSER_INVALID_CODE');
    await expect(s.np.verifyCode(EMAIL, code)).resolves.toBeDefined();
  });

  it('uses the console mailer by default outside production', async () => {
    const np = new NpUser({ secret: SECRET });
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string | Uint8Array) => {
      writes.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    };
    try {
      await np.requestCode(EMAIL);
    } finally {
      process.stdout.write = original;
    }
    expect(writes.join('')).toMatch(/CODE: {4}\d{3} \d{3}/);
  });
});

describe('codes', () => {
  it('a new request replaces the previous code', async () => {
    const s = setup();
    const first = await requestAndRead(s);
    s.clock.advance(DEFAULTS.resendCooldownSeconds * 1000);
    const second = await requestAndRead(s);
    if (first !== second) await rejectsWith(s.np.verifyCode(EMAIL, first), 'ERR_NPUSER_INVALID_CODE');
    await expect(s.np.verifyCode(EMAIL, second)).resolves.toBeDefined();
  });

  it('the replaced code is refused even when both codes are equal digits (a new code id)', async () => {
    const s = setup({ generateCode: () => '123456' });
    await s.np.requestCode(EMAIL);
    s.clock.advance(MINUTE);
    await s.np.requestCode(EMAIL);
    await expect(s.np.verifyCode(EMAIL, '123456')).resolves.toBeDefined();
    await rejectsWith(s.np.verifyCode(EMAIL, '123456'), 'ERR_NPUSER_INVALID_CODE');
  });

  it('is accepted at lifetime − 1 ms', async () => {
    const s = setup();
    const code = await requestAndRead(s);
    s.clock.advance(DEFAULTS.codeTtlSeconds * 1000 - 1);
    await expect(s.np.verifyCode(EMAIL, code)).resolves.toBeDefined();
  });

  it('is refused at lifetime, with the same answer as a wrong code', async () => {
    const s = setup();
    const code = await requestAndRead(s);
    s.clock.advance(DEFAULTS.codeTtlSeconds * 1000);
    await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_INVALID_CODE');
  });

  it('expiry is enforced by the store, not only by the app clock', async () => {
    const appClock = testClock();
    const storeClock = testClock();
    const mailer = memoryMailer();
    const np = new NpUser({ secret: SECRET, mailer, now: appClock.now, store: memoryCodeStore({ now: storeClock.now }) });
    await np.requestCode(EMAIL);
    storeClock.advance(DEFAULTS.codeTtlSeconds * 1000);
    await rejectsWith(np.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!), 'ERR_NPUSER_INVALID_CODE');
  });

  it('expiry is enforced by the app clock when the store is lenient', async () => {
    const appClock = testClock();
    const storeClock = testClock();
    const mailer = memoryMailer();
    const np = new NpUser({ secret: SECRET, mailer, now: appClock.now, store: memoryCodeStore({ now: storeClock.now }) });
    await np.requestCode(EMAIL);
    appClock.advance(DEFAULTS.codeTtlSeconds * 1000);
    await rejectsWith(np.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!), 'ERR_NPUSER_INVALID_CODE');
  });

  it('is single use: a second verify is refused and the entry is gone', async () => {
    const s = setup();
    const code = await requestAndRead(s);
    await s.np.verifyCode(EMAIL, code);
    expect(s.store.entries().filter((e) => e.key.endsWith(':code'))).toHaveLength(0);
    await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_INVALID_CODE');
  });

  it('is bound to its address: a code for A never works for B, and the try counts against B', async () => {
    const codes = ['111111', '222222'];
    const s = setup({ maxFailuresPerDay: 1, generateCode: () => codes.shift()! });
    await s.np.requestCode('a@example.com');
    await s.np.requestCode('b@example.com');
    await rejectsWith(s.np.verifyCode('b@example.com', '111111'), 'ERR_NPUSER_INVALID_CODE');
    // B's failure budget of 1 was spent by A's code: B is locked, even with its own code.
    await rejectsWith(s.np.verifyCode('b@example.com', '222222'), 'ERR_NPUSER_ADDRESS_LOCKED');
    await expect(s.np.verifyCode('a@example.com', '111111')).resolves.toBeDefined();
  });

  it('is bound to its app: another app sharing the store cannot use it', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ now: clock.now });
    const mailer = memoryMailer();
    const blog = new NpUser({ secret: SECRET, audience: 'blog', mailer, store, now: clock.now });
    const shop = new NpUser({ secret: 'another app secret, also 32 bytes long', audience: 'shop', mailer, store, now: clock.now });
    const sameSecret = new NpUser({ secret: SECRET, audience: 'forum', mailer, store, now: clock.now });
    await blog.requestCode(EMAIL);
    const code = mailer.lastCodeFor(EMAIL)!;
    await rejectsWith(shop.verifyCode(EMAIL, code), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(sameSecret.verifyCode(EMAIL, code), 'ERR_NPUSER_INVALID_CODE');
    await expect(blog.verifyCode(EMAIL, code)).resolves.toBeDefined();
  });

  it('stores only a keyed digest: the store holds neither the code nor the address', async () => {
    const s = setup({ generateCode: () => '987654' });
    await s.np.requestCode(EMAIL, { clientKey: '203.0.113.9' });
    const dump = JSON.stringify(s.store.entries());
    for (const needle of ['987654', 'ada', 'example', '203.0.113.9']) expect(dump).not.toContain(needle);
  });
});

describe('attempts and lockout', () => {
  it(`burns the code after maxAttempts wrong tries`, async () => {
    const s = setup();
    const code = await requestAndRead(s);
    const wrong = wrongCode(code);
    for (let i = 1; i < DEFAULTS.maxAttempts; i += 1) {
      await rejectsWith(s.np.verifyCode(EMAIL, wrong), 'ERR_NPUSER_INVALID_CODE');
    }
    await rejectsWith(s.np.verifyCode(EMAIL, wrong), 'ERR_NPUSER_TOO_MANY_ATTEMPTS');
    // Burned: even the right code is no longer compared, and the answer says to ask for a new one.
    const burned = await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_TOO_MANY_ATTEMPTS');
    expect(burned).not.toHaveProperty('retryAfterSeconds');
    expect(s.events.filter((e) => e.reason === 'attempts-exhausted')).toHaveLength(2);
    expect(s.store.entries().filter((e) => e.key.endsWith(':code'))).toHaveLength(0);
    // A new code brings a new set of tries at once.
    s.clock.advance(DEFAULTS.resendCooldownSeconds * 1000);
    const fresh = await requestAndRead(s);
    await expect(s.np.verifyCode(EMAIL, fresh)).resolves.toMatchObject({ email: EMAIL });
  });

  it('the correct code on the last allowed attempt still works', async () => {
    const s = setup({ maxAttempts: 3 });
    const code = await requestAndRead(s);
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await expect(s.np.verifyCode(EMAIL, code)).resolves.toBeDefined();
  });

  it('locks the address after maxFailuresPerDay failures across re-issued codes, until the window rolls', async () => {
    const s = setup({ maxFailuresPerDay: 4, maxAttempts: 2, resendCooldownSeconds: 0 });
    for (let round = 0; round < 2; round += 1) {
      const code = await requestAndRead(s);
      await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
      await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_TOO_MANY_ATTEMPTS');
    }
    expect(s.events.filter((e) => e.type === 'address.locked')).toHaveLength(1);
    // Locked: requests and even correct codes are refused, saying when the lock lifts.
    const locked = (await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_ADDRESS_LOCKED')) as { retryAfterSeconds: number };
    expect(locked.retryAfterSeconds).toBe(24 * 3600);
    s.clock.advance(24 * HOUR - 1);
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_ADDRESS_LOCKED');
    s.clock.advance(1);
    const code = await requestAndRead(s);
    await expect(s.np.verifyCode(EMAIL, code)).resolves.toBeDefined();
  });

  it('a correct code is refused while the address is locked', async () => {
    const s = setup({ maxFailuresPerDay: 2 });
    const code = await requestAndRead(s);
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    const locked = (await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_ADDRESS_LOCKED')) as { retryAfterSeconds: number };
    expect(locked.retryAfterSeconds).toBe(24 * 3600);
  });

  it('re-requesting a code never resets the failure count', async () => {
    const s = setup({ maxFailuresPerDay: 3, resendCooldownSeconds: 0 });
    let code = await requestAndRead(s);
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    code = await requestAndRead(s);
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_ADDRESS_LOCKED');
  });

  // Regression: a sign-in used to reset the window, handing an attacker a fresh budget after each of the owner's sign-ins.
  it('a successful sign-in does not reset the failure count either', async () => {
    const s = setup({ maxFailuresPerDay: 3, resendCooldownSeconds: 0 });
    let code = await requestAndRead(s);
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await s.np.verifyCode(EMAIL, code);
    code = await requestAndRead(s);
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_ADDRESS_LOCKED');
  });

  it('guessing without any pending code also counts against the address', async () => {
    const s = setup({ maxFailuresPerDay: 2 });
    await rejectsWith(s.np.verifyCode(EMAIL, '000000'), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, '000001'), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode(EMAIL, '000002'), 'ERR_NPUSER_ADDRESS_LOCKED');
  });
});

describe('send limits', () => {
  it('enforces the resend cooldown to the millisecond, with retryAfterSeconds', async () => {
    const s = setup();
    await s.np.requestCode(EMAIL);
    s.clock.advance(DEFAULTS.resendCooldownSeconds * 1000 - 1500);
    const err = (await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_RATE_LIMITED')) as { retryAfterSeconds: number };
    expect(err.retryAfterSeconds).toBe(2);
    s.clock.advance(1499);
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_RATE_LIMITED');
    s.clock.advance(1);
    await expect(s.np.requestCode(EMAIL)).resolves.toBeDefined();
  });

  it(`allows maxCodesPerHour codes per address per hour`, async () => {
    const s = setup();
    for (let i = 0; i < DEFAULTS.maxCodesPerHour; i += 1) {
      await s.np.requestCode(EMAIL);
      s.clock.advance(MINUTE);
    }
    const err = (await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_RATE_LIMITED')) as { retryAfterSeconds: number };
    expect(err.retryAfterSeconds).toBe((HOUR - DEFAULTS.maxCodesPerHour * MINUTE) / 1000);
    expect(s.mailer.messages).toHaveLength(DEFAULTS.maxCodesPerHour);
    s.clock.advance(err.retryAfterSeconds * 1000);
    await expect(s.np.requestCode(EMAIL)).resolves.toBeDefined();
  });

  it('limits codes per client across addresses, without spending the victims’ own allowances', async () => {
    const s = setup({ maxCodesPerClientPerHour: 2 });
    const attacker = { clientKey: '198.51.100.7' };
    await s.np.requestCode('a@example.com', attacker);
    await s.np.requestCode('b@example.com', attacker);
    await rejectsWith(s.np.requestCode('c@example.com', attacker), 'ERR_NPUSER_RATE_LIMITED');
    expect(s.mailer.messages.map((m) => m.to)).toEqual(['a@example.com', 'b@example.com']);
    // c's cooldown was not spent by the refused request.
    await expect(s.np.requestCode('c@example.com', { clientKey: '192.0.2.1' })).resolves.toBeDefined();
  });

  it('a request refused by the cooldown does not spend the client’s budget', async () => {
    const s = setup({ maxCodesPerClientPerHour: 2 });
    const office = { clientKey: '192.0.2.1' };
    await s.np.requestCode(EMAIL, office);
    for (let i = 0; i < 5; i += 1) await rejectsWith(s.np.requestCode(EMAIL, office), 'ERR_NPUSER_RATE_LIMITED');
    await expect(s.np.requestCode('colleague@example.com', office)).resolves.toBeDefined();
  });

  it('limits verifications per client: one guess sprayed over many addresses', async () => {
    const s = setup({ maxVerificationsPerClientPerHour: 3 });
    const attacker = { clientKey: '198.51.100.7' };
    for (let i = 0; i < 3; i += 1) {
      await rejectsWith(s.np.verifyCode(`victim${i}@example.com`, '123456', attacker), 'ERR_NPUSER_INVALID_CODE');
    }
    const err = (await rejectsWith(s.np.verifyCode('victim9@example.com', '123456', attacker), 'ERR_NPUSER_RATE_LIMITED')) as {
      retryAfterSeconds: number;
    };
    expect(err.retryAfterSeconds).toBe(3600);
    // Other clients are unaffected, and the budget comes back after the hour.
    await rejectsWith(s.np.verifyCode('victim9@example.com', '123456', { clientKey: 'other' }), 'ERR_NPUSER_INVALID_CODE');
    s.clock.advance(HOUR);
    await rejectsWith(s.np.verifyCode('victim9@example.com', '123456', attacker), 'ERR_NPUSER_INVALID_CODE');
  });
  it('counts a sign-in against the client’s verification budget, and refuses without touching the code', async () => {
    const s = setup({ maxVerificationsPerClientPerHour: 2 });
    const office = { clientKey: '192.0.2.1' };
    const code = await requestAndRead(s);
    await s.np.verifyCode(EMAIL, code, office);
    const colleague = await requestAndRead(s, 'colleague@example.com');
    await rejectsWith(s.np.verifyCode('colleague@example.com', wrongCode(colleague), office), 'ERR_NPUSER_INVALID_CODE');
    await rejectsWith(s.np.verifyCode('colleague@example.com', colleague, office), 'ERR_NPUSER_RATE_LIMITED');
    expect(s.events.at(-1)).toMatchObject({ type: 'rate.limited', reason: 'client-verifications' });
    // The refused attempt was not compared: the code still works from elsewhere.
    await expect(s.np.verifyCode('colleague@example.com', colleague, { clientKey: '203.0.113.9' })).resolves.toMatchObject({
      email: 'colleague@example.com',
    });
  });
});

describe('a store filled by a flood', () => {
  it('evicts nothing: verifications fail closed while it is full, and the pending code works once room is back', async () => {
    const clock = testClock();
    const store = memoryCodeStore({ maxEntries: 30, now: clock.now });
    const s = setup({ store }, clock);
    const code = await requestAndRead(s);
    await Promise.allSettled(Array.from({ length: 100 }, (_, i) => s.np.requestCode(`flood${i}@example.com`)));
    expect(store.size).toBe(30);
    // A try must be counted before it is compared; a full store cannot count it, so nothing is compared.
    await rejectsWith(s.np.verifyCode(EMAIL, code), 'ERR_NPUSER_STORE_FAILED');
    await rejectsWith(s.np.verifyCode(EMAIL, code, { clientKey: '198.51.100.1' }), 'ERR_NPUSER_STORE_FAILED');
    expect(store.entries().filter((e) => e.key.endsWith(':code')).length).toBeGreaterThan(0);
    // The flood's cooldowns expire first; the code was neither evicted nor spent.
    clock.advance(DEFAULTS.resendCooldownSeconds * 1000);
    await expect(s.np.verifyCode(EMAIL, code)).resolves.toMatchObject({ email: EMAIL });
  });
});

describe('events', () => {
  it('reports each step with the pairwise subject and a reason', async () => {
    const s = setup({ resendCooldownSeconds: 60 });
    const code = await requestAndRead(s);
    await rejectsWith(s.np.requestCode(EMAIL), 'ERR_NPUSER_RATE_LIMITED');
    await rejectsWith(s.np.verifyCode(EMAIL, wrongCode(code)), 'ERR_NPUSER_INVALID_CODE');
    const { subject } = await s.np.verifyCode(EMAIL, code);
    expect(s.events.map((e) => `${e.type}/${e.reason}`)).toEqual([
      'code.requested/sent',
      'rate.limited/cooldown',
      'code.failed/wrong-code',
      'code.verified/verified',
    ]);
    for (const event of s.events) {
      expect(event.subject).toBe(subject);
      expect(event.at.getTime()).toBe(s.clock.now());
    }
  });
});
