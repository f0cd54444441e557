import { describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore, type Mailer } from 'npuser';
import { redactError } from '../../src/lib/redact.js';
import { SECRET } from '../helpers.js';

describe('redactError', () => {
  it('redacts every given form, case-insensitively, in message and name; drops stack and cause', () => {
    const original = new Error('550 <ADA@Example.com> rejected, code 042917', { cause: new Error('ada@example.com') });
    original.name = 'SmtpError ada@example.com';
    const copy = redactError(original, ['ada@example.com', '042917']);
    expect(copy.message).toBe('550 <[redacted]> rejected, code [redacted]');
    expect(copy.name).toBe('SmtpError [redacted]');
    expect(copy.stack).not.toContain('ada');
    expect(copy.cause).toBeUndefined();
  });

  it('keeps an error code only when it looks like one', () => {
    expect((redactError(Object.assign(new Error('x'), { code: 'EENVELOPE' }), []) as { code?: string }).code).toBe('EENVELOPE');
    expect((redactError(Object.assign(new Error('x'), { code: 'to ada@example.com' }), []) as { code?: string }).code).toBeUndefined();
  });
});

describe('mailer failures for internationalised domains', () => {
  it('redact the address in its Unicode form too', async () => {
    const mailer: Mailer = {
      send: (message) => Promise.reject(new Error(`553 mailbox ada@bücher.de unavailable (${message.to})`)),
    };
    const np = new NpUser({ secret: SECRET, mailer, store: memoryCodeStore() });
    const err: unknown = await np.requestCode('ada@bücher.de').catch((e: unknown) => e);
    expect(isNpUserError(err, 'ERR_NPUSER_MAILER_FAILED')).toBe(true);
    const cause = (err as { cause: Error }).cause;
    expect(cause.message).toBe('553 mailbox [redacted] unavailable ([redacted])');
  });
});

describe('options are read once', () => {
  it('a getter cannot pass validation and then hand over something else', () => {
    let reads = 0;
    const options = {
      secret: SECRET,
      get store() {
        reads += 1;
        return reads === 1 ? memoryCodeStore() : ('not a store' as never);
      },
    };
    const np = new NpUser(options);
    expect(reads).toBe(1);
    expect(np).toBeInstanceOf(NpUser);
  });
});
