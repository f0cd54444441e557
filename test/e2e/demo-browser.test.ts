// The real demo, started by the command its README gives (`npm start`, on the built package),
// driven by Debian's Chromium: what a newcomer does after `npm start`.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { screenshotFailures, stepShot } from '../support/browser-app.js';
import { CHROMIUM, hasChromium, launchChromium, skipWithoutChromium } from '../support/chromium.js';
import { DemoProcess } from '../support/demo-process.js';
import { assertBuilt } from '../support/dist.js';
import { readmeCommand } from '../support/readme-command.js';

// Locally a missing browser skips, loudly; in CI it fails (see the first test).
const skip = skipWithoutChromium('demo-browser');
const README = 'examples/demo/README.md';

describe.skipIf(skip)('demo in a real browser', () => {
  let demo: DemoProcess | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page | undefined;
  let base: string;
  const browserLog: string[] = [];
  screenshotFailures('demo', () => page);

  const shot = (name: string) => stepShot(page!, 'demo', name);

  /** The newest code the dev mailbox shows for `email`: the captured mail, read in a tab of its own. */
  async function mailboxCode(email: string): Promise<string> {
    const mailbox = await context.newPage();
    try {
      await mailbox.goto(`${base}/dev/mailbox`);
      const message = mailbox.locator('.message', { has: mailbox.locator('.to', { hasText: email }) }).first();
      const code = (await message.locator('.mail-code').textContent()) ?? '';
      expect(code).toMatch(/^\d{6}$/);
      return code;
    } finally {
      await mailbox.close();
    }
  }

  async function requestCode(email: string): Promise<void> {
    const p = page!;
    await p.goto(`${base}/`);
    // On the code form of an earlier address, the address form is one click away.
    const other = p.locator('summary:has-text("Use a different address")');
    if (await other.isVisible()) await other.click();
    await p.fill('#email', email);
    await Promise.all([p.waitForURL(`${base}/?npuser=sent`), p.click('button:has-text("Email me a code")')]);
  }

  async function submitCode(code: string, lands: string | RegExp = /npuser=error/): Promise<void> {
    await page!.fill('#code', code);
    await Promise.all([page!.waitForURL(lands), page!.click('form[action="/auth/verify"] button')]);
  }

  beforeAll(async () => {
    if (!hasChromium) return; // the first test reports it
    assertBuilt(['index.js', 'http/index.js']);
    demo = new DemoProcess({ script: readmeCommand(README).script });
    const [, port] = await demo.waitFor(/npuser demo is running at http:\/\/localhost:(\d+)/);
    base = `http://localhost:${port}`;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 800, height: 640 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('console', (message) => void browserLog.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => void browserLog.push(`error: ${error.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('has Chromium (required in CI)', () => {
    expect(hasChromium, `${CHROMIUM} is required when CI is set: apt-get install -y chromium`).toBe(true);
  });

  it('starts with the one command its README gives, and a friendly banner', () => {
    expect(readmeCommand(README).command).toBe('npm start');
    const output = demo!.output;
    expect(output).toMatch(/npuser demo is running at http:\/\/localhost:\d+/);
    expect(output).toContain('printed right here, in this terminal');
    expect(output).toMatch(/shown at http:\/\/localhost:\d+\/dev\/mailbox/);
    expect(output).toContain('sessions end when the demo restarts');
  });

  it('signs in with the code from the dev mailbox, stays signed in on reload, signs out; the old cookie is refused', async () => {
    const p = page!;
    const email = 'newcomer@example.com';
    const home = await p.goto(`${base}/`);
    expect(home?.status()).toBe(200);
    expect(await p.locator('h1').textContent()).toBe('Sign in');
    // The stylesheet loaded under the CSP: the card is styled.
    expect(await p.locator('.card').evaluate((el) => getComputedStyle(el).borderTopLeftRadius)).toBe('14px');
    await shot('sign-in');

    await requestCode(email);
    expect(await p.locator('h1').textContent()).toBe('Check your terminal');
    expect(await p.locator('.email').textContent()).toBe(email);
    // The resend button waits out the cooldown, saying how long (demo.js ran under the CSP).
    expect(await p.locator('#resend').isDisabled()).toBe(true);
    expect(await p.locator('#resend-wait').textContent()).toMatch(/^You can ask for a new one in [1-6]?\d seconds?\.$/);
    await shot('check-terminal');

    const code = await mailboxCode(email);
    // The same code was printed in the terminal.
    expect(demo!.output).toContain(`(type ${code})`);

    // A wrong code first: the page says so in plain words, and stays on the code form.
    await submitCode(code.replace(/^./, (d) => String((Number(d) + 1) % 10)));
    expect(await p.locator('.alert-error').textContent()).toBe('That code isn’t right. Check it and try again, or ask for a new one.');
    expect(await p.locator('.email').textContent()).toBe(email);
    await shot('wrong-code');

    await submitCode(`${code.slice(0, 3)} ${code.slice(3)}`, `${base}/me`);
    expect(await p.locator('h1').textContent()).toContain('You are signed in');
    const subject = (await p.locator('#subject').textContent()) ?? '';
    expect(subject).toMatch(/^[\w-]{43}$/);
    expect(await p.locator('body').textContent()).not.toContain(email);
    const session = (await context.cookies()).find((c) => c.name === 'npuser_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    await shot('signed-in');

    await p.reload();
    expect(await p.locator('#subject').textContent()).toBe(subject);

    await Promise.all([p.waitForURL(`${base}/?npuser=signed-out`), p.click('button:has-text("Sign out")')]);
    expect(await p.locator('h1').textContent()).toBe('Sign in');
    expect(await p.locator('.alert-notice').textContent()).toBe('You are signed out.');
    expect((await context.cookies()).find((c) => c.name === 'npuser_session')).toBeUndefined();
    await p.goto(`${base}/me`);
    expect(p.url()).toBe(`${base}/`);
    await shot('signed-out');

    // The cookie from before the sign-out, put back: refused, it was revoked.
    await context.addCookies([session!]);
    await p.goto(`${base}/me`);
    expect(p.url()).toBe(`${base}/`);
    expect(await p.locator('.alert-notice').textContent()).toBe('Your session has ended. Sign in again.');
  });

  it('shows the cooldown message, with the wait, when a new code is asked for too soon', async () => {
    const p = page!;
    await requestCode('cooldown@example.com');
    // The resend button waits; the address form does not, and gets the handler's refusal.
    await p.click('summary:has-text("Use a different address")');
    await p.fill('#email', 'cooldown@example.com');
    await Promise.all([p.waitForURL(/npuser=error/), p.click('details button:has-text("Email me a code")')]);
    // The cooldown began a moment ago: the wait reads "1 minute" (a full 60 s, rounded up) or "59 seconds" and fewer.
    expect(await p.locator('.alert-error').textContent()).toMatch(
      /^Too many requests\. Please wait (?:1 minute|[1-5]?\d seconds?) and try again\. The code you already received still works until it expires\.$/,
    );
    await shot('rate-limited');
  });

  it('five wrong codes burn the code, and then the right one no longer works', async () => {
    const email = 'guesser@example.com';
    await requestCode(email);
    const code = await mailboxCode(email);
    const wrong = code.replace(/^./, (d) => String((Number(d) + 1) % 10));
    const messages: (string | null)[] = [];
    for (let i = 0; i < 5; i += 1) {
      await submitCode(wrong);
      messages.push(await page!.locator('.alert-error').textContent());
    }
    expect(messages.slice(0, 4).every((m) => m?.startsWith('That code isn’t right'))).toBe(true);
    expect(messages[4]).toBe('Too many wrong attempts: that code no longer works. Ask for a new code.');
    await submitCode(code);
    expect(await page!.locator('.alert-error').textContent()).toBe(
      'Too many wrong attempts: that code no longer works. Ask for a new code.',
    );
    await shot('burned');
  });

  it('signs out everywhere', async () => {
    const email = 'everywhere@example.com';
    await requestCode(email);
    await submitCode(await mailboxCode(email), `${base}/me`);
    await Promise.all([page!.waitForURL(`${base}/?npuser=signed-out-everywhere`), page!.click('button:has-text("Sign out everywhere")')]);
    expect(await page!.locator('.alert-notice').textContent()).toBe('You are signed out on every browser and device.');
  });

  it('no CSP violation or script error on any page', () => {
    expect(browserLog.filter((line) => line.startsWith('error'))).toEqual([]);
  });

  it('fits a phone screen and has a dark theme', async () => {
    const p = page!;
    await p.setViewportSize({ width: 360, height: 720 });
    await p.emulateMedia({ colorScheme: 'dark' });
    await p.goto(`${base}/`);
    expect(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(await p.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(17, 19, 24)');
    await shot('phone-dark');
  });

  it('stops gracefully on SIGTERM', async () => {
    await browser?.close();
    browser = undefined;
    page = undefined;
    const code = await demo!.stop();
    expect(code).toBe(0);
    expect(demo!.output).toContain('npuser demo stopped');
  });
});
