import { groupCodeDigits, mailerRenderer, type MailerMessageOptions } from './template.js';
import { booleanOption, functionOption, optionsObject } from '../lib/checks.js';
import { isAborted } from '../lib/deadline.js';
import type { Mailer } from '../types.js';

/**
 * Options for {@link consoleMailer}: where to print, and the same message
 * options as every npuser mailer (`strings`, `defaultLocale`, `render`), so
 * what you read in development is what your users will get.
 *
 * @example
 * ```ts
 * import { consoleMailer, type ConsoleMailerOptions } from 'npuser';
 * const options: ConsoleMailerOptions = { write: (text) => process.stderr.write(text), defaultLocale: 'fr' };
 * const mailer = consoleMailer(options);
 * ```
 */
export interface ConsoleMailerOptions extends MailerMessageOptions {
  /** Where the message goes. @default writes to standard output */
  write?: (text: string) => void;
  /**
   * Allow construction under `NODE_ENV=production`. Codes printed to a
   * production log are readable by anyone who can read the log.
   * @default false
   */
  force?: boolean;
}

const WHO = 'consoleMailer';
const RULE = '─'.repeat(64);

/**
 * A development {@link Mailer} that prints each message to the terminal
 * instead of sending it: the code first, on its own line and also as one
 * string to copy, then the rendered subject and text part in the reader's
 * language. It is what `NpUser` uses when no `mailer` is given outside
 * production. A failing `write` rejects, and an aborted send prints nothing.
 *
 * @throws TypeError under `NODE_ENV=production` unless `force: true`, and
 * when an option is malformed.
 *
 * @example
 * ```ts
 * import { NpUser, consoleMailer } from 'npuser';
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET!, mailer: consoleMailer() });
 * ```
 */
export function consoleMailer(options: ConsoleMailerOptions = {}): Mailer {
  const given = optionsObject<ConsoleMailerOptions>(WHO, options, {});
  // Exactly `true` forces it: in production anything else is the production refusal, not a type error.
  if (process.env.NODE_ENV === 'production' && given.force !== true) {
    throw new TypeError(
      'npuser: consoleMailer() prints sign-in codes and is refused when NODE_ENV=production; configure a real mailer (or pass { force: true })',
    );
  }
  booleanOption(WHO, 'force', given.force, false);
  const write = functionOption<(text: string) => void>(WHO, 'write', given.write) ?? ((text: string) => void process.stdout.write(text));
  const render = mailerRenderer(given as MailerMessageOptions, WHO);
  return {
    async send(message, sendOptions) {
      const signal = (sendOptions as Partial<typeof sendOptions> | undefined)?.signal;
      if (isAborted(signal)) throw abortedError();
      const { subject, text } = await render(message);
      // Rendering may be the app's own async function: the signal may have fired meanwhile.
      if (isAborted(signal)) throw abortedError();
      write(
        [
          '',
          `┌${RULE}`,
          '│ npuser console mailer: this message was printed, not sent',
          `│ To:      ${message.to}`,
          `│ Subject: ${subject}`,
          '│',
          // The demo's browser test reads the code from this exact line.
          `│ CODE:    ${groupCodeDigits(message.code)}    (type ${message.code})`,
          '│',
          ...text
            .trimEnd()
            .split('\n')
            .map((line) => `│   ${line}`.trimEnd()),
          `└${RULE}`,
          '',
        ].join('\n'),
      );
    },
  };
}

function abortedError(): Error {
  const error = new Error('console mailer: the send was aborted before anything was printed');
  error.name = 'AbortError';
  return error;
}
