import { argumentError } from '../lib/checks.js';
import { isAborted } from '../lib/deadline.js';
import { canonicalEmail } from '../lib/email.js';
import type { CodeMessage, Mailer } from '../types.js';

/**
 * A {@link Mailer} that keeps every message in memory, for app tests.
 *
 * @example
 * ```ts
 * import { memoryMailer } from 'npuser/testing';
 * const mailer = memoryMailer();
 * ```
 */
export interface MemoryMailer extends Mailer {
  /** Every message sent so far, oldest first. */
  readonly messages: readonly CodeMessage[];
  /**
   * The code of the newest message to `email`, or `undefined`. Addresses are
   * compared in npuser's canonical form, so every spelling of one address
   * finds it: `' Ada@Example.COM '`, or `ada@bücher.de` for a message sent to
   * `ada@xn--bcher-kva.de`. An address npuser would refuse finds nothing.
   * @throws TypeError when `email` is not a string.
   */
  lastCodeFor(email: string): string | undefined;
  /**
   * Make the next `send` reject with `error` (a delivery failure in a test).
   * @throws TypeError when `error` is given and is not an `Error`.
   */
  failNextSend(error?: Error): void;
  /** Forget every message. */
  clear(): void;
}

/**
 * Create a {@link MemoryMailer}: app tests read the code a user would have
 * received without any SMTP server.
 *
 * @example
 * ```ts
 * import { NpUser } from 'npuser';
 * import { memoryMailer } from 'npuser/testing';
 *
 * const mailer = memoryMailer();
 * const np = new NpUser({ secret: 'a test secret of at least 32 bytes!!', mailer });
 * await np.requestCode('ada@example.com');
 * const { token } = await np.verifyCode('ada@example.com', mailer.lastCodeFor('ada@example.com')!);
 * ```
 */
export function memoryMailer(): MemoryMailer {
  const messages: CodeMessage[] = [];
  let nextFailure: Error | undefined;
  return {
    messages,
    send(message, options) {
      // An aborted send delivers nothing, as the Mailer contract requires of every mailer.
      if (isAborted((options as Partial<typeof options> | undefined)?.signal)) {
        return Promise.reject(new Error('memory mailer: the send was aborted'));
      }
      if (nextFailure) {
        const error = nextFailure;
        nextFailure = undefined;
        return Promise.reject(error);
      }
      messages.push(Object.freeze({ ...message }));
      return Promise.resolve();
    },
    lastCodeFor(email) {
      if (typeof email !== 'string') throw argumentError('memoryMailer', 'lastCodeFor(email)', 'must be a string');
      const wanted = canonicalOrUndefined(email);
      if (wanted === undefined) return undefined;
      for (let i = messages.length - 1; i >= 0; i -= 1) {
        const message = messages[i];
        // npuser sends canonical addresses, but a test may call send() with any spelling.
        if (message && canonicalOrUndefined(message.to) === wanted) return message.code;
      }
      return undefined;
    },
    failNextSend(error = new Error('simulated delivery failure')) {
      if (!(error instanceof Error)) throw argumentError('memoryMailer', 'failNextSend(error)', 'must be an Error');
      nextFailure = error;
    },
    clear() {
      messages.length = 0;
    },
  };
}

function canonicalOrUndefined(email: unknown): string | undefined {
  try {
    return canonicalEmail(email);
  } catch {
    return undefined;
  }
}
