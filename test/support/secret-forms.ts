// The spellings a mailer or an HTTP mail API may echo a secret in, and an oracle that looks for a secret through all of them.
// Written independently of src/lib/redact.ts (Node's own decoders where it has them), so the two cannot share a blind spot by construction.
import { Buffer } from 'node:buffer';
import { domainToUnicode } from 'node:url';

const hex2 = (byte: number) => byte.toString(16).toUpperCase().padStart(2, '0');
const utf8 = (text: string) => [...Buffer.from(text, 'utf8')];

/** Every encoding of a secret that redaction must see through, by name. */
export const ENCODINGS = {
  'as is': (s: string) => s,
  'upper case': (s: string) => s.toUpperCase(),
  'mixed case': (s: string) => Array.from(s, (c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join(''),
  encodeURIComponent: (s: string) => encodeURIComponent(s),
  encodeURI: (s: string) => encodeURI(s),
  'form encoding': (s: string) => new URLSearchParams({ v: s }).toString().slice(2),
  'every byte percent-encoded, lower-case hex': (s: string) =>
    utf8(s)
      .map((b) => `%${hex2(b).toLowerCase()}`)
      .join(''),
  'JSON string': (s: string) => JSON.stringify(s).slice(1, -1),
  'JSON with \\/ and \\u0040': (s: string) => s.replace(/\//g, '\\/').replace(/@/g, '\\u0040'),
  'JSON, every character \\uXXXX': (s: string) => Array.from(s, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
  'HTML decimal entities': (s: string) => Array.from(s, (c) => `&#${c.codePointAt(0) ?? 0};`).join(''),
  'HTML hex entities': (s: string) => Array.from(s, (c) => `&#x${(c.codePointAt(0) ?? 0).toString(16)};`).join(''),
  'HTML named entities': (s: string) => s.replace(/[@.+_\-/ü]/g, (c) => NAMED[c] ?? c),
  base64: (s: string) => Buffer.from(s).toString('base64'),
  base64url: (s: string) => Buffer.from(s).toString('base64url'),
  'base64 inside a larger blob': (s: string) => Buffer.from(`From: noreply@app.example\r\nTo: ${s}\r\nX-Id: 7\r\n`).toString('base64'),
  'base64, MIME-wrapped': (s: string) =>
    Buffer.from(`${'x'.repeat(50)}${s}${'y'.repeat(50)}`)
      .toString('base64')
      .replace(/.{1,76}/g, '$&\r\n'),
  'quoted-printable': (s: string) =>
    utf8(s)
      .map((b) => (/[A-Za-z]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `=${hex2(b)}`))
      .join(''),
  'quoted-printable with a soft line break': (s: string) => `${s.slice(0, 3)}=\r\n${s.slice(3).replace(/@/g, '=40')}`,
  'RFC 2047 B word': (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`,
  'RFC 2047 Q word': (s: string) =>
    `=?utf-8?Q?${utf8(s)
      .map((b) => (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `=${hex2(b)}`))
      .join('')}?=`,
  'full-width': (s: string) => Array.from(s, (c) => (c >= '!' && c <= '~' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join(''),
} as const satisfies Record<string, (s: string) => string>;

export type EncodingName = keyof typeof ENCODINGS;
export const ENCODING_NAMES = Object.keys(ENCODINGS) as EncodingName[];

const NAMED: Readonly<Record<string, string>> = {
  '@': '&commat;',
  '.': '&period;',
  '+': '&plus;',
  _: '&lowbar;',
  '/': '&sol;',
  ü: '&uuml;',
  '-': '-',
};

/** The digits of a code spread over markup of any length, as a custom HTML template may render it. */
export function spreadOverMarkup(code: string, attributeLength = 400): string {
  const style = `font: 32px/1.2 monospace; padding: 0 0.45em; ${'letter-spacing: 0.1em; '.repeat(Math.ceil(attributeLength / 24))}`;
  return Array.from(code, (digit, i) => `<td class="d${i}" style="${style}"><span data-i="${i}9">${digit}</span></td>\n  `).join('');
}

/** The address's spellings (as given, with its domain in Unicode) and the code. */
export function secretSpellings(address: string, code?: string): string[] {
  const at = address.lastIndexOf('@');
  const unicode = `${address.slice(0, at)}@${domainToUnicode(address.slice(at + 1))}`;
  return [...new Set([address, unicode, ...(code === undefined ? [] : [code])])];
}

/**
 * Whether any secret shows in `text` or in a view of it decoded up to two
 * encodings deep (percent, JSON, HTML, quoted-printable, base64), in any letter
 * case, with markup removed, full-width forms folded, and, for a code, whatever
 * non-digits stand between its digits (only spaces and dashes in what base64
 * decodes to, where other digits are noise). Returns where, or undefined.
 */
export function revealsSecret(text: string, secrets: readonly string[]): string | undefined {
  let views: View[] = [{ text, base64: false }];
  const all = new Map(views.map((view) => [view.text, view]));
  for (let depth = 0; depth < 2; depth += 1) {
    views = views
      .flatMap((view) => DECODERS.map((decoder) => ({ text: decoder.decode(view.text), base64: view.base64 || decoder.base64 })))
      .filter((view) => !all.has(view.text));
    for (const view of views) all.set(view.text, view);
  }
  for (const view of all.values()) {
    const folded = view.text.normalize('NFKC');
    const forms = [view.text, stripTags(view.text), folded, stripTags(folded)].map((form) => form.toLowerCase());
    for (const secret of secrets) {
      const digits = /^[0-9]+$/.test(secret);
      for (const form of forms) {
        const spread = digits && form.replace(view.base64 ? /[\s-]/g : /[^0-9]/g, '').includes(secret);
        if (form.includes(secret.toLowerCase()) || spread) return `${JSON.stringify(secret)} in ${JSON.stringify(view.text.slice(0, 300))}`;
      }
    }
  }
  return undefined;
}

interface View {
  readonly text: string;
  readonly base64: boolean;
}

const stripTags = (text: string) => text.replace(/<[A-Za-z/!?][^>]*>/g, '');

const utf8OrLatin1 = (bytes: Buffer) => {
  const text = bytes.toString('utf8');
  return text.includes('\ufffd') ? bytes.toString('latin1') : text;
};

const DECODERS: readonly { base64: boolean; decode: (text: string) => string }[] = [
  // Percent: each run of %XX as UTF-8 (decodeURIComponent), or byte by byte as Latin-1 when that fails.
  {
    base64: false,
    decode: (text) => text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => utf8OrLatin1(Buffer.from(run.replace(/%/g, ''), 'hex'))),
  },
  // JSON and JavaScript string escapes.
  {
    base64: false,
    decode: (text) =>
      text.replace(/\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})|\\(.)/gs, (_, u?: string, x?: string, other?: string) =>
        u !== undefined ? String.fromCharCode(parseInt(u, 16)) : x !== undefined ? String.fromCharCode(parseInt(x, 16)) : (other ?? ''),
      ),
  },
  // HTML character references.
  {
    base64: false,
    decode: (text) =>
      text.replace(/&#[xX]([0-9A-Fa-f]+);?|&#([0-9]+);?|&([A-Za-z]+);/g, (whole, h?: string, d?: string, name?: string) => {
        if (name !== undefined) return ENTITY_NAMES[name] ?? whole;
        const cp = parseInt(h ?? d ?? '', h !== undefined ? 16 : 10);
        return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }),
  },
  // Quoted-printable, soft breaks and RFC 2047 Q words included.
  {
    base64: false,
    decode: (text) =>
      text.replace(/=\r?\n/g, '').replace(/(?:=[0-9A-Fa-f]{2})+/g, (run) => utf8OrLatin1(Buffer.from(run.replace(/=/g, ''), 'hex'))),
  },
  // Base64 and base64url runs, MIME line breaks allowed, at every alignment.
  {
    base64: true,
    decode: (text) =>
      (text.match(/[A-Za-z0-9+/_\-\r\n]{8,}/g) ?? [])
        .map((run) => run.replace(/[\r\n]/g, ''))
        .flatMap((run) => [0, 1, 2, 3].map((offset) => Buffer.from(run.slice(offset), 'base64').toString('utf8')))
        .join('\n'),
  },
];

const ENTITY_NAMES: Readonly<Record<string, string>> = {
  commat: '@',
  period: '.',
  plus: '+',
  lowbar: '_',
  sol: '/',
  uuml: 'ü',
  Uuml: 'Ü',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  nbsp: '\u00a0',
};
