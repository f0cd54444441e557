// @ts-check
// The npuser demo: `npm start`, open the URL, sign in with the code printed here.
//
//   PORT=3456 npm start                    pick another port (0: any free port)
//   NPUSER_SECRET="$(openssl rand -base64 32)" npm start
//                                          keep sessions across restarts
//   SMTP_URL='smtps://user:pass@smtp.example.com:465' SMTP_FROM='Demo <no-reply@example.com>' npm start
//                                          email the codes for real instead of printing them
//                                          (or smtp://…:587?requireTLS=true; plain smtp:// only to this machine)
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import nodemailer from 'nodemailer';
import { NpUser, consoleMailer } from 'npuser';
import { nodemailerMailer } from 'npuser/mailers/nodemailer';
import { createDemoApp, devMailbox } from './app.js';

// Loopback only: the demo prints sign-in codes, it has no business on the network.
const HOST = '127.0.0.1';
const DEFAULT_PORT = 3000;
const SHUTDOWN_GRACE_MS = 5000;

/**
 * @param {string} message
 * @returns {never}
 */
function die(message) {
  console.error(`\n  npuser demo: ${message}\n`);
  process.exit(1);
}

/** @param {string | undefined} value */
function parsePort(value) {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65_535) die(`PORT must be a number from 0 to 65535, not "${value}".`);
  return port;
}

const port = parsePort(process.env.PORT);
const envSecret = process.env.NPUSER_SECRET;
const secretFromEnv = envSecret !== undefined && envSecret !== '';
if (secretFromEnv && Buffer.byteLength(envSecret) < 32) {
  die('NPUSER_SECRET must be at least 32 bytes. Try: NPUSER_SECRET="$(openssl rand -base64 32)" npm start');
}
const secret = secretFromEnv ? envSecret : randomBytes(32).toString('base64url');

const smtpUrl = process.env.SMTP_URL === '' ? undefined : process.env.SMTP_URL;
const smtpFrom = process.env.SMTP_FROM || 'npuser demo <no-reply@localhost>';
/** Where mail goes, for the banner: host and port only, never the credentials in the URL. */
let smtpTarget = '';
/** @type {import('npuser').Mailer | undefined} */
let mailer;
if (smtpUrl !== undefined) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(smtpUrl);
  } catch {
    die('SMTP_URL must be a URL such as smtp://user:pass@smtp.example.com:587?requireTLS=true or smtps://user:pass@smtp.example.com:465');
  }
  smtpTarget = `${url.hostname}:${url.port || (url.protocol === 'smtps:' ? '465' : '587')}`;
  // nodemailer reads the URL (smtps://, ?requireTLS=true, ?tls.…); npuser then refuses a transporter
  // that would send to another machine without TLS. A local catcher (Mailpit, MailHog) may stay plain.
  const transporter = nodemailer.createTransport(smtpUrl);
  try {
    mailer = nodemailerMailer({ transporter, from: smtpFrom });
  } catch (err) {
    transporter.close();
    die(
      `${err instanceof Error ? err.message : String(err)}\n\n` +
        '  In SMTP_URL: smtps://user:pass@host:465, or smtp://user:pass@host:587?requireTLS=true.',
    );
  }
}

/** @type {import('./app.js').DevMailbox | undefined} */
let mailbox;
/** @type {NpUser} */
let np;
try {
  // No SMTP_URL: the console mailer prints codes to this terminal, and /dev/mailbox shows them.
  if (!mailer) mailbox = devMailbox(consoleMailer());
  // No store: state stays in memory.
  np = new NpUser({ secret, appName: 'npuser demo', audience: 'npuser-demo', mailer: mailer ?? mailbox?.mailer });
} catch (err) {
  if (process.env.NODE_ENV === 'production') {
    die('the demo prints sign-in codes to the terminal, which npuser refuses under NODE_ENV=production. Unset NODE_ENV to run it.');
  }
  die(err instanceof Error ? err.message : String(err));
}

const server = createServer(createDemoApp({ np, delivery: mailer ? 'email' : 'console', ...(mailbox ? { mailbox } : {}) }));
// A slow or silent client gets cut off instead of holding a socket forever.
server.headersTimeout = 10_000;
server.requestTimeout = 30_000;

server.on('error', (err) => {
  if ('code' in err && err.code === 'EADDRINUSE') {
    die(`port ${port} is already in use. Try another one: PORT=3001 npm start`);
  }
  die(`the server failed: ${err.message}`);
});

server.listen(port, HOST, () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://localhost:${actualPort}`;
  console.log(
    [
      '',
      `  npuser demo is running at ${url}`,
      '',
      '  1. Open that address in your browser and enter any email address.',
      mailer
        ? `  2. Your sign-in code is emailed through ${smtpTarget} (SMTP_URL), from ${smtpFrom}.\n` +
          '     Unset SMTP_URL to have codes printed in this terminal instead.'
        : '  2. Nothing is emailed: your sign-in code is printed right here, in this terminal,\n' +
          `     and shown at ${url}/dev/mailbox.\n` +
          '     Set SMTP_URL (smtps://user:pass@host:465, or smtp://…:587?requireTLS=true) to send real mail.',
      '  3. Type the code in the page, and you are signed in.',
      '',
      secretFromEnv
        ? '  Secret: from NPUSER_SECRET, so sessions survive a restart.'
        : '  Secret: random, made at startup, so sessions end when the demo restarts.\n' +
          '          Set NPUSER_SECRET (32+ bytes) to keep them.',
      '  Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
});

let stopping = false;
/** @param {NodeJS.Signals} signal */
function shutdown(signal) {
  if (stopping) {
    console.log('  Stopping now.');
    process.exit(1);
  }
  stopping = true;
  console.log(`\n  ${signal} received: finishing open requests, then stopping…`);
  const force = setTimeout(() => {
    server.closeAllConnections();
    process.exit(0);
  }, SHUTDOWN_GRACE_MS);
  server.close(() => {
    clearTimeout(force);
    console.log('  npuser demo stopped. Bye!');
    process.exit(0);
  });
  // Idle keep-alive sockets would otherwise hold `close` open until they time out.
  server.closeIdleConnections();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
