// The real demo (`node examples/demo/server.js`, on the built package) driven
// by Debian's Chromium: what a newcomer does after `npm start`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, hasChromium, launchChromium, newPage, skipWithoutChromium } from '../support/chromium.js';
import { DemoProcess } from '../support/demo-process.js';
import { assertBuilt } from '../support/dist.js';

// Locally a missing browser skips, loudly; in CI it fails (see the first test).
const skip = skipWithoutChromium('demo-browser');

describe.skipIf(skip)('demo in a real browser', () => {
  let demo: DemoProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  const shots = process.env.NPUSER_SCREENSHOTS_DIR ?? mkdtempSync(join(tmpdir(), 'npuser-demo-'));
  let step = 0;

  async function screenshot(name: string): Promise<void> {
    step += 1;
    await page.screenshot({ path: join(shots, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    if (!hasChromium) return; // the first test reports it
    assertBuilt(['index.js']);
    demo = new DemoProcess();
    const [, port] = await demo.waitFor(/npuser demo is running at http:\/\/localhost:(\d+)/);
    base = `http://localhost:${port}`;
    browser = await launchChromium();
    page = await newPage(browser);
    if (process.env.NPUSER_SCREENSHOTS_DIR !== undefined) console.log(`[demo-browser] screenshots in ${shots}`);
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    // Screenshots are kept only where NPUSER_SCREENSHOTS_DIR asks for them.
    if (process.env.NPUSER_SCREENSHOTS_DIR === undefined) rmSync(shots, { recursive: true, force: true });
  });

  it('has Chromium (required in CI)', () => {
    expect(hasChromium, `${CHROMIUM} is required when CI is set: apt-get install -y chromium`).toBe(true);
  });

  it('prints a friendly banner with the port and where codes appear', () => {
    const output = demo!.output;
    expect(output).toMatch(/npuser demo is running at http:\/\/localhost:\d+/);
    expect(output).toContain('printed right here, in this terminal');
    expect(output).toContain('sessions end when the demo restarts');
  });

  it('signs in with the code printed in the terminal, then signs out', async () => {
    const email = 'newcomer@example.com';
    const browserLog: string[] = [];
    page.on('console', (message) => void browserLog.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => void browserLog.push(`error: ${error.message}`));

    const home = await page.goto(`${base}/`);
    expect(home?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Sign in');
    // The stylesheet loaded under the CSP: the card is styled.
    const cardRadius = await page.locator('.card').evaluate((el) => getComputedStyle(el).borderTopLeftRadius);
    expect(cardRadius).toBe('14px');
    await screenshot('sign-in');

    const from = demo!.output.length;
    await page.fill('#email', email);
    await screenshot('email-typed');
    await Promise.all([page.waitForURL(`${base}/request`), page.click('button[type=submit]')]);
    expect(await page.locator('h1').textContent()).toBe('Check your terminal');
    await expect.poll(() => page.locator('.email').textContent()).toBe(email);
    await screenshot('check-terminal');

    const [, code] = await demo!.waitFor(/│ CODE:\s+[\d ]+\s+\(type (\d+)\)/, from);
    expect(code).toMatch(/^\d{6}$/);

    // A wrong code first: the page says so in plain words.
    const wrong = code!.replace(/^./, (d) => String((Number(d) + 1) % 10));
    await page.fill('#code', wrong);
    await Promise.all([page.waitForURL(`${base}/verify`), page.click('form[action="/verify"] button')]);
    expect(await page.locator('.alert').textContent()).toMatch(/^That code isn’t right/);
    await screenshot('wrong-code');

    await page.fill('#code', `${code!.slice(0, 3)} ${code!.slice(3)}`);
    await Promise.all([page.waitForURL(`${base}/me`), page.click('form[action="/verify"] button')]);
    expect(await page.locator('h1').textContent()).toContain('You are signed in');
    const subject = (await page.locator('#subject').textContent()) ?? '';
    expect(subject).toMatch(/^[\w-]{43}$/);
    const body = (await page.locator('body').textContent()) ?? '';
    expect(body).not.toContain(email);
    expect(body).not.toContain('newcomer');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'npuser_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    await screenshot('signed-in');

    await Promise.all([page.waitForURL(`${base}/`), page.click('button:has-text("Sign out")')]);
    expect(await page.locator('h1').textContent()).toBe('Sign in');
    expect((await page.context().cookies()).find((c) => c.name === 'npuser_session')).toBeUndefined();
    await page.goto(`${base}/me`);
    expect(page.url()).toBe(`${base}/`);
    await screenshot('signed-out');

    // No CSP violation or script error on any page (the 401 of the wrong code is expected).
    const errors = browserLog.filter(
      (line) => line.startsWith('error') && !line.includes('the server responded with a status of 401'),
    );
    expect(errors).toEqual([]);
  });

  it('shows the rate-limit page with the wait', async () => {
    await page.goto(`${base}/`);
    await page.fill('#email', 'newcomer@example.com');
    await Promise.all([page.waitForURL(`${base}/request`), page.click('button[type=submit]')]);
    // The cooldown began during the sign-in above, under a second or a few ago: the wait
    // reads "1 minute" (a full 60 s, rounded up) or "59 seconds" and fewer.
    expect(await page.locator('.alert').textContent()).toMatch(
      /^Too many requests\. Please wait (?:1 minute|[1-5]?\d seconds?) and try again\./,
    );
    await screenshot('rate-limited');
  });

  it('fits a phone screen and has a dark theme', async () => {
    await page.setViewportSize({ width: 360, height: 720 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/`);
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(fits).toBe(true);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe('rgb(17, 19, 24)');
    await screenshot('phone-dark');
  });

  it('stops gracefully on SIGTERM', async () => {
    await browser?.close();
    browser = undefined;
    const code = await demo!.stop();
    expect(code).toBe(0);
    expect(demo!.output).toContain('npuser demo stopped');
  });
});
