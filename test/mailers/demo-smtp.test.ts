// `npm start` with SMTP_URL set: the demo (examples/demo/server.js, on the built
// package) sends real mail through SMTP instead of printing the code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoProcess } from '../support/demo-process.js';
import { assertBuilt } from '../support/dist.js';
import { startSmtpServer, waitFor, type TestSmtpServer } from '../support/smtp-server.js';

const WAIT_MS = 15_000;

/** The demo with SMTP_URL and SMTP_FROM unset unless `env` sets them. */
const startDemo = (env: Record<string, string>) => new DemoProcess({ env: { SMTP_URL: '', SMTP_FROM: '', ...env }, waitMs: WAIT_MS });

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('the demo with SMTP_URL', () => {
  let smtp: TestSmtpServer;
  let demo: DemoProcess | undefined;
  let base = '';

  beforeAll(async () => {
    assertBuilt(['index.js']);
    // A local mail catcher, as developers run one (Mailpit, MailHog): plain SMTP on loopback.
    smtp = await startSmtpServer({ plain: true });
    demo = startDemo({ SMTP_URL: `smtp://user:secret-pass@127.0.0.1:${smtp.port}`, SMTP_FROM: 'Demo <demo@npuser.test>' });
    await waitFor(
      () => /running at http:\/\/localhost:\d+/.test(demo!.output) || demo!.child.exitCode !== null,
      WAIT_MS,
      'the demo banner',
    );
    const port = /running at http:\/\/localhost:(\d+)/.exec(demo.output)?.[1];
    if (port === undefined) throw new Error(`the demo did not start:\n${demo.output}`);
    base = `http://localhost:${port}`;
  });

  afterAll(async () => {
    await demo?.stop();
    await smtp.close();
  });

  it('says in its banner that codes are emailed, where to, and never prints the password', () => {
    const output = demo!.output;
    expect(output).toContain(`emailed through 127.0.0.1:${smtp.port} (SMTP_URL), from Demo <demo@npuser.test>`);
    expect(output).not.toContain('printed right here');
    expect(output).not.toContain('secret-pass');
  });

  it('emails the code, which signs the visitor in; the terminal shows no code', async () => {
    const before = smtp.received.length;
    const requested = await fetch(`${base}/auth/code`, {
      method: 'POST',
      headers: FORM,
      body: 'email=Ada%40Example.com',
      redirect: 'manual',
    });
    expect(requested.status).toBe(303);
    expect(requested.headers.get('location')).toBe('/?npuser=sent');
    await waitFor(() => smtp.received.length > before, WAIT_MS, 'the mail');
    const mail = smtp.received[before]!;
    expect(mail.rcptTo).toEqual(['ada@example.com']);
    expect(mail.mailFrom).toBe('demo@npuser.test');
    expect(mail.parsed.subject).toBe('Your npuser demo sign-in code');
    const code = /^ {4}([\d ]+)$/m.exec(mail.parsed.text ?? '')?.[1]?.replace(/ /g, '');
    expect(code).toMatch(/^\d{6}$/);
    expect(demo!.output).not.toContain(code!);
    expect(demo!.output).not.toContain('CODE:');

    const verified = await fetch(`${base}/auth/verify`, {
      method: 'POST',
      headers: FORM,
      body: `email=ada%40example.com&code=${code!}`,
      redirect: 'manual',
    });
    expect(verified.status).toBe(303);
    expect(verified.headers.get('location')).toBe('/me');
    expect(verified.headers.get('set-cookie')).toMatch(/^npuser_session=/);
  });
});

describe('the demo with a bad SMTP_URL', () => {
  it('stops at once with a plain explanation', async () => {
    const demo = startDemo({ SMTP_URL: 'not a url' });
    const timeout = new Promise<'timeout'>((resolve) => {
      setTimeout(() => {
        resolve('timeout');
      }, WAIT_MS).unref();
    });
    const code = await Promise.race([demo.exited, timeout]);
    if (code === 'timeout') await demo.stop();
    expect(code).toBe(1);
    expect(demo.output).toContain('SMTP_URL must be a URL such as smtp://user:pass@smtp.example.com:587');
  });

  it('an smtp:// URL to another machine without requireTLS stops the demo: nodemailer reads the URL as given, npuser refuses it', async () => {
    // Nothing connects: nodemailer connects on the first send, and the demo stops before serving.
    const demo = startDemo({ SMTP_URL: 'smtp://user:secret-pass@smtp.example.com:587' });
    const timeout = new Promise<'timeout'>((resolve) => {
      setTimeout(() => {
        resolve('timeout');
      }, WAIT_MS).unref();
    });
    const code = await Promise.race([demo.exited, timeout]);
    if (code === 'timeout') await demo.stop();
    expect(code).toBe(1);
    expect(demo.output).toContain(
      'npuser: nodemailerMailer options.transporter connects to smtp.example.com with neither secure nor requireTLS',
    );
    expect(demo.output).toContain('smtp://user:pass@host:587?requireTLS=true');
    expect(demo.output).not.toContain('secret-pass');
  });

  it('without SMTP_URL the banner says codes are printed, and how to send real mail', async () => {
    const demo = startDemo({});
    try {
      await waitFor(() => demo.output.includes('running at'), WAIT_MS, 'the demo banner');
      expect(demo.output).toContain('printed right here, in this terminal');
      expect(demo.output).toContain('Set SMTP_URL (smtps://user:pass@host:465, or smtp://…:587?requireTLS=true) to send real mail.');
    } finally {
      await demo.stop();
    }
  });
});
