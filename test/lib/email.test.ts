import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isNpUserError, type NpUserOptions } from 'npuser';
import { canonicalEmail } from '../../src/lib/email.js';
import { caught, thrown } from '../support/errors.js';
import { spySetup } from '../support/spy-store.js';

// Count every call into IDNA, so "a megabyte string is refused before any real
// work" is measured by a call count rather than by a flaky stopwatch.
const idna = vi.hoisted(() => ({ calls: 0 }));
vi.mock('node:url', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:url')>();
  return {
    ...actual,
    domainToASCII: (domain: string) => {
      idna.calls += 1;
      return actual.domainToASCII(domain);
    },
  };
});

const SECRET = 'email canonicalisation test secret, >= 32 bytes';
const MB = 1 << 20;

const setup = (options: Partial<NpUserOptions> = {}) => spySetup(SECRET, options);

const isInvalidEmail = (err: unknown) => isNpUserError(err, 'ERR_NPUSER_INVALID_EMAIL');

// 64 + 1 + 189 = 254 characters: the longest address RFC 5321 allows.
const LOCAL_64 = 'l'.repeat(64);
const DOMAIN_189 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(61)}`;

const ACCEPTED: readonly (readonly [input: string, canonical: string])[] = [
  ['ada@example.com', 'ada@example.com'],
  ['  ada@example.com  ', 'ada@example.com'],
  // Surrounding whitespace (even CR/LF) is trimmed; only whitespace *inside* is refused.
  ['\t ada@example.com\r\n', 'ada@example.com'],
  ['ada@EXAMPLE.COM', 'ada@example.com'],
  ['ADA@Example.Com', 'ada@example.com'],
  ['Ada.Lovelace@Example.com', 'ada.lovelace@example.com'],
  // Locale-independent lowercasing: `I` becomes `i`, never a Turkish dotless `ı`.
  ['IRIS@example.com', 'iris@example.com'],
  ['ada@bücher.de', 'ada@xn--bcher-kva.de'],
  ['ada@BÜCHER.DE', 'ada@xn--bcher-kva.de'],
  ['ada@XN--BCHER-KVA.DE', 'ada@xn--bcher-kva.de'],
  ['ada@ｅｘａｍｐｌｅ．ｃｏｍ', 'ada@example.com'],
  ['ada@ＥＸＡＭＰＬＥ.com', 'ada@example.com'],
  ['ada@example。com', 'ada@example.com'],
  ['ada+news@example.com', 'ada+news@example.com'],
  ['Ada+News@example.com', 'ada+news@example.com'],
  ['a.d.a@gmail.com', 'a.d.a@gmail.com'],
  ['ada@googlemail.com', 'ada@googlemail.com'],
  ["o'brien@example.com", "o'brien@example.com"],
  ['x#$&*+/=^?_`{|}~-@example.com', 'x#$&*+/=^?_`{|}~-@example.com'],
  // `=` and `?` are fine apart (SRS and VERP addresses use `=`); only `=?` opens an encoded word.
  ['bounce+ada=example.org@lists.example', 'bounce+ada=example.org@lists.example'],
  ['why?=not@example.com', 'why?=not@example.com'],
  ['a@b.co', 'a@b.co'],
  ['ada@123.example', 'ada@123.example'],
  ['ada@ex--ample.com', 'ada@ex--ample.com'],
  ['__proto__@example.com', '__proto__@example.com'],
  ['constructor@example.com', 'constructor@example.com'],
  [`${LOCAL_64}@example.com`, `${LOCAL_64}@example.com`],
  [`${LOCAL_64}@${DOMAIN_189}`, `${LOCAL_64}@${DOMAIN_189}`],
];

const REFUSED: readonly (readonly [name: string, input: string])[] = [
  ['empty string', ''],
  ['only spaces', '   '],
  ['no @', 'ada.example.com'],
  ['empty local part', '@example.com'],
  ['empty domain', 'ada@'],
  // Valid atext, but read as routes or encoded words by some mail software downstream.
  ['percent-hack source route', 'victim%attacker.example@relay.example'],
  ['bang path', 'attacker.example!victim@relay.example'],
  ['RFC 2047 encoded word', '=?utf-8?q?evil=40attacker.example?=@x.com'],
  ['encoded word inside the local part', 'a=?b@x.com'],
  ['header injection CRLF', 'a@b.com\r\nBcc: x@y.com'],
  ['header injection LF', 'a@b.com\nBcc: x@y.com'],
  ['header injection CR', 'a@b.com\rBcc: x@y.com'],
  ['CRLF in the local part', 'a\r\nb@example.com'],
  ['NUL in the domain', 'ada@exam\u0000ple.com'],
  ['NUL after the address', 'ada@example.com\u0000'],
  ['NUL in the local part', 'a\u0000da@example.com'],
  ['tab inside', 'ada@exam\tple.com'],
  ['tab in the local part', 'a\tda@example.com'],
  ['vertical tab inside', 'ada@exam\u000bple.com'],
  ['DEL inside', 'ada@exam\u007fple.com'],
  ['C1 NEL inside the domain', 'ada@exam\u0085ple.com'],
  ['line separator inside the domain', 'ada@exam\u2028ple.com'],
  ['two @', 'a@b@example.com'],
  ['double @@', 'a@@example.com'],
  ['quoted local part', '"ada"@example.com'],
  ['quoted local part with space', '"ada lovelace"@example.com'],
  ['quoted local part with @', '"a@b"@example.com'],
  ['comment in the local part', 'ada(x)@example.com'],
  ['comment before', '(x)ada@example.com'],
  ['comment in the domain', 'ada@(x)example.com'],
  ['comment after', 'ada@example.com(x)'],
  ['domain literal', 'ada@[1.2.3.4]'],
  ['IPv6 domain literal', 'ada@[IPv6:::1]'],
  ['bare IPv4', 'ada@1.2.3.4'],
  ['short IPv4', 'ada@127.1'],
  ['hex IPv4', 'ada@0x7f.0.0.1'],
  ['numeric top label', 'ada@example.123'],
  ['comma list', 'a@b.com,c@d.com'],
  ['semicolon list', 'a@b.com; c@d.com'],
  ['semicolon list without space', 'a@b.com;c@d.com'],
  ['angle brackets', '<a@b.com>'],
  ['display name', 'Name <a@b.com>'],
  ['quoted display name', '"Name" <a@b.com>'],
  ['space in the local part', 'ada lovelace@example.com'],
  ['space in the domain', 'ada@exam ple.com'],
  ['space before @', 'ada @example.com'],
  ['trailing word', 'ada@example.com x'],
  ['no-break space inside', 'ada@exam\u00a0ple.com'],
  ['backslash escape', 'a\\@b@example.com'],
  ['backslash in the local part', 'a\\b@example.com'],
  ['non-ASCII local part (ö)', 'jöhn@x.com'],
  ['Turkish dotless ı in the local part', 'ıda@example.com'],
  ['Turkish dotted İ in the local part', 'İda@example.com'],
  ['Kelvin sign in the local part', '\u212Ada@example.com'],
  ['long s in the local part', 'ſam@example.com'],
  ['full-width local part', 'ａｄａ@example.com'],
  ['full-width @', 'ada＠example.com'],
  ['Cyrillic local part', 'аda@example.com'],
  ['local part of 65', `${'l'.repeat(65)}@example.com`],
  ['whole of 255', `${LOCAL_64}@${DOMAIN_189.slice(0, -1)}cc`],
  ['leading dot', '.ada@example.com'],
  ['trailing dot in the local part', 'ada.@example.com'],
  ['double dot in the local part', 'a..da@example.com'],
  ['leading dot in the domain', 'ada@.example.com'],
  ['double dot in the domain', 'ada@example..com'],
  ['trailing-dot domain', 'ada@example.com.'],
  ['trailing ideographic full stop', 'ada@example.com。'],
  ['hyphen-leading label', 'ada@-example.com'],
  ['hyphen-trailing label', 'ada@example-.com'],
  ['hyphen-leading top label', 'ada@example.-com'],
  ['single-label domain', 'ada@localhost'],
  ['single-label TLD', 'ada@com'],
  ['underscore in the domain', 'ada@ex_ample.com'],
  ['label of 64', `ada@${'a'.repeat(64)}.com`],
  ['invalid punycode', 'ada@xn--zz.com'],
  ['percent in the domain', 'ada@ex%61mple.com'],
  ['full-width percent in the domain', 'ada@ex％61mple.com'],
  ['URL path', 'ada@example.com/x'],
  ['port', 'ada@example.com:25'],
  ['query', 'ada@example.com?x'],
  ['fragment', 'ada@example.com#x'],
  ['userinfo-looking', 'ada:pw@example.com'],
  ['megabyte local part', `${'a'.repeat(MB)}@example.com`],
  ['megabyte domain', `ada@${'b'.repeat(MB)}.com`],
  ['megabyte of padding around a valid address', `${' '.repeat(MB)}ada@example.com`],
  ['megabyte of @', '@'.repeat(MB)],
  ['megabyte of CRLF', `ada@example.com${'\r\nBcc: x@y.com'.repeat(MB / 16)}`],
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe('canonicalEmail: accepted addresses and their canonical form', () => {
  it.each(ACCEPTED)('%j → %j', (input, canonical) => {
    expect(canonicalEmail(input)).toBe(canonical);
    // canon(canon(x)) === canon(x)
    expect(canonicalEmail(canonical)).toBe(canonical);
  });

  it('keeps +tags and Gmail dots distinct (no provider rewriting)', () => {
    const forms = ['ada@gmail.com', 'a.da@gmail.com', 'ad.a@gmail.com', 'ada+x@gmail.com', 'ada+y@gmail.com'];
    expect(new Set(forms.map(canonicalEmail)).size).toBe(forms.length);
  });

  it('does not use locale-dependent case mapping anywhere in the email code', () => {
    const source = readFileSync(new URL('../../src/lib/email.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/toLocale(Lower|Upper)Case/);
  });

  it('mails the canonical address, as exactly one recipient, and verifies whatever case the user types', async () => {
    const s = setup();
    await s.np.requestCode('  Ada.Lovelace+News@BÜCHER.de ');
    expect(s.mailer.messages).toHaveLength(1);
    const message = s.mailer.messages[0]!;
    expect(message.to).toBe('ada.lovelace+news@xn--bcher-kva.de');
    expect(message.to).not.toMatch(/[,;<>\s]/);
    expect(message.to.split('@')).toHaveLength(2);
    const result = await s.np.verifyCode('ADA.LOVELACE+NEWS@xn--bcher-kva.DE', message.code);
    expect(result.email).toBe('ada.lovelace+news@xn--bcher-kva.de');
  });

  it('treats __proto__@… as an ordinary address and pollutes nothing', async () => {
    const s = setup();
    await s.np.requestCode('__proto__@example.com');
    const code = s.mailer.lastCodeFor('__proto__@example.com');
    expect(code).toMatch(/^[0-9]{6}$/);
    const { email, subject } = await s.np.verifyCode('__PROTO__@example.com', code!);
    expect(email).toBe('__proto__@example.com');
    expect(typeof subject).toBe('string');
    expect(({} as Record<string, unknown>).code).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
    // A different address still has its own, separate state.
    await s.np.requestCode('constructor@example.com');
    expect(s.mailer.messages.map((m) => m.to)).toEqual(['__proto__@example.com', 'constructor@example.com']);
  });
});

describe('canonicalEmail: refused addresses', () => {
  it.each(REFUSED)('refuses %s', (_name, input) => {
    expect(isInvalidEmail(thrown(() => canonicalEmail(input)))).toBe(true);
  });

  it.each(REFUSED)('requestCode and verifyCode refuse %s without touching the store or the mailer', async (_name, input) => {
    const s = setup();
    expect(isInvalidEmail(await caught(s.np.requestCode(input)))).toBe(true);
    expect(isInvalidEmail(await caught(s.np.verifyCode(input, '123456')))).toBe(true);
    expect(isInvalidEmail(await caught(s.np.requestCode(input, { clientKey: 'client-1' })))).toBe(true);
    expect(s.store.total()).toBe(0);
    expect(s.store.inner.size).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('refuses megabyte strings before any real work (no IDNA call, no trim)', () => {
    const inputs = [
      `${'a'.repeat(MB)}@example.com`,
      `ada@${'b'.repeat(MB)}.com`,
      `${' '.repeat(MB)}ada@example.com`,
      `ada@${'ü'.repeat(MB)}.de`,
    ];
    const trim = vi.spyOn(String.prototype, 'trim');
    idna.calls = 0;
    for (const input of inputs) expect(isInvalidEmail(thrown(() => canonicalEmail(input)))).toBe(true);
    const trimCalls = trim.mock.calls.length;
    trim.mockRestore();
    expect(idna.calls).toBe(0);
    expect(trimCalls).toBe(0);
    // Positive control: the counter does see an address that needs IDNA (plain ASCII ones skip it).
    canonicalEmail('ada@bücher.de');
    expect(idna.calls).toBe(1);
  });

  it('never hands URL syntax or control characters to IDNA', () => {
    idna.calls = 0;
    for (const input of ['ada@example.com/x', 'ada@[::1]', 'ada@ex%61mple.com', 'a@b.com\r\nBcc: x@y.com', 'ada@ex ample.com']) {
      expect(isInvalidEmail(thrown(() => canonicalEmail(input)))).toBe(true);
    }
    expect(idna.calls).toBe(0);
  });
});

describe('canonicalEmail: Unicode case and compatibility collisions', () => {
  it('collapses only spellings of the same mailbox', () => {
    const same: readonly (readonly [string, string])[] = [
      ['ADA@example.com', 'ada@example.com'],
      ['ada@EXAMPLE.com', 'ada@example.com'],
      ['ada@ｅｘａｍｐｌｅ.com', 'ada@example.com'],
      // UTS-46 maps the Kelvin sign to `k` in a *domain*: the same DNS name, so the same mailbox.
      ['ada@\u212Aelvin.example', 'ada@kelvin.example'],
      ['ada@BÜCHER.de', 'ada@bücher.de'],
    ];
    for (const [a, b] of same) expect(canonicalEmail(a), `${a} vs ${b}`).toBe(canonicalEmail(b));
  });

  it('keeps homographs and case-folding look-alikes apart', () => {
    const apart: readonly (readonly [string, string])[] = [
      ['ada@exаmple.com', 'ada@example.com'], // Cyrillic а
      ['ada@gοogle.com', 'ada@google.com'], // Greek ο
      ['ada@faß.de', 'ada@fass.de'], // nontransitional IDNA: ß is not ss
      ['ada@ıexample.com', 'ada@iexample.com'], // dotless ı
      ['ada@İexample.com', 'ada@iexample.com'], // dotted İ
      ['ada+1@example.com', 'ada@example.com'],
      ['a.da@example.com', 'ada@example.com'],
    ];
    for (const [a, b] of apart) {
      const ca = canonicalEmail(a);
      expect(ca, `${a} vs ${b}`).not.toBe(canonicalEmail(b));
      expect(ca).toMatch(/^[\x21-\x7e]+$/);
    }
  });

  it('refuses non-ASCII local parts rather than folding them onto ASCII ones', () => {
    for (const input of ['\u212Ada@example.com', 'ſada@example.com', 'ıda@example.com', 'ＡＤＡ@example.com', 'ada\u0301@example.com']) {
      expect(isInvalidEmail(thrown(() => canonicalEmail(input))), input).toBe(true);
    }
  });

  it('a code sent to a homograph domain never verifies for the real one, and vice versa', async () => {
    const s = setup({ generateCode: () => '314159' });
    await s.np.requestCode('ada@exаmple.com');
    expect(s.mailer.messages[0]!.to).toBe('ada@xn--exmple-4nf.com');
    expect(isNpUserError(await caught(s.np.verifyCode('ada@example.com', '314159')), 'ERR_NPUSER_INVALID_CODE')).toBe(true);
    // The real owner of the homograph still can.
    await expect(s.np.verifyCode('ada@exаmple.com', '314159')).resolves.toMatchObject({ email: 'ada@xn--exmple-4nf.com' });
  });

  it('gives one subject to case variants of one address and different subjects to homographs', async () => {
    const s = setup({ generateCode: () => '271828', resendCooldownSeconds: 0 });
    const subjectOf = async (requested: string, verified: string) => {
      await s.np.requestCode(requested);
      return (await s.np.verifyCode(verified, '271828')).subject;
    };
    const a = await subjectOf('ADA@Example.com', 'ada@example.com');
    const b = await subjectOf('ada@EXAMPLE.COM', 'Ada@example.com');
    const c = await subjectOf('ada@exаmple.com', 'ada@exаmple.com');
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });
});

// fc.emailAddress() draws from all of RFC 5322 atext; npuser refuses `%`, `!` and `=?` on purpose.
const ROUTING_OR_ENCODED_WORD = /[%!]|=\?/;
const plainEmailAddress = () => fc.emailAddress().filter((address) => !ROUTING_OR_ENCODED_WORD.test(address.split('@')[0]!));

describe('canonicalEmail: properties', () => {
  const isTypedRefusal = (err: unknown) => isInvalidEmail(err) && (err as Error).message === 'The email address is not valid.';

  function checkOutput(input: string): void {
    let out: string;
    try {
      out = canonicalEmail(input);
    } catch (err) {
      if (!isTypedRefusal(err)) throw err;
      return;
    }
    expect(typeof out).toBe('string');
    expect(out).toMatch(/^[\x21-\x7e]+$/); // ASCII, no whitespace, no control characters
    expect(out.split('@')).toHaveLength(2);
    expect(out.length).toBeLessThanOrEqual(254);
    expect(out.indexOf('@')).toBeLessThanOrEqual(64);
    expect(out).not.toMatch(/[()<>[\]\\,;:"\s]/);
    expect(canonicalEmail(out)).toBe(out);
  }

  // Characters that sit on the edges of the rules: atext, specials, look-alikes,
  // IDNA-ignored and IDNA-mapped code points, controls and line breaks.
  const tricky = fc.constantFrom(
    'a',
    'Z',
    '0',
    '9',
    '.',
    '-',
    '_',
    '+',
    '@',
    '@',
    '@',
    ' ',
    '\t',
    '\r',
    '\n',
    '\u0000',
    '"',
    '(',
    ')',
    '<',
    '>',
    '[',
    ']',
    ',',
    ';',
    ':',
    '\\',
    '%',
    '/',
    '?',
    '#',
    'ü',
    'Ü',
    'ß',
    'ı',
    'İ',
    '\u212A',
    'ſ',
    'а',
    'ο',
    'ｅ',
    'Ｅ',
    '．',
    '。',
    '＠',
    '\u00AD',
    '\u200B',
    '\u200D',
    '\uFEFF',
    '\u0085',
    '\u2028',
    '\u00A0',
    '①',
    'ﬀ',
    '\u0301',
    '\uD83D\uDE00',
    'xn--',
    'com',
    'example',
  );

  it('on any string: returns a canonical ASCII address or throws the typed refusal, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'binary-ascii', maxLength: 80 })), checkOutput),
      { numRuns: 3000 },
    );
  });

  it('on strings built from tricky characters around an @: same contract', () => {
    const part = fc.string({ unit: tricky, maxLength: 20 });
    fc.assert(
      fc.property(
        fc.tuple(part, part, part).map(([l, d, t]) => `${l}@${d}.${t}`),
        checkOutput,
      ),
      { numRuns: 5000 },
    );
    fc.assert(fc.property(fc.string({ unit: tricky, maxLength: 40 }), checkOutput), { numRuns: 3000 });
  });

  it('on valid addresses: accepted, lowercased, idempotent and case-insensitive', () => {
    fc.assert(
      fc.property(plainEmailAddress(), fc.constantFrom('', ' ', '\t', '\r\n'), (address, pad) => {
        fc.pre(address.length <= 254);
        const canon = canonicalEmail(`${pad}${address}${pad}`);
        const at = address.indexOf('@');
        expect(canon).toBe(`${address.slice(0, at).toLowerCase()}@${address.slice(at + 1).toLowerCase()}`);
        expect(canonicalEmail(canon)).toBe(canon);
        // fc.emailAddress() is ASCII, so upper-casing cannot create a new code point.
        expect(canonicalEmail(address.toUpperCase())).toBe(canon);
      }),
      { numRuns: 2000 },
    );
  });

  it('on addresses whose local part holds %, ! or =?: refused, wherever it sits', () => {
    fc.assert(
      fc.property(plainEmailAddress(), fc.constantFrom('%', '!', '=?'), fc.nat(), (address, routing, at) => {
        const local = address.split('@')[0]!;
        const i = at % (local.length + 1);
        const spliced = `${local.slice(0, i)}${routing}${local.slice(i)}${address.slice(local.length)}`;
        fc.pre(spliced.split('@')[0]!.length <= 64);
        expect(() => canonicalEmail(spliced)).toThrow(expect.objectContaining({ code: 'ERR_NPUSER_INVALID_EMAIL' }));
      }),
      { numRuns: 1000 },
    );
  });

  it('on valid addresses with random ASCII case flips: one canonical form', () => {
    fc.assert(
      fc.property(plainEmailAddress(), fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }), (address, flips) => {
        fc.pre(address.length <= 254);
        const mixed = Array.from(address)
          .map((ch, i) => (flips[i] ? ch.toUpperCase() : ch.toLowerCase()))
          .join('');
        expect(canonicalEmail(mixed)).toBe(canonicalEmail(address));
      }),
      { numRuns: 1000 },
    );
  });

  it('on valid local parts with a non-ASCII character spliced in: refused', () => {
    fc.assert(
      fc.property(
        plainEmailAddress(),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c.codePointAt(0)! > 0x7f && c.trim() === c),
        fc.nat(),
        (address, ch, where) => {
          const at = address.indexOf('@');
          const i = where % (at + 1);
          const spliced = `${address.slice(0, i)}${ch}${address.slice(i)}`;
          expect(isInvalidEmail(thrown(() => canonicalEmail(spliced)))).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

// The real `domainToASCII`, which the reference below calls without touching the counter.
const { domainToASCII: uncountedDomainToASCII } = await vi.importActual<typeof import('node:url')>('node:url');

/**
 * canonicalEmail as it was before plain ASCII domains skipped IDNA: every domain
 * goes through `domainToASCII`, then through the label checks. `undefined` is a refusal.
 */
function referenceCanonicalEmail(input: string): string | undefined {
  if (input.length > 512) return undefined;
  const trimmed = input.trim();
  const at = trimmed.indexOf('@');
  if (at <= 0 || at !== trimmed.lastIndexOf('@')) return undefined;
  const local = trimmed.slice(0, at);
  const domain = trimmed.slice(at + 1);
  const dotAtom = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
  if (local.length > 64 || !dotAtom.test(local) || ROUTING_OR_ENCODED_WORD.test(local)) return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (domain.length === 0 || /[\u0000-\u002c/:;<=>?@[\\\]^_`{|}~\u007f]/.test(domain)) return undefined;
  const ascii = uncountedDomainToASCII(domain);
  if (ascii.length === 0 || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2) return undefined;
  if (!labels.every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label))) return undefined;
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined;
  const address = `${local.toLowerCase()}@${ascii}`;
  return address.length > 254 ? undefined : address;
}

/** canonicalEmail with its typed refusal as `undefined`; any other error fails the test. */
function canonicalOrRefused(input: string): string | undefined {
  try {
    return canonicalEmail(input);
  } catch (err) {
    if (isInvalidEmail(err)) return undefined;
    throw err;
  }
}

// A domain of exactly `length` characters: labels of 63 `fill`s, then a top label of `top`s.
function domainOfLength(length: number, fill: string, top: string): string {
  const labels: string[] = [];
  let left = length;
  while (left > 64) {
    labels.push(fill.repeat(63));
    left -= 64;
  }
  labels.push(top.repeat(left));
  return labels.join('.');
}

describe('canonicalEmail: plain ASCII domains skip IDNA with the same results', () => {
  const a63 = 'a'.repeat(63);
  const a64 = 'a'.repeat(64);
  // [domain, canonical domain or undefined for a refusal, whether the fast path answers]
  const EDGES: readonly (readonly [domain: string, canonical: string | undefined, fastPath: boolean])[] = [
    ['example.com', 'example.com', true],
    ['EXAMPLE.COM', 'example.com', true],
    ['Ex-Ample.Co', 'ex-ample.co', true],
    ['ex--ample.com', 'ex--ample.com', true],
    ['xn-a.com', 'xn-a.com', true],
    ['axn--b.com', 'axn--b.com', true],
    ['123.example', '123.example', true],
    ['0x.com', '0x.com', true],
    ['example.0xg', 'example.0xg', true],
    ['example.1e', 'example.1e', true],
    [`${a63}.com`, `${a63}.com`, true],
    [`example.${a63}`, `example.${a63}`, true],
    [`${a63.toUpperCase()}.${a63}.${a63}.com`, `${a63}.${a63}.${a63}.com`, true],
    // Punycode labels are decoded and checked by IDNA, whatever their case.
    ['xn--bcher-kva.de', 'xn--bcher-kva.de', false],
    ['XN--BCHER-KVA.DE', 'xn--bcher-kva.de', false],
    ['Xn--bcher-kva.de', 'xn--bcher-kva.de', false],
    ['a.xn--p1ai', 'a.xn--p1ai', false],
    ['A.XN--P1AI', 'a.xn--p1ai', false],
    ['xn--zz.com', undefined, false],
    ['xn--.com', undefined, false],
    ['xn--a.com', undefined, false],
    // Non-ASCII is mapped by UTS #46, sometimes onto plain ASCII.
    ['bücher.de', 'xn--bcher-kva.de', false],
    ['\u212Aelvin.example', 'kelvin.example', false],
    ['ſ.example', 's.example', false],
    ['exam\u00ADple.com', 'example.com', false],
    ['ｅｘａｍｐｌｅ．ｃｏｍ', 'example.com', false],
    ['example。com', 'example.com', false],
    // The URL host parser reads a decimal or 0x top label as IPv4: refused, or numeric.
    ['example.123', undefined, false],
    ['example.08', undefined, false],
    ['example.0x1f', undefined, false],
    ['example.0X1F', undefined, false],
    ['example.0x', undefined, false],
    ['1.2.3.4', undefined, false],
    ['0x7f.1', undefined, false],
    // Hyphens at either end of a label, empty labels, a trailing dot, one label, long labels.
    ['-example.com', undefined, false],
    ['example-.com', undefined, false],
    ['example.-com', undefined, false],
    ['example.com-', undefined, false],
    ['.example.com', undefined, false],
    ['example..com', undefined, false],
    ['example.com.', undefined, false],
    ['example.com..', undefined, false],
    ['.', undefined, false],
    ['com', undefined, false],
    ['COM', undefined, false],
    [`${a64}.com`, undefined, false],
    [`example.${a64}`, undefined, false],
    ['ex_ample.com', undefined, false],
  ];

  it.each(EDGES)('ada@%s → %s', (domain, canonical, fastPath) => {
    const input = `ada@${domain}`;
    idna.calls = 0;
    expect(canonicalOrRefused(input)).toBe(canonical === undefined ? undefined : `ada@${canonical}`);
    // The fast path makes no IDNA call; every other accepted domain makes exactly one.
    if (fastPath) expect(idna.calls).toBe(0);
    else if (canonical !== undefined) expect(idna.calls).toBe(1);
    expect(canonicalOrRefused(input)).toBe(referenceCanonicalEmail(input));
  });

  it.each([
    // 1 + 1 + 252 = 254 characters, the longest address; one more is refused.
    ['a', 252, true],
    ['a', 253, false],
    ['a', 254, false],
    ['a', 255, false],
    [LOCAL_64, 189, true],
    [LOCAL_64, 190, false],
  ] as const)('%s@ and a domain of %i characters: accepted %s', (local, length, accepted) => {
    for (const [fill, top] of [
      ['a', 'b'],
      ['A', 'B'],
      ['7', 'x'],
    ] as const) {
      const input = `${local}@${domainOfLength(length, fill, top)}`;
      expect(input).toHaveLength(local.length + 1 + length);
      const expected = accepted ? input.toLowerCase() : undefined;
      expect(canonicalOrRefused(input)).toBe(expected);
      expect(referenceCanonicalEmail(input)).toBe(expected);
    }
  });

  it('does not call IDNA at all for plain ASCII addresses', () => {
    idna.calls = 0;
    expect(canonicalEmail('flow123@example.com')).toBe('flow123@example.com');
    expect(canonicalEmail('  Ada.Lovelace+News@Mail.EXAMPLE.co.uk ')).toBe('ada.lovelace+news@mail.example.co.uk');
    expect(canonicalEmail(`${LOCAL_64}@${DOMAIN_189.toUpperCase()}`)).toBe(`${LOCAL_64}@${DOMAIN_189}`);
    expect(idna.calls).toBe(0);
  });

  it('still calls IDNA for Unicode and punycode domains', () => {
    for (const input of ['ada@bücher.de', 'ada@xn--bcher-kva.de', 'ada@example.XN--P1AI', 'ada@ｅｘａｍｐｌｅ.com', 'ada@xn--zz.com']) {
      idna.calls = 0;
      canonicalOrRefused(input);
      expect(idna.calls, input).toBe(1);
    }
  });

  // Characters a domain is made of, those IDNA maps or ignores, and those the check refuses.
  const domainUnit = fc.oneof(
    {
      weight: 12,
      arbitrary: fc.constantFrom('a', 'e', 'x', 'z', 'A', 'E', 'X', 'Z', '0', '1', '7', '9', '-', '-', '.', '.', '.'),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom('xn--', 'XN--', 'Xn--', 'xN--', '0x', '0X', 'ff', 'com', 'COM', 'xn--bcher-kva', 'xn--zz', 'xn--p1ai'),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom('ü', 'Ü', 'ß', 'ｅ', 'Ｅ', '。', '．', '\u212A', 'ſ', 'ı', 'а', '\u00AD', '①'),
    },
    { weight: 1, arbitrary: fc.constantFrom('_', '%', '/', ':', ' ', '@', '\u0000', '\u007f', '[') },
  );
  // Labels near the 63-character limit, possibly with a prefix or suffix that changes their fate.
  const longLabel = fc
    .tuple(
      fc.integer({ min: 60, max: 65 }),
      fc.constantFrom('a', 'B', '7'),
      fc.constantFrom('', '', '-', 'xn--', '0x', 'Ü'),
      fc.constantFrom('', '', '-'),
    )
    .map(([length, fill, prefix, suffix]) => `${prefix}${fill.repeat(length)}`.slice(0, length - suffix.length) + suffix);
  const label = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: domainUnit, maxLength: 8 }) },
    { weight: 1, arbitrary: longLabel },
    { weight: 2, arbitrary: fc.constantFrom('', 'com', 'Com', '123', '0x1f', '0X', 'xn--bcher-kva', 'XN--P1AI', 'bücher') },
  );
  const labelledDomain = fc
    .tuple(fc.array(label, { minLength: 1, maxLength: 5 }), fc.constantFrom('', '', '', '.', '。', '..'))
    .map(([labels, end]) => `${labels.join('.')}${end}`);
  // Domains of 185 to 256 characters, around both the 254-character address and the
  // 253-character domain limits, sometimes with one character replaced.
  const sizedDomain = fc
    .tuple(
      fc.integer({ min: 185, max: 256 }),
      fc.constantFrom('a', 'B', '7'),
      fc.constantFrom('x', 'Y', '1'),
      fc.option(fc.tuple(fc.nat(), domainUnit)),
    )
    .map(([length, fill, top, change]) => {
      const domain = domainOfLength(length, fill, top);
      if (change === null) return domain;
      const [where, unit] = change;
      const i = where % domain.length;
      return `${domain.slice(0, i)}${unit}${domain.slice(i + 1)}`;
    });
  const domain = fc.oneof(
    { weight: 4, arbitrary: labelledDomain },
    { weight: 2, arbitrary: fc.string({ unit: domainUnit, maxLength: 30 }) },
    { weight: 1, arbitrary: sizedDomain },
  );
  const local = fc.constantFrom('a', 'ada', 'Ada.Lovelace', 'flow+123', LOCAL_64);

  it('on random domains: the same canonical address or the same refusal as IDNA for every domain', () => {
    fc.assert(
      fc.property(local, domain, fc.constantFrom('', ' '), (l, d, pad) => {
        const input = `${pad}${l}@${d}${pad}`;
        expect(canonicalOrRefused(input), JSON.stringify(input)).toBe(referenceCanonicalEmail(input));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('canonicalEmail: non-string input is a TypeError', () => {
  const NON_STRINGS: readonly (readonly [string, unknown])[] = [
    ['number', 42],
    ['null', null],
    ['undefined', undefined],
    ['boolean', true],
    ['bigint', 1n],
    ['object with toString', { toString: () => 'ada@example.com' }],
    ['String object', new String('ada@example.com')],
    ['array', ['ada@example.com']],
    ['Symbol', Symbol('ada@example.com')],
    ['function', () => 'ada@example.com'],
  ];

  it.each(NON_STRINGS)('%s', async (_name, value) => {
    expect(thrown(() => canonicalEmail(value))).toBeInstanceOf(TypeError);
    const s = setup();
    expect(await caught(s.np.requestCode(value as string))).toBeInstanceOf(TypeError);
    expect(await caught(s.np.verifyCode(value as string, '123456'))).toBeInstanceOf(TypeError);
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });
});
