// Debian's Chromium for the browser tests: where it is, whether to skip without it, and how to launch it.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's package; NPUSER_CHROMIUM points elsewhere (or at nothing, to check the skip). */
export const CHROMIUM = process.env.NPUSER_CHROMIUM ?? '/usr/bin/chromium';
/** How long a launch, or any wait on a page, may take. */
export const BROWSER_WAIT_MS = 20_000;

export const hasChromium = existsSync(CHROMIUM);
const ciValue = (process.env.CI ?? '').trim().toLowerCase();
const inCi = ciValue !== '' && ciValue !== '0' && ciValue !== 'false';

/**
 * Whether a browser test file skips. Locally a missing browser skips, loudly (the
 * warning names `label`); in CI it fails instead (the file's first test checks `hasChromium`).
 */
export function skipWithoutChromium(label: string): boolean {
  const skip = !hasChromium && !inCi;
  if (skip) {
    console.warn(
      `\n[${label}] SKIPPED: ${CHROMIUM} not found. Install it (apt-get install -y chromium) to run the browser test.\n` +
        `[${label}] With CI set, this test fails instead of skipping.\n`,
    );
  }
  return skip;
}

/** Headless Chromium with no sandbox, no GPU and no background traffic of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: BROWSER_WAIT_MS,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

/** An 800 × 640 page whose waits time out after BROWSER_WAIT_MS. */
export async function newPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
  page.setDefaultTimeout(BROWSER_WAIT_MS);
  return page;
}
