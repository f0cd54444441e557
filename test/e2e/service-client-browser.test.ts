// The service example (examples/service-client), started by the command its README gives, on the
// built package: `npuser serve` with a key made at start and an Express app on NpUserClient.
// Chromium signs in through it as a newcomer would, reading the code the service's console mailer
// printed; the service's log shows each step reached it. Ctrl-C stops both processes.
import { connect } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, guessFiveTimesThenRight, printedCode, screenshotFailures, stepShot } from '../support/browser-app.js';
import { BROWSER_WAIT_MS, CHROMIUM, hasChromium, launchChromium, skipWithoutChromium } from '../support/chromium.js';
import { DemoProcess } from '../support/demo-process.js';
import { assertBuilt } from '../support/dist.js';
import { readmeCommand } from '../support/readme-command.js';

// Locally a missing browser skips, loudly; in CI it fails (see the first test).
const skip = skipWithoutChromium('service-client-browser');

const README = 'examples/service-client/README.md';
const BANNER = /Service client example: http:\/\/localhost:(\d+)/;
const LISTENING = /"event":"listening"[^\n]*"port":(\d+)/;

// The handler's own words, which the example shows as they are.
const WRONG_CODE = 'This code is not valid. It may be wrong, expired or already used.';
const COOLDOWN = 'Too many requests. Try again later.';
const BURNED = 'Too many wrong codes. Request a new code.';

/** Whether nothing listens on 127.0.0.1:`port`. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => {
      resolve(true);
    });
  });
}

describe.skipIf(skip)('the service example in a real browser', () => {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let example: DemoProcess | undefined;
  let appPort = 0;
  let servicePort = 0;
  let base = '';
  screenshotFailures('service-client', () => page);

  /** Resolves once the service has logged a call to `route` answered with `status`, after `from`. */
  const served = (route: string, status: number, from: number) =>
    example!.waitFor(new RegExp(`"route":"${route}","status":${status}\\b`), from);

  beforeAll(async () => {
    if (!hasChromium) return; // the first test reports it
    assertBuilt(['cli.js', 'http/index.js', 'client/index.js']);
    browser = await launchChromium();
    appPort = await freePort();
    example = new DemoProcess({ script: readmeCommand(README).script, env: { PORT: String(appPort) } });
    const [, listening] = await example.waitFor(LISTENING);
    servicePort = Number(listening);
    const [, printed] = await example.waitFor(BANNER);
    expect(printed).toBe(String(appPort));
    base = `http://localhost:${appPort}`;
    context = await browser.newContext({ viewport: { width: 800, height: 640 } });
    page = await context.newPage();
    page.setDefaultTimeout(BROWSER_WAIT_MS);
  });

  afterAll(async () => {
    await context?.close();
    await example?.stop();
    await browser?.close();
  });

  it('has Chromium (required in CI)', () => {
    expect(hasChromium, `${CHROMIUM} is required when CI is set: apt-get install -y chromium`).toBe(true);
  });

  it('starts with the one command its README gives: npm run example:service-client', () => {
    expect(readmeCommand(README).command).toBe('npm run example:service-client');
    expect(servicePort).not.toBe(appPort);
  });

  it('signs in through the service with the code its mailer printed, stays signed in on reload, signs out; the old cookie is refused', async () => {
    const p = page!;
    const app = example!;
    const email = 'newcomer@example.com';
    await p.goto(`${base}/account`);
    expect(p.url()).toBe(`${base}/`); // protected: signed out, sent to sign in
    expect(await p.locator('h1').textContent()).toBe('Sign in');

    let from = app.output.length;
    await p.getByLabel('Email').fill(email);
    await Promise.all([p.waitForURL(`${base}/?npuser=sent`), p.getByRole('button', { name: 'Email me a code' }).click()]);
    expect(await p.locator('body').textContent()).toContain(`We sent a code to ${email}.`);
    await served('/v1/request-code', 200, from);
    const code = await printedCode(app, email, from);
    // Mailed by the service, under the name the launcher gave the app there: the app has no mailer.
    expect(app.output.slice(from)).toContain('Subject: Your Service client example sign-in code');
    await stepShot(p, 'service-client', 'code-sent');

    from = app.output.length;
    await p.getByLabel('Code').fill(code.replace(/^./, (d) => String((Number(d) + 1) % 10)));
    await Promise.all([p.waitForURL(/npuser=error/), p.getByRole('button', { name: 'Sign in' }).click()]);
    expect(await p.getByRole('alert').textContent()).toBe(WRONG_CODE);
    await served('/v1/verify-code', 422, from);

    from = app.output.length;
    await p.getByLabel('Code').fill(code);
    await Promise.all([p.waitForURL(`${base}/account`), p.getByRole('button', { name: 'Sign in' }).click()]);
    expect(await p.locator('h1').textContent()).toBe('Your account');
    await served('/v1/verify-code', 200, from);
    await served('/v1/validate-token', 200, from);
    const subject = await p.locator('code').textContent();
    expect(subject).toMatch(/^[\w-]{43}$/);
    expect(await p.locator('body').textContent()).not.toContain(email);
    const session = (await context!.cookies()).find((c) => c.name === 'npuser_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
    await stepShot(p, 'service-client', 'signed-in');

    await p.reload();
    expect(await p.locator('h1').textContent()).toBe('Your account');
    expect(await p.locator('code').textContent()).toBe(subject);

    // The client has no revokeSubject: the handler offers no sign-out everywhere, and nothing changes.
    const everywhere = await p.request.post(`${base}/auth/sign-out-everywhere`);
    expect(everywhere.status()).toBe(404);
    expect(await everywhere.json()).toMatchObject({ code: 'ERR_NPUSER_NOT_FOUND' });
    expect((await context!.cookies()).find((c) => c.name === 'npuser_session')?.value).toBe(session!.value);

    from = app.output.length;
    await Promise.all([p.waitForURL(`${base}/?npuser=signed-out`), p.getByRole('button', { name: 'Sign out' }).click()]);
    expect(await p.locator('h1').textContent()).toBe('Sign in');
    await served('/v1/revoke-token', 204, from);
    expect((await context!.cookies()).find((c) => c.name === 'npuser_session')).toBeUndefined();

    // The cookie from before the sign-out, put back: the service says it was revoked.
    await context!.addCookies([session!]);
    await p.goto(`${base}/account`);
    expect(p.url()).toBe(`${base}/`);
    const refusedSession = await p.request.get(`${base}/auth/session`);
    expect(refusedSession.status()).toBe(401);
    await context!.clearCookies();

    // The key was made at start and handed over in the environment: nothing printed it.
    expect(app.output).not.toMatch(/npu_(?:sk|test)_/);
  });

  it('shows the cooldown message the service answers when a new code is asked for too soon', async () => {
    const p = page!;
    const from = example!.output.length;
    await p.goto(`${base}/`);
    await p.getByLabel('Email').fill('newcomer@example.com');
    await Promise.all([p.waitForURL(/npuser=error/), p.getByRole('button', { name: 'Email me a code' }).click()]);
    expect(await p.getByRole('alert').textContent()).toBe(COOLDOWN);
    await served('/v1/request-code', 429, from);
    await stepShot(p, 'service-client', 'cooldown');
  });

  it('five wrong codes burn the code at the service: then even the right one is refused', async () => {
    const p = page!;
    const app = example!;
    const email = 'guesser@example.com';
    const { from, wrongAnswers, rightAnswer } = await guessFiveTimesThenRight(p, base, app, email);
    expect(wrongAnswers).toEqual([...Array<string>(4).fill(WRONG_CODE), BURNED]);
    expect(rightAnswer).toBe(BURNED);
    await served('/v1/verify-code', 429, from);
    expect((await context!.cookies()).find((c) => c.name === 'npuser_session')).toBeUndefined();
    await stepShot(p, 'service-client', 'burned');
  });

  it('Ctrl-C stops the service and the app, and the launcher exits 0', async () => {
    const app = example!;
    app.child.kill('SIGINT');
    expect(await app.exited).toBe(0);
    expect(app.output).toMatch(/"event":"stopped","forced":false/);
    // The launcher exits only once both of its processes have: nothing listens any more.
    expect(await refused(servicePort)).toBe(true);
    expect(await refused(appPort)).toBe(true);
  });
});
