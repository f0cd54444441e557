import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore, type CodeMessage } from 'npuser';
import {
  nodemailerMailer,
  type NodemailerMailerOptions,
  type NodemailerMessage,
  type NodemailerTransporter,
} from 'npuser/mailers/nodemailer';
import { codeMessage, signal } from '../support/code-message.js';
import { headerAddresses, SMTP_HOST, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../support/smtp-server.js';

const SECRET = 'nodemailer test secret: at least 32 bytes!';
const FROM = 'npuser tests <no-reply@npuser.test>';
const HOSTILE_APP_NAME = '<script>alert(1)</script> & "quotes"';

let server: TestSmtpServer;

beforeAll(async () => {
  server = await startSmtpServer();
});

afterAll(async () => {
  await server.close();
});

/** A transporter to the test server: STARTTLS required, the test certificate trusted, nothing else. */
function transporter(extra: Record<string, unknown> = {}) {
  return createTransport({
    host: SMTP_HOST,
    port: server.port,
    secure: false,
    requireTLS: true,
    tls: { ca: server.ca },
    ...extra,
  });
}

/** Send one message and return what the server received for it. */
async function deliver(msg: CodeMessage, options: Partial<NodemailerMailerOptions> = {}): Promise<ReceivedMail> {
  const before = server.received.length;
  await nodemailerMailer({ transporter: transporter(), from: FROM, ...options }).send(msg, { signal: signal() });
  expect(server.received).toHaveLength(before + 1);
  return server.received[before]!;
}

describe('nodemailerMailer over real SMTP (STARTTLS, in-process server)', () => {
  it('delivers one message to exactly the canonical address, in the envelope and the To header', async () => {
    const mail = await deliver(codeMessage());
    expect(mail.secure).toBe(true);
    expect(mail.rcptTo).toEqual(['ada@example.com']);
    expect(mail.mailFrom).toBe('no-reply@npuser.test');
    expect(headerAddresses(mail.parsed.to)).toEqual(['ada@example.com']);
    expect(mail.parsed.cc).toBeUndefined();
    expect(mail.parsed.bcc).toBeUndefined();
    expect(mail.raw).not.toMatch(/^(cc|bcc):/im);
    expect(mail.parsed.from?.value).toEqual([{ name: 'npuser tests', address: 'no-reply@npuser.test' }]);
    // Auto-responders (vacation replies) must not answer a sign-in code.
    expect(mail.parsed.headers.get('auto-submitted')).toBe('auto-generated');
  });

  it('sends a text part and an HTML part, the code in both bodies and not in the subject', async () => {
    const mail = await deliver(codeMessage());
    const { subject, text, html } = mail.parsed;
    expect(subject).toBe('Your My blog sign-in code');
    expect(subject).not.toMatch(/042|917/);
    expect(text).toContain('042 917');
    expect(typeof html).toBe('string');
    const htmlText = (html as string).replace(/<[^>]*>/g, '');
    expect(htmlText).toContain('042917');
    expect(mail.raw).toMatch(/Content-Type: multipart\/alternative/i);
    expect(mail.raw).toMatch(/Content-Type: text\/plain/i);
    expect(mail.raw).toMatch(/Content-Type: text\/html/i);
  });

  it('loads nothing remote and links nowhere: no <img src="http", no http at all in the HTML', async () => {
    const mail = await deliver(codeMessage());
    const html = mail.parsed.html as string;
    expect(html).not.toMatch(/<img\b/i);
    expect(html).not.toMatch(/<a\b/i);
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/<link\b|<script\b|@import|url\(/i);
    expect(mail.parsed.text).not.toMatch(/https?:/i);
  });

  it.each([
    ['en', 'Your My blog sign-in code', 'It works once, for 10 minutes.'],
    ['fr', 'Votre code de connexion à My blog', 'Il ne fonctionne qu’une fois, pendant 10 minutes.'],
    ['fr-CA', 'Votre code de connexion à My blog', 'pendant 10\u00a0minutes'],
    ['de', 'Ihr Anmeldecode für My blog', 'Er gilt 10 Minuten lang und nur ein einziges Mal.'],
    ['de-AT', 'Ihr Anmeldecode für My blog', '10 Minuten'],
    ['es', 'Tu código de acceso a My blog', 'Funciona una sola vez, durante 10 minutos.'],
    ['pt', 'Código de acesso para My blog', 'Funciona uma única vez, durante 10 minutos.'],
    ['pt-BR', 'Código de acesso para My blog', 'durante 10 minutos'],
    ['ja', 'Your My blog sign-in code', 'It works once, for 10 minutes.'],
  ])('locale %s: subject and text in the right language', async (locale, subject, lifetime) => {
    const mail = await deliver(codeMessage({ locale }));
    expect(mail.parsed.subject).toBe(subject);
    expect(mail.parsed.text).toContain(lifetime);
    expect(mail.parsed.html).toContain(`lang="${locale.split('-')[0] === 'ja' ? 'en' : locale.split('-')[0]!.toLowerCase()}"`);
  });

  it('escapes a hostile appName in the HTML and keeps it intact in the text', async () => {
    const mail = await deliver(codeMessage({ appName: HOSTILE_APP_NAME }));
    const html = mail.parsed.html as string;
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('"quotes"');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;');
    expect(mail.parsed.text).toContain(HOSTILE_APP_NAME);
    expect(mail.parsed.subject).toBe(`Your ${HOSTILE_APP_NAME} sign-in code`);
  });

  it('escapes app strings in the HTML too', async () => {
    const mail = await deliver(codeMessage(), { strings: { en: { intro: 'Code for <b>{appName}</b> & co:' } } });
    expect(mail.parsed.html).toContain('Code for &lt;b&gt;My blog&lt;/b&gt; &amp; co:');
    expect(mail.parsed.text).toContain('Code for <b>My blog</b> & co:');
  });

  it('puts the code in the subject only with codeInSubject: true', async () => {
    const mail = await deliver(codeMessage(), { codeInSubject: true });
    expect(mail.parsed.subject).toBe('042917 is your My blog sign-in code');
  });

  it('a custom render replaces the message; the text part must still carry the code', async () => {
    const render = (m: CodeMessage) => ({ subject: `Welcome to ${m.appName}`, text: `Code: ${m.code}`, html: '' });
    const mail = await deliver(codeMessage(), { render });
    expect(mail.parsed.subject).toBe('Welcome to My blog');
    expect(mail.parsed.text?.trim()).toBe('Code: 042917');
    // An empty html sends the text part alone.
    expect(mail.parsed.html).toBe(false);
    expect(mail.raw).not.toMatch(/text\/html/i);

    const mailer = nodemailerMailer({
      transporter: transporter(),
      from: FROM,
      render: () => ({ subject: 'Hi', text: 'no code here', html: '' }),
    });
    await expect(mailer.send(codeMessage(), { signal: signal() })).rejects.toThrow(/does not contain the code/);
    const leaky = nodemailerMailer({
      transporter: transporter(),
      from: FROM,
      render: (m) => ({ subject: m.code, text: m.code, html: '' }),
    });
    await expect(leaky.send(codeMessage(), { signal: signal() })).rejects.toThrow(/subject contains the code/);
  });

  it('keeps a code with leading zeros and an 8-digit code intact', async () => {
    const mail = await deliver(codeMessage({ code: '00731205' }));
    expect(mail.parsed.text).toContain('007 312 05');
    expect((mail.parsed.html as string).replace(/<[^>]*>/g, '')).toContain('00731205');
  });

  it('ignores Cc and Bcc defaults of the transporter: the envelope names message.to alone', async () => {
    const withDefaults = createTransport(
      { host: SMTP_HOST, port: server.port, requireTLS: true, tls: { ca: server.ca } },
      { cc: 'audit@example.org', bcc: 'archive@example.org' },
    );
    const before = server.received.length;
    await nodemailerMailer({ transporter: withDefaults, from: FROM }).send(codeMessage(), { signal: signal() });
    const mail = server.received[before]!;
    expect(mail.rcptTo).toEqual(['ada@example.com']);
    expect(mail.parsed.cc).toBeUndefined();
    expect(mail.raw).not.toContain('example.org');
  });

  it('works with a transporter nodemailer made from an SMTP URL, and leaves it to the app (nothing to close)', async () => {
    const fromUrl = createTransport({ url: `smtp://${SMTP_HOST}:${server.port}`, requireTLS: true, tls: { ca: server.ca } });
    const mailer = nodemailerMailer({ transporter: fromUrl, from: { name: 'npuser tests', address: 'no-reply@npuser.test' } });
    // The mailer owns nothing: no close() of its own, and the transporter stays usable.
    expect(Object.keys(mailer)).toEqual(['send']);
    const before = server.received.length;
    await mailer.send(codeMessage({ to: 'grace@example.com' }), { signal: signal() });
    await mailer.send(codeMessage({ to: 'ada@example.com' }), { signal: signal() });
    expect(server.received.slice(before).map((m) => [m.rcptTo, m.secure])).toEqual([
      [['grace@example.com'], true],
      [['ada@example.com'], true],
    ]);
    fromUrl.close();
  });

  it('refuses a message.to that is not exactly one address, before connecting', async () => {
    const mailer = nodemailerMailer({ transporter: transporter(), from: FROM });
    const before = server.received.length;
    for (const to of [
      'a@example.com, b@example.com',
      'a@example.com b@example.com',
      'Ada <a@example.com>',
      'a@example.com\r\nBcc: b@example.com',
      'a\u0000@example.com',
      '',
    ]) {
      await expect(mailer.send(codeMessage({ to }), { signal: signal() })).rejects.toThrow(/exactly one address/);
    }
    expect(server.received).toHaveLength(before);
  });

  it('a real transporter type-checks as NodemailerTransporter, and sendMail gets one recipient', async () => {
    const real: NodemailerTransporter = transporter();
    const seen: NodemailerMessage[] = [];
    const spy: NodemailerTransporter = {
      sendMail: (mail) => {
        seen.push(mail);
        return real.sendMail(mail);
      },
      // The inner transport is what the TLS policy reads.
      ...(real.transporter === undefined ? {} : { transporter: real.transporter }),
    };
    await nodemailerMailer({ transporter: spy, from: FROM }).send(codeMessage(), { signal: signal() });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ to: 'ada@example.com', envelope: { to: ['ada@example.com'] }, cc: undefined, bcc: undefined });
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal);
  });
});

describe('NpUser → nodemailerMailer → SMTP → verifyCode: the whole sign-in', () => {
  it('signs in with the code read out of the received mail', async () => {
    const store = memoryCodeStore();
    const np = new NpUser({
      secret: SECRET,
      appName: 'Full flow',
      store,
      mailer: nodemailerMailer({ transporter: transporter(), from: FROM }),
    });
    const before = server.received.length;
    const { email } = await np.requestCode('  Ada.Lovelace@Example.COM ', { locale: 'de-CH' });
    expect(email).toBe('ada.lovelace@example.com');

    const mail = server.received[before]!;
    expect(mail.secure).toBe(true);
    expect(mail.rcptTo).toEqual(['ada.lovelace@example.com']);
    expect(mail.parsed.subject).toBe('Ihr Anmeldecode für Full flow');
    // What a person does: read the grouped code in the text and type it.
    const typed = /^ {4}([\d ]+)$/m.exec(mail.parsed.text ?? '')?.[1];
    expect(typed).toMatch(/^\d{3} \d{3}$/);
    expect(mail.parsed.subject).not.toContain(typed!.replace(' ', ''));

    const { token, subject } = await np.verifyCode(email, typed!);
    expect((await np.validateToken(token)).subject).toBe(subject);
    // Single use: the same code again is refused.
    const again = await np.verifyCode(email, typed!).catch((err: unknown) => err);
    expect(isNpUserError(again, 'ERR_NPUSER_INVALID_CODE')).toBe(true);
  });
});
