// What the browser tests of the demo and the examples share: a free port, the code a console
// mailer printed for an address, a run of wrong guesses on the examples' form, and screenshots
// (of every failure; of every step on request).
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach } from 'vitest';
import type { DemoProcess } from './demo-process.js';
import { ROOT } from './dist.js';

/** Where screenshots go: NPUSER_SCREENSHOTS_DIR, else vitest's own folder in the repository (git-ignored), never the temp directory. */
export const SCREENSHOTS_DIR = process.env.NPUSER_SCREENSHOTS_DIR || join(ROOT, '.vitest', 'screenshots');
/** Step-by-step screenshots, for a person to look at: only when NPUSER_SCREENSHOTS_DIR asks. */
const STEP_SHOTS = process.env.NPUSER_SCREENSHOTS_DIR !== undefined && process.env.NPUSER_SCREENSHOTS_DIR !== '';

const fileName = (text: string) =>
  text
    .replace(/[^\w.-]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 120);

/** A port nobody listens on right now, on 127.0.0.1, for a server that takes PORT. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** After every failed test of this file: a full-page screenshot of `page()` named after `label` and the test. */
export function screenshotFailures(label: string, page: () => Page | undefined): void {
  afterEach(async ({ task }) => {
    const current = page();
    if (task.result?.state !== 'fail' || current === undefined || current.isClosed()) return;
    mkdirSync(SCREENSHOTS_DIR, { recursive: true });
    const path = join(SCREENSHOTS_DIR, `${fileName(`${label}-${task.name}`)}-failed.png`);
    await current.screenshot({ path, fullPage: true }).then(
      () => {
        console.error(`[${label}] screenshot of the failure: ${path}`);
      },
      () => undefined,
    );
  });
}

/** A step's screenshot, written only where NPUSER_SCREENSHOTS_DIR says. */
export async function stepShot(page: Page, label: string, step: string): Promise<void> {
  if (!STEP_SHOTS) return;
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS_DIR, `${fileName(`${label}-${step}`)}.png`), fullPage: true });
}

/** The code the console mailer printed for `email` after `from` (an offset into the output). */
export async function printedCode(app: DemoProcess, email: string, from: number): Promise<string> {
  const escaped = email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [, code] = await app.waitFor(new RegExp(`│ To:\\s+${escaped}\\n│ Subject:[^\\n]*\\n│\\n│ CODE:[^\\n]*\\(type (\\d+)\\)`), from);
  if (code === undefined) throw new Error(`no code for ${email}`);
  return code;
}

/** What {@link guessFiveTimesThenRight} saw: the alert after each wrong code, then after the right one. */
export interface GuessingRun {
  /** Where the app's output stood before the code was requested. */
  readonly from: number;
  readonly wrongAnswers: readonly (string | null)[];
  readonly rightAnswer: string | null;
}

/**
 * On a sign-in page of `base` (the examples' shared form): request a code for
 * `email`, type a wrong one five times, then the right one, and report the
 * alert shown after each.
 */
export async function guessFiveTimesThenRight(page: Page, base: string, app: DemoProcess, email: string): Promise<GuessingRun> {
  await page.goto(`${base}/`);
  const from = app.output.length;
  await page.getByLabel('Email').fill(email);
  await Promise.all([page.waitForURL(`${base}/?npuser=sent`), page.getByRole('button', { name: 'Email me a code' }).click()]);
  const code = await printedCode(app, email, from);
  const wrong = code.replace(/^./, (d) => String((Number(d) + 1) % 10));
  const wrongAnswers: (string | null)[] = [];
  for (let i = 0; i < 5; i += 1) {
    await page.getByLabel('Code').fill(wrong);
    await Promise.all([page.waitForURL(/npuser=error/), page.getByRole('button', { name: 'Sign in' }).click()]);
    wrongAnswers.push(await page.getByRole('alert').textContent());
  }
  await page.getByLabel('Code').fill(code);
  await Promise.all([page.waitForURL(/npuser=error/), page.getByRole('button', { name: 'Sign in' }).click()]);
  return { from, wrongAnswers, rightAnswer: await page.getByRole('alert').textContent() };
}
