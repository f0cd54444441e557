// Sign out everywhere across two app servers sharing one Redis: the sign-in handler on each,
// a user signed in through both, one "sign out everywhere" refuses every browser's cookie on both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { NpUser } from 'npuser';
import { createSignInHandler, type SignInHandler } from 'npuser/http';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { EMAIL, SECRET, testClock, type TestClock } from '../support/helpers.js';
import { connect, deleteKeys, probeRedis, scanKeys, testPrefix } from '../support/redis.js';
import { CONNECTION, cookieHeader, get, post } from '../http/support.js';

const reachable = await probeRedis();

describe.skipIf(!reachable)('sign out everywhere on a shared Redis', () => {
  const prefix = testPrefix('sign-out-everywhere');
  const clients: Redis[] = [];
  let admin: Redis;

  beforeAll(async () => {
    admin = await connect();
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await deleteKeys(admin, prefix);
    expect(await scanKeys(admin, prefix)).toEqual([]);
    await admin.quit();
  });

  /** One app server: its own ioredis client, NpUser and handler, on the shared prefix and clock. */
  async function appServer(clock: TestClock, mailer: MemoryMailer): Promise<SignInHandler> {
    const client = await connect();
    clients.push(client);
    const np = new NpUser({
      secret: SECRET,
      mailer,
      now: clock.now,
      resendCooldownSeconds: 0,
      store: redisCodeStore({ client, keyPrefix: prefix }),
    });
    return createSignInHandler(np, { now: clock.now });
  }

  async function signIn(server: SignInHandler, mailer: MemoryMailer): Promise<string> {
    const sent = await server.fetch(post('/auth/code', { email: EMAIL }, { form: true }), CONNECTION);
    const verified = await server.fetch(
      post('/auth/verify', { code: mailer.lastCodeFor(EMAIL)! }, { form: true, headers: { cookie: cookieHeader(sent) } }),
      CONNECTION,
    );
    expect(verified.status).toBe(303);
    return cookieHeader(verified);
  }

  it('one browser signs every browser out, on every server; the mark expires with the last token it refuses', async () => {
    const clock = testClock(Date.now());
    const mailer = memoryMailer();
    const a = await appServer(clock, mailer);
    const b = await appServer(clock, mailer);

    const laptop = await signIn(a, mailer);
    const phone = await signIn(b, mailer);
    for (const server of [a, b]) {
      for (const cookie of [laptop, phone]) expect(await server.getSession(get('/', { cookie }))).not.toBeNull();
    }

    // The owner, on the phone, through server b.
    clock.advance(1000);
    const out = await b.fetch(post('/auth/sign-out-everywhere', '', { form: true, headers: { cookie: phone } }));
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/?npuser=signed-out-everywhere');

    for (const server of [a, b]) {
      for (const cookie of [laptop, phone]) {
        expect(await server.getSession(get('/', { cookie }))).toBeNull();
        expect((await server.fetch(get('/auth/session', { cookie }))).status).toBe(401);
      }
    }

    // One mark in the store, a keyed hash of the subject, kept no longer than a token could live.
    const marks = (await scanKeys(admin, prefix)).filter((key) => key.endsWith(':revoked-before'));
    expect(marks).toHaveLength(1);
    expect(marks[0]).not.toContain('ada');
    const ttl = await admin.pttl(marks[0]!);
    expect(ttl).toBeGreaterThan(3_600_000);
    expect(ttl).toBeLessThanOrEqual((3600 + 30 + 1) * 1000);

    // A sign-in after it, on either server, works on both.
    clock.advance(1000);
    const again = await signIn(a, mailer);
    for (const server of [a, b]) expect(await server.getSession(get('/', { cookie: again }))).not.toBeNull();
  });
});
