import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNpUserError, type NpUserOptions } from 'npuser';
import { normalizeSubmittedCode, randomCode } from '../../src/lib/code.js';
import { EMAIL } from '../support/helpers.js';
import { caught, thrown } from '../support/errors.js';
import { spySetup } from '../support/spy-store.js';

const SECRET = 'code shape test secret, at least 32 bytes long';
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

const setup = (options: Partial<NpUserOptions> = {}) => spySetup(SECRET, options);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : /\.[cm]?[jt]s$/.test(entry.name) ? [path] : [];
  });
}

describe('generated codes', () => {
  it('the default generator mails 6 ASCII digits, and honours codeLength', async () => {
    const s = setup();
    for (let i = 0; i < 20; i += 1) await s.np.requestCode(`user${i}@example.com`);
    expect(s.mailer.messages).toHaveLength(20);
    for (const m of s.mailer.messages) expect(m.code).toMatch(/^[0-9]{6}$/);
    // Twenty six-digit codes all equal would mean no randomness at all.
    expect(new Set(s.mailer.messages.map((m) => m.code)).size).toBeGreaterThan(15);

    for (const codeLength of [8, 10]) {
      const t = setup({ codeLength });
      await t.np.requestCode(EMAIL);
      expect(t.mailer.messages[0]!.code).toMatch(new RegExp(`^[0-9]{${codeLength}}$`));
    }
  });

  it('keeps leading zeros in the mail and in verification', async () => {
    const lengths: number[] = [];
    const s = setup({
      generateCode: (length) => {
        lengths.push(length);
        return '000123';
      },
    });
    await s.np.requestCode(EMAIL);
    expect(lengths).toEqual([6]);
    expect(s.mailer.messages[0]!.code).toBe('000123');
    // Had the code been turned into the number 123 anywhere, these would be confused.
    expect(isNpUserError(await caught(s.np.verifyCode(EMAIL, '123')), 'ERR_NPUSER_INVALID_CODE')).toBe(true);
    expect(isNpUserError(await caught(s.np.verifyCode(EMAIL, '123000')), 'ERR_NPUSER_INVALID_CODE')).toBe(true);
    await expect(s.np.verifyCode(EMAIL, '000123')).resolves.toMatchObject({ email: EMAIL });
  });

  it('randomCode is uniform: leading zeros about 10 %, every digit in every position within 6 sigma', () => {
    const N = 20_000;
    const LENGTH = 6;
    const counts = Array.from({ length: LENGTH }, () => new Array<number>(10).fill(0));
    let leadingZero = 0;
    for (let i = 0; i < N; i += 1) {
      const code = randomCode(LENGTH);
      expect(code).toMatch(/^[0-9]{6}$/);
      if (code.startsWith('0')) leadingZero += 1;
      for (let p = 0; p < LENGTH; p += 1) counts[p]![code.charCodeAt(p) - 48]! += 1;
    }
    // Expected 10 %, sigma = sqrt(0.09 / N) ≈ 0.21 %: 8–12 % is more than 9 sigma wide.
    expect(leadingZero / N).toBeGreaterThan(0.08);
    expect(leadingZero / N).toBeLessThan(0.12);
    const expected = N / 10;
    const sigma = Math.sqrt(N * 0.1 * 0.9);
    for (const position of counts) {
      for (const count of position) {
        expect(Math.abs(count - expected)).toBeLessThan(6 * sigma);
      }
    }
    // A chi-square over all 60 cells (54 degrees of freedom): mean 54, sd ≈ 10.4; 150 is > 9 sd.
    const chi2 = counts.flat().reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(150);
  });

  it('randomCode keeps leading zeros at every length the options allow', () => {
    for (let length = 6; length <= 10; length += 1) {
      let zeros = 0;
      for (let i = 0; i < 2000; i += 1) {
        const code = randomCode(length);
        expect(code).toHaveLength(length);
        expect(code).toMatch(/^[0-9]+$/);
        if (code.startsWith('0')) zeros += 1;
      }
      // Expected 200, sigma ≈ 13.4: 100–300 is more than 7 sigma either way.
      expect(zeros).toBeGreaterThan(100);
      expect(zeros).toBeLessThan(300);
    }
  });

  it('no Math.random anywhere in src/', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      expect(source, file).not.toMatch(/Math\s*\.\s*random|Math\s*\[\s*['"`]random/);
    }
  });

  it('the submitted-code check never parses a number (no Number(), parseInt, parseFloat, unary +)', () => {
    const source = readFileSync(join(SRC, 'lib/code.ts'), 'utf8');
    const body = source.slice(
      source.indexOf('export function normalizeSubmittedCode'),
      source.indexOf('export function checkGeneratedCode'),
    );
    expect(body.length).toBeGreaterThan(100);
    expect(body).not.toMatch(/\bNumber\s*\(|parseInt|parseFloat|\+\s*input|\bBigInt\s*\(/);
  });
});

describe('submitted codes', () => {
  it.each([
    ['042917', 'plain'],
    ['042 917', 'grouped with a space'],
    ['042-917', 'grouped with a hyphen'],
    ['  042917  ', 'surrounded by spaces'],
    ['0 4 2 9 1 7', 'spaced digits'],
    ['04-29-17', 'two hyphens'],
  ])('%j (%s) is accepted', async (submitted) => {
    const s = setup({ generateCode: () => '042917' });
    await s.np.requestCode(EMAIL);
    await expect(s.np.verifyCode(EMAIL, submitted)).resolves.toMatchObject({ email: EMAIL });
  });

  it("'-042917': hyphens are separators wherever they stand, so this is the code 042917, not a negative number", async () => {
    // The rule is "strip ASCII spaces and hyphens, then ^[0-9]{n}$". A leading
    // hyphen is stripped like any other; no number is ever parsed, so there is
    // no sign to misread. Accepting it is what the rule implies.
    const s = setup({ generateCode: () => '042917' });
    await s.np.requestCode(EMAIL);
    await expect(s.np.verifyCode(EMAIL, '-042917')).resolves.toMatchObject({ email: EMAIL });
  });

  const REFUSED: readonly (readonly [name: string, code: string])[] = [
    ['hex', '0x1234'],
    ['hex without 0', '0xA2F1'],
    ['exponent', '1e5'],
    ['exponent of six characters', '4.2e10'],
    ['exponent padded to six', '1e5000'],
    ['decimal', '12345.6'],
    ['decimal of six characters', '1234.5'],
    ['comma decimal', '1234,5'],
    ['full-width digits', '１２３４５６'],
    ['full-width with one ASCII', '04291７'],
    ['Arabic-Indic digits', '٠٤٢٩١٧'],
    ['Eastern Arabic-Indic digits', '۰۴۲۹۱۷'],
    ['Devanagari digits', '०४२९१७'],
    ['superscript digits', '⁰⁴²⁹¹⁷'],
    ['mathematical bold digits', '𝟎𝟒𝟐𝟗𝟏𝟕'],
    ['plus sign', '+12345'],
    ['plus sign on six digits', '+042917'],
    ['five digits', '04291'],
    ['seven digits', '0429170'],
    ['empty', ''],
    ['only separators', ' - - - '],
    ['tab inside', '042\t917'],
    ['newline inside', '042\n917'],
    ['trailing newline', '042917\n'],
    ['CR LF', '042917\r\n'],
    ['NUL', '042917\u0000'],
    ['no-break space', '042\u00a0917'],
    ['en dash', '042–917'],
    ['minus sign', '042−917'],
    ['underscore', '042_917'],
    ['dot', '042.917'],
    ['letters', 'abcdef'],
    ['letter O for zero', 'O42917'],
    ['Infinity', 'Infinity'],
    ['NaN', 'NaN'],
    ['65 characters that strip to six digits', `${' '.repeat(59)}042917`],
    ['1 MB', '0'.repeat(1 << 20)],
    ['1 MB of spaces around the code', `${' '.repeat(1 << 20)}042917`],
  ];

  it.each(REFUSED)('%s (%j) is refused with ERR_NPUSER_INVALID_CODE without touching the store', async (_name, code) => {
    const s = setup({ generateCode: () => '042917' });
    await s.np.requestCode(EMAIL);
    const before = { ...s.store.calls };
    const err = await caught(s.np.verifyCode(EMAIL, code));
    expect(isNpUserError(err, 'ERR_NPUSER_INVALID_CODE'), String(err)).toBe(true);
    expect(s.store.calls).toEqual(before);
    // And it cost the user nothing: the real code still works afterwards.
    await expect(s.np.verifyCode(EMAIL, '042917')).resolves.toMatchObject({ email: EMAIL });
  });

  const NON_STRINGS: readonly (readonly [name: string, code: unknown])[] = [
    ['number', 42917],
    ['number with the same digits', 123456],
    ['bigint', 42917n],
    ['array of digits', [0, 4, 2, 9, 1, 7]],
    ['array of one string', ['042917']],
    ['object with toString', { toString: () => '042917' }],
    ['object with valueOf', { valueOf: () => 42917 }],
    ['String object', new String('042917')],
    ['null', null],
    ['undefined', undefined],
    ['boolean', true],
    ['Symbol', Symbol('042917')],
  ];

  it.each(NON_STRINGS)('a %s is a TypeError and the store is untouched', async (_name, code) => {
    const s = setup({ generateCode: () => '042917' });
    await s.np.requestCode(EMAIL);
    const before = { ...s.store.calls };
    expect(await caught(s.np.verifyCode(EMAIL, code as string))).toBeInstanceOf(TypeError);
    expect(s.store.calls).toEqual(before);
  });

  it('property: any string is either n ASCII digits after stripping spaces/hyphens, or the typed refusal', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 70 }),
          fc.string({ unit: fc.constantFrom('0', '1', '9', ' ', '-', '+', '.', 'e', 'x', '\t', '１', '٤', '\u00a0'), maxLength: 70 }),
        ),
        fc.integer({ min: 6, max: 10 }),
        (input, length) => {
          let out: string;
          try {
            out = normalizeSubmittedCode(input, length);
          } catch (err) {
            expect(isNpUserError(err, 'ERR_NPUSER_INVALID_CODE')).toBe(true);
            expect(input.length > 64 || !new RegExp(`^[0-9]{${length}}$`).test(input.replace(/[ -]/g, ''))).toBe(true);
            return;
          }
          expect(out).toMatch(new RegExp(`^[0-9]{${length}}$`));
          expect(out).toBe(input.replace(/[ -]/g, ''));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('property: separators anywhere in a code of the right length are forgiven', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'), minLength: 6, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(6), fc.constantFrom(' ', '-')), { maxLength: 10 }),
        (digits, inserts) => {
          let typed = digits;
          for (const [at, sep] of inserts) typed = `${typed.slice(0, at)}${sep}${typed.slice(at)}`;
          expect(normalizeSubmittedCode(typed, 6)).toBe(digits);
        },
      ),
    );
  });

  it('property: a non-string is always a TypeError, never coerced', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== 'string'),
        (value) => {
          expect(thrown(() => normalizeSubmittedCode(value, 6))).toBeInstanceOf(TypeError);
        },
      ),
    );
  });
});

describe('a bad generateCode', () => {
  const BAD: readonly (readonly [name: string, value: unknown])[] = [
    ['a number', 42917],
    ['a number of six digits', 123456],
    ['five digits', '12345'],
    ['seven digits', '1234567'],
    ['letters', 'abcdef'],
    ['hex', '0x1234'],
    ['full-width digits', '１２３４５６'],
    ['Arabic-Indic digits', '٠٤٢٩١٧'],
    ['a trailing newline', '12345\n'],
    ['a space', '123 45'],
    ['an empty string', ''],
    ['null', null],
    ['undefined', undefined],
    ['a String object', new String('123456')],
    ['an array', ['123456']],
    ['a promise', Promise.resolve('123456')],
  ];

  it.each(BAD)('returning %s is a TypeError naming generateCode; nothing is stored or sent', async (_name, value) => {
    const s = setup({ generateCode: () => value as string });
    const err = await caught(s.np.requestCode(EMAIL, { clientKey: 'client-1' }));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toContain('generateCode');
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });

  it('that throws: the error surfaces and nothing is stored or sent', async () => {
    const s = setup({
      generateCode: () => {
        throw new Error('no entropy');
      },
    });
    expect(((await caught(s.np.requestCode(EMAIL))) as Error).message).toBe('no entropy');
    expect(s.store.total()).toBe(0);
    expect(s.mailer.messages).toHaveLength(0);
  });
});
