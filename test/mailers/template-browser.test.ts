// The default HTML message in a real browser engine (Debian's Chromium): the
// code reads in groups but copies as one string, nothing is fetched, and the
// client's dark mode takes over the colours.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderCodeMessage, type CodeMessage } from 'npuser';
import { CHROMIUM, hasChromium, launchChromium, newPage, skipWithoutChromium } from '../support/chromium.js';
import { codeMessage } from '../support/code-message.js';

// Locally a missing browser skips, loudly; in CI it fails (see the first test).
const skip = skipWithoutChromium('template-browser');

function html(code: string, overrides: Partial<CodeMessage> = {}): string {
  return renderCodeMessage(codeMessage({ code, ...overrides })).html;
}

// Screenshots are for a person to look at: kept only where NPUSER_SCREENSHOTS_DIR says. Without it
// they are still taken (the page must render whole) but never written, so a run leaves no folder behind.
const SHOTS_DIR = process.env.NPUSER_SCREENSHOTS_DIR === '' ? undefined : process.env.NPUSER_SCREENSHOTS_DIR;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function screenshot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true, ...(SHOTS_DIR === undefined ? {} : { path: join(SHOTS_DIR, name) }) });
  expect(png.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)).toBe(true);
}

describe.skipIf(skip)('the HTML message in Chromium', () => {
  let browser: Browser | undefined;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) return; // the first test reports it
    browser = await launchChromium();
    page = await newPage(browser);
    page.on('request', (request) => {
      requests.push(request.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    if (!hasChromium) return;
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 800, height: 640 });
    await page.evaluate(() => window.getSelection()?.removeAllRanges());
  });

  it('has Chromium (required in CI)', () => {
    expect(hasChromium, `${CHROMIUM} is required when CI is set: apt-get install -y chromium`).toBe(true);
  });

  it.each(['042917', '00731205', '0429173312'])('selecting the code %s copies the bare digits, though it shows in groups', async (code) => {
    await page.setContent(html(code));
    const element = page.locator('.npuser-code');

    // Selecting the element's contents, as a drag across it does.
    const selected = await element.evaluate((el) => {
      const range = document.createRange();
      range.selectNodeContents(el);
      const selection = window.getSelection()!;
      selection.removeAllRanges();
      selection.addRange(range);
      return selection.toString();
    });
    expect(selected).toBe(code);

    // One click selects it all (user-select: all), a double click too: no word boundary splits the code.
    await page.evaluate(() => window.getSelection()?.removeAllRanges());
    await element.click();
    expect(await page.evaluate(() => window.getSelection()?.toString())).toBe(code);
    await page.evaluate(() => window.getSelection()?.removeAllRanges());
    await element.dblclick();
    expect(await page.evaluate(() => window.getSelection()?.toString())).toBe(code);

    // …and yet the groups are visibly apart.
    // Measured on the glyphs (a range over each group's text), since the gap is a span's padding.
    const boxes = await element.locator('span').evaluateAll((spans) =>
      spans.map((s) => {
        const range = document.createRange();
        range.selectNodeContents(s);
        return range.getBoundingClientRect().toJSON() as DOMRect;
      }),
    );
    expect(boxes).toHaveLength(Math.ceil(code.length / 3));
    for (let i = 1; i < boxes.length; i += 1) {
      const gap = boxes[i]!.left - boxes[i - 1]!.right;
      expect(gap, `gap between group ${i} and ${i + 1}`).toBeGreaterThan(8);
    }
    // Large enough to read at a glance.
    expect(Number.parseFloat(await element.evaluate((el) => getComputedStyle(el).fontSize))).toBeGreaterThanOrEqual(28);
  });

  it('the visible text reads: app name, intro, code, lifetime, what to do if you did not ask', async () => {
    await page.setContent(html('042917', { locale: 'fr' }));
    const text = (await page.locator('body').innerText()).replace(/\u00a0/g, ' ');
    const order = [
      'My blog',
      'Votre code pour vous connecter à My blog :',
      '042917',
      'pendant 10 minutes',
      'Si vous n’avez pas demandé ce code',
    ];
    let at = -1;
    for (const part of order) {
      const found = text.indexOf(part, at + 1);
      expect(found, `"${part}" missing or out of order in:\n${text}`).toBeGreaterThan(at);
      at = found;
    }
    // The hidden preview line is not shown.
    expect(text.match(/Votre code pour vous connecter/g)).toHaveLength(1);
    await screenshot(page, 'mail-fr-light.png');
  });

  it('fetches nothing: no request at all while rendering, even for a hostile app name', async () => {
    requests.length = 0;
    await page.setContent(
      html('042917', { appName: '<img src="http://tracker.example/p.gif"><script>fetch("http://x.example")</script>' }),
    );
    await page.waitForLoadState('networkidle');
    expect(requests).toEqual([]);
    expect(await page.locator('img, script').count()).toBe(0);
    expect(await page.locator('body').innerText()).toContain('<img src="http://tracker.example/p.gif">');
  });

  it('in dark mode the client’s light text on dark background applies, code included', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setContent(html('042917'));
    const colours = await page.evaluate(() => {
      const code = document.querySelector('.npuser-code')!;
      return {
        canvas: getComputedStyle(document.documentElement).backgroundColor,
        body: getComputedStyle(document.body).color,
        code: getComputedStyle(code).color,
      };
    });
    // `color-scheme: light dark` lets the engine use its dark palette: light text…
    expect(colours.body).toBe('rgb(255, 255, 255)');
    // …which the code inherits (no colour of its own to clash with a dark background).
    expect(colours.code).toBe(colours.body);
    await screenshot(page, 'mail-en-dark.png');
  });

  it.each([
    ['042917', 320],
    ['0429173312', 320],
    ['0429173312', 360],
  ])('code %s fits a %d px phone screen on one line', async (code, width) => {
    await page.setViewportSize({ width, height: 720 });
    await page.setContent(html(code));
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    const element = page.locator('.npuser-code');
    expect(await element.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    await screenshot(page, `mail-phone-${width}-${code.length}.png`);
  });
});
