// Construction only: nothing here opens a connection. Transporters to remote
// hosts are created (nodemailer connects lazily) and judged by their options.
import { createTransport } from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { nodemailerMailer, type NodemailerMailerOptions } from 'npuser/mailers/nodemailer';
import { codeMessage } from '../support/code-message.js';
import { thrown } from '../support/errors.js';
import { captureOutput } from '../support/output.js';

const FROM = 'App <no-reply@app.example>';
const REMOTE = 'smtp.example.com';

const message = codeMessage({ appName: 'App' });

function refused(options: NodemailerMailerOptions): TypeError {
  const err = thrown(() => nodemailerMailer(options));
  expect(err).toBeInstanceOf(TypeError);
  return err as TypeError;
}

describe('TLS policy: SMTP to another host needs TLS, checked at construction', () => {
  it.each([
    ['port 587, no TLS option', { host: REMOTE, port: 587 }],
    ['port 25', { host: REMOTE, port: 25 }],
    ['secure: false, explicitly', { host: REMOTE, port: 587, secure: false }],
    ['opportunistic STARTTLS only (ignoreTLS not set, requireTLS not set)', { host: REMOTE, port: 2525 }],
    ['ignoreTLS', { host: REMOTE, port: 587, ignoreTLS: true }],
    ['port 465 but secure: false', { host: REMOTE, port: 465, secure: false }],
    ['requireTLS without certificate checks', { host: REMOTE, port: 587, requireTLS: true, tls: { rejectUnauthorized: false } }],
    ['secure without certificate checks', { host: REMOTE, port: 465, secure: true, tls: { rejectUnauthorized: false } }],
    ['a private address', { host: '10.0.0.25', port: 587 }],
    ['0.0.0.0', { host: '0.0.0.0', port: 587 }],
    ['an IPv4-mapped private address', { host: '::ffff:10.0.0.25', port: 587 }],
    ['a name that only starts like localhost', { host: 'localhost.example.com', port: 587 }],
    ['a name that embeds 127.0.0.1', { host: '127.0.0.1.nip.io', port: 587 }],
    ['a pooled transport', { host: REMOTE, port: 587, pool: true }],
  ])('refuses a transporter with %s', (_name, options) => {
    const transporter = createTransport(options);
    const err = refused({ transporter, from: FROM });
    expect(err.message).toMatch(/TLS/);
    expect(err.message).toContain('requireTLS: true');
    expect(err.message).toContain('allowInsecureTransport: true');
    transporter.close();
  });

  it.each([
    ['secure: true (implicit TLS)', { host: REMOTE, port: 465, secure: true }],
    ['port 465 with secure unset (nodemailer then uses TLS)', { host: REMOTE, port: 465 }],
    ['requireTLS (STARTTLS or nothing)', { host: REMOTE, port: 587, requireTLS: true }],
    ['requireTLS with a custom CA', { host: REMOTE, port: 587, requireTLS: true, tls: { ca: 'pem', rejectUnauthorized: true } }],
    ['requireTLS wins over ignoreTLS in nodemailer', { host: REMOTE, port: 587, requireTLS: true, ignoreTLS: true }],
    ['localhost without TLS', { host: 'localhost', port: 25 }],
    ['LOCALHOST. (case, trailing dot)', { host: 'LOCALHOST.', port: 25 }],
    ['127.0.0.1 without TLS', { host: '127.0.0.1', port: 1025 }],
    ['another 127/8 address', { host: '127.8.9.10', port: 1025 }],
    ['::1 without TLS', { host: '::1', port: 1025 }],
    ['[::1] without TLS', { host: '[::1]', port: 1025 }],
    ['no host (nodemailer defaults to localhost)', { port: 1025 }],
  ])('accepts a transporter with %s', (_name, options) => {
    const transporter = createTransport(options);
    expect(() => nodemailerMailer({ transporter, from: FROM })).not.toThrow();
  });

  it('accepts an insecure remote transporter when the app opts out explicitly', () => {
    const transporter = createTransport({ host: REMOTE, port: 587 });
    expect(() => nodemailerMailer({ transporter, from: FROM, allowInsecureTransport: true })).not.toThrow();
    expect(() =>
      nodemailerMailer({ transporter: createTransport({ host: REMOTE, port: 587, requireTLS: true, tls: { rejectUnauthorized: false } }), from: FROM, allowInsecureTransport: true }),
    ).not.toThrow();
    expect(refused({ transporter, from: FROM, allowInsecureTransport: 'yes' as unknown as boolean }).message).toMatch(/allowInsecureTransport/);
  });

  it('does not check transports that are not SMTP (JSON, stream, a hand-made sender)', async () => {
    const json = createTransport({ jsonTransport: true });
    const mailer = nodemailerMailer({ transporter: json, from: FROM });
    await expect(mailer.send(message, { signal: new AbortController().signal })).resolves.toBeUndefined();
    expect(() => nodemailerMailer({ transporter: createTransport({ streamTransport: true }), from: FROM })).not.toThrow();
    expect(() => nodemailerMailer({ transporter: { sendMail: () => Promise.resolve({}) }, from: FROM })).not.toThrow();
  });

  it.each([
    ['smtp:// to a remote host', `smtp://user:pass@${REMOTE}:587`],
    ['smtp:// with requireTLS=false', `smtp://${REMOTE}:587?requireTLS=false`],
    ['smtps:// without certificate checks', `smtps://${REMOTE}:465?tls.rejectUnauthorized=false`],
  ])('refuses a transport URL: %s', (_name, url) => {
    expect(refused({ transport: url, from: FROM }).message).toMatch(/TLS/);
    // The same verdict through nodemailer's own URL parsing.
    expect(refused({ transport: url, createTransport, from: FROM }).message).toMatch(/TLS/);
  });

  it.each([
    ['smtps://', `smtps://user:pass@${REMOTE}:465`],
    ['smtp:// with requireTLS=true', `smtp://user:pass@${REMOTE}:587?requireTLS=true`],
    ['smtp:// to localhost', 'smtp://localhost:1025'],
  ])('accepts a transport URL: %s', (_name, url) => {
    expect(() => nodemailerMailer({ transport: url, from: FROM })).not.toThrow();
    expect(() => nodemailerMailer({ transport: url, createTransport, from: FROM })).not.toThrow();
  });

  it('a URL in transport options wins over the plain options, as in nodemailer', () => {
    refused({ transport: { url: `smtp://${REMOTE}:587`, secure: true }, from: FROM });
    expect(() => nodemailerMailer({ transport: { url: `smtp://${REMOTE}:587`, requireTLS: true }, from: FROM })).not.toThrow();
  });

  it('a well-known service is checked once nodemailer resolves it: at construction with createTransport, else before the first send', async () => {
    // nodemailer's Hotmail entry is port 587 without requireTLS: opportunistic STARTTLS only.
    const service = { service: 'Hotmail', auth: { user: 'u', pass: 'p' } };
    expect(refused({ transport: service, createTransport, from: FROM }).message).toMatch(/smtp-mail\.outlook\.com/);
    expect(() => nodemailerMailer({ transport: { ...service, requireTLS: true }, createTransport, from: FROM })).not.toThrow();
    expect(() => nodemailerMailer({ transport: { service: 'Gmail', auth: { user: 'u', pass: 'p' } }, createTransport, from: FROM })).not.toThrow();

    const lazy = nodemailerMailer({ transport: service, from: FROM });
    const err = await lazy.send(message, { signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/requireTLS/);
  });

  it('refuses a transporter that logs (its logs name recipients), unless allowed', () => {
    // nodemailer logs its own creation; kept out of the test output.
    const output = captureOutput();
    try {
      for (const options of [{ logger: true }, { debug: true }, { logger: { info: () => undefined } }]) {
        const transporter = createTransport({ host: 'localhost', port: 1025, ...options });
        expect(refused({ transporter, from: FROM }).message).toMatch(/allowTransportLogging/);
        expect(() => nodemailerMailer({ transporter, from: FROM, allowTransportLogging: true })).not.toThrow();
      }
    } finally {
      output.restore();
    }
    expect(refused({ transport: 'smtp://localhost:1025?debug=true', from: FROM }).message).toMatch(/logs/);
  });
});

describe('options are validated at construction', () => {
  const transporter = createTransport({ host: 'localhost', port: 1025 });

  it.each<[string, unknown, RegExp]>([
    ['no options', undefined, /options object/],
    ['null', null, /options object/],
    ['neither transporter nor transport', { from: FROM }, /exactly one of/],
    ['both transporter and transport', { transporter, transport: 'smtp://localhost', from: FROM }, /exactly one of/],
    ['a transporter without sendMail', { transporter: {}, from: FROM }, /sendMail/],
    ['a transport that is a number', { transport: 25, from: FROM }, /transport/],
    ['a transport URL of another scheme', { transport: 'http://localhost:25', from: FROM }, /smtp:\/\//],
    ['a transport that is not a URL', { transport: 'not a url', from: FROM }, /SMTP URL/],
    ['createTransport not a function', { transport: 'smtp://localhost', createTransport: 'nodemailer', from: FROM }, /createTransport/],
    ['createTransport returning junk', { transport: 'smtp://localhost', createTransport: () => ({}), from: FROM }, /did not return a transporter/],
    ['no from', { transporter }, /from/],
    ['from without @', { transporter, from: 'nobody' }, /from/],
    ['from with a line break', { transporter, from: 'a@b.example\r\nBcc: eve@evil.example' }, /from/],
    ['from object with a line break in the name', { transporter, from: { name: 'A\nBcc: x', address: 'a@b.example' } }, /from/],
    ['sendTimeoutMs 0', { transporter, from: FROM, sendTimeoutMs: 0 }, /sendTimeoutMs/],
    ['sendTimeoutMs 1.5', { transporter, from: FROM, sendTimeoutMs: 1.5 }, /sendTimeoutMs/],
    ['sendTimeoutMs over 120 s', { transporter, from: FROM, sendTimeoutMs: 120_001 }, /sendTimeoutMs/],
    ['sendTimeoutMs a string', { transporter, from: FROM, sendTimeoutMs: '10000' }, /sendTimeoutMs/],
    ['render not a function', { transporter, from: FROM, render: 'html' }, /render/],
    ['codeInSubject not a boolean', { transporter, from: FROM, codeInSubject: 'true' }, /codeInSubject/],
    ['an unknown defaultLocale', { transporter, from: FROM, defaultLocale: 'nl' }, /defaultLocale/],
    ['a misspelt string key', { transporter, from: FROM, strings: { en: { subjet: 'x' } } }, /subjet/],
    ['{code} in the default subject', { transporter, from: FROM, strings: { en: { subject: 'Code {code}' } } }, /\{code\}/],
    ['a new language missing strings', { transporter, from: FROM, strings: { nl: { subject: 'Je code' } } }, /lacks/],
    ['a string that is not a string', { transporter, from: FROM, strings: { en: { subject: 42 } } }, /must be a string/],
    ['a language tag that is not one', { transporter, from: FROM, strings: { 'not a tag!': {} } }, /BCP 47/],
  ])('%s → TypeError', (_name, options, message) => {
    const err = thrown(() => nodemailerMailer(options as NodemailerMailerOptions));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/^npuser: /);
  });
});
