// Regression: every run of the mailer tests left an `npuser-mail-*` folder in the temp
// directory (the browser test's screenshots, made with mkdtemp and never removed). The
// browser test runs here in a child vitest whose temp directory is a fresh, private one,
// and that directory must be empty afterwards.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CHROMIUM, hasChromium, skipWithoutChromium } from '../support/chromium.js';
import { ROOT } from '../support/dist.js';

const run = promisify(execFile);
const skip = skipWithoutChromium('temp-folders');

describe.skipIf(skip)('a run of the browser mail test leaves nothing in the temp directory', () => {
  const privateTmp = mkdtempSync(join(tmpdir(), 'npuser-tmp-check-'));
  afterAll(() => {
    rmSync(privateTmp, { recursive: true, force: true });
  });

  it('has Chromium (required in CI)', () => {
    expect(hasChromium, `${CHROMIUM} is required when CI is set: apt-get install -y chromium`).toBe(true);
  });

  it('the temp directory is as empty after the run as before', { timeout: 120_000 }, async () => {
    // The child is a run of its own: none of this worker's vitest variables, no screenshot folder.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('VITEST') && name !== 'NPUSER_SCREENSHOTS_DIR' && name !== 'NODE_OPTIONS',
      ),
    );
    const vitest = join(ROOT, 'node_modules/vitest/vitest.mjs');
    const { stdout: raw } = await run(process.execPath, [vitest, 'run', 'test/mailers/template-browser.test.ts', '--reporter=dot'], {
      cwd: ROOT,
      env: { ...env, TMPDIR: privateTmp, TMP: privateTmp, TEMP: privateTmp },
      timeout: 110_000,
      encoding: 'utf8',
    });
    const stdout = stripVTControlCharacters(raw);
    // The child really ran the browser test, rather than skipping it.
    expect(stdout).toMatch(/Tests\s+\d+ passed \(\d+\)/);
    expect(stdout).not.toMatch(/skipped/);
    expect(readdirSync(privateTmp)).toEqual([]);
  });
});
