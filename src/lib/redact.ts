import { Buffer } from 'node:buffer';
import { unicodeAddress } from './email.js';

/**
 * What must never leave npuser in an error: the canonical address (its other
 * spellings are derived from it) and, when one was issued, the code.
 *
 * @internal
 */
export interface RedactSecrets {
  /** The canonical address, as `canonicalEmail` returns it. */
  readonly address: string;
  /** The code as issued: ASCII digits. */
  readonly code?: string;
}

/**
 * A copy of a mailer's error that can be kept as a cause: its message with the
 * address and the code removed in every spelling npuser knows (letter case,
 * Unicode or punycode domain, percent, JSON and HTML escapes, quoted-printable,
 * RFC 2047 words, base64 and base64url runs, digits spread over markup), or a
 * fixed text when a secret stays visible in any decoded view of what is left;
 * an identifier-like `name` and an `ECONNREFUSED`-like string `code` when the
 * original has them. Nothing else is copied: no cause, no stack, no other
 * property. Never throws, whatever `err` is (a Proxy, a frozen object, a
 * symbol, an object whose getters throw).
 *
 * @param err - What the mailer rejected with.
 * @param secrets - The canonical address and the code.
 * @internal
 */
export function redactError(err: unknown, secrets: RedactSecrets): Error {
  try {
    return copyOf(err, secretsMatcher(secrets) ?? 'withhold');
  } catch {
    return plainCopy(WITHHELD, 'Error', undefined);
  }
}

/**
 * The same copy as {@link redactError} for an error that holds no address and
 * no code (a store's, which only ever sees keyed hashes): its message capped in
 * length, a safe-looking `name` and string `code`, nothing else. Never throws.
 *
 * @param err - What the store rejected with.
 * @internal
 */
export function safeErrorCopy(err: unknown): Error {
  try {
    return copyOf(err, undefined);
  } catch {
    return plainCopy(NO_MESSAGE, 'Error', undefined);
  }
}

const MARK = '[redacted]';
const WITHHELD = '[message withheld: it may show the address or the code in a form that could not be redacted]';
const TOO_LONG = '[message withheld: too long to redact]';
const NO_MESSAGE = '[no message]';
const TRUNCATED = ' [truncated]';
// Longer messages are withheld whole: a cut could keep the start of a secret.
const MAX_SCANNED = 32_768;
const MAX_KEPT = 2_000;
// Characters decoded and searched per message, across all views; past it the message is withheld.
const WORK_BUDGET = 128 * MAX_SCANNED;
// Views are decoded up to this many encodings deep (JSON in base64 in percent).
const MAX_DEPTH = 3;
// Rounds of locate-and-replace: removing one occurrence may join the digits around it into another.
const MAX_ROUNDS = 4;
const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const SAFE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const NON_ASCII = /[^\u0000-\u007f]/u; // eslint-disable-line no-control-regex -- the whole ASCII range, controls included
// Stands for a named HTML entity outside the table below: it may be any non-ASCII letter of a Unicode domain.
const UNKNOWN_ENTITY = '\ufffc';

type Mode = Matcher | 'withhold' | undefined;

function copyOf(err: unknown, mode: Mode): Error {
  const parts = readParts(err);
  const message = mode === undefined ? capped(parts.message) : mode === 'withhold' ? WITHHELD : redactText(parts.message, mode);
  const shows = (text: string) => mode !== undefined && (mode === 'withhold' || mode.visible(text, new Work(), false));
  const name = typeof parts.name === 'string' && SAFE_NAME.test(parts.name) && !shows(parts.name) ? parts.name : 'Error';
  const code = typeof parts.code === 'string' && SAFE_CODE.test(parts.code) && !shows(parts.code) ? parts.code : undefined;
  return plainCopy(message, name, code);
}

function plainCopy(message: string, name: string, code: string | undefined): Error {
  const copy = new Error(message);
  Object.defineProperty(copy, 'name', { value: name, writable: true, configurable: true });
  // The original's stack may quote anything; this one names no frame. Assigned, not defined:
  // redefining `stack` makes V8 format the pending one, running any `Error.prepareStackTrace`.
  copy.stack = `${name}: ${message}`;
  if (code !== undefined) Object.defineProperty(copy, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return copy;
}

interface Parts {
  readonly message: string;
  readonly name?: string | undefined;
  readonly code?: string | undefined;
}

/**
 * The message, name and code of anything thrown, read without ever coercing
 * it (no `toString`, no `Symbol.toPrimitive`) and without letting a getter or
 * a Proxy trap throw past here. Only primitive strings are taken.
 */
function readParts(err: unknown): Parts {
  if (typeof err === 'string') return { message: err };
  // A function, a symbol or a number may carry data too (a code as a number): only the kind is kept.
  if (typeof err !== 'object' || err === null) return { message: `[not an error: ${err === null ? 'null' : typeof err}]` };
  return { message: readString(err, 'message') ?? NO_MESSAGE, name: readString(err, 'name'), code: readString(err, 'code') };
}

function readString(source: object, key: string): string | undefined {
  try {
    const value: unknown = Reflect.get(source, key);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function capped(text: string): string {
  if (text.length <= MAX_KEPT) return text;
  // Never end on half a surrogate pair.
  const end = isHighSurrogate(text.charCodeAt(MAX_KEPT - 1)) ? MAX_KEPT - 1 : MAX_KEPT;
  return text.slice(0, end) + TRUNCATED;
}

/**
 * Replace every occurrence that can be located, then look at decoded views of
 * what is left: if a secret still shows in any of them, the message is
 * dropped to a fixed text. The check runs on the text as it will be kept.
 */
function redactText(text: string, matcher: Matcher): string {
  if (text.length > MAX_SCANNED) return TOO_LONG;
  const work = new Work();
  let current = text;
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const next = matcher.replaceLocated(current, work);
    if (next === current) break;
    current = next;
  }
  const kept = capped(current);
  return matcher.visible(kept, work, false) ? WITHHELD : kept;
}

/** A shared allowance of characters to decode and search, so every message costs bounded, linear work. */
class Work {
  #left = WORK_BUDGET;

  spend(chars: number): boolean {
    this.#left -= chars;
    return this.#left >= 0;
  }

  get exhausted(): boolean {
    return this.#left < 0;
  }
}

function secretsMatcher(secrets: RedactSecrets): Matcher | undefined {
  let address: unknown;
  let code: unknown;
  try {
    ({ address, code } = secrets);
  } catch {
    return undefined;
  }
  if (typeof address !== 'string' || address.length > 320 || address.indexOf('@') <= 0) return undefined;
  if (code !== undefined && (typeof code !== 'string' || !/^[0-9]{1,64}$/.test(code))) return undefined;
  return new Matcher(address, code);
}

type Span = readonly [start: number, end: number];

/** Finds one address and one code in text and in decoded views of it. */
class Matcher {
  readonly #address: string;
  readonly #addressTest: RegExp;
  readonly #code: string | undefined;
  // Shortest decoded piece that can hold a secret whole.
  readonly #minPiece: number;

  constructor(address: string, code: string | undefined) {
    this.#address = addressPattern(address);
    this.#addressTest = new RegExp(this.#address, 'iu');
    this.#code = code;
    this.#minPiece = Math.min(6, code?.length ?? 6);
  }

  /**
   * One round of locate-and-replace: the text as it is, then decoded by each
   * family of escapes alone and all together (one may eat the text of
   * another: `&#0` is an entity, `&#0=` a local part), each with and without
   * markup; then base64 runs that decode to a secret.
   */
  replaceLocated(text: string, work: Work): string {
    let current = text;
    for (const family of FAMILIES) {
      for (const skipTags of [false, true]) {
        if (!applies(family, skipTags, current)) continue;
        if (!work.spend(current.length)) return current;
        current = replaceSpans(current, this.#locate(decodeMapped(current, family, skipTags)));
      }
    }
    return this.#replaceBase64Runs(current, work);
  }

  /** Whether a secret shows in `text` or in any view decoded from it, up to `MAX_DEPTH` encodings deep. */
  visible(text: string, work: Work, fromBase64: boolean): boolean {
    const seen = new Set<string>();
    let frontier: (readonly [string, boolean])[] = [[text, fromBase64]];
    for (let depth = 0; depth <= MAX_DEPTH && frontier.length > 0; depth += 1) {
      const next: (readonly [string, boolean])[] = [];
      for (const [view, base64] of frontier) {
        if (seen.has(view)) continue;
        seen.add(view);
        if (!work.spend(view.length) || this.#shows(view, base64)) return true;
        if (depth === MAX_DEPTH) continue;
        for (const decoder of VIEW_DECODERS) {
          if (!decoder.applies(view)) continue;
          if (!work.spend(view.length)) return true;
          const decoded = decoder.decode(view, this.#minPiece);
          if (decoded.length > 0 && decoded !== view) next.push([decoded, base64 || decoder.base64]);
        }
      }
      frontier = next;
    }
    return work.exhausted;
  }

  #shows(view: string, base64: boolean): boolean {
    const forms = new Set([view]);
    if (NON_ASCII.test(view)) forms.add(foldCompatibility(view));
    // Markup is stripped after folding too: full-width brackets fold into tags.
    for (const form of [...forms]) forms.add(decodePlain(form, 'plain', true));
    for (const form of forms) {
      if (this.#addressTest.test(form)) return true;
      if (this.#code !== undefined && digitsOf(form, base64).includes(this.#code)) return true;
    }
    return false;
  }

  #locate(decoded: Mapped): Span[] {
    const spans: Span[] = [];
    const toSource = (first: number, last: number): Span => [decoded.start[first] ?? 0, decoded.end[last] ?? 0];
    for (const hit of decoded.text.matchAll(new RegExp(this.#address, 'giu'))) {
      spans.push(toSource(hit.index, hit.index + hit[0].length - 1));
    }
    const code = this.#code;
    if (code !== undefined) {
      // The digits in order, whatever stands between them: markup of any length, spaces, words.
      let digits = '';
      const at: number[] = [];
      for (let i = 0; i < decoded.text.length; i += 1) {
        const c = decoded.text.charCodeAt(i);
        if (c >= 0x30 && c <= 0x39) {
          digits += decoded.text[i] ?? '';
          at.push(i);
        }
      }
      for (let found = digits.indexOf(code); found >= 0; found = digits.indexOf(code, found + code.length)) {
        spans.push(toSource(at[found] ?? 0, at[found + code.length - 1] ?? 0));
      }
    }
    return spans;
  }

  /** A base64 or base64url run (MIME line breaks allowed) that decodes to a secret is replaced whole. */
  #replaceBase64Runs(text: string, work: Work): string {
    const spans: Span[] = [];
    for (const run of text.matchAll(/[A-Za-z0-9+/_-]+(?:\r?\n[A-Za-z0-9+/_-]+)*=*/g)) {
      if (run[0].length < 8) continue;
      const pieces = base64Pieces(run[0], this.#minPiece);
      if (pieces.length > 0 && this.visible(pieces, work, true)) spans.push([run.index, run.index + run[0].length]);
      if (work.exhausted) break;
    }
    return replaceSpans(text, spans);
  }
}

/**
 * A regular expression for the address in any letter case, with each label of
 * its domain in punycode or in Unicode (mixed, as some software shows them),
 * where a Unicode letter may also stand as an unknown HTML entity. The local
 * part leads with literal text, so matching is linear.
 */
function addressPattern(address: string): string {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const asciiLabels = address.slice(at + 1).split('.');
  let unicodeLabels: string[] = [];
  try {
    const unicode = unicodeAddress(address);
    unicodeLabels = unicode.slice(unicode.lastIndexOf('@') + 1).split('.');
  } catch {
    // The punycode form alone is still found.
  }
  const sameShape = unicodeLabels.length === asciiLabels.length;
  const labels = asciiLabels.map((label, i) => {
    const unicode = sameShape ? unicodeLabels[i] : undefined;
    if (unicode === undefined || unicode === '' || unicode === label) return escapeRegExp(label);
    const letters = Array.from(unicode, (ch) => {
      const cp = ch.codePointAt(0) ?? 0;
      return cp < 0x80 ? escapeRegExp(ch) : `[\\u{${cp.toString(16)}}${UNKNOWN_ENTITY}]`;
    });
    return `(?:${escapeRegExp(label)}|${letters.join('')})`;
  });
  return `${escapeRegExp(local)}@${labels.join('\\.')}`;
}

// The characters a `u`-mode pattern needs escaped (any other escape is a syntax error there).
function escapeRegExp(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/**
 * The digits of `text` in order. Anything else between them is skipped, except
 * in views decoded from base64, where most of what decodes is noise: there only
 * spaces, dashes, dots and the like may stand between two digits of a code.
 */
function digitsOf(text: string, base64: boolean): string {
  let out = '';
  let broken = false;
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (c >= 0x30 && c <= 0x39 && ch.length === 1) {
      out += ch;
      broken = false;
    } else if (base64 && !broken && !SEPARATOR.test(ch)) {
      out += 'x';
      broken = true;
    }
  }
  return out;
}

const SEPARATOR = /^[\s\-.,:;_/|\u00ad\u00b7\u2010-\u2015\u200b-\u200d\u2060\ufeff]$/u;

// NFKC maps full-width forms (`ａｄａ＠…`, `０４２…`); IDNA also reads these as label dots;
// invisible characters (zero-width spaces, soft hyphens) are how templates keep an address from being linked.
function foldCompatibility(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\u3002\uff0e\uff61]/gu, '.')
    .replace(INVISIBLE, '');
}

const INVISIBLE = /[\u00ad\u200b-\u200d\u2060\ufeff]/gu;

function replaceSpans(text: string, spans: Span[]): string {
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  let open = -1;
  let close = -1;
  for (const [start, end] of spans) {
    if (open >= 0 && start <= close) {
      close = Math.max(close, end);
      continue;
    }
    if (open >= 0) {
      out += text.slice(at, open) + MARK;
      at = close;
    }
    open = start;
    close = end;
  }
  if (open >= 0) {
    out += text.slice(at, open) + MARK;
    at = close;
  }
  return out + text.slice(at);
}

// ---- Decoding, with a map from each decoded UTF-16 unit back to the source span it came from.

// `literal` reads `\n` as `n`, as a view of text that was escaped once too often or by a lax encoder.
type Family = 'plain' | 'percent' | 'backslash' | 'literal' | 'entity' | 'escapes' | 'qp';

const FAMILIES: readonly Family[] = ['plain', 'percent', 'backslash', 'literal', 'entity', 'escapes', 'qp'];

interface Mapped {
  readonly text: string;
  readonly start: readonly number[];
  readonly end: readonly number[];
}

interface Sink {
  emit(text: string, from: number, to: number): void;
}

class MappedSink implements Sink {
  readonly parts: string[] = [];
  readonly start: number[] = [];
  readonly end: number[] = [];

  emit(text: string, from: number, to: number): void {
    this.parts.push(text);
    for (let i = 0; i < text.length; i += 1) {
      this.start.push(from);
      this.end.push(to);
    }
  }
}

class TextSink implements Sink {
  readonly parts: string[] = [];

  emit(text: string): void {
    this.parts.push(text);
  }
}

function applies(family: Family, skipTags: boolean, text: string): boolean {
  if (skipTags && !text.includes('<')) return false;
  switch (family) {
    case 'plain':
      return true;
    case 'percent':
      return /%(?:[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})/.test(text);
    case 'backslash':
    case 'literal':
      return text.includes('\\');
    case 'entity':
      return /&[#A-Za-z]/.test(text);
    case 'qp':
      return /=(?:[0-9A-Fa-f]{2}|\r?\n)/.test(text);
    case 'escapes':
      return /[%\\&]/.test(text) || NON_ASCII.test(text);
  }
}

function decodeMapped(text: string, family: Family, skipTags: boolean): Mapped {
  const sink = new MappedSink();
  decodeInto(sink, text, family, skipTags);
  return { text: sink.parts.join(''), start: sink.start, end: sink.end };
}

function decodePlain(text: string, family: Family, skipTags: boolean): string {
  const sink = new TextSink();
  decodeInto(sink, text, family, skipTags);
  return sink.parts.join('');
}

/**
 * One left-to-right pass: each position is either markup (skipped when
 * `skipTags`), an escape of `family` (decoded), or a character as it is.
 * Every branch consumes at least one character and looks ahead a bounded
 * distance, except a tag, which is consumed whole: linear time.
 */
function decodeInto(sink: Sink, text: string, family: Family, skipTags: boolean): void {
  let tagsPossible = skipTags;
  let i = 0;
  while (i < text.length) {
    if (tagsPossible && text.charCodeAt(i) === 0x3c && isTagStart(text.charCodeAt(i + 1))) {
      const close = text.indexOf('>', i + 2);
      if (close >= 0) {
        i = close + 1;
        continue;
      }
      // No `>` left: no later `<` can open a tag either.
      tagsPossible = false;
    }
    const next = family === 'plain' ? i : family === 'qp' ? decodeQuotedPrintable(sink, text, i) : decodeEscape(sink, text, i, family);
    if (next > i) {
      i = next;
      continue;
    }
    const cp = text.codePointAt(i) ?? 0;
    const width = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + width);
    sink.emit(family !== 'plain' && cp >= 0x80 ? compatible(ch) : ch, i, i + width);
    i += width;
  }
}

// `<` opens markup when followed by a letter, `/`, `!` or `?` (as HTML reads it).
function isTagStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2f || c === 0x21 || c === 0x3f;
}

function compatible(ch: string): string {
  const c = ch.charCodeAt(0);
  if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff) return ch;
  return foldCompatibility(ch);
}

/** Percent (`%40`, `%C3%BC`, `%u00FC`), backslash (`\u0040`, `\x40`, `\u{40}`, `\/`) and HTML (`&#64;`, `&#x40;`, `&commat;`) escapes. */
function decodeEscape(sink: Sink, text: string, i: number, family: Family): number {
  const c = text.charCodeAt(i);
  const all = family === 'escapes';
  if (c === 0x25 && (all || family === 'percent')) {
    if (text.charCodeAt(i + 1) === 0x75 && hexAt(text, i + 2, 4)) {
      emitCodeUnit(sink, parseInt(text.slice(i + 2, i + 6), 16), i, i + 6);
      return i + 6;
    }
    return decodeByteRun(sink, text, i, 0x25);
  }
  if (c === 0x5c && (all || family === 'backslash' || family === 'literal')) return decodeBackslash(sink, text, i, family === 'literal');
  if (c === 0x26 && (all || family === 'entity')) return decodeEntity(sink, text, i);
  return i;
}

function decodeBackslash(sink: Sink, text: string, i: number, literal: boolean): number {
  const next = text.charCodeAt(i + 1);
  if (Number.isNaN(next)) return i;
  if (next === 0x75 && hexAt(text, i + 2, 4)) {
    emitCodeUnit(sink, parseInt(text.slice(i + 2, i + 6), 16), i, i + 6);
    return i + 6;
  }
  if (next === 0x75 && text.charCodeAt(i + 2) === 0x7b) {
    const close = text.indexOf('}', i + 3);
    if (close > i + 3 && close <= i + 9 && hexAt(text, i + 3, close - i - 3)) {
      emitCodePoint(sink, parseInt(text.slice(i + 3, close), 16), i, close + 1);
      return close + 1;
    }
  }
  if (next === 0x78 && hexAt(text, i + 2, 2)) {
    emitCodeUnit(sink, parseInt(text.slice(i + 2, i + 4), 16), i, i + 4);
    return i + 4;
  }
  const simple = literal ? undefined : BACKSLASH_ESCAPES[String.fromCharCode(next)];
  const width = next >= 0xd800 && next <= 0xdbff ? 3 : 2;
  // Any other escaped character stands for itself (`\/`, `\@`, `\"`).
  sink.emit(simple ?? text.slice(i + 1, i + width), i, i + width);
  return i + width;
}

const BACKSLASH_ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', v: '\v', '0': '\u0000' };

function decodeEntity(sink: Sink, text: string, i: number): number {
  if (text.charCodeAt(i + 1) === 0x23) {
    const hex = (text.charCodeAt(i + 2) | 0x20) === 0x78;
    let j = i + (hex ? 3 : 2);
    const first = j;
    while (j < text.length && (hex ? isHex(text.charCodeAt(j)) : isDigit(text.charCodeAt(j)))) j += 1;
    if (j === first) return i;
    const digits = text.slice(first, j);
    const end = text.charCodeAt(j) === 0x3b ? j + 1 : j;
    emitCodePoint(sink, digits.length > 8 ? -1 : parseInt(digits, hex ? 16 : 10), i, end);
    return end;
  }
  let j = i + 1;
  while (j < text.length && j - i <= 32 && isAlphanumeric(text.charCodeAt(j))) j += 1;
  if (j === i + 1 || text.charCodeAt(j) !== 0x3b) return i;
  sink.emit(NAMED_ENTITIES[text.slice(i + 1, j)] ?? UNKNOWN_ENTITY, i, j + 1);
  return j + 1;
}

// Every HTML5 named character reference that stands for ASCII; any other name may stand for a non-ASCII letter.
const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  AMP: '&',
  apos: "'",
  ast: '*',
  bsol: '\\',
  colon: ':',
  comma: ',',
  commat: '@',
  DiacriticalGrave: '`',
  dollar: '$',
  equals: '=',
  excl: '!',
  fjlig: 'fj',
  grave: '`',
  gt: '>',
  GT: '>',
  Hat: '^',
  lbrace: '{',
  lbrack: '[',
  lcub: '{',
  lowbar: '_',
  lpar: '(',
  lsqb: '[',
  lt: '<',
  LT: '<',
  midast: '*',
  NewLine: '\n',
  num: '#',
  percnt: '%',
  period: '.',
  plus: '+',
  quest: '?',
  quot: '"',
  QUOT: '"',
  rbrace: '}',
  rbrack: ']',
  rcub: '}',
  rpar: ')',
  rsqb: ']',
  semi: ';',
  sol: '/',
  Tab: '\t',
  UnderBar: '_',
  verbar: '|',
  vert: '|',
  VerticalLine: '|',
};

/** Quoted-printable and RFC 2047 Q: `=40`, `=C3=BC`, and soft line breaks (`=` at the end of a line). */
function decodeQuotedPrintable(sink: Sink, text: string, i: number): number {
  if (text.charCodeAt(i) !== 0x3d) return i;
  if (text.charCodeAt(i + 1) === 0x0a) return i + 2;
  if (text.charCodeAt(i + 1) === 0x0d && text.charCodeAt(i + 2) === 0x0a) return i + 3;
  return decodeByteRun(sink, text, i, 0x3d);
}

/**
 * A run of `%XX` or `=XX` bytes decoded as UTF-8, each invalid byte read as
 * Latin-1 (as `escape()` writes `ü`); quoted-printable soft breaks inside the
 * run are skipped.
 */
function decodeByteRun(sink: Sink, text: string, i: number, marker: number): number {
  const bytes: number[] = [];
  const at: number[] = [];
  let j = i;
  for (;;) {
    if (text.charCodeAt(j) === marker && hexAt(text, j + 1, 2)) {
      bytes.push(parseInt(text.slice(j + 1, j + 3), 16));
      at.push(j);
      j += 3;
    } else if (marker === 0x3d && text.charCodeAt(j) === 0x3d && text.charCodeAt(j + 1) === 0x0a) {
      j += 2;
    } else if (marker === 0x3d && text.charCodeAt(j) === 0x3d && text.charCodeAt(j + 1) === 0x0d && text.charCodeAt(j + 2) === 0x0a) {
      j += 3;
    } else {
      break;
    }
  }
  let k = 0;
  while (k < bytes.length) {
    const length = utf8Sequence(bytes, k);
    const from = at[k] ?? i;
    if (length > 1) {
      sink.emit(compatible(Buffer.from(bytes.slice(k, k + length)).toString('utf8')), from, (at[k + length - 1] ?? from) + 3);
      k += length;
    } else {
      const b = bytes[k] ?? 0;
      sink.emit(b < 0x80 ? String.fromCharCode(b) : compatible(String.fromCharCode(b)), from, from + 3);
      k += 1;
    }
  }
  return j;
}

/** The length of the well-formed UTF-8 sequence of two or more bytes at `k`, or 1. */
function utf8Sequence(bytes: readonly number[], k: number): number {
  const b = bytes[k] ?? 0;
  const length = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 1;
  if (length === 1) return 1;
  for (let t = 1; t < length; t += 1) if (((bytes[k + t] ?? 0) & 0xc0) !== 0x80) return 1;
  const second = bytes[k + 1] ?? 0;
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  if ((b === 0xe0 && second < 0xa0) || (b === 0xed && second > 0x9f) || (b === 0xf0 && second < 0x90) || (b === 0xf4 && second > 0x8f))
    return 1;
  return length;
}

function emitCodeUnit(sink: Sink, unit: number, from: number, to: number): void {
  sink.emit(unit >= 0x80 && (unit < 0xd800 || unit > 0xdfff) ? compatible(String.fromCharCode(unit)) : String.fromCharCode(unit), from, to);
}

function emitCodePoint(sink: Sink, cp: number, from: number, to: number): void {
  const valid = cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
  sink.emit(valid ? compatible(String.fromCodePoint(cp)) : '\ufffd', from, to);
}

function hexAt(text: string, at: number, count: number): boolean {
  if (at + count > text.length) return false;
  for (let k = at; k < at + count; k += 1) if (!isHex(text.charCodeAt(k))) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

function isAlphanumeric(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

// ---- Views for the final check: each decoder turns a view into another.

interface ViewDecoder {
  readonly base64: boolean;
  applies(text: string): boolean;
  decode(text: string, minPiece: number): string;
}

// One family per decoder: deeper views compose them.
const VIEW_DECODERS: readonly ViewDecoder[] = [
  ...(['percent', 'backslash', 'literal', 'entity', 'qp'] as const).map((family) => ({
    base64: false,
    applies: (text: string) => applies(family, false, text),
    decode: (text: string) => decodePlain(text, family, false),
  })),
  {
    base64: true,
    applies: (text) => /[A-Za-z0-9+/_-]{8}/.test(text),
    // Runs may be wrapped or spaced; every piece that decodes to text is kept.
    decode: (text, minPiece) =>
      Array.from(text.matchAll(/[A-Za-z0-9+/_-]+(?:[\t\n\r ]+[A-Za-z0-9+/_-]+)*/g), (run) =>
        run[0].length < 8 ? '' : base64Pieces(run[0], minPiece),
      )
        .filter((pieces) => pieces.length > 0)
        .join('\ufffd'),
  },
];

/**
 * A run decoded as base64 (either alphabet) at each of the four alignments,
 * since a blob may start anywhere in it; of what decodes, only stretches of
 * text at least `minPiece` long are kept, joined by U+FFFD. Noise from
 * misaligned or non-base64 runs rarely forms such stretches.
 */
function base64Pieces(run: string, minPiece: number): string {
  const clean = run.replace(/[\s=]+/g, '');
  const pieces: string[] = [];
  for (let offset = 0; offset < 4 && offset < clean.length; offset += 1) {
    const decoded = Buffer.from(clean.slice(offset), 'base64').toString('utf8');
    let piece = '';
    for (const ch of decoded) {
      const c = ch.charCodeAt(0);
      if (ch === '\ufffd' || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) {
        if (piece.length >= minPiece) pieces.push(piece);
        piece = '';
      } else {
        piece += ch;
      }
    }
    if (piece.length >= minPiece) pieces.push(piece);
  }
  return pieces.join('\ufffd');
}
