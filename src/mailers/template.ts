import type { CodeMessage } from '../types.js';

/**
 * A rendered message: what a mailer puts on the wire.
 *
 * @example
 * ```ts
 * import type { RenderedMessage } from 'npuser';
 * const rendered: RenderedMessage = { subject: 'Your sign-in code', text: 'Your code: 042917' };
 * ```
 */
export interface RenderedMessage {
  /** Never contains the code: lock screens preview subjects. */
  readonly subject: string;
  /** The text/plain body. */
  readonly text: string;
}

/**
 * The code split into groups of three for reading aloud ("042 917").
 *
 * @example
 * ```ts
 * import { groupCodeDigits } from 'npuser';
 * groupCodeDigits('04291733'); // '042 917 33'
 * ```
 */
export function groupCodeDigits(code: string): string {
  return code.replace(/(\d{3})(?=\d)/g, '$1 ');
}

/**
 * The default English rendering of a {@link CodeMessage}: no links, no
 * images, the code on its own line, and what to do if you did not ask for it.
 *
 * @example
 * ```ts
 * import { renderCodeMessage } from 'npuser';
 * const { subject, text } = renderCodeMessage({
 *   to: 'ada@example.com', code: '042917', appName: 'My blog',
 *   expiresAt: new Date(Date.now() + 600_000), ttlSeconds: 600,
 * });
 * ```
 */
export function renderCodeMessage(message: CodeMessage): RenderedMessage {
  const minutes = Math.max(1, Math.round(message.ttlSeconds / 60));
  return {
    subject: `Your ${message.appName} sign-in code`,
    text: [
      `Your code to sign in to ${message.appName}:`,
      '',
      `    ${groupCodeDigits(message.code)}`,
      '',
      `It works once, for ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      '',
      'If you did not ask for this code, ignore this message: nobody can sign in without it.',
      '',
    ].join('\n'),
  };
}
