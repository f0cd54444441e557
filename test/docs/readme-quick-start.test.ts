// The README's quick start, run as pasted into Express 5. Regression: the earlier quick start,
// pasted as it was, answered 500 to a missing body parser, an invalid address, a resend inside
// the cooldown and an array for `email`. This compiles the README's own block, starts it, and
// drives it over HTTP as a browser's forms and a script's JSON would.
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { assertBuilt, ROOT } from '../support/dist.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Quick start'));
const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
// Where the compiled block is written: inside the repository, so `express` and `npuser` resolve
// as they would in an app (npuser to its built package, by its own name).
const FOLDER = join(ROOT, '.vitest', 'readme-quick-start');

describe('the README quick start, as pasted into Express 5', () => {
  let server: Server;
  let base = '';
  const printed: string[] = [];

  beforeAll(async () => {
    assertBuilt(['index.js', 'http/index.js']);
    expect(block).toContain('app.listen(3000);');
    // The one change: a free port of 127.0.0.1 instead of 3000, handed back to the test.
    const source = block.replace('app.listen(3000);', "export const server = app.listen(0, '127.0.0.1');");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    mkdirSync(FOLDER, { recursive: true });
    const file = join(FOLDER, 'app.mjs');
    writeFileSync(file, outputText);
    vi.stubEnv('NPUSER_SECRET', 'the README quick start: thirty-two bytes and more');
    // The console mailer prints the code: read it from what is written to stdout.
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return write(chunk, ...(rest as []));
    });
    ({ server } = (await import(file)) as { server: Server });
    if (!server.listening) await once(server, 'listening');
    const address = server.address();
    base = `http://localhost:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await new Promise((resolve) => server.close(resolve));
    rmSync(FOLDER, { recursive: true, force: true });
  });

  const form = (path: string, fields: Record<string, string>, cookie = '') =>
    fetch(`${base}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie === '' ? {} : { cookie }) },
      body: new URLSearchParams(fields),
    });
  const json = (path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const codeFor = (email: string) => {
    const text = printed.join('');
    const at = text.lastIndexOf(`To:      ${email}`);
    return /\(type ([0-9]{6})\)/.exec(text.slice(at))?.[1];
  };

  it('a form post without any body parser: a code is sent and the browser is sent back to the page', async () => {
    const res = await form('/auth/code', { email: 'Ada@Example.com' });
    expect(res.status).toBe(303);
    expect(codeFor('ada@example.com')).toMatch(/^[0-9]{6}$/);
  });

  it('an invalid address is a 422 problem, not a 500', async () => {
    const res = await json('/auth/code', { email: 'not an address' });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: 'ERR_NPUSER_INVALID_EMAIL' });
  });

  it('a resend inside the cooldown is a 429 with Retry-After, not a 500', async () => {
    const res = await json('/auth/code', { email: 'ada@example.com' });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ code: 'ERR_NPUSER_RATE_LIMITED' });
  });

  it('an array for email is a 400, not a 500', async () => {
    const res = await json('/auth/code', { email: ['ada@example.com', 'eve@example.com'] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'ERR_NPUSER_BAD_REQUEST' });
  });

  it('the code signs the browser in, and the account page knows who it is', async () => {
    const verified = await json('/auth/verify', { email: 'ada@example.com', code: codeFor('ada@example.com') });
    expect(verified.status).toBe(200);
    const cookie = (verified.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toMatch(/=ey/);
    const account = await fetch(`${base}/account`, { headers: { cookie }, redirect: 'manual' });
    expect(account.status).toBe(200);
    expect(await account.text()).toContain('Signed in as');
    // Signed out: the old cookie no longer opens the page.
    expect((await form('/auth/sign-out', {}, cookie)).status).toBe(303);
    expect((await fetch(`${base}/account`, { headers: { cookie }, redirect: 'manual' })).status).toBe(302);
  });
});
