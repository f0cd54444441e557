import { describe, expect, it } from 'vitest';
import { NpUser } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { codeMessage, signal } from '../support/code-message.js';

const CANONICAL = 'ada@xn--bcher-kva.de';

describe('memoryMailer().lastCodeFor finds a message under every spelling of its address', () => {
  // Regression: lastCodeFor compared the trimmed, lowercased input with the stored address, so
  // `ada@bücher.de` never found the message npuser had sent to `ada@xn--bcher-kva.de`.
  it.each([
    ['the Unicode domain', 'ada@bücher.de'],
    ['the Unicode domain in capitals', 'Ada@BÜCHER.DE'],
    ['the punycode, spaced and in capitals', '  ADA@XN--BCHER-KVA.DE '],
    ['a combining diaeresis instead of ü', 'ada@bu\u0308cher.de'],
    ['a fullwidth letter and a fullwidth dot', 'ada@ｂücher．de'],
  ])('%s: %s', async (_name, spelling) => {
    const mailer = memoryMailer();
    await mailer.send(codeMessage({ to: CANONICAL, code: '123456' }), { signal: signal() });
    expect(mailer.lastCodeFor(spelling)).toBe('123456');
  });

  it('whatever spelling the message itself was sent under (a test may call send directly)', async () => {
    const mailer = memoryMailer();
    await mailer.send(codeMessage({ to: 'Ada@Bücher.de', code: '654321' }), { signal: signal() });
    expect(mailer.lastCodeFor(CANONICAL)).toBe('654321');
  });

  it('through NpUser: the code for an internationalised address is found by the address the user typed', async () => {
    const mailer = memoryMailer();
    const np = new NpUser({ secret: 'memory mailer test secret, 32 bytes+', mailer });
    const { email } = await np.requestCode('Ada@Bücher.de');
    expect(email).toBe(CANONICAL);
    expect(mailer.messages.map((m) => m.to)).toEqual([CANONICAL]);
    const code = mailer.lastCodeFor('Ada@Bücher.de');
    expect(code).toMatch(/^\d{6}$/);
    const verified = await np.verifyCode('ada@bücher.de', code!);
    expect(verified.email).toBe(CANONICAL);
  });

  it('the newest message wins; other addresses and unusable ones find nothing', async () => {
    const mailer = memoryMailer();
    await mailer.send(codeMessage({ to: CANONICAL, code: '111111' }), { signal: signal() });
    await mailer.send(codeMessage({ to: 'grace@example.com', code: '222222' }), { signal: signal() });
    await mailer.send(codeMessage({ to: CANONICAL, code: '333333' }), { signal: signal() });
    expect(mailer.lastCodeFor('ada@bücher.de')).toBe('333333');
    expect(mailer.lastCodeFor('ada@bucher.de')).toBeUndefined();
    expect(mailer.lastCodeFor('not an address')).toBeUndefined();
    expect(mailer.lastCodeFor('')).toBeUndefined();
    mailer.clear();
    expect(mailer.lastCodeFor(CANONICAL)).toBeUndefined();
  });

  it('misuse is a TypeError in the option-check format', () => {
    const mailer = memoryMailer();
    expect(() => mailer.lastCodeFor(42 as unknown as string)).toThrow(
      new TypeError('npuser: memoryMailer lastCodeFor(email) must be a string'),
    );
    expect(() => {
      mailer.failNextSend('boom' as unknown as Error);
    }).toThrow(new TypeError('npuser: memoryMailer failNextSend(error) must be an Error'));
  });
});
