import { describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore, type Mailer } from 'npuser';
import { redactError, spreadDigitsPattern } from '../../src/lib/redact.js';
import { renderCodeMessage } from 'npuser';
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

describe('spreadDigitsPattern', () => {
  it('finds a code however it is spread: plain, grouped, hyphenated, over HTML spans', () => {
    const pattern = spreadDigitsPattern('042917');
    for (const [text, redacted] of [
      ['042917', '[redacted]'],
      ['042 917', '[redacted]'],
      ['042-917', '[redacted]'],
      // Tags whose attributes hold digits, as in the HTML part.
      ['<span>042</span><span style="padding-left:0.45em;">917</span>', '<span>[redacted]</span>'],
    ] as const) {
      expect(redactError(new Error(`quoted: ${text}!`), [pattern]).message, text).toBe(`quoted: ${redacted}!`);
    }
    // Other digits in between make it another number: left alone.
    expect(redactError(new Error('0429170'), [spreadDigitsPattern('042917')]).message).toBe('[redacted]0');
    expect(redactError(new Error('04 2 9 1 7 x'), [pattern]).message).toBe('[redacted] x');
    expect(redactError(new Error('0429 917'), [pattern]).message).toBe('0429 917');
  });
});

describe('mailer failures quoting the message', () => {
  it('redact the code from the HTML part, where it is split over spans', async () => {
    const mailer: Mailer = {
      send: (message) => Promise.reject(new Error(`rejected body: ${renderCodeMessage(message).html}`)),
    };
    const np = new NpUser({ secret: SECRET, mailer, store: memoryCodeStore(), generateCode: () => '042917' });
    const err: unknown = await np.requestCode('ada@example.com').catch((e: unknown) => e);
    expect(isNpUserError(err, 'ERR_NPUSER_MAILER_FAILED')).toBe(true);
    const cause = (err as { cause: Error }).cause;
    expect(cause.message).toContain('[redacted]');
    expect(cause.message.replace(/[^0-9]/g, '')).not.toContain('042917');
    expect(cause.message).not.toMatch(/042[^0-9]*917/);
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
