import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NpUser, type CodeStore, type NpUserOptions } from 'npuser';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';
import { MAX_BODY_BYTES, SECURITY_HEADERS, createDemoApp, readCookie } from '../../examples/demo/app.js';
import { EMAIL } from '../helpers.js';

const SECRET = 'demo test secret: at least thirty-two bytes';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Demo {
  base: string;
  np: NpUser;
  mailer: MemoryMailer;
  unexpected: unknown[];
}

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
});

/** The demo handler on a real server on 127.0.0.1, with an NpUser whose mail we can read. */
async function startDemo(options: Partial<NpUserOptions> = {}, np?: NpUser, delivery: 'console' | 'email' = 'console'): Promise<Demo> {
  const mailer = memoryMailer();
  const user = np ?? new NpUser({ secret: SECRET, appName: 'npuser demo', audience: 'npuser-demo', mailer, ...options });
  const unexpected: unknown[] = [];
  const server = createServer(createDemoApp({ np: user, onUnexpectedError: (err) => void unexpected.push(err), delivery }));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, np: user, mailer, unexpected };
}

function post(base: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...FORM, ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

function sessionCookie(res: Response): string {
  const cookie = res.headers.get('set-cookie') ?? '';
  const token = readCookie(cookie.split(';', 1)[0], 'npuser_session');
  if (token === undefined) throw new Error(`no session cookie in ${JSON.stringify(cookie)}`);
  return token;
}

/** The text of the page's alert, if any. */
function alertText(page: string): string | undefined {
  return /<p class="alert[^"]*"[^>]*>([^<]*)<\/p>/.exec(page)?.[1];
}

function expectSecurityHeaders(res: Response): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(res.headers.get(name), name).toBe(value);
  }
}

async function signIn(demo: Demo, email = EMAIL): Promise<string> {
  const requested = await post(demo.base, '/request', { email });
  expect(requested.status).toBe(200);
  const code = demo.mailer.lastCodeFor(email);
  if (code === undefined) throw new Error('no code was mailed');
  const verified = await post(demo.base, '/verify', { email, code });
  expect(verified.status).toBe(303);
  return sessionCookie(verified);
}

describe('demo app: sign-in flow', () => {
  it('shows the sign-in form with what npuser is', async () => {
    const { base } = await startDemo();
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const page = await res.text();
    expect(page).toContain('<form method="post" action="/request"');
    expect(page).toContain('name="email" type="email"');
    expect(page).toContain('no password, no user database');
    expect(page).toContain('<link rel="stylesheet" href="/style.css">');
  });

  it('signs in: email → code → cookie → /me shows the subject, not the email → sign out', async () => {
    const demo = await startDemo();
    const { base, np, mailer } = demo;

    const requested = await post(base, '/request', { email: '  Ada@Example.COM ' });
    expect(requested.status).toBe(200);
    const codePage = await requested.text();
    expect(codePage).toContain('Check your terminal');
    expect(codePage).toContain('<input type="hidden" name="email" value="ada@example.com">');
    expect(codePage).toMatch(/<input id="code" name="code"[^>]*inputmode="numeric" autocomplete="one-time-code"/);
    expect(codePage).toContain('for 10 minutes');
    expect(mailer.messages).toHaveLength(1);
    const code = mailer.lastCodeFor(EMAIL)!;

    const verified = await post(base, '/verify', { email: 'Ada@Example.COM', code: `${code.slice(0, 3)} ${code.slice(3)}` });
    expect(verified.status).toBe(303);
    expect(verified.headers.get('location')).toBe('/me');
    const setCookie = verified.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^npuser_session=[\w-]+\.[\w-]+\.[\w-]+; HttpOnly; SameSite=Lax; Path=\/; Max-Age=\d+$/);
    const token = sessionCookie(verified);
    const { subject } = await np.validateToken(token);

    const me = await fetch(`${base}/me`, { headers: { cookie: `other=1; npuser_session=${token}` }, redirect: 'manual' });
    expect(me.status).toBe(200);
    expectSecurityHeaders(me);
    const mePage = await me.text();
    expect(mePage).toContain('You are signed in');
    expect(mePage).toContain(`<code id="subject">${subject}</code>`);
    expect(mePage).toContain('per-app pseudonym');
    expect(mePage.toLowerCase()).not.toContain('ada@example.com');
    expect(mePage).toContain('<form method="post" action="/logout"');

    // Signed in, the sign-in page sends you on to /me.
    const home = await fetch(`${base}/`, { headers: { cookie: `npuser_session=${token}` }, redirect: 'manual' });
    expect(home.status).toBe(303);
    expect(home.headers.get('location')).toBe('/me');

    const out = await post(base, '/logout', {}, { cookie: `npuser_session=${token}` });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/');
    expect(out.headers.get('set-cookie')).toBe('npuser_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0');
    // Signing out revoked the token: a copy kept elsewhere no longer works.
    await expect(np.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    const replayed = await fetch(`${base}/me`, { headers: { cookie: `npuser_session=${token}` }, redirect: 'manual' });
    expect(replayed.status).toBe(303);
  });

  it('asks for the mail in the browser’s language, and ignores a malformed Accept-Language', async () => {
    const { base, mailer } = await startDemo();
    await post(base, '/request', { email: EMAIL }, { 'accept-language': 'fr-CA,fr;q=0.9,en;q=0.5' });
    expect(mailer.messages[0]?.locale).toBe('fr-CA');
    await post(base, '/request', { email: 'bob@example.com' }, { 'accept-language': 'x_-1;;' });
    expect(mailer.messages[1]?.locale).toBeUndefined();
  });

  it('says “check your inbox” when codes are really emailed', async () => {
    const { base } = await startDemo({}, undefined, 'email');
    const page = await (await fetch(`${base}/`)).text();
    expect(page).not.toContain('printed in the terminal');
    const codePage = await (await post(base, '/request', { email: EMAIL })).text();
    expect(codePage).toContain('Check your inbox');
    expect(codePage).not.toContain('terminal');
  });

  it('redirects /me to / without a session, and clears a bad one', async () => {
    const { base } = await startDemo();
    const none = await fetch(`${base}/me`, { redirect: 'manual' });
    expect(none.status).toBe(303);
    expect(none.headers.get('location')).toBe('/');
    expect(none.headers.get('set-cookie')).toBeNull();

    const forged = await fetch(`${base}/me`, { headers: { cookie: 'npuser_session=a.b.c' }, redirect: 'manual' });
    expect(forged.status).toBe(303);
    expect(forged.headers.get('location')).toBe('/');
    expect(forged.headers.get('set-cookie')).toContain('Max-Age=0');
  });

  it('refuses a token from another app sharing nothing but the cookie name', async () => {
    const demo = await startDemo();
    const other = await startDemo({ audience: 'another-app' });
    const token = await signIn(other);
    const me = await fetch(`${demo.base}/me`, { headers: { cookie: `npuser_session=${token}` }, redirect: 'manual' });
    expect(me.status).toBe(303);
  });

  it('tells an expired session apart on the sign-in page', async () => {
    let now = Date.now();
    const demo = await startDemo({ now: () => now, tokenTtlSeconds: 60, clockToleranceSeconds: 0 });
    const token = await signIn(demo);
    now += 61_000;
    const home = await fetch(`${demo.base}/`, { headers: { cookie: `npuser_session=${token}` } });
    expect(home.status).toBe(200);
    expect(alertText(await home.text())).toBe('Your session has ended. Sign in again.');
    expect(home.headers.get('set-cookie')).toContain('Max-Age=0');
  });
});

describe('demo app: errors in plain words', () => {
  it('says a wrong code is wrong, and burns it after too many tries', async () => {
    const { base, mailer } = await startDemo({ maxAttempts: 3 });
    await post(base, '/request', { email: EMAIL });
    const code = mailer.lastCodeFor(EMAIL)!;
    const wrong = code.replace(/^./, (d) => String((Number(d) + 1) % 10));

    const first = await post(base, '/verify', { email: EMAIL, code: wrong });
    expect(first.status).toBe(401);
    const page = await first.text();
    expect(alertText(page)).toMatch(/^That code isn’t right/);
    // Still on the code form, address kept.
    expect(page).toContain('<input type="hidden" name="email" value="ada@example.com">');

    const malformed = await post(base, '/verify', { email: EMAIL, code: 'abc' });
    expect(malformed.status).toBe(401);
    expect(alertText(await malformed.text())).toMatch(/^That code isn’t right/);

    await post(base, '/verify', { email: EMAIL, code: wrong });
    const burned = await post(base, '/verify', { email: EMAIL, code: wrong });
    expect(burned.status).toBe(429);
    expect(alertText(await burned.text())).toMatch(/^Too many wrong attempts/);
    // Even the right code no longer works: it is not compared until a new code is sent.
    const late = await post(base, '/verify', { email: EMAIL, code });
    expect(late.status).toBe(429);
    expect(alertText(await late.text())).toMatch(/^Too many wrong attempts/);
  });

  it('says an invalid address is invalid, keeping what was typed', async () => {
    const { base, mailer } = await startDemo();
    const res = await post(base, '/request', { email: 'not an address' });
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(alertText(page)).toMatch(/^That doesn’t look like an email address/);
    expect(page).toContain('value="not an address"');
    expect(mailer.messages).toHaveLength(0);
  });

  it('shows the wait when rate limited, with Retry-After', async () => {
    const { base } = await startDemo();
    expect((await post(base, '/request', { email: EMAIL })).status).toBe(200);

    const again = await post(base, '/request', { email: EMAIL });
    expect(again.status).toBe(429);
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const page = await again.text();
    expect(alertText(page)).toMatch(/^Too many requests\. Please wait (\d+ seconds|1 minute) and try again\./);
    // From the sign-in page: a way to enter the code already received.
    expect(page).toContain('action="/code"');

    // A refused resend stays on the code form.
    const resend = await post(base, '/request', { email: EMAIL, resend: '1' });
    expect(resend.status).toBe(429);
    expect(await resend.text()).toContain('action="/verify"');

    const codeForm = await post(base, '/code', { email: EMAIL });
    expect(codeForm.status).toBe(200);
    expect(await codeForm.text()).toContain('<input type="hidden" name="email" value="ada@example.com">');
  });

  it('says when the code could not be sent', async () => {
    const { base, mailer } = await startDemo();
    mailer.failNextSend();
    const res = await post(base, '/request', { email: EMAIL });
    expect(res.status).toBe(503);
    expect(alertText(await res.text())).toMatch(/^We couldn’t send the code/);
  });

  it('says when the store is down', async () => {
    const down = (): Promise<never> => Promise.reject(new Error('store down'));
    const store: CodeStore = { set: down, get: down, consume: down, delete: down, increment: down };
    const { base } = await startDemo({ store });
    const res = await post(base, '/request', { email: EMAIL });
    expect(res.status).toBe(503);
    expect(alertText(await res.text())).toMatch(/^Sign-in is unavailable just now/);
    const verify = await post(base, '/verify', { email: EMAIL, code: '123456' });
    expect(verify.status).toBe(503);
  });

  it('turns an unexpected error into a 500 page and keeps serving', async () => {
    const broken = {
      requestCode: () => Promise.reject(new TypeError('npuser: email must be a string')),
      verifyCode: () => {
        throw new TypeError('thrown synchronously');
      },
      validateToken: () => Promise.reject(new Error('boom')),
    } as unknown as NpUser;
    const demo = await startDemo({}, broken);

    const res = await post(demo.base, '/request', { email: EMAIL });
    expect(res.status).toBe(500);
    expectSecurityHeaders(res);
    const page = await res.text();
    expect(page).toContain('Something went wrong');
    expect(page).not.toContain('must be a string');

    expect((await post(demo.base, '/verify', { email: EMAIL, code: '123456' })).status).toBe(500);
    expect((await fetch(`${demo.base}/me`, { headers: { cookie: 'npuser_session=x.y.z' } })).status).toBe(500);
    expect(demo.unexpected).toHaveLength(3);
    expect((await fetch(`${demo.base}/style.css`)).status).toBe(200);
  });
});

describe('demo app: hostile input', () => {
  it('escapes a hostile address everywhere it is shown', async () => {
    const { base } = await startDemo();
    // Refused by npuser, echoed back in the form.
    const refused = await post(base, '/request', { email: '"><script>alert(1)</script>@example.com' });
    expect(refused.status).toBe(400);
    const refusedPage = await refused.text();
    expect(refusedPage).not.toContain('<script>');
    expect(refusedPage).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com"');

    // Accepted by npuser (apostrophe and ampersand are legal in a local part), shown on the code page.
    const accepted = await post(base, '/request', { email: "o'neil&co@example.com" });
    expect(accepted.status).toBe(200);
    const page = await accepted.text();
    expect(page).toContain('<strong class="email">o&#39;neil&amp;co@example.com</strong>');
    expect(page).toContain('value="o&#39;neil&amp;co@example.com"');
    expect(page).not.toContain("o'neil");

    const viaCode = await post(base, '/code', { email: '<img src=x onerror=alert(1)>' });
    const viaCodePage = await viaCode.text();
    expect(viaCodePage).not.toContain('<img');
    expect(viaCodePage).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('refuses bodies that are too large or not a form', async () => {
    const { base } = await startDemo();
    const big = await post(base, '/request', { email: 'a'.repeat(MAX_BODY_BYTES) });
    expect(big.status).toBe(413);
    expectSecurityHeaders(big);
    expect(await big.text()).toContain('Too much data');

    // No Content-Length: streamed in chunks until the limit is crossed.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i += 1) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        controller.close();
      },
    });
    const streamed = await fetch(`${base}/verify`, {
      method: 'POST',
      headers: FORM,
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);

    const json = await fetch(`${base}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: EMAIL }),
    });
    expect(json.status).toBe(415);
    expectSecurityHeaders(json);
  });

  it('treats missing, repeated and odd fields as plain bad input', async () => {
    const { base, mailer } = await startDemo();
    const missing = await post(base, '/request', {});
    expect(missing.status).toBe(400);

    const repeated = await fetch(`${base}/request`, {
      method: 'POST',
      headers: FORM,
      body: 'email=ada%40example.com&email=eve%40example.com&email[]=x',
    });
    expect(repeated.status).toBe(200);
    expect(mailer.messages.map((m) => m.to)).toEqual(['ada@example.com']);

    const noCode = await post(base, '/verify', { email: EMAIL });
    expect(noCode.status).toBe(401);
    const badPercent = await fetch(`${base}/verify`, { method: 'POST', headers: FORM, body: 'email=%E0%A4%A&code=%' });
    expect(badPercent.status).toBe(400);
  });

  it('refuses cross-site form posts (login CSRF)', async () => {
    const { base, mailer } = await startDemo();
    const res = await post(base, '/request', { email: EMAIL }, { 'sec-fetch-site': 'cross-site' });
    expect(res.status).toBe(403);
    expect(mailer.messages).toHaveLength(0);
    const same = await post(base, '/request', { email: EMAIL }, { 'sec-fetch-site': 'same-origin' });
    expect(same.status).toBe(200);
  });
});

describe('demo app: routes and headers', () => {
  it('answers 404 for unknown paths and 405 for wrong methods, with security headers', async () => {
    const { base } = await startDemo();
    const missing = await fetch(`${base}/admin`);
    expect(missing.status).toBe(404);
    expectSecurityHeaders(missing);
    expect(await missing.text()).toContain('Page not found');

    const getRequest = await fetch(`${base}/request`);
    expect(getRequest.status).toBe(405);
    expect(getRequest.headers.get('allow')).toBe('POST');
    expectSecurityHeaders(getRequest);

    const deleteHome = await fetch(`${base}/`, { method: 'DELETE' });
    expect(deleteHome.status).toBe(405);
    expect(deleteHome.headers.get('allow')).toBe('GET, HEAD');

    const getLogout = await fetch(`${base}/logout`, { redirect: 'manual' });
    expect(getLogout.status).toBe(405);
  });

  it('serves the stylesheet the CSP allows, and ignores query strings', async () => {
    const { base } = await startDemo();
    const css = await fetch(`${base}/style.css?v=1`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expectSecurityHeaders(css);
    expect(await css.text()).toContain('.card');

    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expectSecurityHeaders(head);
  });

  it('puts the security headers on redirects too', async () => {
    const demo = await startDemo();
    const requested = await post(demo.base, '/request', { email: EMAIL });
    await requested.text();
    const verified = await post(demo.base, '/verify', { email: EMAIL, code: demo.mailer.lastCodeFor(EMAIL)! });
    expect(verified.status).toBe(303);
    expectSecurityHeaders(verified);
  });
});
