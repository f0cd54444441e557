/**
 * Real mail delivery through [nodemailer](https://nodemailer.com): SMTP with
 * TLS, or any other nodemailer transport (Amazon SES, sendmail, streams).
 *
 * nodemailer is an optional peer dependency: this subpath never imports it at
 * load time. Give it a ready transporter, or transport options that it turns
 * into one on first use with `import('nodemailer')`.
 *
 * @module npuser/mailers/nodemailer
 */
import { BlockList, isIP } from 'node:net';
import { mailerRenderer, type MailerMessageOptions } from './template.js';
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
  /** Closes pooled connections. */
  close?(): void;
}

/**
 * Options for {@link nodemailerMailer}. Give either `transporter` or `transport`.
 *
 * @example
 * ```ts
 * import type { NodemailerMailerOptions } from 'npuser/mailers/nodemailer';
 * const options: NodemailerMailerOptions = {
 *   transport: process.env.SMTP_URL!, // smtps://user:pass@smtp.example.com:465
 *   from: 'My blog <no-reply@blog.example>',
 *   sendTimeoutMs: 8000,
 * };
 * ```
 */
export interface NodemailerMailerOptions extends MailerMessageOptions {
  /** A ready transporter from `nodemailer.createTransport()`. It stays yours: `close()` leaves it open. */
  transporter?: NodemailerTransporter;
  /**
   * Transport options or an SMTP URL (`smtps://user:pass@host:465`), as you
   * would pass them to `createTransport`. The transporter is created on the
   * first send with `import('nodemailer')` (or with `createTransport` when
   * given) and closed by `close()`.
   */
  transport?: string | object;
  /**
   * nodemailer's `createTransport`, for setups where a dynamic import is
   * unwanted (bundlers). With it the transporter is created, and checked, at once.
   * @default `createTransport` from `import('nodemailer')`
   */
  createTransport?(transport: string | object): NodemailerTransporter;
  /** The sender, in the `From` header and the envelope: `'My blog <no-reply@blog.example>'`. */
  from: NodemailerAddress;
  /**
   * How long one send may take before it is aborted, in milliseconds (1–120000).
   * npuser's own `mailerTimeoutMs` also aborts it; the shorter one wins.
   * @default 10000
   */
  sendTimeoutMs?: number;
  /**
   * Allow SMTP to a host other than this machine without TLS (`secure: true`,
   * port 465, or `requireTLS: true`), or with a certificate that is not checked
   * (`tls.rejectUnauthorized: false`). Without TLS, the code and the address
   * cross the network in clear text.
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

/**
 * A {@link Mailer} that delivers through nodemailer.
 *
 * @example
 * ```ts
 * import { nodemailerMailer, type NodemailerMailer } from 'npuser/mailers/nodemailer';
 * const mailer: NodemailerMailer = nodemailerMailer({ transport: process.env.SMTP_URL!, from: 'no-reply@blog.example' });
 * process.on('SIGTERM', () => mailer.close());
 * ```
 */
export interface NodemailerMailer extends Mailer {
  /** Closes the transporter this mailer created from `transport`; a `transporter` you passed is left alone. */
  close(): void;
}

const DEFAULT_SEND_TIMEOUT_MS = 10_000;
const MAX_SEND_TIMEOUT_MS = 120_000;
// What `message.to` must look like: one bare address, nothing a parser could split into two.
// eslint-disable-next-line no-control-regex -- control characters are what this refuses
const SINGLE_ADDRESS = /^[^\s\u0000-\u001f\u007f@,;:<>()[\]"\\]+@[^\s\u0000-\u001f\u007f@,;:<>()[\]"\\]+$/;
// Error details copied into our own message only when they look like codes, never like text.
const SAFE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const SAFE_COMMAND = /^[A-Z][A-Z ]{0,15}$/;

/**
 * Create a {@link Mailer} that sends the sign-in message through nodemailer:
 * a text and an HTML part (see `renderCodeMessage`) in the reader's language,
 * to exactly one recipient, `message.to`, in both the `To` header and the SMTP
 * envelope.
 *
 * Safe by default:
 * - SMTP to any host but this machine must use TLS: `secure: true` (port
 *   465) or `requireTLS: true` (STARTTLS, port 587), with the certificate
 *   verified. Anything else is a `TypeError` at construction unless
 *   `allowInsecureTransport: true`. Other transports (SES, sendmail, streams)
 *   are not checked.
 * - A send is aborted after `sendTimeoutMs` or when npuser's signal fires.
 * - A failure rejects with a clean `Error` such as
 *   `SMTP delivery failed: EENVELOPE (550, RCPT TO)`, carrying nodemailer's
 *   `code` and `responseCode` but never the server's reply, which may quote
 *   the address.
 *
 * @throws TypeError when an option is missing or malformed, or the transport
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
 * ```
 */
export function nodemailerMailer(options: NodemailerMailerOptions): NodemailerMailer {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new TypeError('npuser: nodemailerMailer(options) takes an options object');
  }
  const {
    transporter,
    transport,
    from,
    sendTimeoutMs = DEFAULT_SEND_TIMEOUT_MS,
    allowInsecureTransport = false,
    allowTransportLogging = false,
  } = options;
  if ((transporter === undefined) === (transport === undefined)) {
    throw new TypeError('npuser: nodemailerMailer needs exactly one of options.transporter and options.transport');
  }
  if (transporter !== undefined && (typeof transporter !== 'object' || typeof (transporter as { sendMail?: unknown }).sendMail !== 'function')) {
    throw new TypeError('npuser: nodemailerMailer options.transporter must be a nodemailer transporter (with sendMail)');
  }
  if (transport !== undefined && typeof transport !== 'string' && (typeof transport !== 'object' || (transport as unknown) === null)) {
    throw new TypeError('npuser: nodemailerMailer options.transport must be an SMTP URL or transport options');
  }
  if (options.createTransport !== undefined && typeof options.createTransport !== 'function') {
    throw new TypeError('npuser: nodemailerMailer options.createTransport must be a function');
  }
  checkFrom(from);
  if (!Number.isInteger(sendTimeoutMs) || sendTimeoutMs < 1 || sendTimeoutMs > MAX_SEND_TIMEOUT_MS) {
    throw new TypeError(`npuser: nodemailerMailer options.sendTimeoutMs must be an integer from 1 to ${MAX_SEND_TIMEOUT_MS}`);
  }
  if (typeof allowInsecureTransport !== 'boolean') {
    throw new TypeError('npuser: nodemailerMailer options.allowInsecureTransport must be a boolean');
  }
  if (typeof allowTransportLogging !== 'boolean') {
    throw new TypeError('npuser: nodemailerMailer options.allowTransportLogging must be a boolean');
  }
  const render = mailerRenderer(options, 'nodemailerMailer');
  const policy: Policy = { allowInsecureTransport, allowTransportLogging };

  // The transporter: given, created now (createTransport given), or created on first send.
  let ready: NodemailerTransporter | undefined;
  let pending: Promise<NodemailerTransporter> | undefined;
  const owned = transport !== undefined;
  if (transporter !== undefined) {
    checkTransporter(transporter, policy);
    ready = transporter;
  } else if (transport !== undefined) {
    // Whatever can be known before nodemailer resolves the options is checked now.
    checkTransportOptions(transportFacts(transport), policy);
    if (options.createTransport !== undefined) ready = created(options.createTransport(transport), policy);
  }

  function getTransporter(): Promise<NodemailerTransporter> {
    if (ready !== undefined) return Promise.resolve(ready);
    pending ??= loadCreateTransport().then((create) => {
      ready = created(create(transport as string | object), policy);
      return ready;
    });
    // A failed import or check is not cached: the next send tries again and fails the same clean way.
    pending.catch(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    async send(message: CodeMessage, sendOptions: MailerSendOptions): Promise<void> {
      const signal = (sendOptions as Partial<MailerSendOptions> | undefined)?.signal;
      if (isAborted(signal)) throw abortedError();
      if (typeof message.to !== 'string' || !SINGLE_ADDRESS.test(message.to)) {
        throw new TypeError('npuser: nodemailerMailer: message.to must be exactly one address');
      }
      const rendered = await render(message);
      const mailer = await getTransporter();
      // Rendering and loading nodemailer take time: the signal may have fired meanwhile.
      if (isAborted(signal)) throw abortedError();

      const controller = new AbortController();
      const onAbort = () => {
        controller.abort(abortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        controller.abort(timeoutError(sendTimeoutMs));
      }, sendTimeoutMs);
      // Rejects when the send is aborted, whether or not the transport itself honours the signal.
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener(
          'abort',
          () => {
            reject(controller.signal.reason as Error);
          },
          { once: true },
        );
      });
      aborted.catch(() => undefined);
      const mail: NodemailerMessage = {
        from,
        to: message.to,
        cc: undefined,
        bcc: undefined,
        envelope: { from, to: [message.to] },
        subject: rendered.subject,
        text: rendered.text,
        ...(rendered.html === '' ? {} : { html: rendered.html }),
        headers: { 'Auto-Submitted': 'auto-generated' },
        signal: controller.signal,
      };
      try {
        const sending = Promise.resolve().then(() => mailer.sendMail(mail));
        // Once aborted, a late failure of the abandoned send must not become an unhandled rejection.
        sending.catch(() => undefined);
        const info = await Promise.race([sending, aborted]);
        if (rejectedSomeone(info)) throw Object.assign(new Error('recipient rejected'), { code: 'EENVELOPE' });
      } catch (err) {
        if (controller.signal.aborted) throw controller.signal.reason;
        throw deliveryError(err, isSmtp(mailer));
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    },
    close() {
      if (owned && ready !== undefined) ready.close?.();
    },
  };
}

interface Policy {
  readonly allowInsecureTransport: boolean;
  readonly allowTransportLogging: boolean;
}

/** What the security check looks at, from a transporter's resolved options or from raw ones. */
interface TransportFacts {
  /** `false` for SES, sendmail, stream and JSON transports, which are not checked. */
  readonly smtp: boolean;
  /** Options whose host nodemailer has yet to resolve (`service: 'gmail'`) are checked once it has. */
  readonly resolved: boolean;
  readonly options: Readonly<Record<string, unknown>>;
  readonly logs: boolean;
}

function created(transporter: unknown, policy: Policy): NodemailerTransporter {
  if (typeof transporter !== 'object' || transporter === null || typeof (transporter as { sendMail?: unknown }).sendMail !== 'function') {
    throw new TypeError('npuser: nodemailerMailer: createTransport did not return a transporter');
  }
  const result = transporter as NodemailerTransporter;
  checkTransporter(result, policy);
  return result;
}

function checkTransporter(transporter: NodemailerTransporter, policy: Policy): void {
  // Read defensively: a hand-made transporter may have anything (or nothing) here.
  const inner = asRecord(transporter.transporter);
  const name = inner.name;
  const options = asRecord(inner.options);
  checkTransportOptions(
    {
      // nodemailer names its SMTP transports 'SMTP' and 'SMTP (pool)'; anything else (or a
      // hand-made object with only sendMail) is not SMTP as far as this check can tell.
      smtp: typeof name === 'string' && /^SMTP\b/.test(name),
      resolved: true,
      options,
      logs: logs(options) || logs(asRecord(transporter.options)),
    },
    policy,
  );
}

function checkTransportOptions(facts: TransportFacts, policy: Policy): void {
  if (facts.logs && !policy.allowTransportLogging) {
    throw new TypeError(
      'npuser: nodemailerMailer: the transporter logs (logger or debug is set), and its logs name every recipient; turn logging off or pass allowTransportLogging: true',
    );
  }
  if (!facts.smtp || !facts.resolved || policy.allowInsecureTransport) return;
  const problem = smtpSecurityProblem(facts.options);
  if (problem !== undefined) {
    throw new TypeError(
      `npuser: nodemailerMailer: the SMTP transport ${problem}, so codes and addresses could be read on the way; use secure: true (port 465) or requireTLS: true (port 587), or pass allowInsecureTransport: true`,
    );
  }
}

/** Why SMTP with these (resolved) options is not safe, or `undefined` when it is. */
function smtpSecurityProblem(options: Readonly<Record<string, unknown>>): string | undefined {
  // nodemailer's own default host is localhost; `direct` delivery goes to the recipient's MX.
  const host = options.direct === true ? undefined : typeof options.host === 'string' && options.host !== '' ? options.host : 'localhost';
  if (host !== undefined && isLoopback(host)) return undefined;
  const port = Number(options.port);
  // As nodemailer decides it: `secure`, or port 465 when `secure` is not set at all.
  const implicitTls = options.secure === true || (options.secure === undefined && port === 465);
  if (!implicitTls && options.requireTLS !== true) return `to ${host ?? 'the recipient’s server'} uses neither secure nor requireTLS`;
  const tls = asRecord(options.tls);
  if (tls.rejectUnauthorized === false) return `to ${host ?? 'the recipient’s server'} does not verify the server’s certificate`;
  return undefined;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** This machine: `localhost`, 127.0.0.0/8 or ::1. Other names may resolve anywhere. */
function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (name === 'localhost') return true;
  const family = isIP(name);
  return family !== 0 && LOOPBACK.check(name, family === 4 ? 'ipv4' : 'ipv6');
}

/** The facts of raw transport options, as far as they can be known without nodemailer. */
function transportFacts(transport: string | object): TransportFacts {
  const raw = typeof transport === 'string' ? { url: transport } : asRecord(transport);
  const notSmtp = ['SES', 'sendmail', 'streamTransport', 'jsonTransport'].some((key) => raw[key] !== undefined && raw[key] !== false);
  // As nodemailer does it: what the URL says wins over the plain options.
  const options = typeof raw.url === 'string' ? { ...raw, ...optionsFromUrl(raw.url) } : raw;
  return {
    smtp: !notSmtp,
    // A well-known `service` sets host, port and security inside nodemailer: checked when created.
    resolved: options.service === undefined,
    options,
    logs: logs(options),
  };
}

/** The connection options an SMTP URL carries (`smtps://user:pass@host:465?requireTLS=true`). */
function optionsFromUrl(url: string): Record<string, unknown> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('npuser: nodemailerMailer options.transport is not a valid SMTP URL');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    throw new TypeError('npuser: nodemailerMailer options.transport URL must start with smtp:// or smtps://');
  }
  const options: Record<string, unknown> = { secure: parsed.protocol === 'smtps:' };
  if (parsed.hostname !== '') options.host = parsed.hostname;
  if (parsed.port !== '') options.port = Number(parsed.port);
  for (const [key, value] of parsed.searchParams) {
    const typed = value === 'true' ? true : value === 'false' ? false : value;
    if (key.startsWith('tls.')) options.tls = { ...asRecord(options.tls), [key.slice(4)]: typed };
    else options[key] = typed;
  }
  return options;
}

function logs(options: Readonly<Record<string, unknown>>): boolean {
  return Boolean(options.logger) || Boolean(options.debug);
}

function asRecord(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function checkFrom(from: unknown): void {
  const address = typeof from === 'object' && from !== null ? (from as { address?: unknown }).address : from;
  const name = typeof from === 'object' && from !== null ? (from as { name?: unknown }).name : '';
  // A line break in a header value is header injection, whatever nodemailer would make of it.
  if (typeof address !== 'string' || !address.includes('@') || typeof name !== 'string' || /[\r\n]/.test(address + name)) {
    throw new TypeError('npuser: nodemailerMailer options.from must be a sender address (e.g. "My app <no-reply@app.example>")');
  }
}

async function loadCreateTransport(): Promise<(transport: string | object) => unknown> {
  let loaded: { createTransport?: unknown; default?: { createTransport?: unknown } };
  try {
    // Only this subpath ever loads nodemailer, and only when asked to build a transporter.
    loaded = await import('nodemailer');
  } catch {
    throw new Error('nodemailerMailer: nodemailer is not installed (npm install nodemailer), or failed to load');
  }
  const create = loaded.createTransport ?? loaded.default?.createTransport;
  if (typeof create !== 'function') throw new Error('nodemailerMailer: nodemailer has no createTransport');
  return create as (transport: string | object) => unknown;
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
    typeof source.responseCode === 'number' && Number.isInteger(source.responseCode) && source.responseCode >= 200 && source.responseCode < 600
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

/** A function, not `signal?.aborted` inline, so the check is read again after an await. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
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
