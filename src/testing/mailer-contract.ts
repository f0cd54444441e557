import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { withDeadline } from '../lib/deadline.js';
import type { CodeMessage, Mailer } from '../types.js';
import { type ContractCase, type TestRunner, registerContractCases } from './contract-case.js';

/**
 * One message as it arrived: what the recipient's side saw, read back by
 * the harness (an SMTP server's envelope and parsed message, a captured
 * console write, a memory mailer's list).
 *
 * @example
 * ```ts
 * import type { DeliveredMail } from 'npuser/testing';
 * const mail: DeliveredMail = {
 *   recipients: ['ada@example.com'],          // SMTP: every RCPT TO
 *   headerRecipients: ['ada@example.com'],    // To and Cc headers
 *   subject: 'Your sign-in code',
 *   text: 'Your code: 042 917',
 *   html: '<p>Your code: <b>042917</b></p>',
 * };
 * ```
 */
export interface DeliveredMail {
  /** Every mailbox the message was handed to (for SMTP: each `RCPT TO` of the envelope). */
  readonly recipients: readonly string[];
  // `| undefined` throughout: a harness maps its backend's fields as they come
  // (`html: m.html`), and under exactOptionalPropertyTypes a missing one is undefined.
  /** The addresses in the `To` and `Cc` headers, when the mailer writes headers. */
  readonly headerRecipients?: readonly string[] | undefined;
  /** The subject, when the mailer renders one. */
  readonly subject?: string | undefined;
  /** What the reader reads: the text/plain part, or whatever the mailer delivers as text. */
  readonly text: string;
  /** The text/html part, when there is one. */
  readonly html?: string | undefined;
}

/**
 * A mailer under test, with the means to see what it delivered. Built fresh
 * for each case by a {@link MailerContractFactory}.
 *
 * `failNextSend` makes the backend fail once, so the suite can check that
 * failures reject. `hangNextSend` is optional: give it when the backend can be
 * made to stop answering, and say so with the contract option `canHang: true`;
 * the suite then checks that an abort ends a send in flight (without it, that
 * case is reported as skipped).
 *
 * @example
 * ```ts
 * import { memoryMailer, type MailerHarness } from 'npuser/testing';
 * const mailer = memoryMailer();
 * const harness: MailerHarness = {
 *   mailer,
 *   delivered: () => mailer.messages.map((m) => ({ recipients: [m.to], text: m.code })),
 *   failNextSend: () => mailer.failNextSend(),
 * };
 * ```
 */
export interface MailerHarness {
  /** The mailer the cases call. */
  readonly mailer: Mailer;
  /** Every message delivered since this harness was built, oldest first. */
  delivered(): readonly DeliveredMail[] | Promise<readonly DeliveredMail[]>;
  /** Make the next delivery fail at the backend (an SMTP server refusing the recipient, a provider answering 500). */
  failNextSend(): void | Promise<void>;
  /** Make the next delivery hang at the backend (a server that stops answering). Used when `canHang: true`. */
  hangNextSend?(): void | Promise<void>;
  /** Release what the harness holds (connections, servers); called after every case. */
  close?(): void | Promise<void>;
}

/**
 * Builds a fresh {@link MailerHarness} for one contract case.
 *
 * @example
 * ```ts
 * import { memoryMailer, type MailerContractFactory } from 'npuser/testing';
 * const factory: MailerContractFactory = () => {
 *   const mailer = memoryMailer();
 *   return {
 *     mailer,
 *     delivered: () => mailer.messages.map((m) => ({ recipients: [m.to], text: m.code })),
 *     failNextSend: () => mailer.failNextSend(),
 *   };
 * };
 * ```
 */
export type MailerContractFactory = () => MailerHarness | Promise<MailerHarness>;

/**
 * How the mailer contract runs.
 *
 * @example
 * ```ts
 * import type { MailerContractOptions } from 'npuser/testing';
 * const options: MailerContractOptions = { abortWithinMs: 1000, codeInSubject: false, canHang: true };
 * ```
 */
export interface MailerContractOptions {
  /**
   * How long an aborted send may take to reject, in milliseconds.
   * @default 2000
   */
  abortWithinMs?: number;
  /**
   * The mailer was configured with `codeInSubject: true`: the check that the
   * subject does not contain the code is reported as skipped.
   * @default false
   */
  codeInSubject?: boolean;
  /**
   * The harness can make its backend hang (it has `hangNextSend`): run the
   * case that an abort ends a send in flight. Without it, that case is
   * reported as skipped. Known before any harness is built, so the runner can
   * register the case as skipped.
   * @default false
   */
  canHang?: boolean;
}

const DEFAULT_ABORT_WITHIN_MS = 2000;

/** A message to a fresh address, with a code that keeps a leading zero. */
function sampleMessage(): CodeMessage {
  const tag = randomBytes(6).toString('hex');
  return {
    to: `contract-${tag}@example.com`,
    // Leading zero on purpose: a mailer that turns codes into numbers loses it.
    code: `0${String(randomInt(0, 100_000)).padStart(5, '0')}`,
    appName: 'Mailer contract',
    expiresAt: new Date(Date.now() + 600_000),
    ttlSeconds: 600,
  };
}

const lower = (addresses: readonly string[]) => addresses.map((a) => a.toLowerCase());
const digitsOnly = (text: string) => text.replace(/<[^>]*>/g, '').replace(/[\s-]/g, '');

function only(delivered: readonly DeliveredMail[]): DeliveredMail {
  const [mail] = delivered;
  assert.ok(mail !== undefined && delivered.length === 1, `expected one delivery, got ${delivered.length}`);
  return mail;
}

function assertDeliveredTo(mail: DeliveredMail, message: CodeMessage): void {
  assert.deepEqual(lower(mail.recipients), [message.to], `delivered to ${JSON.stringify(mail.recipients)}, not exactly to message.to`);
  if (mail.headerRecipients !== undefined) {
    assert.deepEqual(lower(mail.headerRecipients), [message.to], `To/Cc headers name ${JSON.stringify(mail.headerRecipients)}`);
  }
}

/** Settles `promise`, failing if it takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<PromiseSettledResult<T>> {
  const settled = promise.then(
    (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
    (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
  );
  return withDeadline(() => settled, {
    timeoutMs: ms,
    onTimeout: () => new assert.AssertionError({ message: `${what} did not settle within ${ms} ms` }),
  });
}

function text(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return String(value);
}

/**
 * The Mailer contract as a list of cases, for runners without
 * `describe`/`it` or for checking that a broken mailer fails.
 *
 * @example
 * ```ts
 * import { memoryMailer, mailerContractCases } from 'npuser/testing';
 * const cases = mailerContractCases(() => {
 *   const mailer = memoryMailer();
 *   return {
 *     mailer,
 *     delivered: () => mailer.messages.map((m) => ({ recipients: [m.to], text: m.code })),
 *     failNextSend: () => mailer.failNextSend(),
 *   };
 * });
 * for (const c of cases) await c.run();
 * ```
 */
export function mailerContractCases(factory: MailerContractFactory, options: MailerContractOptions = {}): ContractCase[] {
  const abortWithinMs = options.abortWithinMs ?? DEFAULT_ABORT_WITHIN_MS;
  const signal = () => new AbortController().signal;

  // [id, title, body, why it is skipped (when it is)]
  const cases: Array<[string, string, (h: MailerHarness) => Promise<void>, (string | undefined)?]> = [
    [
      'delivers-to-exactly-message-to',
      'delivers one message to exactly message.to, and resolves only once it is delivered',
      async (h) => {
        const message = sampleMessage();
        await h.mailer.send(message, { signal: signal() });
        const delivered = await h.delivered();
        assert.equal(delivered.length, 1, `expected one delivery, got ${delivered.length}`);
        assertDeliveredTo(only(delivered), message);
      },
    ],
    [
      'text-carries-code',
      'the text the reader gets carries the code, leading zero included',
      async (h) => {
        const message = sampleMessage();
        await h.mailer.send(message, { signal: signal() });
        const [mail] = await h.delivered();
        assert.ok(mail, 'nothing was delivered');
        assert.ok(digitsOnly(mail.text).includes(message.code), 'the text does not contain the code');
        if (mail.html !== undefined && mail.html !== '') {
          assert.ok(digitsOnly(mail.html).includes(message.code), 'the HTML part does not contain the code');
        }
      },
    ],
    [
      'subject-without-code',
      'the subject does not contain the code (lock screens show subjects)',
      async (h) => {
        const message = sampleMessage();
        await h.mailer.send(message, { signal: signal() });
        const [mail] = await h.delivered();
        assert.ok(mail, 'nothing was delivered');
        // A mailer that writes no subject cannot leak the code through one.
        if (mail.subject === undefined) return;
        assert.ok(!digitsOnly(mail.subject).includes(message.code), `the subject "${mail.subject}" contains the code`);
      },
      options.codeInSubject === true ? 'the mailer puts the code in the subject (codeInSubject)' : undefined,
    ],
    [
      'html-loads-nothing-remote',
      'the HTML part loads nothing from the network (no remote images, styles or frames)',
      async (h) => {
        const message = sampleMessage();
        await h.mailer.send(message, { signal: signal() });
        const [mail] = await h.delivered();
        assert.ok(mail, 'nothing was delivered');
        const html = mail.html ?? '';
        assert.doesNotMatch(html, /\b(?:src|background|poster|srcset)\s*=\s*["']?\s*(?:https?:)?\/\//i, 'the HTML loads a remote resource');
        assert.doesNotMatch(html, /url\(\s*["']?\s*(?:https?:)?\/\//i, 'the HTML loads a remote resource from CSS');
        assert.doesNotMatch(html, /<link\b[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?\/\//i, 'the HTML links a remote stylesheet');
      },
    ],
    [
      'concurrent-sends-stay-apart',
      'concurrent sends to different addresses each reach their own recipient, and only theirs',
      async (h) => {
        const messages = Array.from({ length: 5 }, sampleMessage);
        await Promise.all(messages.map((m) => h.mailer.send(m, { signal: signal() })));
        const delivered = await h.delivered();
        assert.equal(delivered.length, messages.length, `expected ${messages.length} deliveries, got ${delivered.length}`);
        for (const message of messages) {
          const mine = delivered.filter((d) => lower(d.recipients).includes(message.to));
          assert.equal(mine.length, 1, `${message.to} got ${mine.length} messages`);
          assertDeliveredTo(only(mine), message);
          assert.ok(digitsOnly(only(mine).text).includes(message.code), 'a recipient got someone else’s code');
        }
      },
    ],
    [
      'aborted-signal-delivers-nothing',
      'an already aborted signal: rejects and delivers nothing',
      async (h) => {
        const controller = new AbortController();
        controller.abort(new Error('npuser stopped waiting'));
        const settled = await within(
          h.mailer.send(sampleMessage(), { signal: controller.signal }),
          abortWithinMs,
          'send with an aborted signal',
        );
        assert.equal(settled.status, 'rejected', 'send resolved although its signal was already aborted');
        assert.equal((await h.delivered()).length, 0, 'a message was delivered although the signal was aborted');
      },
    ],
    [
      'failure-rejects-cleanly',
      'a failed delivery rejects with an Error that names neither the address nor the code; the next send works',
      async (h) => {
        await h.failNextSend();
        const message = sampleMessage();
        const settled = await within(h.mailer.send(message, { signal: signal() }), abortWithinMs * 5, 'a failing send');
        assert.equal(settled.status, 'rejected', 'send resolved although delivery failed');
        const reason: unknown = settled.reason;
        assert.ok(reason instanceof Error, `rejected with ${text(reason)}, not an Error`);
        const code = (reason as { code?: unknown }).code;
        const shown = `${reason.name} ${reason.message} ${typeof code === 'string' ? code : ''}`.toLowerCase();
        assert.ok(!shown.includes(message.to), `the error names the address: ${text(reason)}`);
        assert.ok(!shown.includes(message.code), `the error names the code: ${text(reason)}`);
        assert.equal((await h.delivered()).length, 0, 'a failed send still delivered');
        // The failure was one send's, not the mailer's: the next one goes through.
        const next = sampleMessage();
        await h.mailer.send(next, { signal: signal() });
        const delivered = await h.delivered();
        assert.equal(delivered.length, 1, 'the send after a failure was not delivered');
        assertDeliveredTo(only(delivered), next);
      },
    ],
    [
      'abort-ends-hung-send',
      `an abort while the backend hangs rejects within ${abortWithinMs} ms`,
      async (h) => {
        assert.ok(typeof h.hangNextSend === 'function', 'canHang is set, but the harness has no hangNextSend');
        await h.hangNextSend();
        const controller = new AbortController();
        const sending = h.mailer.send(sampleMessage(), { signal: controller.signal });
        // Gives the send time to reach the backend, so the abort lands while it hangs there.
        await sleep(50);
        controller.abort(new Error('npuser stopped waiting'));
        const settled = await within(sending, abortWithinMs, 'an aborted send to a hanging backend');
        assert.equal(settled.status, 'rejected', 'send resolved although it was aborted');
      },
      options.canHang === true ? undefined : 'the harness cannot hang its backend (canHang is not set)',
    ],
  ];

  return cases.map(([id, title, body, skipped]): ContractCase => {
    if (skipped !== undefined) return { id, title, skipped, run: () => Promise.resolve() };
    return {
      id,
      title,
      run: async () => {
        const harness = await factory();
        try {
          await body(harness);
        } finally {
          await harness.close?.();
        }
      },
    };
  });
}

/**
 * Run the Mailer contract against your mailer under your test runner: it
 * delivers one message to exactly `message.to` (envelope and headers), carries
 * the code in the text, keeps it out of the subject, loads nothing remote,
 * keeps concurrent sends apart, honours an aborted signal (and, with
 * `canHang`, ends a hung send), and rejects, with an error that names neither
 * address nor code, when delivery fails. A case that does not apply
 * (`codeInSubject`, no `canHang`) is registered with `it.skip` and a title
 * ending in `(skipped: …)`, or, on a runner without `it.skip`, as a test with
 * that title that checks nothing.
 *
 * @param name - Shown as the `describe` title.
 * @param factory - Returns a fresh harness per case: the mailer and a way to read what it delivered.
 * @param runner - Your runner's `describe` and `it`.
 * @param options - How long an abort may take; whether the subject may carry the code; whether the harness can hang.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runMailerContract } from 'npuser/testing';
 *
 * // myApiMailer: your mailer; fakeProviderApi: a fake of the provider it calls.
 * runMailerContract('myApiMailer', () => {
 *   const api = fakeProviderApi();
 *   return {
 *     mailer: myApiMailer({ client: api.client }),
 *     delivered: () => api.sent.map((m) => ({ recipients: m.to, subject: m.subject, text: m.text, html: m.html })),
 *     failNextSend: () => api.failNext(),
 *     hangNextSend: () => api.hangNext(),
 *   };
 * }, { describe, it }, { canHang: true });
 * ```
 */
export function runMailerContract(
  name: string,
  factory: MailerContractFactory,
  runner: TestRunner,
  options: MailerContractOptions = {},
): void {
  registerContractCases(runner, `Mailer contract: ${name}`, mailerContractCases(factory, options));
}
