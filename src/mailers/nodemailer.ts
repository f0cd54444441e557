/**
 * Real mail delivery through [nodemailer](https://nodemailer.com): SMTP with
 * TLS, or any other nodemailer transport (Amazon SES, sendmail, streams).
 *
 * nodemailer is an optional peer dependency that this subpath never imports:
 * the app creates the transporter with `nodemailer.createTransport()` and
 * hands it over, as it would a client to a store.
 *
 * @module npuser/mailers/nodemailer
 */
import { BlockList, isIP } from 'node:net';
import tls from 'node:tls';
import { mailerRenderer, type MailerMessageOptions } from './template.js';
import { booleanOption, integerOption, optionError, optionsObject } from '../lib/checks.js';
import { isAborted, withDeadline } from '../lib/deadline.js';
import type { CodeMessage, Mailer, MailerSendOptions } from '../types.js';

/**
 * The message `nodemailerMailer` hands to `transporter.sendMail`: one
 * recipient in the `To` header and in the SMTP envelope, no `Cc` or `Bcc`
 * (set to `undefined` so a transporter's defaults cannot add any).
 *
 * @example
 * ```ts
 * import type { NodemailerMessage } from 'npuser/mailers/nodemailer';
 * const seen: NodemailerMessage[] = [];
 * const transporter = { sendMail: async (mail: NodemailerMessage) => void seen.push(mail) };
 * ```
 */
export interface NodemailerMessage {
  /** The sender, as given in the `from` option. */
  readonly from: NodemailerAddress;
  /** The canonical address, and nobody else. */
  readonly to: string;
  /** Always `undefined`: no copies. */
  readonly cc: undefined;
  /** Always `undefined`: no blind copies. */
  readonly bcc: undefined;
  /** The SMTP envelope, set explicitly so that nothing but `to` is ever a recipient. */
  readonly envelope: {
    /** `MAIL FROM`: the sender. */
    readonly from: NodemailerAddress;
    /** `RCPT TO`: the canonical address, alone. */
    readonly to: string[];
  };
  /** The rendered subject. */
  readonly subject: string;
  /** The text/plain part. */
  readonly text: string;
  /** The text/html part, when the rendering has one. */
  readonly html?: string;
  /** Extra headers: `Auto-Submitted: auto-generated`, so auto-responders stay quiet. */
  readonly headers: Readonly<Record<string, string>>;
  /** Aborted when npuser stops waiting or `sendTimeoutMs` passes (nodemailer 10.5+ then closes the connection). */
  readonly signal: AbortSignal;
}

/**
 * A sender address: `'My blog <no-reply@blog.example>'` or `{ name, address }`.
 *
 * @example
 * ```ts
 * import type { NodemailerAddress } from 'npuser/mailers/nodemailer';
 * const from: NodemailerAddress = { name: 'My blog', address: 'no-reply@blog.example' };
 * ```
 */
export type NodemailerAddress =
  | string
  | {
      /** The display name: `My blog`. */
      readonly name: string;
      /** The mailbox: `no-reply@blog.example`. */
      readonly address: string;
    };

/**
 * What `nodemailerMailer` needs of a transporter: the object
 * `nodemailer.createTransport()` returns. Declared here rather than imported,
 * so this package's types do not depend on nodemailer's.
 *
 * @example
 * ```ts
 * import nodemailer from 'nodemailer';
 * import type { NodemailerTransporter } from 'npuser/mailers/nodemailer';
 * const transporter: NodemailerTransporter = nodemailer.createTransport({ host: 'smtp.example.com', port: 587, requireTLS: true });
 * ```
 */
export interface NodemailerTransporter {
  /** Sends one message; resolves with nodemailer's info (`accepted`, `rejected`, …). */
  sendMail(mail: NodemailerMessage): Promise<unknown>;
  /** The transport inside (nodemailer's `transporter.transporter`): read to check SMTP security. */
  readonly transporter?: {
    /** `'SMTP'` or `'SMTP (pool)'` for nodemailer's SMTP transports. */
    readonly name?: unknown;
    /** The transport's resolved options: host, port, `secure`, `requireTLS`, `tls`. */
    readonly options?: unknown;
  };
  /** The options the transporter was created with. */
  readonly options?: unknown;
}

/**
 * Options for {@link nodemailerMailer}.
 *
 * @example
 * ```ts
 * import nodemailer from 'nodemailer';
 * import type { NodemailerMailerOptions } from 'npuser/mailers/nodemailer';
 * const options: NodemailerMailerOptions = {
 *   transporter: nodemailer.createTransport(process.env.SMTP_URL!), // smtps://user:pass@smtp.example.com:465
 *   from: 'My blog <no-reply@blog.example>',
 *   sendTimeoutMs: 8000,
 * };
 * ```
 */
export interface NodemailerMailerOptions extends MailerMessageOptions {
  /**
   * A ready transporter from `nodemailer.createTransport()`. It stays yours:
   * the mailer never closes it, so close it yourself when the app stops.
   */
  transporter: NodemailerTransporter;
  /** The sender, in the `From` header and the envelope: `'My blog <no-reply@blog.example>'`. */
  from: NodemailerAddress;
  /**
   * How long one send may take before it is aborted, in milliseconds (1–120000).
   * npuser's own `mailerTimeoutMs` also aborts it; the shorter one wins.
   * @default 10000
   */
  sendTimeoutMs?: number;
  /**
   * Allow SMTP to a host other than this machine without verified TLS:
   * neither `secure: true` (port 465) nor `requireTLS: true`; `ignoreTLS`,
   * `opportunisticTLS` or `secured` set; a `tls` option other than `ca`,
   * `cert`, `key`, `pfx`, `passphrase`, `crl`, `servername`,
   * `rejectUnauthorized: true` and `minVersion`/`maxVersion` of TLSv1.2 or
   * later; or `NODE_TLS_REJECT_UNAUTHORIZED=0` or a process minimum below
   * TLSv1.2 in force. Without these checks, the code and the address can be
   * read or changed on the way.
   * @default false
   */
  allowInsecureTransport?: boolean;
  /**
   * Allow a transporter that logs (`logger` or `debug` set). nodemailer's logs
   * name every recipient, and npuser promises that nothing it does logs an address.
   * @default false
   */
  allowTransportLogging?: boolean;
}

const WHO = 'nodemailerMailer';
const DEFAULT_SEND_TIMEOUT_MS = 10_000;
const MAX_SEND_TIMEOUT_MS = 120_000;
// What `message.to` must look like: one bare address, nothing a parser could split into two.
// eslint-disable-next-line no-control-regex -- control characters are what this refuses
const SINGLE_ADDRESS = /^[^\s\u0000-\u001f\u007f@,;:<>()[\]"\\]+@[^\s\u0000-\u001f\u007f@,;:<>()[\]"\\]+$/;
// Error details copied into our own message only when they look like codes, never like text.
const SAFE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const SAFE_COMMAND = /^[A-Z][A-Z ]{0,15}$/;

/**
 * Create a {@link Mailer} that sends the sign-in message through a nodemailer
 * transporter: a text and an HTML part (see `renderCodeMessage`) in the
 * reader's language, to exactly one recipient, `message.to`, in both the `To`
 * header and the SMTP envelope.
 *
 * The transporter is the app's, created with `nodemailer.createTransport()`
 * (from options or an SMTP URL): the mailer owns nothing, so there is nothing
 * of it to close. Close the transporter yourself on shutdown.
 *
 * Safe by default, judged on the transporter's resolved options
 * (`transporter.transporter.options`) at construction:
 * - SMTP to any host but this machine must use TLS, `secure: true` (port
 *   465) or `requireTLS: true` (STARTTLS, port 587), and nothing may weaken
 *   its certificate and hostname checks (see `allowInsecureTransport` for the
 *   exact list). Anything else is a `TypeError` unless
 *   `allowInsecureTransport: true`. Other transports (SES, sendmail, streams)
 *   are not checked.
 * - A transporter that logs is refused unless `allowTransportLogging: true`.
 * - A send is aborted after `sendTimeoutMs` or when npuser's signal fires.
 * - A failure rejects with a clean `Error` such as
 *   `SMTP delivery failed: EENVELOPE (550, RCPT TO)`, carrying nodemailer's
 *   `code` and `responseCode` but never the server's reply, which may quote
 *   the address.
 *
 * @throws TypeError when an option is missing or malformed, or the transporter
 * is insecure or logs (see above).
 *
 * @example
 * ```ts
 * import nodemailer from 'nodemailer';
 * import { NpUser } from 'npuser';
 * import { nodemailerMailer } from 'npuser/mailers/nodemailer';
 *
 * const transporter = nodemailer.createTransport({
 *   host: 'smtp.example.com',
 *   port: 587,
 *   requireTLS: true, // STARTTLS or nothing
 *   auth: { user: process.env.SMTP_USER!, pass: process.env.SMTP_PASS! },
 * });
 * const np = new NpUser({
 *   secret: process.env.NPUSER_SECRET!,
 *   appName: 'My blog',
 *   mailer: nodemailerMailer({ transporter, from: 'My blog <no-reply@blog.example>' }),
 * });
 * await np.requestCode('ada@example.com', { locale: 'fr' }); // a French message
 * process.on('SIGTERM', () => transporter.close());
 * ```
 */
export function nodemailerMailer(options: NodemailerMailerOptions): Mailer {
  const given = optionsObject<NodemailerMailerOptions>(WHO, options);
  for (const removed of ['transport', 'createTransport'] as const) {
    if ((given as Record<string, unknown>)[removed] !== undefined) {
      throw optionError(
        WHO,
        removed,
        'is not supported: create the transporter with nodemailer.createTransport(…) and pass it as options.transporter',
      );
    }
  }
  const transporter = transporterOption(given.transporter);
  const from = fromOption(given.from);
  const sendTimeoutMs = integerOption(WHO, 'sendTimeoutMs', given.sendTimeoutMs, DEFAULT_SEND_TIMEOUT_MS, 1, MAX_SEND_TIMEOUT_MS);
  const allowInsecureTransport = booleanOption(WHO, 'allowInsecureTransport', given.allowInsecureTransport, false);
  const allowTransportLogging = booleanOption(WHO, 'allowTransportLogging', given.allowTransportLogging, false);
  const render = mailerRenderer(given as MailerMessageOptions, WHO);
  checkTransporter(transporter, { allowInsecureTransport, allowTransportLogging });
  const smtp = isSmtp(transporter);

  return {
    async send(message: CodeMessage, sendOptions: MailerSendOptions): Promise<void> {
      const signal = (sendOptions as Partial<MailerSendOptions> | undefined)?.signal;
      if (isAborted(signal)) throw abortedError();
      if (typeof message.to !== 'string' || !SINGLE_ADDRESS.test(message.to)) {
        throw new TypeError('npuser: nodemailerMailer: message.to must be exactly one address');
      }
      const rendered = await render(message);
      // Rendering may be the app's own async function: the signal may have fired meanwhile.
      if (isAborted(signal)) throw abortedError();
      const mail = (deadline: AbortSignal): NodemailerMessage => ({
        from,
        to: message.to,
        cc: undefined,
        bcc: undefined,
        envelope: { from, to: [message.to] },
        subject: rendered.subject,
        text: rendered.text,
        ...(rendered.html === '' ? {} : { html: rendered.html }),
        headers: { 'Auto-Submitted': 'auto-generated' },
        // nodemailer 10.5+ closes the connection when this fires; older versions are abandoned.
        signal: deadline,
      });
      let timedOut: Error | undefined;
      let info: unknown;
      try {
        info = await withDeadline((deadline) => transporter.sendMail(mail(deadline)), {
          timeoutMs: sendTimeoutMs,
          onTimeout: () => {
            timedOut = timeoutError(sendTimeoutMs);
            return timedOut;
          },
          parent: signal,
        });
      } catch (err) {
        if (err === timedOut) throw err;
        if (isAborted(signal)) throw abortedError();
        throw deliveryError(err, smtp);
      }
      if (rejectedSomeone(info)) throw deliveryError({ code: 'EENVELOPE' }, smtp);
    },
  };
}

interface Policy {
  readonly allowInsecureTransport: boolean;
  readonly allowTransportLogging: boolean;
}

function transporterOption(value: unknown): NodemailerTransporter {
  if (typeof value !== 'object' || value === null || typeof (value as { sendMail?: unknown }).sendMail !== 'function') {
    throw optionError(WHO, 'transporter', 'must be a nodemailer transporter (with sendMail), from nodemailer.createTransport(…)');
  }
  return value as NodemailerTransporter;
}

function fromOption(from: unknown): NodemailerAddress {
  const address = typeof from === 'object' && from !== null ? (from as { address?: unknown }).address : from;
  const name = typeof from === 'object' && from !== null ? (from as { name?: unknown }).name : '';
  // A line break in a header value is header injection, whatever nodemailer would make of it.
  if (typeof address !== 'string' || !address.includes('@') || typeof name !== 'string' || /[\r\n]/.test(address + name)) {
    throw optionError(WHO, 'from', 'must be a sender address (e.g. "My app <no-reply@app.example>")');
  }
  return typeof from === 'string' ? from : { name, address };
}

function checkTransporter(transporter: NodemailerTransporter, policy: Policy): void {
  // Read defensively: a hand-made transporter may have anything (or nothing) here.
  const inner = asRecord(transporter.transporter);
  const resolved = asRecord(inner.options);
  if ((logs(resolved) || logs(asRecord(transporter.options))) && !policy.allowTransportLogging) {
    throw optionError(
      WHO,
      'transporter',
      'logs (logger or debug is set), and its logs name every recipient; turn logging off or pass allowTransportLogging: true',
    );
  }
  if (!isSmtp(transporter) || policy.allowInsecureTransport) return;
  const problem = smtpSecurityProblem(resolved);
  if (problem !== undefined) {
    throw optionError(
      WHO,
      'transporter',
      `${problem}, so codes and addresses could be read or changed on the way; use secure: true (port 465) or requireTLS: true (port 587) with certificate checks on, or pass allowInsecureTransport: true`,
    );
  }
}

// The `tls` options that cannot weaken certificate or hostname checks: trust
// anchors, client certificates, the name to verify, and the protocol floor.
// Everything else Node's `tls.connect` accepts (checkServerIdentity, host,
// secureContext, secureProtocol, ciphers, pskCallback, …) can, or is too
// obscure to vouch for, so it needs allowInsecureTransport.
const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'];
const TLS_ALLOWED: Readonly<Record<string, (value: unknown) => boolean>> = {
  ca: () => true,
  cert: () => true,
  key: () => true,
  pfx: () => true,
  passphrase: () => true,
  crl: () => true,
  servername: (value) => typeof value === 'string',
  rejectUnauthorized: (value) => value === true || value === undefined,
  minVersion: (value) => value === undefined || TLS_VERSIONS.includes(value as string),
  maxVersion: (value) => value === undefined || TLS_VERSIONS.includes(value as string),
};
const TLS_WHY: Readonly<Record<string, string>> = {
  rejectUnauthorized: 'does not verify the server’s certificate',
  checkServerIdentity: 'replaces the check that the certificate names the server',
  host: 'checks the certificate against another host name',
  minVersion: 'allows TLS versions below 1.2',
  maxVersion: 'caps TLS below 1.2',
  secureProtocol: 'forces a TLS method of its own',
  secureContext: 'brings its own TLS context, whose checks npuser cannot see',
  ciphers: 'chooses its own ciphers, which may include unauthenticated ones',
  pskCallback: 'uses pre-shared keys instead of a certificate',
  allowPartialTrustChain: 'trusts intermediate certificates as roots',
};
const TLS_UNKNOWN = `npuser cannot vouch for (it accepts ${Object.keys(TLS_ALLOWED).join(', ')}; rejectUnauthorized only true, minVersion and maxVersion only ${TLS_VERSIONS.join(' or ')})`;

/** Why SMTP with these (resolved) options is not safe, or `undefined` when it is. */
function smtpSecurityProblem(options: Readonly<Record<string, unknown>>): string | undefined {
  // nodemailer's own default host is localhost; `direct` delivery goes to the recipient's MX.
  const host = options.direct === true ? undefined : typeof options.host === 'string' && options.host !== '' ? options.host : 'localhost';
  if (host !== undefined && isLoopback(host)) return undefined;
  const to = `connects to ${host ?? 'the recipient’s server'}`;
  const port = Number(options.port) || (options.secure ? 465 : 587);
  // As nodemailer decides it: a truthy `secure`, or port 465 when `secure` is not set at all.
  const implicitTls = Boolean(options.secure) || (options.secure === undefined && port === 465);
  if (!implicitTls && !options.requireTLS) return `${to} with neither secure nor requireTLS (STARTTLS would only be tried)`;
  // nodemailer 10.0.12+ lets requireTLS win over these; older versions (the peer range starts at 6.9) may not.
  if (options.ignoreTLS) return `${to} with ignoreTLS, which skips STARTTLS`;
  if (options.opportunisticTLS) return `${to} with opportunisticTLS, which goes on in plain text when STARTTLS fails`;
  if (options.secured) return `${to} with secured, which skips the TLS handshake on a socket it trusts to be encrypted`;
  if (options.tls !== undefined && (typeof options.tls !== 'object' || options.tls === null))
    return `${to} with a tls option that is not an object`;
  const tlsOptions = asRecord(options.tls);
  for (const [key, value] of Object.entries(tlsOptions)) {
    if (TLS_ALLOWED[key]?.(value) === true) continue;
    const shown =
      typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number' ? `${key}: ${JSON.stringify(value)}` : key;
    return `${to} with tls.${shown}, which ${TLS_WHY[key] ?? TLS_UNKNOWN}`;
  }
  // Process-wide switches that weaken every TLS connection the transporter makes.
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0' && tlsOptions.rejectUnauthorized !== true) {
    return `${to} with certificate checks off for the whole process (NODE_TLS_REJECT_UNAUTHORIZED=0; unset it, or set tls.rejectUnauthorized: true)`;
  }
  if (tlsOptions.minVersion === undefined && !TLS_VERSIONS.includes(tls.DEFAULT_MIN_VERSION)) {
    return `${to} allowing ${tls.DEFAULT_MIN_VERSION}, the process's minimum (tls.DEFAULT_MIN_VERSION; set tls.minVersion: 'TLSv1.2')`;
  }
  return undefined;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** This machine: `localhost`, 127.0.0.0/8 or ::1. Other names may resolve anywhere. */
function isLoopback(host: string): boolean {
  const name = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (name === 'localhost') return true;
  const family = isIP(name);
  return family !== 0 && LOOPBACK.check(name, family === 4 ? 'ipv4' : 'ipv6');
}

function logs(options: Readonly<Record<string, unknown>>): boolean {
  return Boolean(options.logger) || Boolean(options.debug);
}

function asRecord(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function isSmtp(transporter: NodemailerTransporter): boolean {
  const name = transporter.transporter?.name;
  return typeof name === 'string' && /^SMTP\b/.test(name);
}

/** nodemailer resolves with `rejected` listing refused recipients when some were accepted. */
function rejectedSomeone(info: unknown): boolean {
  const rejected = asRecord(info).rejected;
  return Array.isArray(rejected) && rejected.length > 0;
}

/**
 * A clean copy of a transport failure: the codes that say what went wrong,
 * none of the text (an SMTP reply often quotes the recipient back).
 */
function deliveryError(err: unknown, smtp: boolean): Error {
  const source = asRecord(err);
  const code = typeof source.code === 'string' && SAFE_CODE.test(source.code) ? source.code : undefined;
  const responseCode =
    typeof source.responseCode === 'number' &&
    Number.isInteger(source.responseCode) &&
    source.responseCode >= 200 &&
    source.responseCode < 600
      ? source.responseCode
      : undefined;
  const command = typeof source.command === 'string' && SAFE_COMMAND.test(source.command) ? source.command : undefined;
  // nodemailer keeps the system error's code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT) here.
  const originalCode = typeof source.originalCode === 'string' && SAFE_CODE.test(source.originalCode) ? source.originalCode : undefined;
  const details = [responseCode === undefined ? undefined : String(responseCode), command, originalCode].filter((d) => d !== undefined);
  const error = new Error(
    `${smtp ? 'SMTP' : 'mail'} delivery failed: ${code ?? 'unknown error'}${details.length > 0 ? ` (${details.join(', ')})` : ''}`,
  );
  if (code !== undefined) Object.defineProperty(error, 'code', { value: code, enumerable: true });
  if (responseCode !== undefined) Object.defineProperty(error, 'responseCode', { value: responseCode, enumerable: true });
  return error;
}

function abortedError(): Error {
  const error = new Error('mail delivery aborted: npuser stopped waiting');
  error.name = 'AbortError';
  Object.defineProperty(error, 'code', { value: 'EABORT', enumerable: true });
  return error;
}

function timeoutError(ms: number): Error {
  const error = new Error(`mail delivery timed out after ${ms} ms (sendTimeoutMs)`);
  error.name = 'TimeoutError';
  Object.defineProperty(error, 'code', { value: 'ETIMEDOUT', enumerable: true });
  return error;
}
