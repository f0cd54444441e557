// Real SMTP for the mailer tests: an in-process smtp-server on 127.0.0.1 with
// STARTTLS on a certificate made here, mailparser to read what arrived, and
// the faults a real server can produce (refusal, a dropped connection, silence).
import { createServer, type Server, type Socket } from 'node:net';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { generate } from 'selfsigned';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { DeliveredMail } from 'npuser/testing';

export const SMTP_HOST = '127.0.0.1';

export interface TestCertificate {
  readonly key: string;
  readonly cert: string;
}

let certificate: Promise<TestCertificate> | undefined;

/** A self-signed certificate for localhost and 127.0.0.1, made once per test file. */
export function testCertificate(): Promise<TestCertificate> {
  certificate ??= generate([{ name: 'commonName', value: 'localhost' }], {
    // EC keys are generated in milliseconds; RSA-2048 can take a second.
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: SMTP_HOST },
        ],
      },
    ],
  }).then((pem) => ({ key: pem.private, cert: pem.cert }));
  return certificate;
}

/** One message as the server received it. */
export interface ReceivedMail {
  /** `MAIL FROM`. */
  readonly mailFrom: string | undefined;
  /** Every `RCPT TO`, in order. */
  readonly rcptTo: readonly string[];
  /** Whether the session was encrypted (STARTTLS) when the message came. */
  readonly secure: boolean;
  /** The message as sent, headers and MIME parts. */
  readonly raw: string;
  readonly parsed: ParsedMail;
}

type Fault =
  | { kind: 'refuse-recipient'; responseCode: number }
  | { kind: 'drop-on-mail-from' }
  | { kind: 'drop-on-data' }
  | { kind: 'hang-on-connect' };

export interface TestSmtpServer {
  readonly port: number;
  /** The certificate the server presents: trust it with `tls: { ca: server.ca }`. */
  readonly ca: string;
  /** Every message accepted so far, oldest first. */
  readonly received: readonly ReceivedMail[];
  /** The next `RCPT TO` is refused with `responseCode`, echoing the address as real servers do. */
  refuseNextRecipient(responseCode?: number): void;
  /** The next session's connection is destroyed at `MAIL FROM` or in the middle of `DATA`. */
  dropNext(stage: 'mail-from' | 'data'): void;
  /** The next connection never gets a greeting: the server stays silent until the client leaves. */
  hangNext(): void;
  /** Connections open right now. */
  openConnections(): number;
  close(): Promise<void>;
}

/**
 * An SMTP server on 127.0.0.1 (random port) that insists on STARTTLS before
 * `MAIL FROM`, so every accepted message crossed an encrypted session.
 * `plain: true` makes a local mail catcher instead (no STARTTLS offered), like Mailpit.
 */
export async function startSmtpServer({ plain = false }: { plain?: boolean } = {}): Promise<TestSmtpServer> {
  const { key, cert } = await testCertificate();
  const received: ReceivedMail[] = [];
  const faults: Fault[] = [];
  const sockets = new Map<number, Socket>();
  const held: (() => void)[] = [];

  const dropSession = (session: SMTPServerSession) => {
    sockets.get(session.remotePort)?.destroy();
  };

  const server = new SMTPServer({
    secure: false,
    key,
    cert,
    authOptional: true,
    disabledCommands: plain ? ['AUTH', 'STARTTLS'] : ['AUTH'],
    disableReverseLookup: true,
    logger: false,
    size: 1024 * 1024,
    socketTimeout: 5000,
    closeTimeout: 200,
    onConnect(_session, callback) {
      if (faults[0]?.kind === 'hang-on-connect') {
        faults.shift();
        // Never answered: no greeting. Released on close so nothing lingers.
        held.push(() => {
          callback(new Error('closing'));
        });
        return;
      }
      callback();
    },
    onMailFrom(_address, session, callback) {
      if (!plain && !session.secure) {
        callback(Object.assign(new Error('Must issue a STARTTLS command first'), { responseCode: 530 }));
        return;
      }
      if (faults[0]?.kind === 'drop-on-mail-from') {
        faults.shift();
        dropSession(session);
        return;
      }
      callback();
    },
    onRcptTo(address, _session, callback) {
      const fault = faults[0];
      if (fault?.kind === 'refuse-recipient') {
        faults.shift();
        // Like Postfix: the reply quotes the address, which must never reach an npuser error.
        const error = new Error(`<${address.address}>: Recipient address rejected: User unknown in local recipient table`);
        callback(Object.assign(error, { responseCode: fault.responseCode }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      if (faults[0]?.kind === 'drop-on-data') {
        faults.shift();
        stream.once('data', () => {
          dropSession(session);
        });
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            received.push({
              mailFrom: session.envelope.mailFrom === false ? undefined : session.envelope.mailFrom.address,
              rcptTo: session.envelope.rcptTo.map((r) => r.address),
              secure: session.secure,
              raw: raw.toString('utf8'),
              parsed,
            });
            // Recorded before the 250 goes out: once sendMail resolves, the test can read it.
            callback();
          },
          (error: unknown) => {
            callback(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
    },
  });
  server.on('error', () => undefined);
  server.server.on('connection', (socket: Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    sockets.set(port, socket);
    socket.once('close', () => sockets.delete(port));
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, SMTP_HOST, () => {
      const address = server.server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });

  return {
    port,
    ca: cert,
    received,
    refuseNextRecipient(responseCode = 550) {
      faults.push({ kind: 'refuse-recipient', responseCode });
    },
    dropNext(stage) {
      faults.push({ kind: stage === 'data' ? 'drop-on-data' : 'drop-on-mail-from' });
    },
    hangNext() {
      faults.push({ kind: 'hang-on-connect' });
    },
    openConnections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const release of held.splice(0)) release();
        for (const socket of sockets.values()) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A TCP server that accepts connections and never says a word: an SMTP server that hangs. */
export interface SilentServer {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections still open. */
  readonly open: () => number;
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, SMTP_HOST, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
  return {
    port,
    accepted: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Every address in a parsed `To`/`Cc` header. */
export function headerAddresses(field: AddressObject | AddressObject[] | undefined): string[] {
  if (field === undefined) return [];
  return (Array.isArray(field) ? field : [field]).flatMap((group) =>
    group.value.flatMap((a) => (a.address === undefined ? [] : [a.address])),
  );
}

/** What the Mailer contract reads of a received message. */
export function asDelivered(mail: ReceivedMail): DeliveredMail {
  const { parsed } = mail;
  return {
    recipients: mail.rcptTo,
    headerRecipients: [...headerAddresses(parsed.to), ...headerAddresses(parsed.cc)],
    ...(parsed.subject === undefined ? {} : { subject: parsed.subject }),
    text: parsed.text ?? '',
    ...(typeof parsed.html === 'string' ? { html: parsed.html } : {}),
  };
}

/** Wait until `condition()` holds, for at most `ms`. */
export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
