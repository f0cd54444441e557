import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, memoryCodeStore, renderCodeMessage, type Mailer } from 'npuser';
import { canonicalEmail } from '../../src/lib/email.js';
import { redactError, safeErrorCopy } from '../../src/lib/redact.js';
import { SECRET } from '../support/helpers.js';
import { expectSafeShape, hostileProxy, oddErrors } from '../support/odd-errors.js';
import { ENCODINGS, ENCODING_NAMES, revealsSecret, secretSpellings, spreadOverMarkup, type EncodingName } from '../support/secret-forms.js';

const ASCII = 'ada.lovelace+npuser@example.com';
const IDN = 'ada@xn--bcher-kva.de';
const CODE = '042917';
const WITHHELD = /^\[message withheld/;

const redacted = (message: string, address = ASCII) => redactError(new Error(message), { address, code: CODE }).message;

function expectHidden(message: string, address = ASCII): string {
  const kept = redacted(message, address);
  expect(revealsSecret(kept, secretSpellings(address, CODE))).toBeUndefined();
  return kept;
}

describe('redactError: the address in every spelling', () => {
  // Regression: the address survived in err.cause in all of these but the first two.
  const cases = ENCODING_NAMES.flatMap((encoding) => [
    [encoding, 'ASCII', ASCII, ASCII] as const,
    [encoding, 'with its domain in punycode', IDN, IDN] as const,
    [encoding, 'with its domain in Unicode', IDN, 'ada@bücher.de'] as const,
  ]);

  it.each(cases)('%s, an address %s', (encoding, _kind, address, spelling) => {
    const form = ENCODINGS[encoding](spelling);
    const kept = expectHidden(`API 400: {"to":"${form}","status":"rejected"}`, address);
    // Each single encoding is located and replaced, so the rest of the message stays readable.
    expect(kept).toMatch(/^API 400: \{"to":".*\[redacted\].*","status":"rejected"\}$/s);
  });

  it('with its domain labels mixed, one in Unicode and one in punycode', () => {
    const address = 'ada@xn--mnchen-3ya.xn--bcher-kva.de';
    expect(expectHidden(`553 <ada@münchen.xn--bcher-kva.de> unknown`, address)).toBe('553 <[redacted]> unknown');
  });

  it('with its Unicode domain decomposed (NFD) or in another case', () => {
    expectHidden(`553 <ada@bu\u0308cher.de> unknown`, IDN);
    expect(expectHidden(`553 <ADA@BÜCHER.DE> unknown`, IDN)).toBe('553 <[redacted]> unknown');
  });

  it('split by markup or invisible characters, or named by an HTML entity npuser has no table for', () => {
    expectHidden(`<p>ada.lovelace+npuser<wbr>@<b>example</b>.com</p>`);
    expect(expectHidden('to ada.lovelace+npuser\u200b@exam\u00adple&#8203;.com!')).toBe('to [redacted]!');
    expect(expectHidden('to ada&commat;b&uuml;cher&period;de', IDN)).toBe('to [redacted]');
  });
});

describe('redactError: the code in every spelling', () => {
  // Regression: the code survived in err.cause in all of these but the plain, grouped and short-markup ones.
  it.each(ENCODING_NAMES)('%s', (encoding) => {
    const kept = expectHidden(`API 400: code ${ENCODINGS[encoding](CODE)} rejected`);
    expect(kept).toMatch(/^API 400: code .*\[redacted\].* rejected$/s);
  });

  it.each([
    ['grouped', '042 917'],
    ['hyphenated', '042-917'],
    ['split over short spans', '<span>042</span><span style="padding-left:0.45em;">917</span>'],
    // Regression: spreadDigitsPattern gave up after 200 characters of attributes or 40 between digits.
    ['spread over markup with long attributes, digits in them', spreadOverMarkup(CODE, 400)],
    ['spread over markup and HTML entities', Array.from(CODE, (d) => `<td>&#${d.charCodeAt(0)};</td>&nbsp;`).join('')],
    ['in the HTML part, base64-encoded', Buffer.from(`<html><body>${spreadOverMarkup(CODE, 300)}</body></html>`).toString('base64')],
    ['in the HTML part, quoted-printable', spreadOverMarkup(CODE, 100).replace(/=/g, '=3D').replace(/.{70}/g, '$&=\r\n')],
  ])('%s', (_name, form) => {
    expectHidden(`rejected body: ${form}!`);
  });

  it('keeps numbers that are not the code', () => {
    for (const message of ['550 5.1.1 ref 0429 917', 'queued as 04291 8x', '250 OK id=1234567890']) expect(redacted(message)).toBe(message);
    expect(redacted('0429170')).toBe('[redacted]0');
  });

  it('the default template, as a mail API would echo it back', () => {
    const rendered = renderCodeMessage({ to: IDN, code: CODE, appName: 'Blog', expiresAt: new Date(0), ttlSeconds: 600 });
    const kept = expectHidden(`API 422: ${JSON.stringify(rendered)}`, IDN);
    expect(kept).toMatch(/^API 422: /);
  });
});

describe('redactError: what it cannot locate, it withholds', () => {
  it.each([
    ['encoded twice', encodeURIComponent(ENCODINGS['JSON, every character \\uXXXX'](ASCII))],
    ['quoted-printable over JSON escapes', ENCODINGS['quoted-printable'](ENCODINGS['JSON, every character \\uXXXX'](ASCII))],
    ['an escaped backslash before the escape', `\\\\u0061da.lovelace+npuser@example.com`],
  ])('%s', (_name, form) => {
    expect(expectHidden(`API 400: ${form}`)).toMatch(WITHHELD);
  });

  it('a message too long to scan is withheld whole; a long one is cut after redaction', () => {
    expect(redacted(`${'x'.repeat(40_000)} nothing secret`)).toMatch(WITHHELD);
    const long = redacted(`${ASCII} ${'y'.repeat(10_000)}`);
    expect(long.startsWith('[redacted] yyy')).toBe(true);
    expect(long.length).toBeLessThan(2100);
  });

  it('secrets it cannot read withhold the message', () => {
    expect(redactError(new Error('anything'), { address: 'not an address' }).message).toMatch(WITHHELD);
    expect(redactError(new Error('anything'), { address: ASCII, code: '04-29' }).message).toMatch(WITHHELD);
    expect(redactError(new Error('anything'), hostileSecrets()).message).toMatch(WITHHELD);
  });
});

function hostileSecrets(): { address: string } {
  return new Proxy(
    { address: ASCII },
    {
      get: () => {
        throw new Error('trap');
      },
    },
  );
}

describe('redactError: the copy', () => {
  it('keeps a message, an identifier-like name and a string code; drops the stack, the cause and everything else', () => {
    const original = Object.assign(new Error(`550 <${ASCII}> rejected, code ${CODE}`, { cause: new Error(ASCII) }), {
      code: 'EENVELOPE',
      response: ASCII,
    });
    original.name = 'SMTPError';
    const copy = redactError(original, { address: ASCII, code: CODE });
    expect(copy.message).toBe('550 <[redacted]> rejected, code [redacted]');
    expect(copy.name).toBe('SMTPError');
    expect((copy as { code?: unknown }).code).toBe('EENVELOPE');
    expect(copy.stack).toBe('SMTPError: 550 <[redacted]> rejected, code [redacted]');
    expectSafeShape(copy);
  });

  it('drops a name or a code that is not safe-looking or quotes a secret', () => {
    const copy = (name: string, code: unknown) =>
      redactError(Object.assign(new Error('x'), { name, code }), { address: ASCII, code: CODE }) as Error & { code?: unknown };
    expect(copy(`SmtpError ${ASCII}`, 'to ada').name).toBe('Error');
    expect(copy('SmtpError', 'to ada').code).toBeUndefined();
    expect(copy(`E${CODE}`, `E${CODE}`).name).toBe('Error');
    expect(copy(`E${CODE}`, `E${CODE}`).code).toBeUndefined();
    expect(
      copy(
        Buffer.from(`!${ASCII}`)
          .toString('base64')
          .replace(/[^A-Za-z0-9]/g, ''),
        550,
      ).name,
    ).toBe('Error');
    expect(copy('TimeoutError', 'ETIMEDOUT')).toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT' });
  });

  it('never throws under an Error.prepareStackTrace that throws (source-map tools install one)', () => {
    const original = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    Error.prepareStackTrace = () => {
      throw new Error('hook');
    };
    try {
      expect(redactError(new Error(`to ${ASCII}`), { address: ASCII, code: CODE }).stack).toBe('Error: to [redacted]');
      expect(safeErrorCopy(new Error('down')).message).toBe('down');
    } finally {
      if (original === undefined) Reflect.deleteProperty(Error, 'prepareStackTrace');
      else Object.defineProperty(Error, 'prepareStackTrace', original);
    }
  });

  it.each(oddErrors(ASCII, CODE))('never throws, whatever it is given: %s', (_name, make) => {
    const copy = redactError(make(), { address: ASCII, code: CODE });
    expectSafeShape(copy);
    expect(revealsSecret(inspect(copy, { depth: Infinity, showHidden: true }), secretSpellings(ASCII, CODE))).toBeUndefined();
  });
});

describe('safeErrorCopy', () => {
  it('keeps the message, name and string code of a store error, and nothing else', () => {
    const original = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379', { cause: new Error('inner') }), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port: 6379,
    });
    const copy = safeErrorCopy(original);
    expect(copy).toMatchObject({ message: 'connect ECONNREFUSED 127.0.0.1:6379', name: 'Error', code: 'ECONNREFUSED' });
    expectSafeShape(copy);
  });

  it.each(oddErrors(ASCII, CODE))('never throws, whatever it is given: %s', (_name, make) => {
    expectSafeShape(safeErrorCopy(make()));
  });
});

// ---- Properties.

// Values are made inside the property: fast-check itself probes what an arbitrary returns, and a hostile Proxy throws at it.
type Make = () => unknown;

const hostileValue: fc.Arbitrary<Make> = fc.oneof(
  fc
    .anything({
      withBigInt: true,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
    })
    .map((value) => () => value),
  fc.constantFrom(
    ...oddErrors(ASCII, CODE)
      .filter(([name]) => !name.includes('megabyte'))
      .map(([, make]) => make),
  ),
);

const errorShape: fc.Arbitrary<Make> = fc
  .record({
    base: fc.constantFrom('error', 'object', 'null-prototype', 'function'),
    fields: fc.dictionary(fc.constantFrom('message', 'name', 'code', 'stack', 'cause', 'toString', 'then'), hostileValue),
    throwing: fc.subarray(['stack', 'message', 'name', 'code', 'cause', 'toString']),
    proxy: fc.constantFrom('none', 'hostile', 'revoked'),
    frozen: fc.boolean(),
  })
  .map(({ base, fields, throwing, proxy, frozen }) => () => {
    const target: object =
      base === 'error' ? new Error() : base === 'object' ? {} : base === 'function' ? () => undefined : (Object.create(null) as object);
    // `stack` first: V8 formats a pending stack when it is redefined, reading `message`.
    const keys = [...new Set(['stack', ...Object.keys(fields), ...throwing])];
    for (const key of keys) {
      const make = fields[key];
      if (throwing.includes(key)) {
        Object.defineProperty(target, key, {
          get: () => {
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- throwing a hostile non-Error is the point
            throw hostileProxy({});
          },
          configurable: true,
        });
      } else if (make !== undefined) {
        Object.defineProperty(target, key, { value: make(), configurable: true, writable: true });
      }
    }
    if (frozen) Object.freeze(target);
    if (proxy === 'hostile') return hostileProxy(target);
    if (proxy === 'revoked') {
      const { proxy: revoked, revoke } = Proxy.revocable(target, {});
      revoke();
      return revoked;
    }
    return target;
  });

const addresses = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9!#$&'*+/=?^_`{|}~-]{1,12}(?:\.[a-z0-9_+-]{1,8})?$/),
    fc.constantFrom('example.com', 'xn--bcher-kva.de', 'xn--mnchen-3ya.example', 'mail.example.org'),
  )
  .map(([local, domain]) => `${local}@${domain}`)
  .filter((address) => {
    try {
      return canonicalEmail(address) === address;
    } catch {
      return false;
    }
  });
const filler = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 30, unit: fc.constantFrom(...'<>&#%=\\;:/"\' xX0123456789abcdefABCDEF-_+\r\n.@'.split('')) }),
  fc.string({ maxLength: 10, unit: 'binary' }),
);

describe('properties', () => {
  it('random error shapes never make redactError or safeErrorCopy throw, and the copy is always safe-shaped', () => {
    fc.assert(
      fc.property(errorShape, (make) => {
        expectSafeShape(redactError(make(), { address: ASCII, code: CODE }));
        expectSafeShape(safeErrorCopy(make()));
      }),
      { numRuns: 300 },
    );
  });

  it('the secrets never survive, wherever they are placed and however they are encoded (one or two layers)', () => {
    const encodingChain = fc.array(fc.constantFrom<EncodingName>(...ENCODING_NAMES), { minLength: 1, maxLength: 2 });
    fc.assert(
      fc.property(
        addresses,
        fc.stringMatching(/^[0-9]{6,10}$/),
        fc.constantFrom('address', 'unicode address', 'code'),
        encodingChain,
        fc.boolean(),
        fc.array(fc.tuple(filler, filler), { minLength: 1, maxLength: 2 }),
        (address, code, which, chain, spread, placements) => {
          const [spelling] = which === 'code' ? [code] : which === 'address' ? [address] : secretSpellings(address).slice(-1);
          // A code may first be spread over markup, as an HTML part shows it.
          const shown = which === 'code' && spread ? spreadOverMarkup(code, 250) : (spelling ?? '');
          const encoded = chain.reduce((text, encoding) => ENCODINGS[encoding](text), shown);
          const message = placements.map(([before, after]) => `${before}${encoded}${after}`).join(' ');
          const kept = redactError(new Error(message), { address, code }).message;
          expect(revealsSecret(kept, secretSpellings(address, code)), message).toBeUndefined();
        },
      ),
      { numRuns: 1000 },
    );
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
    expect(revealsSecret(cause.message, ['ada@example.com', '042917'])).toBeUndefined();
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
