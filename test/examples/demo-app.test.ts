// The demo (examples/demo/app.js) on a real server on 127.0.0.1, on npuser's sign-in routes,
// driven the way a browser without JavaScript drives it: forms, 303s and cookies.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NpUser, memoryCodeStore, type CodeStore, type NpUserOptions } from 'npuser';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';
import { SECURITY_HEADERS, createDemoApp, devMailbox } from '../../examples/demo/app.js';
import { EMAIL, testClock, wrongCode, type TestClock } from '../support/helpers.js';

const SECRET = 'demo test secret: at least thirty-two bytes';
const FORM = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

interface Demo {
  base: string;
  np: NpUser;
  mailer: MemoryMailer;
  clock: TestClock;
  unexpected: unknown[];
  /** The browser's cookies: what the demo set, as it would keep them. */
  jar: Map<string, string>;
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

interface StartOptions {
  np?: Partial<NpUserOptions>;
  backend?: NpUser;
  delivery?: 'console' | 'email';
  mailbox?: boolean;
}

/** The demo handler on a real server on 127.0.0.1, with an NpUser whose mail we can read, on a hand-moved clock. */
async function startDemo({ np: npOptions = {}, backend, delivery = 'console', mailbox = false }: StartOptions = {}): Promise<Demo> {
  const clock = testClock(Date.now());
  const mailer = memoryMailer();
  const box = mailbox ? devMailbox(mailer, { now: clock.now }) : undefined;
  const np =
    backend ??
    new NpUser({
      secret: SECRET,
      appName: 'npuser demo',
      audience: 'npuser-demo',
      mailer: box?.mailer ?? mailer,
      now: clock.now,
      store: memoryCodeStore({ now: clock.now }),
      ...npOptions,
    });
  const unexpected: unknown[] = [];
  const app = createDemoApp({
    np,
    onUnexpectedError: (err) => void unexpected.push(err),
    delivery,
    now: clock.now,
    ...(box ? { mailbox: box } : {}),
  });
  const server = createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, np, mailer, clock, unexpected, jar: new Map() };
}

function keep(demo: Demo, res: Response): Response {
  for (const line of res.headers.getSetCookie()) {
    const [pair = ''] = line.split(';', 1);
    const eq = pair.indexOf('=');
    if (/Max-Age=0/.test(line)) demo.jar.delete(pair.slice(0, eq));
    else demo.jar.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return res;
}

function cookies(demo: Demo): string {
  return [...demo.jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

async function post(demo: Demo, path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(`${demo.base}${path}`, {
    method: 'POST',
    headers: { ...FORM, cookie: cookies(demo), ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  return keep(demo, res);
}

async function get(demo: Demo, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return keep(demo, await fetch(`${demo.base}${path}`, { headers: { cookie: cookies(demo), ...headers }, redirect: 'manual' }));
}

/** Post a form and follow its 303, as a browser does: the page it lands on. */
async function submit(
  demo: Demo,
  path: string,
  fields: Record<string, string>,
): Promise<{ location: string; page: string; status: number }> {
  const posted = await post(demo, path, fields);
  expect(posted.status, await posted.clone().text()).toBe(303);
  const location = posted.headers.get('location')!;
  const landed = await get(demo, location);
  return { location, page: await landed.text(), status: landed.status };
}

/** The text of the page's alert(s), if any. */
function alertText(page: string, kind: 'error' | 'notice' = 'error'): string | undefined {
  return new RegExp(`<p class="alert alert-${kind}"[^>]*>([^<]*)</p>`).exec(page)?.[1];
}

function expectSecurityHeaders(res: Response): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name), name).toBe(value);
}

async function signIn(demo: Demo, email = EMAIL): Promise<void> {
  await submit(demo, '/auth/code', { email });
  const { location } = await submit(demo, '/auth/verify', { code: demo.mailer.lastCodeFor(email)! });
  expect(location).toBe('/me');
}

describe('demo app: sign-in flow', () => {
  it('shows an accessible sign-in form', async () => {
    const demo = await startDemo();
    const res = await get(demo, '/');
    expect(res.status).toBe(200);
    expectSecurityHeaders(res);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const page = await res.text();
    expect(page).toContain('<form method="post" action="/auth/code"');
    expect(page).toContain('<label for="email">Email address</label>');
    expect(page).toMatch(/<input id="email" name="email" type="email"[^>]* required autocomplete="email"/);
    expect(page).toContain('no password, no user database');
    expect(page).toContain('<link rel="stylesheet" href="/style.css">');
  });

  it('signs in: address → code page → code → /me shows the subject, not the address → reload → sign out', async () => {
    const demo = await startDemo();
    const sent = await submit(demo, '/auth/code', { email: '  Ada@Example.COM ' });
    expect(sent.location).toBe('/?npuser=sent');
    expect(sent.page).toContain('Check your terminal');
    expect(sent.page).toContain('<strong class="email">ada@example.com</strong>');
    expect(sent.page).toMatch(
      /<label for="code">Sign-in code<\/label>\s*<input id="code" name="code" class="code" type="text" inputmode="numeric" autocomplete="one-time-code"/,
    );
    expect(sent.page).toContain('for 10 minutes');
    // The resend button waits out the cooldown.
    expect(sent.page).toContain('data-wait="60"');
    expect(sent.page).toContain('You can ask for a new one in 1 minute.');
    const code = demo.mailer.lastCodeFor(EMAIL)!;

    const verified = await submit(demo, '/auth/verify', { code: `${code.slice(0, 3)} ${code.slice(3)}` });
    expect(verified.location).toBe('/me');
    expect(verified.page).toContain('You are signed in');
    const token = demo.jar.get('npuser_session')!;
    const { subject } = await demo.np.validateToken(token);
    expect(verified.page).toContain(`<code id="subject">${subject}</code>`);
    expect(verified.page.toLowerCase()).not.toContain('ada@example.com');
    expect(verified.page).toContain('<form method="post" action="/auth/sign-out"');
    expect(verified.page).toContain('<form method="post" action="/auth/sign-out-everywhere"');
    expect(demo.jar.has('npuser_session_pending')).toBe(false);

    // Signed in, the sign-in page sends you on to /me.
    const home = await get(demo, '/');
    expect(home.status).toBe(303);
    expect(home.headers.get('location')).toBe('/me');

    const out = await submit(demo, '/auth/sign-out', {});
    expect(out.location).toBe('/?npuser=signed-out');
    expect(alertText(out.page, 'notice')).toBe('You are signed out.');
    expect(demo.jar.has('npuser_session')).toBe(false);
    // Signing out revoked the token: a copy kept elsewhere no longer works.
    await expect(demo.np.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    const replayed = await fetch(`${demo.base}/me`, { headers: { cookie: `npuser_session=${token}` }, redirect: 'manual' });
    expect(replayed.status).toBe(303);
  });

  it('signs out everywhere: the other browser’s session ends too, and it is told so', async () => {
    const demo = await startDemo();
    await signIn(demo);
    const other: Demo = { ...demo, jar: new Map() };
    demo.clock.advance(61_000);
    await signIn(other);
    demo.clock.advance(1000);
    const out = await submit(other, '/auth/sign-out-everywhere', {});
    expect(out.location).toBe('/?npuser=signed-out-everywhere');
    expect(alertText(out.page, 'notice')).toBe('You are signed out on every browser and device.');
    const first = await get(demo, '/');
    expect(alertText(await first.text(), 'notice')).toBe('Your session has ended. Sign in again.');
    expect(demo.jar.has('npuser_session')).toBe(false);
  });

  it('renews a session past half its life on a visit to /me', async () => {
    const demo = await startDemo();
    await signIn(demo);
    const before = demo.jar.get('npuser_session');
    demo.clock.advance(40 * 60_000);
    const me = await get(demo, '/me');
    expect(me.status).toBe(200);
    expect(demo.jar.get('npuser_session')).not.toBe(before);
    expect(await me.text()).toMatch(/You signed in 40 minutes ago\..* It ends in about 1 hour unless you come back/);
  });

  it('asks for the mail in the browser’s language', async () => {
    const demo = await startDemo();
    await post(demo, '/auth/code', { email: EMAIL }, { 'accept-language': 'fr-CA,fr;q=0.9,en;q=0.5' });
    expect(demo.mailer.messages[0]?.locale).toBe('fr-CA');
  });

  it('says “check your inbox” when codes are really emailed', async () => {
    const demo = await startDemo({ delivery: 'email' });
    expect(await (await get(demo, '/')).text()).not.toContain('printed in the terminal');
    const { page } = await submit(demo, '/auth/code', { email: EMAIL });
    expect(page).toContain('Check your inbox');
    expect(page).not.toContain('terminal');
  });

  it('redirects /me to / without a session, and clears a bad one with a word', async () => {
    const demo = await startDemo();
    const none = await get(demo, '/me');
    expect(none.status).toBe(303);
    expect(none.headers.get('location')).toBe('/');
    expect(none.headers.get('set-cookie')).toBeNull();

    demo.jar.set('npuser_session', 'a.b.c');
    const forged = await get(demo, '/me');
    expect(forged.status).toBe(303);
    expect(forged.headers.get('location')).toBe('/');
    const home = await get(demo, '/');
    expect(alertText(await home.text(), 'notice')).toBe('Your session has ended. Sign in again.');
    expect(home.headers.get('set-cookie')).toContain('Max-Age=0');
  });

  it('refuses a token from another app sharing nothing but the cookie name', async () => {
    const demo = await startDemo();
    const other = await startDemo({ np: { audience: 'another-app' } });
    await signIn(other);
    demo.jar.set('npuser_session', other.jar.get('npuser_session')!);
    expect((await get(demo, '/me')).status).toBe(303);
  });

  it('tells an ended session apart on the sign-in page', async () => {
    const demo = await startDemo({ np: { tokenTtlSeconds: 60, clockToleranceSeconds: 0 } });
    await signIn(demo);
    demo.clock.advance(61_000);
    const home = await get(demo, '/');
    expect(home.status).toBe(200);
    expect(alertText(await home.text(), 'notice')).toBe('Your session has ended. Sign in again.');
    expect(home.headers.get('set-cookie')).toContain('Max-Age=0');
  });
});

describe('demo app: errors in plain words', () => {
  it('says a wrong code is wrong, and burns it after too many tries', async () => {
    const demo = await startDemo({ np: { maxAttempts: 3 } });
    await submit(demo, '/auth/code', { email: EMAIL });
    const code = demo.mailer.lastCodeFor(EMAIL)!;
    const wrong = wrongCode(code);

    const first = await submit(demo, '/auth/verify', { code: wrong });
    expect(first.location).toBe('/?npuser=error&code=ERR_NPUSER_INVALID_CODE');
    expect(alertText(first.page)).toBe('That code isn’t right. Check it and try again, or ask for a new one.');
    // Still on the code form, for the same address, the field marked.
    expect(first.page).toContain('<strong class="email">ada@example.com</strong>');
    expect(first.page).toMatch(/<input id="code"[^>]*aria-invalid="true" aria-describedby="error"/);

    // Not a code at all: the same words (and no attempt spent).
    expect(alertText((await submit(demo, '/auth/verify', { code: 'abc' })).page)).toMatch(/^That code isn’t right/);
    await submit(demo, '/auth/verify', { code: wrong });
    const burned = await submit(demo, '/auth/verify', { code: wrong });
    expect(alertText(burned.page)).toBe('Too many wrong attempts: that code no longer works. Ask for a new code.');
    // Even the right code no longer works: it is not compared until a new code is sent.
    expect(alertText((await submit(demo, '/auth/verify', { code })).page)).toMatch(/^Too many wrong attempts/);
  });

  it('says an expired code has expired once this browser’s pending sign-in has ended', async () => {
    const demo = await startDemo();
    await submit(demo, '/auth/code', { email: EMAIL });
    demo.clock.advance(601_000);
    const late = await submit(demo, '/auth/verify', { code: demo.mailer.lastCodeFor(EMAIL)! });
    expect(alertText(late.page)).toBe('That code has expired. Enter your address again to get a new one.');
    expect(late.page).toContain('action="/auth/code"');
    expect(late.page).not.toContain('action="/auth/verify"');
  });

  it('says an invalid address is invalid', async () => {
    const demo = await startDemo();
    const { page } = await submit(demo, '/auth/code', { email: 'not an address' });
    expect(alertText(page)).toMatch(/^That doesn’t look like an email address/);
    expect(demo.mailer.messages).toHaveLength(0);
  });

  it('shows the wait when rate limited; a refused resend stays on the code form', async () => {
    const demo = await startDemo();
    await submit(demo, '/auth/code', { email: EMAIL });
    demo.clock.advance(20_000);
    const again = await submit(demo, '/auth/code', { email: EMAIL });
    expect(alertText(again.page)).toBe(
      'Too many requests. Please wait 40 seconds and try again. The code you already received still works until it expires.',
    );
    expect(again.page).toContain('action="/auth/verify"');
    expect(again.page).toContain('data-wait="40"');
  });

  it('shows how long a locked address stays locked', async () => {
    const demo = await startDemo({ np: { maxFailuresPerDay: 2, maxAttempts: 5 } });
    await submit(demo, '/auth/code', { email: EMAIL });
    const wrong = wrongCode(demo.mailer.lastCodeFor(EMAIL)!);
    await submit(demo, '/auth/verify', { code: wrong });
    await submit(demo, '/auth/verify', { code: wrong });
    const locked = await submit(demo, '/auth/verify', { code: wrong });
    expect(alertText(locked.page)).toBe('Too many failed sign-ins for this address. It is locked for about 24 hours.');
  });

  it('says when the code could not be sent', async () => {
    const demo = await startDemo();
    demo.mailer.failNextSend();
    const { page } = await submit(demo, '/auth/code', { email: EMAIL });
    expect(alertText(page)).toMatch(/^We couldn’t send the code/);
  });

  it('says when the store is down, on the form and on a page that needs the session', async () => {
    const down = (): Promise<never> => Promise.reject(new Error('store down'));
    const store: CodeStore = { set: down, get: down, consume: down, delete: down, increment: down };
    const demo = await startDemo({ np: { store } });
    const { page } = await submit(demo, '/auth/code', { email: EMAIL });
    expect(alertText(page)).toMatch(/^Sign-in is unavailable just now/);
    // A genuine token of the app (same secret and audience), from an instance whose store works.
    const healthy = await startDemo();
    await signIn(healthy);
    demo.jar.set('npuser_session', healthy.jar.get('npuser_session')!);
    const me = await get(demo, '/me');
    expect(me.status).toBe(503);
    expect(await me.text()).toContain('Sign-in is unavailable just now');
  });

  it('turns an unexpected error into a 500 page and keeps serving', async () => {
    const broken = {
      requestCode: () => Promise.reject(new TypeError('npuser: email must be a string')),
      verifyCode: () => Promise.reject(new TypeError('npuser: broken')),
      validateToken: () => Promise.reject(new Error('boom')),
      revokeToken: () => Promise.resolve(),
    } as unknown as NpUser;
    const demo = await startDemo({ backend: broken });

    const res = await post(demo, '/auth/code', { email: EMAIL });
    expect(res.status).toBe(500);
    expectSecurityHeaders(res);
    const page = await res.text();
    expect(page).toContain('Something went wrong');
    expect(page).not.toContain('must be a string');

    demo.jar.set('npuser_session', 'x.y.z');
    expect((await get(demo, '/me')).status).toBe(500);
    expect(demo.unexpected).toHaveLength(2);
    expect((await get(demo, '/style.css')).status).toBe(200);
  });
});

describe('demo app: the dev mailbox', () => {
  it('shows what the console mailer sent, newest first, only when the demo has one', async () => {
    const demo = await startDemo({ mailbox: true });
    expect(await (await get(demo, '/dev/mailbox')).text()).toContain('Nothing sent yet.');
    await submit(demo, '/auth/code', { email: EMAIL });
    demo.clock.advance(61_000);
    await submit(demo, '/auth/code', { email: 'bob@example.com' });
    const res = await get(demo, '/dev/mailbox');
    expectSecurityHeaders(res);
    const page = await res.text();
    const codes = [...page.matchAll(/<code class="mail-code">(\d+)<\/code>/g)].map((m) => m[1]);
    expect(codes).toEqual([demo.mailer.lastCodeFor('bob@example.com'), demo.mailer.lastCodeFor(EMAIL)]);
    expect([...page.matchAll(/<strong class="to">([^<]+)<\/strong>/g)].map((m) => m[1])).toEqual(['bob@example.com', EMAIL]);
    // The code page points to it.
    expect(await (await get(demo, '/')).text()).toContain('href="/dev/mailbox"');

    const without = await startDemo();
    expect((await get(without, '/dev/mailbox')).status).toBe(404);
  });
});

describe('demo app: hostile input', () => {
  it('escapes an address with markup characters wherever it is shown', async () => {
    const demo = await startDemo();
    // Accepted by npuser (apostrophe and ampersand are legal in a local part), shown on the code page.
    const { page } = await submit(demo, '/auth/code', { email: "o'neil&co@example.com" });
    expect(page).toContain('<strong class="email">o&#39;neil&amp;co@example.com</strong>');
    expect(page).toContain('value="o&#39;neil&amp;co@example.com"');
    expect(page).not.toContain("o'neil");

    const refused = await submit(demo, '/auth/code', { email: '"><script>alert(1)</script>@example.com' });
    expect(refused.page).not.toContain('<script>alert');
  });

  it('refuses cross-site form posts (login CSRF)', async () => {
    const demo = await startDemo();
    const res = await post(demo, '/auth/code', { email: EMAIL }, { 'sec-fetch-site': 'cross-site' });
    expect(res.status).toBe(403);
    expectSecurityHeaders(res);
    expect(demo.mailer.messages).toHaveLength(0);
  });

  it('refuses bodies that are too large or not a form', async () => {
    const demo = await startDemo();
    const big = await post(demo, '/auth/code', { email: 'a'.repeat(10_000) });
    expect(big.status).toBe(303);
    expect(big.headers.get('location')).toBe('/?npuser=error&code=ERR_NPUSER_PAYLOAD_TOO_LARGE');
    const text = await post(demo, '/auth/code', {}, { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });
});

describe('demo app: routes and headers', () => {
  it('answers 404 for unknown paths and 405 for wrong methods, with security headers', async () => {
    const demo = await startDemo();
    const missing = await get(demo, '/admin');
    expect(missing.status).toBe(404);
    expectSecurityHeaders(missing);
    expect(await missing.text()).toContain('Page not found');

    const deleteHome = await fetch(`${demo.base}/`, { method: 'DELETE' });
    expect(deleteHome.status).toBe(405);
    expect(deleteHome.headers.get('allow')).toBe('GET, HEAD');

    const getCode = await get(demo, '/auth/code');
    expect(getCode.status).toBe(405);
    expect(getCode.headers.get('allow')).toBe('POST');
    expectSecurityHeaders(getCode);
  });

  it('serves the stylesheet and the script the CSP allows, and ignores query strings', async () => {
    const demo = await startDemo();
    const css = await get(demo, '/style.css?v=1');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('.card');
    const js = await get(demo, '/demo.js');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toContain('resend');
    const head = await fetch(`${demo.base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expectSecurityHeaders(head);
  });
});
