import { groupCodeDigits, renderCodeMessage } from './template.js';
import type { Mailer } from '../types.js';

/**
 * Options for {@link consoleMailer}.
 *
 * @example
 * ```ts
 * import { consoleMailer, type ConsoleMailerOptions } from 'npuser';
 * const options: ConsoleMailerOptions = { write: (text) => process.stderr.write(text) };
 * const mailer = consoleMailer(options);
 * ```
 */
export interface ConsoleMailerOptions {
  /** Where the message goes. @default writes to standard output */
  write?: (text: string) => void;
  /**
   * Allow construction under `NODE_ENV=production`. Codes printed to a
   * production log are readable by anyone who can read the log.
   * @default false
   */
  force?: boolean;
}

/**
 * A development {@link Mailer} that prints each message, code first, to the
 * terminal instead of sending it. It is what `NpUser` uses when no `mailer`
 * is given outside production.
 *
 * @throws TypeError under `NODE_ENV=production` unless `force: true`.
 *
 * @example
 * ```ts
 * import { NpUser, consoleMailer } from 'npuser';
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET!, mailer: consoleMailer() });
 * ```
 */
export function consoleMailer(options: ConsoleMailerOptions = {}): Mailer {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new TypeError('npuser: consoleMailer(options) takes an options object');
  }
  if (process.env.NODE_ENV === 'production' && options.force !== true) {
    throw new TypeError(
      'npuser: consoleMailer() prints sign-in codes and is refused when NODE_ENV=production; configure a real mailer (or pass { force: true })',
    );
  }
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  if (typeof write !== 'function') throw new TypeError('npuser: consoleMailer options.write must be a function');
  return {
    send(message) {
      const { subject, text } = renderCodeMessage(message);
      const rule = '─'.repeat(60);
      write(
        [
          '',
          `┌${rule}`,
          `│ npuser console mailer: this message was printed, not sent`,
          `│ To:      ${message.to}`,
          `│ Subject: ${subject}`,
          `│`,
          `│ CODE:    ${groupCodeDigits(message.code)}    (type ${message.code})`,
          `│`,
          ...text.trimEnd().split('\n').map((line) => `│ ${line}`),
          `└${rule}`,
          '',
        ].join('\n'),
      );
      return Promise.resolve();
    },
  };
}
