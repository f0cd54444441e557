// The sign-in routes, called with `new Request(…)`: every route, every error path.
import { describe, expect, it } from 'vitest';
import { NpUser } from 'npuser';
import { createSignInHandler, type ProblemDetails } from 'npuser/http';
import { EMAIL, SECRET, wrongCode } from '../support/helpers.js';
import { CONNECTION, SITE, cookieHeader, get, handlerSetup, post, setCookies, signInThrough } from './support.js';

async function problemOf(response: Response): Promise<ProblemDetails> {
  expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
  return (await response.json()) as ProblemDetails;
}

function expectAlways(response: Response): void {
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
}

describe('POST {basePath}/code', () => {
  it('JSON: mails a code and answers the canonical address and expiry, setting no cookie', async () => {
    const h = handlerSetup();
    const response = await h.signIn.fetch(post('/auth/code', { email: ' Ada@Example.COM ' }), CONNECTION);
    expect(response.status).toBe(200);
    expectAlways(response);
    expect(await response.json()).toEqual({ email: EMAIL, expiresAt: new Date(h.clock.now() + 600_000).toISOString() });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(h.mailer.messages.map((m) => m.to)).toEqual([EMAIL]);
  });

  it('a form: 303 back to the sign-in page with ?npuser=sent, and the pending sign-in in an HttpOnly cookie', async () => {
    const h = handlerSetup({ signInPage: '/login?from=nav' });
    const response = await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { form: true }), CONNECTION);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/login?from=nav&npuser=sent');
    const pending = setCookies(response).get('npuser_session_pending');
    expect(pending?.attributes).toEqual(['Path=/', 'Max-Age=600', 'HttpOnly', 'SameSite=Lax', 'Secure']);
    // The address is never in the URL (access logs, history): only in the cookie.
    expect(response.headers.get('location')).not.toContain('ada');

    const state = h.signIn.getPageState(get('/login?from=nav&npuser=sent', { cookie: cookieHeader(response) }));
    expect(state).toMatchObject({ step: 'code', email: EMAIL, notice: 'code-sent', error: undefined });
    expect(state.codeSentAt?.getTime()).toBe(h.clock.now());
    expect(state.codeExpiresAt?.getTime()).toBe(h.clock.now() + 600_000);
  });

  it('passes the mail language: the body’s locale, else the best of Accept-Language', async () => {
    const h = handlerSetup();
    await h.signIn.fetch(post('/auth/code', { email: EMAIL, locale: 'fr-ca' }), CONNECTION);
    await h.signIn.fetch(
      post('/auth/code', { email: 'bob@example.com' }, { headers: { 'accept-language': 'en;q=0.5, de-CH;q=0.9' } }),
      CONNECTION,
    );
    await h.signIn.fetch(post('/auth/code', { email: 'cy@example.com' }, { headers: { 'accept-language': '*' } }), CONNECTION);
    expect(h.mailer.messages.map((m) => m.locale)).toEqual(['fr-CA', 'de-CH', undefined]);

    const bad = await h.signIn.fetch(post('/auth/code', { email: 'dee@example.com', locale: 'not a tag!' }), CONNECTION);
    expect((await problemOf(bad)).code).toBe('ERR_NPUSER_BAD_REQUEST');
    expect(h.mailer.messages).toHaveLength(3);
  });

  it('an invalid address is 422 for JSON, and for a form a 303 with the code that clears a pending sign-in', async () => {
    const h = handlerSetup();
    const json = await h.signIn.fetch(post('/auth/code', { email: 'not-an-address' }), CONNECTION);
    expect(json.status).toBe(422);
    expect((await problemOf(json)).code).toBe('ERR_NPUSER_INVALID_EMAIL');

    const sent = await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { form: true }), CONNECTION);
    const form = await h.signIn.fetch(
      post('/auth/code', { email: 'nope' }, { form: true, headers: { cookie: cookieHeader(sent) } }),
      CONNECTION,
    );
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe('/?npuser=error&code=ERR_NPUSER_INVALID_EMAIL');
    expect(setCookies(form).get('npuser_session_pending')?.attributes).toContain('Max-Age=0');
  });

  it('a refused resend (cooldown) keeps the pending sign-in and says when to retry', async () => {
    const h = handlerSetup();
    const sent = await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { form: true }), CONNECTION);
    h.clock.advance(15_000);
    const again = await h.signIn.fetch(
      post('/auth/code', { email: EMAIL }, { form: true, headers: { cookie: cookieHeader(sent) } }),
      CONNECTION,
    );
    expect(again.status).toBe(303);
    const location = new URL(again.headers.get('location')!, SITE);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      npuser: 'error',
      code: 'ERR_NPUSER_RATE_LIMITED',
      retryAt: String(h.clock.now() / 1000 + 45),
    });
    expect(again.headers.getSetCookie()).toEqual([]);

    h.clock.advance(5_000);
    const state = h.signIn.getPageState(
      get(`${location.pathname}${location.search}`, { cookie: cookieHeader(sent), 'accept-language': 'de' }),
    );
    expect(state).toMatchObject({
      step: 'code',
      email: EMAIL,
      locale: 'de',
      error: { code: 'ERR_NPUSER_RATE_LIMITED', title: 'Zu viele Anfragen. Versuchen Sie es später erneut.', retryAfterSeconds: 40 },
    });

    const json = await h.signIn.fetch(post('/auth/code', { email: EMAIL }), CONNECTION);
    expect(json.status).toBe(429);
    expect(json.headers.get('retry-after')).toBe('40');
    expect(await problemOf(json)).toMatchObject({ code: 'ERR_NPUSER_RATE_LIMITED', retryAfterSeconds: 40 });
  });

  it('a refused resend to an internationalised domain keeps the pending sign-in: the address is compared canonical', async () => {
    const h = handlerSetup();
    const sent = await h.signIn.fetch(post('/auth/code', { email: 'User@Bücher.example' }, { form: true }), CONNECTION);
    expect(setCookies(sent).get('npuser_session_pending')?.value).toContain(encodeURIComponent('user@xn--bcher-kva.example'));
    h.clock.advance(15_000);
    const again = await h.signIn.fetch(
      post('/auth/code', { email: ' user@bücher.example' }, { form: true, headers: { cookie: cookieHeader(sent) } }),
      CONNECTION,
    );
    expect(again.status).toBe(303);
    expect(new URL(again.headers.get('location')!, SITE).searchParams.get('code')).toBe('ERR_NPUSER_RATE_LIMITED');
    expect(again.headers.getSetCookie()).toEqual([]);
    const state = h.signIn.getPageState(get(again.headers.get('location')!, { cookie: cookieHeader(sent) }));
    expect(state).toMatchObject({ step: 'code', email: 'user@xn--bcher-kva.example' });
  });
});

describe('POST {basePath}/verify', () => {
  it('JSON: answers the subject and sets the session cookie (HttpOnly, Lax, Path=/, Secure), never the token in the body', async () => {
    const h = handlerSetup();
    await h.signIn.fetch(post('/auth/code', { email: EMAIL }), CONNECTION);
    const code = h.mailer.lastCodeFor(EMAIL)!;
    const response = await h.signIn.fetch(post('/auth/verify', { email: EMAIL, code }), CONNECTION);
    expect(response.status).toBe(200);
    expectAlways(response);
    const body = (await response.json()) as Record<string, unknown>;
    const session = setCookies(response).get('npuser_session')!;
    expect(session.attributes).toEqual(['Path=/', 'Max-Age=3600', 'HttpOnly', 'SameSite=Lax', 'Secure']);
    const { subject } = await h.np.validateToken(session.value);
    expect(body).toEqual({ subject, expiresAt: new Date(h.clock.now() + 3_600_000).toISOString() });
    expect(JSON.stringify(body)).not.toContain(session.value);
  });

  it('a form: the pending sign-in’s address is used, then 303 to redirectTo with the session, the pending cookie cleared', async () => {
    const h = handlerSetup({ redirectTo: '/account' });
    const sent = await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { form: true }), CONNECTION);
    const code = h.mailer.lastCodeFor(EMAIL)!;
    const response = await h.signIn.fetch(
      post('/auth/verify', { code }, { form: true, headers: { cookie: cookieHeader(sent) } }),
      CONNECTION,
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/account');
    const cookies = setCookies(response);
    expect(cookies.get('npuser_session_pending')?.attributes).toContain('Max-Age=0');
    expect((await h.np.validateToken(cookies.get('npuser_session')!.value)).subject).toMatch(/^[\w-]{43}$/);
  });

  it('a wrong code: 422 for JSON, a 303 with the code for a form, and the pending sign-in stays', async () => {
    const h = handlerSetup();
    const sent = await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { form: true }), CONNECTION);
    const wrong = wrongCode(h.mailer.lastCodeFor(EMAIL)!);
    const json = await h.signIn.fetch(post('/auth/verify', { email: EMAIL, code: wrong }), CONNECTION);
    expect(json.status).toBe(422);
    expect((await problemOf(json)).code).toBe('ERR_NPUSER_INVALID_CODE');
    const form = await h.signIn.fetch(
      post('/auth/verify', { code: wrong }, { form: true, headers: { cookie: cookieHeader(sent) } }),
      CONNECTION,
    );
    expect(form.headers.get('location')).toBe('/?npuser=error&code=ERR_NPUSER_INVALID_CODE');
    expect(form.headers.getSetCookie()).toEqual([]);
  });

  it('five wrong codes burn the code: the fifth answer is TOO_MANY_ATTEMPTS, and the right code no longer works', async () => {
    const h = handlerSetup();
    await h.signIn.fetch(post('/auth/code', { email: EMAIL }), CONNECTION);
    const code = h.mailer.lastCodeFor(EMAIL)!;
    const codes: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const response = await h.signIn.fetch(post('/auth/verify', { email: EMAIL, code: wrongCode(code) }), CONNECTION);
      codes.push((await problemOf(response)).code);
    }
    expect(codes).toEqual([...Array<string>(4).fill('ERR_NPUSER_INVALID_CODE'), 'ERR_NPUSER_TOO_MANY_ATTEMPTS']);
    const right = await h.signIn.fetch(post('/auth/verify', { email: EMAIL, code }), CONNECTION);
    expect(right.status).toBe(429);
    expect(right.headers.getSetCookie()).toEqual([]);
  });

  it('without an address: 400 for JSON; a form whose pending sign-in has gone says the code no longer works', async () => {
    const h = handlerSetup();
    const json = await h.signIn.fetch(post('/auth/verify', { code: '123456' }), CONNECTION);
    expect((await problemOf(json)).code).toBe('ERR_NPUSER_BAD_REQUEST');
    const form = await h.signIn.fetch(post('/auth/verify', { code: '123456' }, { form: true }), CONNECTION);
    expect(form.headers.get('location')).toBe('/?npuser=error&code=ERR_NPUSER_INVALID_CODE');
    expect(h.contexts).toEqual([]);
  });

  it('runs onSignIn with the subject and the address; what onSignIn throws rejects fetch, for the framework to report', async () => {
    const seen: unknown[] = [];
    const h = handlerSetup({}, { onSignIn: (context) => void seen.push(context) });
    const cookie = await signInThrough(h);
    const { subject } = await h.np.validateToken(cookie.replace('npuser_session=', ''));
    expect(seen).toEqual([{ subject, email: EMAIL }]);

    const failing = handlerSetup({}, { onSignIn: () => Promise.reject(new Error('users table is down')) });
    await failing.signIn.fetch(post('/auth/code', { email: EMAIL }), CONNECTION);
    const code = failing.mailer.lastCodeFor(EMAIL)!;
    await expect(failing.signIn.fetch(post('/auth/verify', { email: EMAIL, code }), CONNECTION)).rejects.toThrow('users table is down');
  });
});

describe('GET {basePath}/session', () => {
  it('answers the signed-in subject; 401 without a cookie', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    const response = await h.signIn.fetch(get('/auth/session', { cookie: `other=1; ${cookie}` }));
    expect(response.status).toBe(200);
    expectAlways(response);
    const body = (await response.json()) as Record<string, string>;
    expect(Object.keys(body)).toEqual(['subject', 'expiresAt', 'authenticatedAt']);
    expect(body.authenticatedAt).toBe(new Date(h.clock.now()).toISOString());

    const none = await h.signIn.fetch(get('/auth/session'));
    expect(none.status).toBe(401);
    expect(await problemOf(none)).toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN', title: 'You are not signed in.' });
    expect(none.headers.getSetCookie()).toEqual([]);
  });

  it.each([
    ['forged', (token: string) => `${token.slice(0, -4)}AAAA`],
    ['malformed', () => 'a.b.c'],
  ])('a %s cookie is 401 INVALID_TOKEN, and cleared', async (_name, mangle) => {
    const h = handlerSetup();
    const token = (await signInThrough(h)).replace('npuser_session=', '');
    const response = await h.signIn.fetch(get('/auth/session', { cookie: `npuser_session=${mangle(token)}` }));
    expect(response.status).toBe(401);
    expect((await problemOf(response)).code).toBe('ERR_NPUSER_INVALID_TOKEN');
    expect(setCookies(response).get('npuser_session')?.attributes).toContain('Max-Age=0');
  });

  it('an expired cookie is 401 TOKEN_EXPIRED, in the reader’s language', async () => {
    const h = handlerSetup({}, { tokenTtlSeconds: 60, clockToleranceSeconds: 0 });
    const cookie = await signInThrough(h);
    h.clock.advance(61_000);
    const response = await h.signIn.fetch(get('/auth/session', { cookie, 'accept-language': 'pt-BR' }));
    expect(response.status).toBe(401);
    expect(response.headers.get('content-language')).toBe('pt');
    expect(await problemOf(response)).toMatchObject({
      code: 'ERR_NPUSER_TOKEN_EXPIRED',
      title: 'A sua sessão expirou. Inicie sessão novamente.',
    });
  });

  it('a revoked cookie, and another app’s cookie of the same name, are refused', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    await h.np.revokeToken(cookie.replace('npuser_session=', ''));
    expect((await h.signIn.fetch(get('/auth/session', { cookie }))).status).toBe(401);

    const other = handlerSetup({}, { audience: 'another-app' });
    const foreign = await signInThrough(other);
    const response = await h.signIn.fetch(get('/auth/session', { cookie: foreign }));
    expect((await problemOf(response)).code).toBe('ERR_NPUSER_INVALID_TOKEN');
  });

  it('a store outage is 503 with Retry-After, not a signed-out user', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    h.store.get = () => Promise.reject(new Error('down'));
    h.store.transact = () => Promise.reject(new Error('down'));
    const response = await h.signIn.fetch(get('/auth/session', { cookie }));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await problemOf(response)).toMatchObject({ code: 'ERR_NPUSER_STORE_FAILED', retryAfterSeconds: 5 });
    await expect(h.signIn.getSession(get('/', { cookie }))).rejects.toMatchObject({ code: 'ERR_NPUSER_STORE_FAILED' });
  });
});

describe('POST {basePath}/sign-out', () => {
  it('revokes the token and clears the cookie: 200 for JSON, 303 ?npuser=signed-out for a form', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    const token = cookie.replace('npuser_session=', '');
    const response = await h.signIn.fetch(post('/auth/sign-out', undefined, { headers: { cookie } }), CONNECTION);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ signedOut: true });
    expect(setCookies(response).get('npuser_session')).toEqual({
      value: '',
      attributes: ['Path=/', 'Max-Age=0', 'HttpOnly', 'SameSite=Lax', 'Secure'],
    });
    // A copy of the cookie kept elsewhere no longer works.
    expect((await h.signIn.fetch(get('/auth/session', { cookie }))).status).toBe(401);
    await expect(h.np.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });

    h.clock.advance(61_000); // past the resend cooldown
    const again = await signInThrough(h);
    const form = await h.signIn.fetch(post('/auth/sign-out', '', { form: true, headers: { cookie: again } }));
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe('/?npuser=signed-out');
    expect(h.signIn.getPageState(get('/?npuser=signed-out'))).toMatchObject({ step: 'email', notice: 'signed-out', error: undefined });
  });

  it('without a cookie, or with a forged or expired one, it still answers signed out', async () => {
    const h = handlerSetup({}, { tokenTtlSeconds: 60 });
    expect((await h.signIn.fetch(post('/auth/sign-out', undefined))).status).toBe(200);
    expect((await h.signIn.fetch(post('/auth/sign-out', undefined, { headers: { cookie: 'npuser_session=a.b.c' } }))).status).toBe(200);
    const cookie = await signInThrough(h);
    h.clock.advance(120_000);
    expect((await h.signIn.fetch(post('/auth/sign-out', '{}', { headers: { cookie, 'content-type': 'application/json' } }))).status).toBe(
      200,
    );
  });

  it('a store outage is said (503), and the cookie is cleared all the same', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    h.store.set = () => Promise.reject(new Error('down'));
    const response = await h.signIn.fetch(post('/auth/sign-out', undefined, { headers: { cookie } }));
    expect(response.status).toBe(503);
    expect(setCookies(response).get('npuser_session')?.attributes).toContain('Max-Age=0');
  });

  it('refuses a body of another type (415)', async () => {
    const h = handlerSetup();
    const response = await h.signIn.fetch(post('/auth/sign-out', 'x', { headers: { 'content-type': 'text/plain' } }));
    expect(response.status).toBe(415);
  });
});

describe('POST {basePath}/sign-out-everywhere', () => {
  it('refuses every token of the subject, in every browser, and clears this one’s cookie', async () => {
    const h = handlerSetup();
    const laptop = await signInThrough(h);
    h.clock.advance(61_000); // past the resend cooldown
    const phone = await signInThrough(h);
    h.clock.advance(1_000);
    const response = await h.signIn.fetch(post('/auth/sign-out-everywhere', '', { form: true, headers: { cookie: phone } }));
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/?npuser=signed-out-everywhere');
    expect(setCookies(response).get('npuser_session')?.attributes).toContain('Max-Age=0');
    expect(await h.signIn.getSession(get('/', { cookie: laptop }))).toBeNull();
    expect(await h.signIn.getSession(get('/', { cookie: phone }))).toBeNull();

    // A sign-in after it (a second later: revocation counts whole seconds) works.
    h.clock.advance(61_000);
    const fresh = await signInThrough(h);
    expect(await h.signIn.getSession(get('/', { cookie: fresh }))).not.toBeNull();
  });

  it('needs a valid session: 401 without one', async () => {
    const h = handlerSetup();
    const response = await h.signIn.fetch(post('/auth/sign-out-everywhere', undefined));
    expect(response.status).toBe(401);
    expect((await problemOf(response)).code).toBe('ERR_NPUSER_INVALID_TOKEN');
  });

  it('is not there (404) for a backend without revokeSubject', async () => {
    const np = new NpUser({ secret: SECRET });
    const signIn = createSignInHandler({
      requestCode: (e, c) => np.requestCode(e, c),
      verifyCode: (e, code, c) => np.verifyCode(e, code, c),
      validateToken: (t) => np.validateToken(t),
      revokeToken: (t) => np.revokeToken(t),
    });
    expect((await signIn.fetch(post('/auth/sign-out-everywhere', undefined))).status).toBe(404);
  });
});

describe('routing', () => {
  it('an unknown route or one outside basePath is 404; a wrong method is 405 with Allow', async () => {
    const h = handlerSetup({ basePath: '/api/auth/' });
    expect(h.signIn.basePath).toBe('/api/auth');
    for (const path of ['/api/auth/nope', '/api/auth', '/auth/code', '/api/auth/code/', '/api/authx/code']) {
      const response = await h.signIn.fetch(post(path, { email: EMAIL }), CONNECTION);
      expect(response.status, path).toBe(404);
      expect((await problemOf(response)).code).toBe('ERR_NPUSER_NOT_FOUND');
    }
    const wrong = await h.signIn.fetch(get('/api/auth/code'));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const session = await h.signIn.fetch(post('/api/auth/session', {}));
    expect(session.headers.get('allow')).toBe('GET');
    expect(h.mailer.messages).toEqual([]);
  });
});

describe('bodies', () => {
  it.each([
    ['bad JSON', '{"email":', 'application/json', 'ERR_NPUSER_BAD_REQUEST', 400],
    ['a JSON array', '[]', 'application/json', 'ERR_NPUSER_BAD_REQUEST', 400],
    ['an unknown field', JSON.stringify({ email: EMAIL, admin: true }), 'application/json', 'ERR_NPUSER_BAD_REQUEST', 400],
    ['a missing field', '{}', 'application/json', 'ERR_NPUSER_BAD_REQUEST', 400],
    ['a wrong type', JSON.stringify({ email: 42 }), 'application/json', 'ERR_NPUSER_BAD_REQUEST', 400],
    ['text/plain', EMAIL, 'text/plain', 'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE', 415],
    ['multipart', '--x--', 'multipart/form-data; boundary=x', 'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE', 415],
    ['another charset', JSON.stringify({ email: EMAIL }), 'application/json; charset=latin1', 'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE', 415],
    ['an oversized body', JSON.stringify({ email: EMAIL, pad: 'x'.repeat(9000) }), 'application/json', 'ERR_NPUSER_PAYLOAD_TOO_LARGE', 413],
  ])('%s: %s, nothing mailed', async (_name, body, type, code, status) => {
    const h = handlerSetup();
    const response = await h.signIn.fetch(post('/auth/code', body, { headers: { 'content-type': type } }), CONNECTION);
    expect(response.status).toBe(status);
    expectAlways(response);
    expect((await problemOf(response)).code).toBe(code);
    expect(h.mailer.messages).toEqual([]);
  });

  it('an oversized body that announces no length is cut off at the limit, not read to its end', async () => {
    const h = handlerSetup();
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(1024).fill(32));
      },
    });
    const request = new Request(`${SITE}/auth/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: endless,
      duplex: 'half',
    } as RequestInit);
    const response = await h.signIn.fetch(request, CONNECTION);
    expect(response.status).toBe(413);
    expect(pulled).toBeLessThan(20);
  });

  it.each([
    ['an unknown field', `email=${EMAIL}&admin=1`],
    ['a repeated field', `email=${EMAIL}&email=eve@example.com`],
  ])('a form with %s answers by redirect, with the code, nothing mailed', async (_name, body) => {
    const h = handlerSetup();
    const response = await h.signIn.fetch(post('/auth/code', body, { form: true }), CONNECTION);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/?npuser=error&code=ERR_NPUSER_BAD_REQUEST');
    expect(h.mailer.messages).toEqual([]);
  });
});

describe('cross-site requests', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }, false],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }, false],
    ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin' }, true],
    ['Sec-Fetch-Site: none (the user’s own navigation)', { 'sec-fetch-site': 'none' }, true],
    ['no Sec-Fetch-Site, Origin of another site', { origin: 'https://evil.example' }, false],
    ['no Sec-Fetch-Site, Origin: null', { origin: 'null' }, false],
    ['no Sec-Fetch-Site, the app’s own Origin', { origin: SITE }, true],
    [
      'same-origin claimed, Origin of another site: Sec-Fetch-Site decides',
      { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' },
      true,
    ],
    ['neither header (curl, a server)', {}, true],
  ];

  it.each(cases)('%s', async (_name, headers, allowed) => {
    const h = handlerSetup();
    const request = new Request(`${SITE}/auth/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: `email=${EMAIL}`,
    });
    const response = await h.signIn.fetch(request, CONNECTION);
    if (allowed) {
      expect(response.status).toBe(303);
      expect(h.mailer.messages).toHaveLength(1);
    } else {
      expect(response.status).toBe(403);
      expect((await problemOf(response)).code).toBe('ERR_NPUSER_FORBIDDEN');
      expect(h.mailer.messages).toEqual([]);
      expect(response.headers.getSetCookie()).toEqual([]);
    }
  });

  it('refuses a cross-site sign-in (login CSRF) and sign-out, and lets a trusted origin through', async () => {
    const h = handlerSetup({ trustedOrigins: ['https://www.app.example'] });
    await h.signIn.fetch(post('/auth/code', { email: EMAIL }), CONNECTION);
    const code = h.mailer.lastCodeFor(EMAIL)!;
    const csrf = await h.signIn.fetch(
      post(
        '/auth/verify',
        { email: EMAIL, code },
        { form: true, headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } },
      ),
      CONNECTION,
    );
    expect(csrf.status).toBe(403);
    expect(h.contexts.filter((c) => c.call === 'verifyCode')).toEqual([]);
    const trusted = await h.signIn.fetch(
      post('/auth/verify', { email: EMAIL, code }, { headers: { 'sec-fetch-site': 'same-site', origin: 'https://www.app.example' } }),
      CONNECTION,
    );
    expect(trusted.status).toBe(200);
    const out = await h.signIn.fetch(
      post('/auth/sign-out', undefined, { headers: { 'sec-fetch-site': 'cross-site', cookie: cookieHeader(trusted) } }),
    );
    expect(out.status).toBe(403);
    expect(await h.signIn.getSession(get('/', { cookie: cookieHeader(trusted) }))).not.toBeNull();
  });

  it('a cross-site GET of the session is answered (the browser keeps its body from the other site)', async () => {
    const h = handlerSetup();
    const response = await h.signIn.fetch(get('/auth/session', { 'sec-fetch-site': 'cross-site' }));
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the cookie', () => {
  it('is Secure except on localhost; secureCookie and cookieName change it', async () => {
    for (const site of ['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:3000', 'http://app.localhost']) {
      const h = handlerSetup();
      const cookie = await signInThrough({
        ...h,
        signIn: { ...h.signIn, fetch: (r, c) => h.signIn.fetch(new Request(r.url.replace(SITE, site), r), c) },
      });
      expect(cookie, site).toMatch(/^npuser_session=/);
      await h.signIn.fetch(post('/auth/code', { email: 'bob@example.com' }, { site }), CONNECTION);
      const code = h.mailer.lastCodeFor('bob@example.com')!;
      const verified = await h.signIn.fetch(post('/auth/verify', { email: 'bob@example.com', code }, { site }), CONNECTION);
      expect(setCookies(verified).get('npuser_session')?.attributes, site).not.toContain('Secure');
    }
    const named = handlerSetup({ cookieName: '__Host-sid', secureCookie: true });
    await named.signIn.fetch(post('/auth/code', { email: EMAIL }, { site: 'http://localhost:3000' }), CONNECTION);
    const code = named.mailer.lastCodeFor(EMAIL)!;
    const verified = await named.signIn.fetch(post('/auth/verify', { email: EMAIL, code }, { site: 'http://localhost:3000' }), CONNECTION);
    expect(setCookies(verified).get('__Host-sid')?.attributes).toContain('Secure');
    expect(await named.signIn.getSession(get('/', { cookie: cookieHeader(verified) }))).not.toBeNull();
  });
});

describe('options', () => {
  const np = new NpUser({ secret: SECRET });
  it.each([
    [{ basePath: 'auth' }, 'options.basePath'],
    [{ basePath: '/auth?x=1' }, 'options.basePath'],
    [{ signInPage: '//evil.example/' }, 'options.signInPage'],
    [{ redirectTo: 'https://evil.example/' }, 'options.redirectTo'],
    [{ cookieName: 'a b' }, 'options.cookieName'],
    [{ secureCookie: 'yes' }, 'options.secureCookie'],
    [{ trustProxy: -1 }, 'options.trustProxy'],
    [{ trustProxy: 1.5 }, 'options.trustProxy'],
    [{ trustedOrigins: ['https://www.example.com/path'] }, 'options.trustedOrigins'],
    [{ trustedOrigins: 'https://www.example.com' }, 'options.trustedOrigins'],
    [{ clientKey: 'ip' }, 'options.clientKey'],
    [{ renew: 1 }, 'options.renew'],
    [{ now: 0 }, 'options.now'],
  ])('%o is a TypeError naming %s', (options, name) => {
    const make = () => createSignInHandler(np, options as never);
    expect(make).toThrow(TypeError);
    expect(make).toThrow(`npuser: createSignInHandler ${name} `);
  });

  it('an np without the calls is a TypeError', () => {
    expect(() => createSignInHandler({} as never)).toThrow(TypeError);
    expect(() => createSignInHandler(undefined as never)).toThrow(/createSignInHandler\(np\)/);
  });
});
