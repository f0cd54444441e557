import { setImmediate as tick } from 'node:timers/promises';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleMailer, renderCodeMessage, type CodeMessage, type Mailer } from 'npuser';
import { nodemailerMailer } from 'npuser/mailers/nodemailer';
import {
  mailerContractCases,
  memoryMailer,
  runMailerContract,
  type DeliveredMail,
  type MailerContractFactory,
  type MailerHarness,
} from 'npuser/testing';
import { asDelivered, SMTP_HOST, startSmtpServer, type TestSmtpServer } from '../support/smtp-server.js';

// ─── Every npuser mailer passes ───────────────────────────────────────────────

runMailerContract(
  'memoryMailer',
  () => {
    const mailer = memoryMailer();
    return {
      mailer,
      // What a memory mailer "delivers" is the message itself: its recipient and its code.
      delivered: () => mailer.messages.map((m) => ({ recipients: [m.to], text: m.code })),
      failNextSend: () => {
        mailer.failNextSend(new Error('simulated delivery failure'));
      },
    };
  },
  { describe, it },
);

/** Reads back what consoleMailer printed: one framed block per message. */
function consoleHarness(): MailerHarness {
  const printed: string[] = [];
  let failNext = false;
  const mailer = consoleMailer({
    write: (text) => {
      if (failNext) {
        failNext = false;
        throw new Error('EPIPE: the terminal went away');
      }
      printed.push(text);
    },
  });
  return {
    mailer,
    delivered: () =>
      printed.map((block) => ({
        recipients: [/^│ To: +(.+)$/m.exec(block)?.[1] ?? ''],
        subject: /^│ Subject: (.*)$/m.exec(block)?.[1] ?? '',
        text: block.replace(/^│ (To|Subject):.*$/gm, ''),
      })),
    failNextSend: () => {
      failNext = true;
    },
  };
}

runMailerContract('consoleMailer (captured write)', consoleHarness, { describe, it });

describe('over real SMTP', () => {
  let server: TestSmtpServer;
  beforeAll(async () => {
    server = await startSmtpServer();
  });
  afterAll(async () => {
    await server.close();
  });

  runMailerContract(
    'nodemailerMailer (in-process SMTP server, STARTTLS)',
    () => {
      const start = server.received.length;
      const transporter = createTransport({ host: SMTP_HOST, port: server.port, requireTLS: true, tls: { ca: server.ca } });
      return {
        mailer: nodemailerMailer({ transporter, from: 'Contract <contract@npuser.test>', sendTimeoutMs: 5000 }),
        delivered: () => server.received.slice(start).map(asDelivered),
        failNextSend: () => {
          server.refuseNextRecipient(550);
        },
        hangNextSend: () => {
          server.hangNext();
        },
        close: () => {
          transporter.close();
        },
      };
    },
    { describe, it },
    { canHang: true },
  );
});

// ─── Broken mailers the suite must catch ─────────────────────────────────────

interface Flaws {
  /** Change what is delivered for a message (extra recipients, a leaky subject…). */
  deliver?: (message: CodeMessage, rendered: DeliveredMail) => DeliveredMail;
  /** Resolve instead of rejecting when the backend fails. */
  swallowFailures?: boolean;
  /** Deliver even when the signal is already aborted. */
  ignoreAbortedSignal?: boolean;
  /** The failure names the recipient, like a raw SMTP reply. */
  leakyError?: boolean;
  /** Keep the message in a variable shared across sends while "connecting". */
  sharedState?: boolean;
  /** Resolve without delivering anything. */
  dropEverything?: boolean;
  /** Stop listening to the signal once the backend hangs. */
  deafWhileHanging?: boolean;
}

/**
 * A mailer built like a real one (it renders with the default template and
 * hands the result to a backend), with the given flaws. Without flaws it passes.
 */
function flawedMailer(flaws: Flaws = {}): MailerContractFactory {
  return () => {
    const outbox: DeliveredMail[] = [];
    let failNext = false;
    let hangNext = false;
    let current: CodeMessage | undefined;
    const mailer: Mailer = {
      async send(message, { signal }) {
        if (signal.aborted && flaws.ignoreAbortedSignal !== true) throw new Error('aborted');
        if (flaws.sharedState === true) {
          current = message;
          await tick();
          message = current;
        }
        if (hangNext) {
          hangNext = false;
          // A backend that never answers: only the signal can end the wait.
          await new Promise((_, reject) => {
            if (flaws.deafWhileHanging === true) return;
            signal.addEventListener('abort', () => {
              reject(new Error('aborted'));
            });
          });
        }
        if (failNext) {
          failNext = false;
          if (flaws.swallowFailures === true) return;
          throw new Error(flaws.leakyError === true ? `550 <${message.to}>: no such user` : 'delivery failed: EENVELOPE (550)');
        }
        if (flaws.dropEverything === true) return;
        const { subject, text, html } = renderCodeMessage(message);
        const delivered: DeliveredMail = { recipients: [message.to], headerRecipients: [message.to], subject, text, html };
        outbox.push(flaws.deliver ? flaws.deliver(message, delivered) : delivered);
      },
    };
    return {
      mailer,
      delivered: () => outbox,
      failNextSend: () => {
        failNext = true;
      },
      hangNextSend: () => {
        hangNext = true;
      },
    };
  };
}

/** The ids of the contract cases a mailer fails. */
async function failedCases(factory: MailerContractFactory): Promise<string[]> {
  const failed: string[] = [];
  for (const contractCase of mailerContractCases(factory, { abortWithinMs: 200, canHang: true })) {
    await contractCase.run().catch(() => failed.push(contractCase.id));
  }
  return failed;
}

const DELIVERS = 'delivers-to-exactly-message-to';
const CARRIES_CODE = 'text-carries-code';
const SUBJECT = 'subject-without-code';
const REMOTE = 'html-loads-nothing-remote';
const CONCURRENT = 'concurrent-sends-stay-apart';
const ABORTED = 'aborted-signal-delivers-nothing';
const FAILURE = 'failure-rejects-cleanly';
const HANG = 'abort-ends-hung-send';
const ALL_IDS = [DELIVERS, CARRIES_CODE, SUBJECT, REMOTE, CONCURRENT, ABORTED, FAILURE, HANG];

describe('the mailer contract catches broken mailers', () => {
  it('a sound mailer built the same way passes every case (the suite is not simply failing)', async () => {
    expect(await failedCases(flawedMailer())).toEqual([]);
  });

  it('one that adds a Bcc (an extra envelope recipient)', async () => {
    const failed = await failedCases(flawedMailer({ deliver: (_m, d) => ({ ...d, recipients: [...d.recipients, 'audit@example.org'] }) }));
    expect(failed).toEqual(expect.arrayContaining([DELIVERS, CONCURRENT]));
  });

  it('one that adds a Cc header', async () => {
    const failed = await failedCases(
      flawedMailer({ deliver: (_m, d) => ({ ...d, headerRecipients: [...(d.headerRecipients ?? []), 'boss@example.org'] }) }),
    );
    expect(failed).toEqual(expect.arrayContaining([DELIVERS]));
  });

  it('one that resolves when delivery failed', async () => {
    expect(await failedCases(flawedMailer({ swallowFailures: true }))).toEqual([FAILURE]);
  });

  it('one that resolves without delivering anything', async () => {
    const failed = await failedCases(flawedMailer({ dropEverything: true }));
    expect(failed).toEqual(expect.arrayContaining([DELIVERS, CARRIES_CODE]));
  });

  it('one that sends although the signal is already aborted', async () => {
    expect(await failedCases(flawedMailer({ ignoreAbortedSignal: true }))).toEqual([ABORTED]);
  });

  it('one that stops listening to the signal while its backend hangs', async () => {
    expect(await failedCases(flawedMailer({ deafWhileHanging: true }))).toEqual([HANG]);
  });

  it('one that puts the code in the subject', async () => {
    const failed = await failedCases(flawedMailer({ deliver: (m, d) => ({ ...d, subject: `${m.code} is your code` }) }));
    expect(failed).toEqual([SUBJECT]);
  });

  it('one that loads a tracking pixel', async () => {
    const failed = await failedCases(
      flawedMailer({ deliver: (_m, d) => ({ ...d, html: `${d.html ?? ''}<img src="https://tracker.example/p.gif" width="1">` }) }),
    );
    expect(failed).toEqual([REMOTE]);
  });

  it('one that turns the code into a number (the leading zero is lost)', async () => {
    const failed = await failedCases(
      flawedMailer({
        deliver: (m, d) => {
          const mangled = String(Number(m.code));
          return {
            ...d,
            text: d.text.replace(/[\d ]{6,}/, ` ${mangled}`),
            html: (d.html ?? '').replace(/<p class="npuser-code"[^]*?<\/p>/, mangled),
          };
        },
      }),
    );
    expect(failed).toEqual(expect.arrayContaining([CARRIES_CODE]));
  });

  it('one whose error quotes the server reply with the address', async () => {
    expect(await failedCases(flawedMailer({ leakyError: true }))).toEqual([FAILURE]);
  });

  it('one that mixes up concurrent sends (shared state across an await)', async () => {
    expect(await failedCases(flawedMailer({ sharedState: true }))).toEqual([CONCURRENT]);
  });
});

// ─── Case ids and skipped cases, as every npuser contract suite reports them ──

/** A runner that records what the suite registers, with or without `it.skip`. */
function recordingRunner(withSkip: boolean) {
  const registered: { title: string; skipped: boolean; body: () => Promise<void> }[] = [];
  const itFn = (title: string, body: () => Promise<void>) => {
    registered.push({ title, skipped: false, body });
  };
  const runner = {
    describe: (_title: string, body: () => void) => {
      body();
    },
    it: withSkip
      ? Object.assign(itFn, {
          skip: (title: string, body: () => Promise<void>) => {
            registered.push({ title, skipped: true, body });
          },
        })
      : itFn,
  };
  return { runner, registered };
}

const memoryHarness: MailerContractFactory = () => {
  const mailer = memoryMailer();
  return {
    mailer,
    delivered: () => mailer.messages.map((m) => ({ recipients: [m.to], text: m.code })),
    failNextSend: () => {
      mailer.failNextSend();
    },
  };
};

describe('mailerContractCases: stable ids, and skipped cases that say why', () => {
  it('every case has a unique kebab-case id, in a published order', () => {
    const cases = mailerContractCases(memoryHarness, { canHang: true });
    expect(cases.map((c) => c.id)).toEqual(ALL_IDS);
    for (const c of cases) expect(c.id).toMatch(/^[a-z]+(?:-[a-z]+)*$/);
  });

  it('titles may change; ids do not depend on options', () => {
    const a = mailerContractCases(memoryHarness, { abortWithinMs: 100 });
    const b = mailerContractCases(memoryHarness, { abortWithinMs: 900, codeInSubject: true, canHang: true });
    expect(a.map((c) => c.id)).toEqual(b.map((c) => c.id));
  });

  it('without canHang, the hang case is skipped, with its reason (registration puts it in the title)', async () => {
    const hang = mailerContractCases(memoryHarness).find((c) => c.id === HANG);
    expect(hang?.skipped).toBe('the harness cannot hang its backend (canHang is not set)');
    expect(hang?.title).toBe('an abort while the backend hangs rejects within 2000 ms');
    await expect(hang?.run()).resolves.toBeUndefined();
  });

  it('with codeInSubject, the subject case is skipped', () => {
    const subject = mailerContractCases(memoryHarness, { codeInSubject: true }).find((c) => c.id === SUBJECT);
    expect(subject?.skipped).toMatch(/codeInSubject/);
    expect(subject?.title).not.toMatch(/skipped/);
  });

  it('canHang without a hangNextSend in the harness fails the case rather than passing it silently', async () => {
    const hang = mailerContractCases(memoryHarness, { canHang: true }).find((c) => c.id === HANG);
    await expect(hang?.run()).rejects.toThrow(/canHang is set, but the harness has no hangNextSend/);
  });

  it('runMailerContract registers skipped cases through it.skip, the others through it', () => {
    const { runner, registered } = recordingRunner(true);
    runMailerContract('memoryMailer', memoryHarness, runner);
    expect(registered).toHaveLength(ALL_IDS.length);
    const skipped = registered.filter((r) => r.skipped).map((r) => r.title);
    expect(skipped).toEqual([expect.stringMatching(/^an abort while the backend hangs .*\(skipped: the harness cannot hang its backend/)]);
  });

  it('on a runner without it.skip, a skipped case is a test whose title ends in (skipped: …) and that checks nothing', async () => {
    const { runner, registered } = recordingRunner(false);
    runMailerContract('memoryMailer', memoryHarness, runner, { codeInSubject: true });
    expect(registered.every((r) => !r.skipped)).toBe(true);
    const marked = registered.filter((r) => r.title.endsWith(')') && /\(skipped: /.test(r.title));
    expect(marked).toHaveLength(2);
    for (const r of marked) await expect(r.body()).resolves.toBeUndefined();
  });
});
