// What a real SMTP server can do wrong, through NpUser: each fault must end in
// ERR_NPUSER_MAILER_FAILED with the code deleted, a clean cause, and nothing
// printed that identifies the user.
import { inspect } from 'node:util';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore, type MemoryCodeStore } from 'npuser';
import { nodemailerMailer, type NodemailerMailerOptions } from 'npuser/mailers/nodemailer';
import { SMTP_HOST, startSilentServer, startSmtpServer, waitFor, type SilentServer, type TestSmtpServer } from '../support/smtp-server.js';
import { captureOutput } from '../support/output.js';
import { reachableStrings } from '../support/reachable-strings.js';
import { collectUnhandledRejections } from '../support/unhandled-rejections.js';

const SECRET = 'smtp fault test secret, at least 32 bytes!';
const EMAIL = 'grace.hopper@example.com';
const CODE = '308154';
const SENSITIVE = [EMAIL, 'grace.hopper', CODE, '308 154'];

// No fault may surface as an unhandled rejection (a late reply, an abandoned send).
const unhandled = collectUnhandledRejections();

let server: TestSmtpServer;
let silent: SilentServer;

beforeAll(async () => {
  [server, silent] = await Promise.all([startSmtpServer(), startSilentServer()]);
});

afterAll(async () => {
  await Promise.all([server.close(), silent.close()]);
});

interface Flow {
  np: NpUser;
  store: MemoryCodeStore;
}

function flow(mailer: NodemailerMailerOptions, npOptions: { mailerTimeoutMs?: number } = {}): Flow {
  const store = memoryCodeStore();
  const np = new NpUser({
    secret: SECRET,
    store,
    generateCode: () => CODE,
    mailer: nodemailerMailer(mailer),
    mailerTimeoutMs: npOptions.mailerTimeoutMs ?? 5000,
  });
  return { np, store };
}

/** A STARTTLS transporter to the test server, trusting its certificate. */
const trusted = (port = server.port, extra: Record<string, unknown> = {}) =>
  createTransport({ host: SMTP_HOST, port, requireTLS: true, tls: { ca: server.ca }, ...extra });

/**
 * Request a code through a failing mailer and check every promise of a failed send:
 * the typed error, a clean cause, the code gone, nothing printed. Returns the cause.
 */
async function failsClosed({ np, store }: Flow): Promise<Error> {
  const output = captureOutput();
  let err: unknown;
  let verify: unknown;
  try {
    err = await np.requestCode(EMAIL).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The code the server received, or would have: refused, and it is not in the store.
    verify = await np.verifyCode(EMAIL, CODE).catch((e: unknown) => e);
  } finally {
    output.restore();
  }
  expect(isNpUserError(err, 'ERR_NPUSER_MAILER_FAILED'), `expected ERR_NPUSER_MAILER_FAILED, got ${inspect(err)}`).toBe(true);
  expect(isNpUserError(verify, 'ERR_NPUSER_INVALID_CODE'), `the code still works: ${inspect(verify)}`).toBe(true);
  expect(store.entries().filter((e) => e.key.endsWith(':code'))).toEqual([]);

  const texts = [...reachableStrings(err), inspect(err, { depth: 20, showHidden: true }), output.text()];
  for (const text of texts) {
    for (const secret of SENSITIVE) expect(text.toLowerCase(), `leaked ${secret}`).not.toContain(secret);
  }
  expect(output.text()).toBe('');
  const cause = (err as Error).cause;
  expect(cause).toBeInstanceOf(Error);
  return cause as Error;
}

describe('SMTP faults end in ERR_NPUSER_MAILER_FAILED, the code deleted, nothing logged', () => {
  it('the server refuses the recipient (550), echoing the address in its reply', async () => {
    server.refuseNextRecipient(550);
    const cause = await failsClosed(flow({ transporter: trusted(), from: 'App <no-reply@app.example>' }));
    expect(cause.message).toBe('SMTP delivery failed: EENVELOPE (550, RCPT TO)');
    expect((cause as Error & { code?: string }).code).toBe('EENVELOPE');
  });

  it('the server defers the recipient (451)', async () => {
    server.refuseNextRecipient(451);
    const cause = await failsClosed(flow({ transporter: trusted(), from: 'App <no-reply@app.example>' }));
    expect(cause.message).toMatch(/^SMTP delivery failed: EENVELOPE \(451/);
  });

  it('the connection drops at MAIL FROM', async () => {
    server.dropNext('mail-from');
    const cause = await failsClosed(flow({ transporter: trusted(), from: 'App <no-reply@app.example>' }));
    expect(cause.message).toMatch(/^SMTP delivery failed: E[A-Z]+/);
  });

  it('the connection drops in the middle of DATA (the message was half sent)', async () => {
    server.dropNext('data');
    const before = server.received.length;
    const cause = await failsClosed(flow({ transporter: trusted(), from: 'App <no-reply@app.example>' }));
    expect(cause.message).toMatch(/^SMTP delivery failed: E[A-Z]+/);
    expect(server.received).toHaveLength(before);
  });

  it('nobody listens: connection refused', async () => {
    const closed = await startSilentServer();
    await closed.close();
    const cause = await failsClosed(flow({ transporter: trusted(closed.port), from: 'App <no-reply@app.example>' }));
    expect(cause.message).toBe('SMTP delivery failed: ESOCKET (CONN, ECONNREFUSED)');
  });

  it('a server that never answers: sendTimeoutMs fires, and the connection is closed', async () => {
    const started = Date.now();
    const opened = silent.accepted();
    const cause = await failsClosed(flow({ transporter: trusted(silent.port), from: 'App <no-reply@app.example>', sendTimeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(cause.message).toBe('mail delivery timed out after 300 ms (sendTimeoutMs)');
    expect(silent.accepted()).toBe(opened + 1);
    // nodemailer 10.5+ honours the signal: the abandoned connection does not linger for minutes.
    await waitFor(() => silent.open() === 0, 2000, 'the client to close its connection');
  });

  it('a server that never answers: npuser’s mailerTimeoutMs fires first, and aborts the send', async () => {
    const started = Date.now();
    const cause = await failsClosed(
      flow({ transporter: trusted(silent.port), from: 'App <no-reply@app.example>' }, { mailerTimeoutMs: 300 }),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(cause.name).toBe('TimeoutError');
    await waitFor(() => silent.open() === 0, 2000, 'the aborted send to close its connection');
  });

  it('an SMTP server that accepts the connection but never greets', async () => {
    server.hangNext();
    const cause = await failsClosed(flow({ transporter: trusted(), from: 'App <no-reply@app.example>', sendTimeoutMs: 300 }));
    expect(cause.message).toMatch(/timed out after 300 ms/);
  });

  it('a certificate that does not verify (self-signed, not trusted): no message leaves', async () => {
    const before = server.received.length;
    const untrusted = createTransport({ host: SMTP_HOST, port: server.port, requireTLS: true });
    const cause = await failsClosed(flow({ transporter: untrusted, from: 'App <no-reply@app.example>' }));
    expect(cause.message).toMatch(/^SMTP delivery failed: E[A-Z]+ \(CONN, (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)$/);
    expect(server.received).toHaveLength(before);
  });

  it('after every fault the server still delivers: the faults were one send each', async () => {
    const store = memoryCodeStore();
    const np = new NpUser({
      secret: SECRET,
      store,
      mailer: nodemailerMailer({ transporter: trusted(), from: 'App <no-reply@app.example>' }),
    });
    const before = server.received.length;
    await np.requestCode(EMAIL);
    expect(server.received[before]?.rcptTo).toEqual([EMAIL]);
  });

  it('no unhandled rejection fired during this file', async () => {
    for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });
});
