// The built subpath `npuser/mailers/nodemailer`, in Node itself (ESM and CJS),
// with nodemailer made impossible to load: nodemailer is an optional peer that
// the app uses to create its transporter, so the subpath never loads it and
// works with whatever transporter it is given.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST, ROOT, assertBuilt } from '../support/dist.js';

const run = promisify(execFile);

beforeAll(() => {
  assertBuilt(['mailers/nodemailer/index.js', 'mailers/nodemailer/index.cjs']);
});

// Shared by both module systems: a hand-made transporter works; transport options are refused at once.
const SCENARIO = `
  const message = { to: 'ada@example.com', code: '042917', appName: 'App', expiresAt: new Date(Date.now() + 600000), ttlSeconds: 600 };
  const signal = new AbortController().signal;
  const sent = [];
  const injected = nodemailerMailer({ transporter: { sendMail: async (mail) => { sent.push(mail); return {}; } }, from: 'App <no-reply@app.example>' });
  await injected.send(message, { signal });
  let error = 'accepted';
  try {
    nodemailerMailer({ transport: 'smtp://localhost:1025', from: 'no-reply@app.example' });
  } catch (err) {
    error = err.message;
  }
  console.log(JSON.stringify({ to: sent[0]?.envelope.to, hasHtml: typeof sent[0]?.html === 'string', error }));
`;
const REFUSED_TRANSPORT =
  'npuser: nodemailerMailer options.transport is not supported: create the transporter with nodemailer.createTransport(…) and pass it as options.transporter';

// Any attempt to import nodemailer is refused, as if it were not installed: a static
// import in the build would make loading the subpath itself fail.
const ESM_HOOK = `
  export async function resolve(specifier, context, next) {
    if (specifier === 'nodemailer' || specifier.startsWith('nodemailer/')) {
      const error = new Error("Cannot find package 'nodemailer'");
      error.code = 'ERR_MODULE_NOT_FOUND';
      throw error;
    }
    return next(specifier, context);
  }`;

interface Outcome {
  to: string[];
  hasHtml: boolean;
  error: string;
}

async function node(args: string[]): Promise<Outcome> {
  const { stdout, stderr } = await run(process.execPath, args, { cwd: ROOT, timeout: 20_000, encoding: 'utf8' });
  expect(stderr).toBe('');
  return JSON.parse(stdout) as Outcome;
}

describe('dist: npuser/mailers/nodemailer without nodemailer installed', () => {
  it('neither build names nodemailer as a module to load', () => {
    for (const file of ['mailers/nodemailer/index.js', 'mailers/nodemailer/index.cjs']) {
      const code = readFileSync(join(DIST, file), 'utf8');
      expect(code, file).not.toMatch(/(?:import\s*\(|require\s*\(|from\s*)\s*["']nodemailer/);
    }
  });

  it('ESM: loads, sends through an injected transporter, and refuses transport options', async () => {
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(ESM_HOOK)}));
      const { nodemailerMailer } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'mailers/nodemailer/index.js')).href)});
      ${SCENARIO}`;
    const result = await node(['--input-type=module', '-e', script]);
    expect(result.to).toEqual(['ada@example.com']);
    expect(result.hasHtml).toBe(true);
    expect(result.error).toBe(REFUSED_TRANSPORT);
  });

  it('CJS: loads without requiring nodemailer, sends through an injected transporter, and refuses transport options', async () => {
    // require() goes through _resolveFilename, import() through the hook: both refuse nodemailer.
    const script = `
      const Module = require('node:module');
      let attempts = 0;
      const resolveFilename = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'nodemailer' || request.startsWith('nodemailer/')) {
          attempts += 1;
          const error = new Error("Cannot find module 'nodemailer'");
          error.code = 'MODULE_NOT_FOUND';
          throw error;
        }
        return resolveFilename.call(this, request, ...rest);
      };
      const { register } = Module;
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(ESM_HOOK)}));
      const { nodemailerMailer } = require(${JSON.stringify(join(DIST, 'mailers/nodemailer/index.cjs'))});
      if (attempts !== 0) throw new Error('loading the subpath required nodemailer');
      (async () => {
        ${SCENARIO}
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const result = await node(['-e', script]);
    expect(result.to).toEqual(['ada@example.com']);
    expect(result.error).toBe(REFUSED_TRANSPORT);
  });
});
