// Every framework example, started by the command its README gives (on the built package),
// driven by Debian's Chromium as a newcomer would: type an address, read the code from the
// captured mail, type it, land on the protected page, reload, sign out.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, guessFiveTimesThenRight, printedCode, screenshotFailures, stepShot } from '../support/browser-app.js';
import { CHROMIUM, hasChromium, launchChromium, skipWithoutChromium } from '../support/chromium.js';
import { DemoProcess } from '../support/demo-process.js';
import { assertBuilt } from '../support/dist.js';
import { readmeCommand } from '../support/readme-command.js';

// Locally a missing browser skips, loudly; in CI it fails (see the first test).
const skip = skipWithoutChromium('examples-browser');

/** One row per example; each has the same pages: `/` to sign in, `/account` behind it. */
const EXAMPLES = [
  { name: 'express', banner: /Express example: http:\/\/localhost:(\d+)/ },
  { name: 'fastify', banner: /Fastify example: http:\/\/localhost:(\d+)/ },
  { name: 'hono', banner: /Hono example: http:\/\/localhost:(\d+)/ },
  { name: 'node-http', banner: /node:http example: http:\/\/localhost:(\d+)/ },
] as const;

// The handler's own words, which the examples show as they are.
const WRONG_CODE = 'This code is not valid. It may be wrong, expired or already used.';
const COOLDOWN = 'Too many requests. Try again later.';
const BURNED = 'Too many wrong codes. Request a new code.';

describe.skipIf(skip)('the framework examples in a real browser', () => {
  let browser: Browser | undefined;
  let page: Page | undefined;
  screenshotFailures('examples', () => page);

  beforeAll(async () => {
    if (!hasChromium) return; // the first test reports it
    assertBuilt(['index.js', 'http/index.js']);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('has Chromium (required in CI)', () => {
    expect(hasChromium, `${CHROMIUM} is required when CI is set: apt-get install -y chromium`).toBe(true);
  });

  for (const example of EXAMPLES) {
    describe(example.name, () => {
      const readme = `examples/${example.name}/README.md`;
      let app: DemoProcess | undefined;
      let context: BrowserContext;
      let base = '';

      beforeAll(async () => {
        if (!hasChromium) return;
        const port = await freePort();
        app = new DemoProcess({ script: readmeCommand(readme).script, env: { PORT: String(port) } });
        const [, printed] = await app.waitFor(example.banner);
        expect(printed).toBe(String(port));
        base = `http://localhost:${port}`;
        context = await browser!.newContext({ viewport: { width: 800, height: 640 } });
        page = await context.newPage();
        page.setDefaultTimeout(20_000);
      });

      afterAll(async () => {
        await context.close();
        await app?.stop();
      });

      it(`starts with the one command its README gives: npm run example:${example.name}`, () => {
        expect(readmeCommand(readme).command).toBe(`npm run example:${example.name}`);
      });

      it('signs in with the code from the captured mail, stays signed in on reload, signs out; the old cookie is refused', async () => {
        const p = page!;
        const email = 'newcomer@example.com';
        await p.goto(`${base}/account`);
        expect(p.url()).toBe(`${base}/`); // protected: signed out, sent to sign in
        expect(await p.locator('h1').textContent()).toBe('Sign in');

        const from = app!.output.length;
        await p.getByLabel('Email').fill(email);
        await Promise.all([p.waitForURL(`${base}/?npuser=sent`), p.getByRole('button', { name: 'Email me a code' }).click()]);
        expect(await p.locator('body').textContent()).toContain(`We sent a code to ${email}.`);
        await stepShot(p, example.name, 'code-sent');
        const code = await printedCode(app!, email, from);

        // A wrong code: its message.
        await p.getByLabel('Code').fill(code.replace(/^./, (d) => String((Number(d) + 1) % 10)));
        await Promise.all([p.waitForURL(/npuser=error/), p.getByRole('button', { name: 'Sign in' }).click()]);
        expect(await p.getByRole('alert').textContent()).toBe(WRONG_CODE);
        await stepShot(p, example.name, 'wrong-code');

        await p.getByLabel('Code').fill(code);
        await Promise.all([p.waitForURL(`${base}/account`), p.getByRole('button', { name: 'Sign in' }).click()]);
        expect(await p.locator('h1').textContent()).toBe('Your account');
        const subject = await p.locator('code').textContent();
        expect(subject).toMatch(/^[\w-]{43}$/);
        expect(await p.locator('body').textContent()).not.toContain(email);
        const session = (await context.cookies()).find((c) => c.name === 'npuser_session');
        expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
        await stepShot(p, example.name, 'signed-in');

        await p.reload();
        expect(await p.locator('h1').textContent()).toBe('Your account');
        expect(await p.locator('code').textContent()).toBe(subject);

        await Promise.all([p.waitForURL(`${base}/?npuser=signed-out`), p.getByRole('button', { name: 'Sign out' }).click()]);
        expect(await p.locator('h1').textContent()).toBe('Sign in');
        expect((await context.cookies()).find((c) => c.name === 'npuser_session')).toBeUndefined();
        await p.goto(`${base}/account`);
        expect(p.url()).toBe(`${base}/`);

        // The cookie from before the sign-out, put back: refused, it was revoked.
        await context.addCookies([session!]);
        await p.goto(`${base}/account`);
        expect(p.url()).toBe(`${base}/`);
        const refused = await p.request.get(`${base}/auth/session`);
        expect(refused.status()).toBe(401);
        await context.clearCookies();
      });

      it('shows the cooldown message when a new code is asked for too soon', async () => {
        const p = page!;
        await p.goto(`${base}/`);
        await p.getByLabel('Email').fill('newcomer@example.com');
        await Promise.all([p.waitForURL(/npuser=error/), p.getByRole('button', { name: 'Email me a code' }).click()]);
        expect(await p.getByRole('alert').textContent()).toBe(COOLDOWN);
        await stepShot(p, example.name, 'cooldown');
      });

      it('five wrong codes burn the code: then even the right one is refused', async () => {
        const p = page!;
        const email = 'guesser@example.com';
        const { wrongAnswers, rightAnswer } = await guessFiveTimesThenRight(p, base, app!, email);
        expect(wrongAnswers).toEqual([...Array<string>(4).fill(WRONG_CODE), BURNED]);
        expect(rightAnswer).toBe(BURNED);
        expect((await context.cookies()).find((c) => c.name === 'npuser_session')).toBeUndefined();
        await stepShot(p, example.name, 'burned');
      });
    });
  }
});
