// Construction only: nothing here opens a connection. Transporters to remote
// hosts are created (nodemailer connects lazily) and judged by their resolved options.
import tls from 'node:tls';
import { createTransport } from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { nodemailerMailer, type NodemailerMailerOptions } from 'npuser/mailers/nodemailer';
import { codeMessage } from '../support/code-message.js';
import { thrown } from '../support/errors.js';
import { captureOutput } from '../support/output.js';

const FROM = 'App <no-reply@app.example>';
const REMOTE = 'smtp.example.com';
/** What certificate-error answers on the web tell people to paste: a check that checks nothing. */
const noCheck = (): undefined => undefined;

const message = codeMessage({ appName: 'App' });

function refused(options: NodemailerMailerOptions): TypeError {
  const err = thrown(() => nodemailerMailer(options));
  expect(err).toBeInstanceOf(TypeError);
  return err as TypeError;
}

/** The verdict on a transporter made from `options`: the refusal's message, or `undefined` when accepted. */
function verdict(options: Record<string, unknown> | string, extra: Partial<NodemailerMailerOptions> = {}): string | undefined {
  const transporter = createTransport(options);
  try {
    nodemailerMailer({ transporter, from: FROM, ...extra });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  } finally {
    transporter.close();
  }
}

/** A refusal of a weakened TLS setup reads the same way every time: what, and the two ways out. */
function expectTlsRefusal(message: string | undefined, names: string | RegExp): void {
  expect(message, 'accepted, but it weakens TLS').toBeDefined();
  expect(message).toMatch(/^npuser: nodemailerMailer options\.transporter connects to /);
  expect(message).toMatch(names);
  expect(message).toContain('requireTLS: true');
  expect(message).toContain('allowInsecureTransport: true');
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
    expectTlsRefusal(verdict(options), /secure|requireTLS|ignoreTLS|rejectUnauthorized/);
  });

  // Each of these was accepted before (only `rejectUnauthorized: false` was refused): every one
  // turns off, or weakens, the certificate or host name check, or lets the session fall back to plain text.
  describe('refuses every setting that weakens TLS, not only rejectUnauthorized: false', () => {
    const starttls = { host: REMOTE, port: 587, requireTLS: true };
    const implicit = { host: REMOTE, port: 465, secure: true };

    it.each<[string, Record<string, unknown>, RegExp]>([
      ['a no-op tls.checkServerIdentity with STARTTLS', { ...starttls, tls: { checkServerIdentity: noCheck } }, /tls\.checkServerIdentity/],
      [
        'a no-op tls.checkServerIdentity with implicit TLS',
        { ...implicit, tls: { checkServerIdentity: noCheck } },
        /tls\.checkServerIdentity/,
      ],
      ['tls.minVersion TLSv1', { ...starttls, tls: { minVersion: 'TLSv1' } }, /tls\.minVersion: "TLSv1"/],
      ['tls.minVersion TLSv1.1', { ...implicit, tls: { minVersion: 'TLSv1.1' } }, /tls\.minVersion: "TLSv1\.1"/],
      ['tls.maxVersion TLSv1.1', { ...starttls, tls: { maxVersion: 'TLSv1.1' } }, /tls\.maxVersion: "TLSv1\.1"/],
      ['tls.secureProtocol TLSv1_method', { ...starttls, tls: { secureProtocol: 'TLSv1_method' } }, /tls\.secureProtocol/],
      ['tls.host (the name the certificate is checked against)', { ...starttls, tls: { host: 'other.example' } }, /tls\.host/],
      [
        'tls.secureContext (checks npuser cannot see)',
        { ...starttls, tls: { secureContext: tls.createSecureContext() } },
        /tls\.secureContext/,
      ],
      ['tls.ciphers with anonymous suites', { ...starttls, tls: { ciphers: 'aNULL:@SECLEVEL=0' } }, /tls\.ciphers/],
      ['tls.pskCallback (no certificate at all)', { ...starttls, tls: { pskCallback: () => null } }, /tls\.pskCallback/],
      ['tls.allowPartialTrustChain', { ...starttls, tls: { ca: 'pem', allowPartialTrustChain: true } }, /tls\.allowPartialTrustChain/],
      [
        'a tls key npuser does not know',
        { ...starttls, tls: { enableTrace: true } },
        /tls\.enableTrace: true, which npuser cannot vouch for \(it accepts ca, cert/,
      ],
      ['requireTLS with ignoreTLS (older nodemailer then skips STARTTLS)', { ...starttls, ignoreTLS: true }, /ignoreTLS/],
      ['requireTLS with opportunisticTLS', { ...starttls, opportunisticTLS: true }, /opportunisticTLS/],
      ['secure with secured (no handshake at all)', { ...implicit, secured: true }, /secured/],
    ])('%s', (_name, options, names) => {
      expectTlsRefusal(verdict(options), names);
    });

    it('from an SMTP URL too: smtps:// with ?tls.minVersion=TLSv1', () => {
      expectTlsRefusal(verdict(`smtps://user:pass@${REMOTE}:465?tls.minVersion=TLSv1`), /tls\.minVersion/);
    });

    describe('process-wide switches', () => {
      const minVersion = tls.DEFAULT_MIN_VERSION;
      const rejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      afterEach(() => {
        tls.DEFAULT_MIN_VERSION = minVersion;
        if (rejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
        else process.env.NODE_TLS_REJECT_UNAUTHORIZED = rejectUnauthorized;
      });

      it('NODE_TLS_REJECT_UNAUTHORIZED=0 is refused, unless tls.rejectUnauthorized: true overrides it', () => {
        process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
        expectTlsRefusal(verdict(starttls), /NODE_TLS_REJECT_UNAUTHORIZED=0/);
        expect(verdict({ ...starttls, tls: { rejectUnauthorized: true } })).toBeUndefined();
        expect(verdict({ host: 'localhost', port: 1025 })).toBeUndefined();
      });

      it('a process minimum below TLSv1.2 (--tls-min-v1.0) is refused, unless tls.minVersion raises it', () => {
        tls.DEFAULT_MIN_VERSION = 'TLSv1';
        expectTlsRefusal(verdict(implicit), /tls\.DEFAULT_MIN_VERSION/);
        expect(verdict({ ...implicit, tls: { minVersion: 'TLSv1.2' } })).toBeUndefined();
      });
    });
  });

  it.each<[string, Record<string, unknown> | string]>([
    ['secure: true (implicit TLS)', { host: REMOTE, port: 465, secure: true }],
    ['port 465 with secure unset (nodemailer then uses TLS)', { host: REMOTE, port: 465 }],
    ['requireTLS (STARTTLS or nothing)', { host: REMOTE, port: 587, requireTLS: true }],
    ['requireTLS with a custom CA', { host: REMOTE, port: 587, requireTLS: true, tls: { ca: 'pem', rejectUnauthorized: true } }],
    ['a client certificate', { host: REMOTE, port: 465, secure: true, tls: { cert: 'pem', key: 'pem', passphrase: 'p' } }],
    ['a PKCS#12 bundle and a CRL', { host: REMOTE, port: 465, secure: true, tls: { pfx: Buffer.from('x'), crl: 'pem' } }],
    [
      'servername (the name to verify when connecting by IP)',
      { host: '192.0.2.10', port: 465, secure: true, servername: REMOTE, tls: { servername: REMOTE } },
    ],
    ['TLSv1.2 to TLSv1.3 pinned', { host: REMOTE, port: 587, requireTLS: true, tls: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } }],
    ['smtps:// URL', `smtps://user:pass@${REMOTE}:465`],
    ['smtp:// URL with requireTLS=true', `smtp://user:pass@${REMOTE}:587?requireTLS=true`],
    ['localhost without TLS', { host: 'localhost', port: 25 }],
    [
      'localhost with a no-op checkServerIdentity (this machine is exempt)',
      { host: 'localhost', port: 25, tls: { checkServerIdentity: noCheck } },
    ],
    ['LOCALHOST. (case, trailing dot)', { host: 'LOCALHOST.', port: 25 }],
    ['127.0.0.1 without TLS', { host: '127.0.0.1', port: 1025 }],
    ['another 127/8 address', { host: '127.8.9.10', port: 1025 }],
    ['::1 without TLS', { host: '::1', port: 1025 }],
    ['[::1] without TLS', { host: '[::1]', port: 1025 }],
    ['smtp://localhost:1025 (a local mail catcher)', 'smtp://localhost:1025'],
    ['no host (nodemailer defaults to localhost)', { port: 1025 }],
  ])('accepts a transporter with %s', (_name, options) => {
    expect(verdict(options)).toBeUndefined();
  });

  it.each<[string, string]>([
    ['smtp:// to a remote host', `smtp://user:pass@${REMOTE}:587`],
    ['smtp:// with requireTLS=false', `smtp://${REMOTE}:587?requireTLS=false`],
    ['smtps:// without certificate checks', `smtps://${REMOTE}:465?tls.rejectUnauthorized=false`],
  ])('refuses a transporter made from a URL: %s', (_name, url) => {
    expectTlsRefusal(verdict(url), /secure|rejectUnauthorized/);
  });

  it('accepts an insecure remote transporter when the app opts out explicitly', () => {
    expect(verdict({ host: REMOTE, port: 587 }, { allowInsecureTransport: true })).toBeUndefined();
    expect(
      verdict({ host: REMOTE, port: 587, requireTLS: true, tls: { rejectUnauthorized: false } }, { allowInsecureTransport: true }),
    ).toBeUndefined();
    expect(
      verdict({ host: REMOTE, port: 587, requireTLS: true, tls: { checkServerIdentity: noCheck } }, { allowInsecureTransport: true }),
    ).toBeUndefined();
    expect(verdict({ host: REMOTE, port: 587 }, { allowInsecureTransport: 'yes' as unknown as boolean })).toBe(
      'npuser: nodemailerMailer options.allowInsecureTransport must be a boolean',
    );
  });

  it('a well-known service is judged on what nodemailer resolves it to', () => {
    // nodemailer's Hotmail entry is port 587 without requireTLS: opportunistic STARTTLS only.
    const service = { service: 'Hotmail', auth: { user: 'u', pass: 'p' } };
    expectTlsRefusal(verdict(service), /smtp-mail\.outlook\.com/);
    expect(verdict({ ...service, requireTLS: true })).toBeUndefined();
    expect(verdict({ service: 'Gmail', auth: { user: 'u', pass: 'p' } })).toBeUndefined();
  });

  it('does not check transports that are not SMTP (JSON, stream, a hand-made sender)', async () => {
    const json = createTransport({ jsonTransport: true });
    const mailer = nodemailerMailer({ transporter: json, from: FROM });
    await expect(mailer.send(message, { signal: new AbortController().signal })).resolves.toBeUndefined();
    expect(() => nodemailerMailer({ transporter: createTransport({ streamTransport: true }), from: FROM })).not.toThrow();
    expect(() => nodemailerMailer({ transporter: { sendMail: () => Promise.resolve({}) }, from: FROM })).not.toThrow();
  });

  it('refuses a transporter that logs (its logs name recipients), unless allowed', () => {
    // nodemailer logs its own creation; kept out of the test output.
    const output = captureOutput();
    try {
      for (const options of [{ logger: true }, { debug: true }, { logger: { info: () => undefined } }]) {
        const transporter = createTransport({ host: 'localhost', port: 1025, ...options });
        expect(refused({ transporter, from: FROM }).message).toMatch(
          /^npuser: nodemailerMailer options\.transporter logs .*allowTransportLogging/,
        );
        expect(() => nodemailerMailer({ transporter, from: FROM, allowTransportLogging: true })).not.toThrow();
      }
      expect(verdict('smtp://localhost:1025?debug=true')).toMatch(/logs/);
    } finally {
      output.restore();
    }
  });
});

describe('options are validated at construction, in one format', () => {
  const transporter = createTransport({ host: 'localhost', port: 1025 });

  it.each<[string, unknown]>([
    ['no options', undefined],
    ['null', null],
    ['an array', []],
  ])('%s → npuser: nodemailerMailer(options) takes an options object', (_name, options) => {
    const err = thrown(() => nodemailerMailer(options as NodemailerMailerOptions));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('npuser: nodemailerMailer(options) takes an options object');
  });

  it.each<[string, unknown, string, RegExp]>([
    ['no transporter', { from: FROM }, 'transporter', /must be a nodemailer transporter/],
    ['a transporter without sendMail', { transporter: {}, from: FROM }, 'transporter', /sendMail/],
    [
      'transport options (the mailer no longer creates transporters)',
      { transporter, transport: 'smtp://localhost', from: FROM },
      'transport',
      /nodemailer\.createTransport/,
    ],
    ['a createTransport function', { transporter, createTransport, from: FROM }, 'createTransport', /is not supported/],
    ['no from', { transporter }, 'from', /sender address/],
    ['from without @', { transporter, from: 'nobody' }, 'from', /sender address/],
    ['from with a line break', { transporter, from: 'a@b.example\r\nBcc: eve@evil.example' }, 'from', /sender address/],
    [
      'from object with a line break in the name',
      { transporter, from: { name: 'A\nBcc: x', address: 'a@b.example' } },
      'from',
      /sender address/,
    ],
    ['sendTimeoutMs 0', { transporter, from: FROM, sendTimeoutMs: 0 }, 'sendTimeoutMs', /must be an integer from 1 to 120000/],
    ['sendTimeoutMs 1.5', { transporter, from: FROM, sendTimeoutMs: 1.5 }, 'sendTimeoutMs', /integer/],
    ['sendTimeoutMs over 120 s', { transporter, from: FROM, sendTimeoutMs: 120_001 }, 'sendTimeoutMs', /integer/],
    ['sendTimeoutMs a string', { transporter, from: FROM, sendTimeoutMs: '10000' }, 'sendTimeoutMs', /integer/],
    [
      'allowTransportLogging a string',
      { transporter, from: FROM, allowTransportLogging: 'no' },
      'allowTransportLogging',
      /must be a boolean/,
    ],
    ['render not a function', { transporter, from: FROM, render: 'html' }, 'render', /must be a function/],
    ['codeInSubject not a boolean', { transporter, from: FROM, codeInSubject: 'true' }, 'codeInSubject', /must be a boolean/],
    ['an unknown defaultLocale', { transporter, from: FROM, defaultLocale: 'nl' }, 'defaultLocale', /"nl" has no strings/],
    ['strings not an object', { transporter, from: FROM, strings: 'en' }, 'strings', /must be an object/],
    [
      'a misspelt string key',
      { transporter, from: FROM, strings: { en: { subjet: 'x' } } },
      'strings["en"].subjet',
      /is not a message string/,
    ],
    [
      '{code} in the default subject',
      { transporter, from: FROM, strings: { en: { subject: 'Code {code}' } } },
      'strings["en"].subject',
      /\{code\}/,
    ],
    ['a new language missing strings', { transporter, from: FROM, strings: { nl: { subject: 'Je code' } } }, 'strings["nl"]', /lacks/],
    [
      'a string that is not a string',
      { transporter, from: FROM, strings: { en: { subject: 42 } } },
      'strings["en"].subject',
      /must be a string/,
    ],
    ['a language tag that is not one', { transporter, from: FROM, strings: { 'not a tag!': {} } }, 'strings', /BCP 47/],
  ])('%s → TypeError naming options.%s', (_name, options, name, expectation) => {
    const err = thrown(() => nodemailerMailer(options as NodemailerMailerOptions));
    expect(err).toBeInstanceOf(TypeError);
    const text = (err as Error).message;
    expect(text.startsWith(`npuser: nodemailerMailer options.${name} `), text).toBe(true);
    expect(text).toMatch(expectation);
  });
});
