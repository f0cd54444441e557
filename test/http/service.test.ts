import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { memoryCodeStore, type CodeMessage, type CodeStore, type Mailer } from 'npuser';
import { createService } from 'npuser/http';
import { memoryMailer } from 'npuser/testing';
import { testClock } from '../support/helpers.js';
import { BASE, apiKey, call, post, secret, serviceSetup, signIn } from '../support/service.js';

const EMAIL = 'ada@example.com';

describe('createService: the whole flow', () => {
  it('mails a code, verifies it, validates, introspects and revokes the token', async () => {
    const s = serviceSetup();
    const requested = await call(s.service, post('/v1/request-code', { email: ' Ada@Example.COM ', locale: 'fr' }, s.keys.blog));
    expect(requested.status).toBe(200);
    expect(requested.body).toEqual({ email: EMAIL, expiresAt: new Date(s.clock.now() + 600_000).toISOString() });
    expect(s.mailer.messages).toHaveLength(1);
    expect(s.mailer.messages[0]).toMatchObject({ to: EMAIL, appName: 'My blog', locale: 'fr' });

    const code = s.mailer.lastCodeFor(EMAIL)!;
    const verified = await call(s.service, post('/v1/verify-code', { email: EMAIL, code }, s.keys.blog));
    expect(verified.status).toBe(200);
    expect(Object.keys(verified.body).sort()).toEqual(['email', 'expiresAt', 'subject', 'token']);
    const token = verified.body.token as string;

    const valid = await call(s.service, post('/v1/validate-token', { token }, s.keys.blog));
    expect(valid.status).toBe(200);
    expect(valid.body).toMatchObject({
      active: true,
      subject: verified.body.subject,
      claims: { aud: 'blog', iss: 'npuser', sub: verified.body.subject },
    });

    const introspected = await call(
      s.service,
      new Request(`${BASE}/v1/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.keys.blog}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      }),
    );
    expect(introspected.status).toBe(200);
    expect(introspected.body).toMatchObject({
      active: true,
      sub: verified.body.subject,
      aud: 'blog',
      iss: 'npuser',
      client_id: 'blog',
      token_type: 'Bearer',
    });

    const revoked = await call(s.service, post('/v1/revoke-token', { token }, s.keys.blog));
    expect(revoked.status).toBe(204);
    expect(revoked.text).toBe('');
    expect((await call(s.service, post('/v1/validate-token', { token }, s.keys.blog))).body).toEqual({ active: false, reason: 'revoked' });
    expect((await call(s.service, post('/v1/revoke-token', { token }, s.keys.blog))).status).toBe(204);
  });

  it('answers every request with X-Request-Id and Cache-Control: no-store, and the quota headers once the key is known', async () => {
    const s = serviceSetup();
    const answer = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.headers.get('ratelimit-policy')).toBe('"key";q=1000;w=60');
    expect(answer.headers.get('ratelimit')).toBe('"key";r=999;t=60');
    expect(s.logs.at(-1)).toMatchObject({
      requestId: answer.headers.get('x-request-id'),
      route: '/v1/request-code',
      status: 200,
      app: 'blog',
      keyId: 'k1',
    });
  });
});

describe('createService: test apps and live apps', () => {
  it('answers a test app with the code and mails nothing; a live app never gets the code', async () => {
    const s = serviceSetup();
    const test = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.sandbox));
    expect(test.status).toBe(200);
    expect(test.body.code).toMatch(/^[0-9]{6}$/);
    expect(s.mailer.messages).toHaveLength(0);
    const verified = await call(s.service, post('/v1/verify-code', { email: EMAIL, code: test.body.code }, s.keys.sandbox));
    expect(verified.status).toBe(200);

    const live = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    expect(live.status).toBe(200);
    expect(live.body).not.toHaveProperty('code');
    expect(live.text).not.toContain(s.mailer.lastCodeFor(EMAIL)!);
  });

  it("refuses a test-prefixed key whose hash is a live app's, and the other way round", async () => {
    const live = apiKey();
    const test = apiKey('test');
    // Keys pasted into the wrong app's configuration: the prefix must match the app's mode.
    const service = createService({
      apps: [
        { id: 'live', secret: secret('live'), apiKeys: [{ id: 'k1', sha256: test.sha256 }] },
        { id: 'sandbox', mode: 'test', secret: secret('sandbox'), apiKeys: [{ id: 'k1', sha256: live.sha256 }] },
      ],
      mailer: memoryMailer(),
    });
    for (const key of [live.key, test.key]) {
      expect((await call(service, post('/v1/request-code', { email: EMAIL }, key))).status).toBe(401);
    }
  });
});

describe('createService: one app can never act for another', () => {
  it("gives each app its own subject, and refuses another app's token as invalid", async () => {
    const s = serviceSetup();
    const blog = await signIn(s, s.keys.blog, EMAIL);
    const shop = await signIn(s, s.keys.shop, EMAIL);
    expect(blog.subject).not.toBe(shop.subject);
    expect((await call(s.service, post('/v1/validate-token', { token: blog.token }, s.keys.shop))).body).toEqual({
      active: false,
      reason: 'invalid',
    });
    const introspected = await call(
      s.service,
      new Request(`${BASE}/v1/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.keys.shop}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${blog.token}`,
      }),
    );
    expect(introspected.body).toEqual({ active: false });
    // Revoking through the wrong app says nothing and changes nothing.
    expect((await call(s.service, post('/v1/revoke-token', { token: blog.token }, s.keys.shop))).status).toBe(204);
    expect((await call(s.service, post('/v1/validate-token', { token: blog.token }, s.keys.blog))).body.active).toBe(true);
  });

  it("does not verify app A's code through app B, and keeps limits apart", async () => {
    const s = serviceSetup();
    await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    const code = s.mailer.lastCodeFor(EMAIL)!;
    const crossed = await call(s.service, post('/v1/verify-code', { email: EMAIL, code }, s.keys.shop));
    expect(crossed.status).toBe(422);
    expect(crossed.body.code).toBe('ERR_NPUSER_INVALID_CODE');
    // The blog's cooldown on this address is the blog's: the shop may send at once.
    expect((await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog))).status).toBe(429);
    expect((await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.shop))).status).toBe(200);
  });
});

describe('createService: the caller', () => {
  const cases: [string, Record<string, string>][] = [
    ['no Authorization', {}],
    ['another scheme', { authorization: 'Basic Zm9vOmJhcg==' }],
    ['a garbled key', { authorization: 'Bearer npu_sk_not-a-key' }],
    ['a key with a stray character', { authorization: 'Bearer npu_sk_' + 'A'.repeat(42) + '=' }],
    ['an unknown key', { authorization: `Bearer ${apiKey().key}` }],
    ['an empty Bearer', { authorization: 'Bearer ' }],
  ];
  it.each(cases)('answers 401 with WWW-Authenticate to %s, touching neither store nor mailer', async (_name, headers) => {
    const s = serviceSetup();
    const answer = await call(
      s.service,
      new Request(`${BASE}/v1/request-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ email: EMAIL }),
      }),
    );
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe('ERR_NPUSER_UNAUTHENTICATED');
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="npuser"');
    expect(answer.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('accepts every active key of an app, and refuses one from its notAfter on (injected clock)', async () => {
    const s = serviceSetup();
    expect((await call(s.service, post('/v1/validate-token', { token: 'x' }, s.keys.blog2))).status).toBe(200);
    s.clock.advance(3_600_000 - 1);
    expect((await call(s.service, post('/v1/validate-token', { token: 'x' }, s.keys.blog2))).status).toBe(200);
    s.clock.advance(1);
    const before = s.store.total();
    const expired = await call(s.service, post('/v1/validate-token', { token: 'x' }, s.keys.blog2));
    expect(expired.status).toBe(401);
    expect(s.store.total()).toBe(before);
    expect((await call(s.service, post('/v1/validate-token', { token: 'x' }, s.keys.blog))).status).toBe(200);
    expect(s.logs.at(-2)).not.toHaveProperty('app');
  });

  it.each([
    ['Origin', { origin: 'https://evil.example' }],
    ['Sec-Fetch-Site', { 'sec-fetch-site': 'same-site' }],
  ])('refuses a browser (%s) with 403, before looking at its key', async (_name, headers) => {
    const s = serviceSetup();
    const answer = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, headers));
    expect(answer.status).toBe(403);
    expect(answer.body.code).toBe('ERR_NPUSER_FORBIDDEN');
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });
});

describe('createService: bad input', () => {
  const routes = ['/v1/request-code', '/v1/verify-code', '/v1/validate-token', '/v1/revoke-token'];
  const bodies: [string, () => RequestInit, number][] = [
    ['malformed JSON', () => ({ body: '{"email": ', headers: { 'content-type': 'application/json' } }), 400],
    ['a JSON array', () => ({ body: '[]', headers: { 'content-type': 'application/json' } }), 400],
    [
      'an unknown field',
      () => ({
        body: JSON.stringify({ email: EMAIL, code: '123456', token: 'x', admin: true }),
        headers: { 'content-type': 'application/json' },
      }),
      400,
    ],
    [
      'a wrong type',
      () => ({ body: JSON.stringify({ email: 42, code: 42, token: 42 }), headers: { 'content-type': 'application/json' } }),
      400,
    ],
    ['a missing field', () => ({ body: '{}', headers: { 'content-type': 'application/json' } }), 400],
    [
      'a megabyte body',
      () => ({ body: JSON.stringify({ email: 'a'.repeat(1 << 20) }), headers: { 'content-type': 'application/json' } }),
      413,
    ],
    ['a form instead of JSON', () => ({ body: 'email=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415],
    ['no Content-Type', () => ({ body: new Blob([JSON.stringify({ email: EMAIL })]) }), 415],
  ];
  for (const route of routes) {
    it.each(bodies)(`${route}: answers %s with its problem, touching neither store nor mailer`, async (_name, init, status) => {
      const s = serviceSetup();
      const given = init();
      const answer = await call(
        s.service,
        new Request(BASE + route, {
          method: 'POST',
          ...given,
          headers: { authorization: `Bearer ${s.keys.blog}`, ...(given.headers as Record<string, string> | undefined) },
        }),
      );
      expect(answer.status).toBe(status);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(s.store.total()).toBe(0);
      expect(s.mailer.messages).toHaveLength(0);
    });
  }

  it('introspect takes a form only', async () => {
    const s = serviceSetup();
    expect((await call(s.service, post('/v1/introspect', { token: 'x' }, s.keys.blog))).status).toBe(415);
    expect(s.store.total()).toBe(0);
  });

  it('refuses a malformed locale or Idempotency-Key as a bad request', async () => {
    const s = serviceSetup();
    expect((await call(s.service, post('/v1/request-code', { email: EMAIL, locale: 'not a locale!' }, s.keys.blog))).status).toBe(400);
    expect(
      (await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'x'.repeat(256) }))).status,
    ).toBe(400);
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('answers an address or a code npuser refuses with 422', async () => {
    const s = serviceSetup();
    const email = await call(s.service, post('/v1/request-code', { email: 'not an address' }, s.keys.blog));
    expect([email.status, email.body.code]).toEqual([422, 'ERR_NPUSER_INVALID_EMAIL']);
    const code = await call(s.service, post('/v1/verify-code', { email: EMAIL, code: '000000' }, s.keys.blog));
    expect([code.status, code.body.code]).toEqual([422, 'ERR_NPUSER_INVALID_CODE']);
  });

  it('answers 405 with Allow to a wrong method, 404 to an unknown path', async () => {
    const s = serviceSetup();
    for (const [method, path, allow] of [
      ['GET', '/v1/request-code', 'POST'],
      ['PUT', '/v1/verify-code', 'POST'],
      ['DELETE', '/v1/revoke-token', 'POST'],
      ['POST', '/healthz', 'GET'],
      ['POST', '/v1/apps/blog/jwks.json', 'GET'],
    ] as const) {
      const answer = await call(s.service, new Request(BASE + path, { method, headers: { authorization: `Bearer ${s.keys.blog}` } }));
      expect([answer.status, answer.headers.get('allow'), answer.body.code], `${method} ${path}`).toEqual([
        405,
        allow,
        'ERR_NPUSER_METHOD_NOT_ALLOWED',
      ]);
    }
    for (const path of ['/', '/v1', '/v1/request-code/', '/v2/request-code', '/apiuser', '/v1/apps/Blog/jwks.json']) {
      const answer = await call(s.service, new Request(BASE + path));
      expect([answer.status, answer.body.code], path).toEqual([404, 'ERR_NPUSER_NOT_FOUND']);
    }
    expect(s.store.total()).toBe(0);
  });

  it("titles problems in the caller's language", async () => {
    const s = serviceSetup();
    const answer = await call(s.service, post('/v1/request-code', { email: EMAIL }, undefined, { 'accept-language': 'fr-CA, en;q=0.5' }));
    expect(answer.headers.get('content-language')).toBe('fr');
    expect(answer.body.title).toBe('La clé d’API est absente, inconnue ou expirée.');
  });
});

describe('createService: the per-key quota', () => {
  it('counts each key on its own, announces what is left and refuses past it until the window resets', async () => {
    const s = serviceSetup({ quota: { requests: 3, windowSeconds: 10 } });
    const validate = (key: string) => call(s.service, post('/v1/validate-token', { token: 'x' }, key));
    for (const remaining of [2, 1, 0]) expect((await validate(s.keys.blog)).headers.get('ratelimit')).toBe(`"key";r=${remaining};t=10`);
    s.clock.advance(4000);
    const refused = await validate(s.keys.blog);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'ERR_NPUSER_RATE_LIMITED', retryAfterSeconds: 6 });
    expect(refused.headers.get('retry-after')).toBe('6');
    expect(refused.headers.get('ratelimit')).toBe('"key";r=0;t=6');
    expect(refused.headers.get('ratelimit-policy')).toBe('"key";q=3;w=10');
    // Another key of the same app has its own quota.
    expect((await validate(s.keys.blog2)).status).toBe(200);
    s.clock.advance(6000);
    expect((await validate(s.keys.blog)).status).toBe(200);
  });
});

describe('createService: Idempotency-Key on request-code', () => {
  it('replays the first answer to a retry instead of mailing a second code', async () => {
    const s = serviceSetup();
    const first = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'signup-1' }));
    s.clock.advance(1000);
    const retry = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'signup-1' }));
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(s.mailer.messages).toHaveLength(1);
    // Without the key, the same request is a new one, and meets the cooldown.
    expect((await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog))).status).toBe(429);
  });

  it("keeps the answer for the code's lifetime only, per app, and never in the clear", async () => {
    const s = serviceSetup();
    const first = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.sandbox, { 'idempotency-key': 'k' }));
    const code = first.body.code as string;
    // The same key in another app is another request.
    await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'k' }));
    expect(s.mailer.messages).toHaveLength(1);
    const replay = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.sandbox, { 'idempotency-key': 'k' }));
    expect(replay.body.code).toBe(code);
    for (const seen of s.store.seen) {
      expect(seen).not.toContain(EMAIL);
      expect(seen).not.toContain(code);
    }
    s.clock.advance(600_000);
    const later = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.sandbox, { 'idempotency-key': 'k' }));
    expect(later.headers.get('idempotent-replayed')).toBeNull();
    expect(later.body.code).not.toBeUndefined();
  });

  it('refuses the same key for another request', async () => {
    const s = serviceSetup();
    await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'k' }));
    const other = await call(s.service, post('/v1/request-code', { email: 'bob@example.com' }, s.keys.blog, { 'idempotency-key': 'k' }));
    expect([other.status, other.body.code]).toEqual([400, 'ERR_NPUSER_BAD_REQUEST']);
    expect(s.mailer.messages).toHaveLength(1);
  });

  it('runs a retry again after a failure: only a sent code is replayed', async () => {
    const s = serviceSetup();
    s.mailer.failNextSend();
    const failed = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'k' }));
    expect(failed.status).toBe(502);
    s.clock.advance(60_000);
    const retry = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'k' }));
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(s.mailer.messages).toHaveLength(1);
  });

  it('tells a retry that overlaps the first request to come back in a second', async () => {
    let release: () => void = () => undefined;
    const sent: CodeMessage[] = [];
    const slow: Mailer = {
      send: (message) =>
        new Promise((resolve) => {
          sent.push(message);
          release = resolve;
        }),
    };
    const s = serviceSetup({ mailer: slow });
    const first = call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'k' }));
    await expect.poll(() => sent.length).toBe(1);
    const overlapping = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'k' }));
    expect([overlapping.status, overlapping.body.code, overlapping.headers.get('retry-after')]).toEqual([
      503,
      'ERR_NPUSER_UNAVAILABLE',
      '1',
    ]);
    release();
    expect((await first).status).toBe(200);
    const after = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog, { 'idempotency-key': 'k' }));
    expect(after.headers.get('idempotent-replayed')).toBe('true');
    expect(sent).toHaveLength(1);
  });
});

describe('createService: validate-token', () => {
  it('answers expired, invalid and too-old tokens as inactive, with the reason', async () => {
    const s = serviceSetup();
    const { token } = await signIn(s, s.keys.blog, EMAIL);
    s.clock.advance(120_000);
    expect((await call(s.service, post('/v1/validate-token', { token, maxTokenAgeSeconds: 60 }, s.keys.blog))).body).toEqual({
      active: false,
      reason: 'expired',
    });
    expect((await call(s.service, post('/v1/validate-token', { token: 'not.a.token' }, s.keys.blog))).body).toEqual({
      active: false,
      reason: 'invalid',
    });
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await call(s.service, post('/v1/validate-token', { token: forged }, s.keys.blog))).body).toEqual({
      active: false,
      reason: 'invalid',
    });
    s.clock.advance(3_600_000);
    expect((await call(s.service, post('/v1/validate-token', { token }, s.keys.blog))).body).toEqual({ active: false, reason: 'expired' });
  });
});

describe('createService: JWKS', () => {
  it("publishes each EdDSA app's keys, which verify its tokens offline", async () => {
    const s = serviceSetup();
    const { token } = await signIn(s, s.keys.blog, EMAIL);
    const jwks = await call(s.service, new Request(`${BASE}/v1/apps/blog/jwks.json`));
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('content-type')).toBe('application/jwk-set+json');
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=300');
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body as never), {
      issuer: 'npuser',
      audience: 'blog',
      typ: 'npuser+jwt',
      currentDate: new Date(s.clock.now()),
    });
    expect(payload.aud).toBe('blog');
    // The shop's keys do not verify the blog's tokens.
    const shop = await call(s.service, new Request(`${BASE}/v1/apps/shop/jwks.json`));
    await expect(jwtVerify(token, createLocalJWKSet(shop.body as never), { currentDate: new Date(s.clock.now()) })).rejects.toThrow();

    const etag = jwks.headers.get('etag')!;
    const cached = await s.service(new Request(`${BASE}/v1/apps/blog/jwks.json`, { headers: { 'if-none-match': etag } }));
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
  });

  it('answers 404 for an HS256 app and an unknown app', async () => {
    const s = serviceSetup();
    for (const app of ['legacy', 'nobody']) {
      const answer = await call(s.service, new Request(`${BASE}/v1/apps/${app}/jwks.json`));
      expect([answer.status, answer.body.code]).toEqual([404, 'ERR_NPUSER_NOT_FOUND']);
    }
    const { token } = await signIn(s, s.keys.legacy, EMAIL);
    expect((await call(s.service, post('/v1/validate-token', { token }, s.keys.legacy))).body.active).toBe(true);
  });

  it('derives the same keys on every instance, and rotates by a version bump without signing anyone out', async () => {
    const clock = testClock();
    const key = apiKey();
    const store: CodeStore = memoryCodeStore({ now: clock.now });
    const mailer = memoryMailer();
    const app = (signingKeyVersion: number) =>
      createService({
        apps: [{ id: 'blog', secret: secret('blog'), apiKeys: [{ id: 'k1', sha256: key.sha256 }], signingKeyVersion }],
        store,
        mailer,
        now: clock.now,
      });
    const jwksOf = async (service: ReturnType<typeof createService>) =>
      (await call(service, new Request(`${BASE}/v1/apps/blog/jwks.json`))).body as { keys: { kid: string }[] };
    const v1 = app(1);
    expect(await jwksOf(app(1))).toEqual(await jwksOf(v1));

    await call(v1, post('/v1/request-code', { email: EMAIL }, key.key));
    const old = (await call(v1, post('/v1/verify-code', { email: EMAIL, code: mailer.lastCodeFor(EMAIL) }, key.key))).body.token as string;

    const v2 = app(2);
    const rotated = await jwksOf(v2);
    expect(rotated.keys).toHaveLength(2);
    expect(rotated.keys[1]).toEqual((await jwksOf(v1)).keys[0]);
    expect((await call(v2, post('/v1/validate-token', { token: old }, key.key))).body.active).toBe(true);
    clock.advance(60_000);
    await call(v2, post('/v1/request-code', { email: EMAIL }, key.key));
    const fresh = (await call(v2, post('/v1/verify-code', { email: EMAIL, code: mailer.lastCodeFor(EMAIL) }, key.key))).body
      .token as string;
    const header = JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()) as { kid: string };
    expect(header.kid).toBe(rotated.keys[0]!.kid);
    // Two versions on, the first key is retired.
    expect((await call(app(3), post('/v1/validate-token', { token: old }, key.key))).body).toEqual({ active: false, reason: 'invalid' });
  });
});

describe('createService: faults', () => {
  function failingStore(clock = testClock()) {
    const inner = memoryCodeStore({ now: clock.now });
    let down = false;
    const guard =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      (...args: A) =>
        down ? Promise.reject(new Error('connection refused')) : fn(...args);
    const store: CodeStore = {
      set: guard(inner.set.bind(inner)),
      get: guard(inner.get.bind(inner)),
      consume: guard(inner.consume.bind(inner)),
      delete: guard(inner.delete.bind(inner)),
      increment: guard(inner.increment.bind(inner)),
    };
    return { store, setDown: (value: boolean) => (down = value), clock };
  }

  it('answers 503 with Retry-After while the store is down, readyz too, and recovers', async () => {
    const { store, setDown, clock } = failingStore();
    const s = serviceSetup({ store }, clock);
    expect((await call(s.service, new Request(`${BASE}/readyz`))).status).toBe(200);
    setDown(true);
    for (const answer of [
      await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog)),
      await call(s.service, post('/v1/validate-token', { token: 'x' }, s.keys.blog)),
      await call(s.service, new Request(`${BASE}/readyz`)),
    ]) {
      expect(answer.status).toBe(503);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect((await call(s.service, new Request(`${BASE}/healthz`))).status).toBe(200);
    expect(s.mailer.messages).toHaveLength(0);
    setDown(false);
    expect((await call(s.service, new Request(`${BASE}/readyz`))).body).toEqual({ status: 'ready' });
    expect((await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog))).status).toBe(200);
  });

  it('answers 502 when the mailer fails, and the code it was given no longer works', async () => {
    const given: string[] = [];
    const broken: Mailer = {
      send: (message) => {
        given.push(message.code);
        return Promise.reject(new Error(`SMTP refused ${message.to}`));
      },
    };
    const s = serviceSetup({ mailer: broken });
    const answer = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    expect([answer.status, answer.body.code]).toEqual([502, 'ERR_NPUSER_MAILER_FAILED']);
    expect(answer.text).not.toContain(EMAIL);
    const verify = await call(s.service, post('/v1/verify-code', { email: EMAIL, code: given[0] }, s.keys.blog));
    expect(verify.body.code).toBe('ERR_NPUSER_INVALID_CODE');
  });

  it('drains: readyz and every route but healthz answer 503, with Retry-After', async () => {
    const s = serviceSetup();
    expect(s.service.draining).toBe(false);
    s.service.drain();
    expect(s.service.draining).toBe(true);
    expect((await call(s.service, new Request(`${BASE}/readyz`))).status).toBe(503);
    const refused = await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    expect([refused.status, refused.body.code, refused.headers.get('retry-after')]).toEqual([503, 'ERR_NPUSER_UNAVAILABLE', '5']);
    expect((await call(s.service, new Request(`${BASE}/healthz`))).body).toEqual({ status: 'ok' });
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('answers 500 without the error for anything unexpected; a broken body stream is a bad request; a throwing logger changes nothing', async () => {
    let broken = false;
    const clock = testClock();
    const odd = serviceSetup({ now: () => (broken ? Number.NaN : clock.now()) }, clock);
    broken = true;
    const internal = await call(odd.service, post('/v1/request-code', { email: EMAIL }, odd.keys.blog));
    expect([internal.status, internal.body.code]).toEqual([500, 'ERR_NPUSER_INTERNAL']);
    expect(internal.text).not.toContain('options.now');

    const s = serviceSetup({
      mailer: () => ({ send: () => Promise.resolve() }),
      onAccess: () => {
        throw new Error('the log is full');
      },
    });
    const exploding = new Request(`${BASE}/v1/validate-token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.keys.blog}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        pull() {
          throw new Error('secret internals');
        },
      }),
      duplex: 'half',
    } as RequestInit);
    const answer = await call(s.service, exploding);
    expect(answer.status).toBe(400);
    expect(answer.text).not.toContain('secret internals');
  });
});

describe('createService: privacy', () => {
  it('never puts an address, a code, a token or a key in a problem or a log line', async () => {
    const s = serviceSetup({ quota: { requests: 12 } });
    const { token } = await signIn(s, s.keys.blog, EMAIL);
    const code = s.mailer.lastCodeFor(EMAIL)!;
    const texts: string[] = [];
    const record = async (request: Request) => texts.push((await call(s.service, request)).text);
    await record(post('/v1/verify-code', { email: EMAIL, code }, s.keys.blog));
    await record(post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    await record(post('/v1/verify-code', { email: EMAIL, code, extra: token }, s.keys.blog));
    await record(post('/v1/request-code', { email: EMAIL }, s.keys.blog, { origin: 'https://x.example' }));
    await record(post('/v1/request-code', { email: EMAIL }, `${s.keys.blog}x`));
    for (let i = 0; i < 10; i += 1) await record(post('/v1/validate-token', { token }, s.keys.blog));
    texts.push(...s.logs.map((entry) => JSON.stringify(entry)));
    for (const text of texts) {
      for (const secretValue of [EMAIL, code, token, s.keys.blog]) expect(text).not.toContain(secretValue);
    }
    for (const entry of s.logs) {
      expect(
        Object.keys(entry).every((k) => ['ts', 'requestId', 'method', 'route', 'status', 'ms', 'app', 'keyId', 'code'].includes(k)),
      ).toBe(true);
    }
  });
});

describe('createService: configuration', () => {
  const key = apiKey();
  const app = { id: 'blog', secret: secret('blog'), apiKeys: [{ id: 'k1', sha256: key.sha256 }] };
  it.each([
    ['no apps', { apps: [] }, /options\.apps must be a non-empty array/],
    ['a bad id', { apps: [{ ...app, id: 'My Blog' }] }, /options\.apps\[0\]\.id must be 1–63 lowercase/],
    ['a short secret', { apps: [{ ...app, secret: 'short' }] }, /options\.apps\[0\]\.secret must be at least 32 bytes/],
    ['a bad hash', { apps: [{ ...app, apiKeys: [{ id: 'k1', sha256: 'abc' }] }] }, /apiKeys\[0\]\.sha256 must be the SHA-256/],
    [
      'a bad notAfter',
      { apps: [{ ...app, apiKeys: [{ id: 'k1', sha256: key.sha256, notAfter: 'June' }] }] },
      /apiKeys\[0\]\.notAfter must be an ISO 8601/,
    ],
    [
      'one key in two apps',
      { apps: [app, { ...app, id: 'shop' }] },
      /apps\[1\]\.apiKeys\[0\]\.sha256 is the hash of a key already configured/,
    ],
    ['two apps of one id', { apps: [app, { ...app, apiKeys: [] }] }, /apps\[1\]\.id repeats the app id "blog"/],
    ['a bad mode', { apps: [{ ...app, mode: 'staging' }] }, /apps\[0\]\.mode must be 'live' or 'test'/],
    ['a bad token lifetime', { apps: [{ ...app, tokenTtlSeconds: 10 }] }, /apps\[0\]\.tokenTtlSeconds must be an integer from 60/],
    ['a bad quota', { apps: [app], quota: { requests: 0 } }, /options\.quota\.requests must be an integer/],
  ])('refuses %s with a TypeError naming the option', (_name, config, message) => {
    expect(() => createService({ mailer: memoryMailer(), ...(config as object) } as never)).toThrow(TypeError);
    expect(() => createService({ mailer: memoryMailer(), ...(config as object) } as never)).toThrow(message);
  });

  it('gives the mailer factory each live app, with its from address', () => {
    const seen: string[] = [];
    createService({
      apps: [
        { ...app, from: 'Blog <no-reply@blog.example>' },
        { id: 'sandbox', mode: 'test', secret: secret('s'), apiKeys: [] },
      ],
      mailer: (info) => {
        seen.push(`${info.id} ${info.name} ${info.from ?? ''} ${info.mode}`);
        return memoryMailer();
      },
    });
    expect(seen).toEqual(['blog blog Blog <no-reply@blog.example> live']);
  });
});
