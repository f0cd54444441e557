// A sample CodeMessage for the mailer and template tests, and a fresh abort signal to send it with.
import type { CodeMessage } from 'npuser';

/** A message for ada@example.com, code 042917, app "My blog", valid for ten minutes from now. */
export function codeMessage(overrides: Partial<CodeMessage> = {}): CodeMessage {
  return {
    to: 'ada@example.com',
    code: '042917',
    appName: 'My blog',
    expiresAt: new Date(Date.now() + 600_000),
    ttlSeconds: 600,
    ...overrides,
  };
}

/** A signal that is never aborted. */
export const signal = (): AbortSignal => new AbortController().signal;
