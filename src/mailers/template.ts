import { CODE_MESSAGE_STRINGS, STRING_KEYS, type CodeMessageStrings } from './messages.js';
import { booleanOption, functionOption, optionError, optionsObject } from '../lib/checks.js';
import type { CodeMessage } from '../types.js';

/**
 * A rendered message: what a mailer puts on the wire.
 *
 * @example
 * ```ts
 * import type { RenderedMessage } from 'npuser';
 * const rendered: RenderedMessage = {
 *   subject: 'Your sign-in code',
 *   text: 'Your code: 042917',
 *   html: '<p>Your code: <b>042917</b></p>',
 * };
 * ```
 */
export interface RenderedMessage {
  /** The Subject header. The default never contains the code: lock screens preview subjects. */
  readonly subject: string;
  /** The text/plain part, always sent; it must contain the code. */
  readonly text: string;
  /** The text/html part, sent alongside the text part; an empty string sends the text part alone. */
  readonly html: string;
}

/**
 * Replaces the whole rendering: gets the message npuser wants delivered and
 * returns its subject, text and HTML. What it returns is still checked: the
 * text part must contain the code, and the subject must not unless
 * `codeInSubject: true`.
 *
 * @example
 * ```ts
 * import { renderCodeMessage, type CodeMessageRenderer } from 'npuser';
 * const render: CodeMessageRenderer = async (message) => {
 *   const { text } = renderCodeMessage(message);
 *   return { subject: 'Welcome back', text, html: await myTemplates.signIn(message) };
 * };
 * ```
 */
export type CodeMessageRenderer = (message: CodeMessage) => RenderedMessage | Promise<RenderedMessage>;

/**
 * How the default template renders: its words per language and whether the
 * subject carries the code.
 *
 * @example
 * ```ts
 * import { renderCodeMessage, type RenderCodeMessageOptions } from 'npuser';
 * const options: RenderCodeMessageOptions = {
 *   defaultLocale: 'fr',
 *   strings: { en: { subject: 'Sign in to {appName}' } },
 * };
 * const { subject } = renderCodeMessage(message, options);
 * ```
 */
export interface RenderCodeMessageOptions {
  /**
   * Words per language (BCP 47 tag → strings), merged over the built-in ones
   * (`CODE_MESSAGE_STRINGS`: `en`, `fr`, `de`, `es`, `pt`). A language that
   * has built-in strings may override only some keys; a new language must give
   * all of them, so a message never mixes two languages.
   * @default {} (the built-in strings)
   */
  strings?: Readonly<Record<string, Partial<CodeMessageStrings>>>;
  /**
   * The language used when `message.locale` is missing or has no strings.
   * It must be a built-in language or one given in `strings`.
   * @default 'en'
   */
  defaultLocale?: string;
  /**
   * Put the code in the subject too (`subjectWithCode`). Convenient, but lock
   * screens and notification previews then show a working code to anyone near
   * the device.
   * @default false
   */
  codeInSubject?: boolean;
}

/**
 * The message options every npuser mailer takes: the default template's
 * options, or a `render` function that replaces it.
 *
 * @example
 * ```ts
 * import { consoleMailer, type MailerMessageOptions } from 'npuser';
 * const messageOptions: MailerMessageOptions = { defaultLocale: 'de', strings: { de: { subject: 'Anmelden bei {appName}' } } };
 * const mailer = consoleMailer({ ...messageOptions, write: (text) => process.stderr.write(text) });
 * ```
 */
export interface MailerMessageOptions extends RenderCodeMessageOptions {
  /**
   * Replaces the default template. `strings` and `defaultLocale` are then
   * unused; `codeInSubject` still decides whether the subject may contain the code.
   * @default the default template (`renderCodeMessage`)
   */
  render?: CodeMessageRenderer;
}

/**
 * The code split into groups of three for reading aloud ("042 917").
 *
 * @example
 * ```ts
 * import { groupCodeDigits } from 'npuser';
 * groupCodeDigits('04291733'); // '042 917 33'
 * ```
 */
export function groupCodeDigits(code: string): string {
  return code.replace(/(\d{3})(?=\d)/g, '$1 ');
}

/**
 * The default rendering of a {@link CodeMessage}: a text part and an HTML part
 * in the reader's language (`message.locale`, falling back from `pt-BR` to
 * `pt`, then to `defaultLocale`), with the app's name, the code large and
 * grouped for reading yet copied as one string, how long it works, and what to
 * do if you did not ask for it. No links, no images, nothing loaded from the
 * network, inline styles only, and no fixed colours, so dark mode works.
 * Everything from the message and the options is HTML-escaped. The subject
 * does not contain the code unless `codeInSubject: true`.
 *
 * @param message - The message npuser hands the mailer.
 * @param options - Strings per language, the default language, `codeInSubject`.
 * @throws TypeError when an option is malformed (an unknown string key, a
 * language without all strings, an unknown `defaultLocale`).
 *
 * @example
 * ```ts
 * import { renderCodeMessage } from 'npuser';
 * const { subject, text, html } = renderCodeMessage({
 *   to: 'ada@example.com', code: '042917', appName: 'My blog', locale: 'fr',
 *   expiresAt: new Date(Date.now() + 600_000), ttlSeconds: 600,
 * });
 * // subject: 'Votre code de connexion à My blog'
 * ```
 */
export function renderCodeMessage(message: CodeMessage, options: RenderCodeMessageOptions = {}): RenderedMessage {
  return compileTemplate(options, 'renderCodeMessage')(message);
}

/** A language's complete strings, under its lowercase canonical tag. */
type StringTable = ReadonlyMap<string, CodeMessageStrings>;

/** Validate the template options once and return the renderer they describe. */
function compileTemplate(options: RenderCodeMessageOptions, who: string): (message: CodeMessage) => RenderedMessage {
  const given = optionsObject<RenderCodeMessageOptions>(who, options);
  const codeInSubject = booleanOption(who, 'codeInSubject', given.codeInSubject, false);
  const table = stringTable(given.strings, who);
  const defaultLocale = given.defaultLocale ?? 'en';
  if (typeof defaultLocale !== 'string') throw optionError(who, 'defaultLocale', 'must be a BCP 47 language tag');
  const fallback = lookup(table, canonicalTag(defaultLocale));
  if (fallback === undefined) {
    throw optionError(
      who,
      'defaultLocale',
      `"${defaultLocale}" has no strings; give them in options.strings or use one of ${[...table.keys()].join(', ')}`,
    );
  }

  return (message) => {
    const requested = typeof message.locale === 'string' ? canonicalTag(message.locale) : undefined;
    const found = (requested === undefined ? undefined : lookup(table, requested)) ?? fallback;
    // Format numbers in the reader's own variant (pt-BR) when it is the language we write in.
    const formatTag = requested !== undefined && (requested === found.tag || requested.startsWith(`${found.tag}-`)) ? requested : found.tag;
    return renderWith(message, found.strings, found.tag, formatTag, codeInSubject);
  };
}

/**
 * What a mailer calls: the app's `render` or the default template, then the
 * checks every rendering must pass (code in the text part, not in the subject
 * unless allowed, one-line subject).
 * @internal
 */
export function mailerRenderer(options: MailerMessageOptions, who: string): (message: CodeMessage) => Promise<RenderedMessage> {
  const given = optionsObject<MailerMessageOptions>(who, options);
  const template = compileTemplate(given as RenderCodeMessageOptions, who);
  const render = functionOption<CodeMessageRenderer>(who, 'render', given.render);
  const codeInSubject = given.codeInSubject === true;
  return async (message) => {
    const rendered = render === undefined ? template(message) : await render(message);
    return checkRendered(rendered, message, codeInSubject);
  };
}

function checkRendered(rendered: unknown, message: CodeMessage, codeInSubject: boolean): RenderedMessage {
  const { subject, text, html } = (typeof rendered === 'object' && rendered !== null ? rendered : {}) as Partial<
    Record<keyof RenderedMessage, unknown>
  >;
  if (typeof subject !== 'string' || typeof text !== 'string' || typeof html !== 'string') {
    throw new TypeError('npuser: render(message) must return { subject, text, html } strings');
  }
  // The reader types what they see, so the text part must show the code; spaces and hyphens may group it.
  if (!text.replace(/[\s-]/g, '').includes(message.code)) {
    throw new TypeError('npuser: the rendered text part does not contain the code');
  }
  const oneLine = singleLine(subject);
  if (!codeInSubject && (oneLine.includes(message.code) || oneLine.includes(groupCodeDigits(message.code)))) {
    throw new TypeError('npuser: the rendered subject contains the code; pass codeInSubject: true to allow it');
  }
  return { subject: oneLine, text, html };
}

function renderWith(
  message: CodeMessage,
  strings: CodeMessageStrings,
  tag: string,
  formatTag: string,
  codeInSubject: boolean,
): RenderedMessage {
  const values = {
    appName: message.appName,
    code: message.code,
    duration: formatDuration(message.ttlSeconds, formatTag),
  };
  const subject = singleLine(fill(codeInSubject ? strings.subjectWithCode : strings.subject, values));
  const intro = fill(strings.intro, values);
  const lifetime = fill(strings.lifetime, values);
  const ignore = fill(strings.ignore, values);
  const groups = groupCodeDigits(message.code).split(' ');

  const text = [intro, '', `    ${groups.join(' ')}`, '', lifetime, '', ignore, ''].join('\n');

  const font = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
  const mono = "ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono','Courier New',monospace";
  // The groups are adjacent spans with no character between them: the gap is
  // padding, so selecting and copying the code yields the bare digits.
  // Large, yet a 10-digit code still fits a 320 px phone screen on one line.
  const codeSize = message.code.length > 8 ? 28 : 32;
  const codeSpans = groups.map((group, i) => `<span${i === 0 ? '' : ' style="padding-left:0.45em;"'}>${escapeHtml(group)}</span>`).join('');
  // No background or text colour anywhere: the mail client's own (light or
  // dark) colours apply. The only drawn colour is a mid-grey border, visible on both.
  const html = `<!DOCTYPE html>
<html lang="${escapeHtml(tag)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>${escapeHtml(subject)}</title>
</head>
<body style="margin:0;padding:0;">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">${escapeHtml(`${intro} ${lifetime}`)}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;">
<tr><td align="center" style="padding:24px 8px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:480px;border:1px solid #8c8c8c;border-radius:12px;border-collapse:separate;">
<tr><td style="padding:28px 20px;font-family:${font};font-size:16px;line-height:1.5;text-align:left;">
<p style="margin:0 0 20px;font-size:18px;font-weight:700;">${escapeHtml(message.appName)}</p>
<p style="margin:0 0 12px;">${escapeHtml(intro)}</p>
<p class="npuser-code" style="margin:0 0 20px;padding:14px 8px;border:1px dashed #8c8c8c;border-radius:8px;text-align:center;white-space:nowrap;font-family:${mono};font-size:${codeSize}px;font-weight:700;line-height:1.2;letter-spacing:0.06em;-webkit-user-select:all;user-select:all;">${codeSpans}</p>
<p style="margin:0 0 12px;">${escapeHtml(lifetime)}</p>
<p style="margin:0;font-size:14px;">${escapeHtml(ignore)}</p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;
  return { subject, text, html };
}

/** Replace `{name}` placeholders; an unknown name stays as written. */
function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? (values[name] ?? whole) : whole));
}

/** "10 minutes", "10 Minuten", "45 segundos": whole minutes when the lifetime is, seconds otherwise. */
function formatDuration(ttlSeconds: number, tag: string): string {
  const minutes = ttlSeconds / 60;
  const [value, unit] = Number.isInteger(minutes) && minutes > 0 ? [minutes, 'minute'] : [ttlSeconds, 'second'];
  // An app-added language that ICU does not know would fall back to the
  // server's own locale; English is the more predictable fallback.
  const locale = Intl.NumberFormat.supportedLocalesOf([tag]).length > 0 ? tag : 'en';
  return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long' }).format(value);
}

/** Subjects are one header line: controls and line breaks become spaces. */
function singleLine(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- control characters are what this removes
      .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
      .replace(/ {2,}/g, ' ')
      .trim()
  );
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** The lowercase canonical form of a BCP 47 tag, or `undefined` if it is not one. */
function canonicalTag(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag)[0]?.toLowerCase();
  } catch {
    return undefined;
  }
}

/** RFC 4647 lookup: `zh-hant-tw`, then `zh-hant`, then `zh`. */
function lookup(table: StringTable, tag: string | undefined): { tag: string; strings: CodeMessageStrings } | undefined {
  if (tag === undefined) return undefined;
  for (const candidate of fallbackChain(tag)) {
    const strings = table.get(candidate);
    if (strings) return { tag: candidate, strings };
  }
  return undefined;
}

function fallbackChain(tag: string): string[] {
  const parts = tag.split('-');
  const chain: string[] = [];
  while (parts.length > 0) {
    chain.push(parts.join('-'));
    parts.pop();
    // A singleton (`-u-`, `-x-`) never ends a tag.
    if (parts.length > 0 && (parts[parts.length - 1]?.length ?? 0) === 1) parts.pop();
  }
  return chain;
}

/** The built-in strings merged with the app's, every language complete. */
function stringTable(strings: unknown, who: string): StringTable {
  const table = new Map<string, CodeMessageStrings>(Object.entries(CODE_MESSAGE_STRINGS));
  if (strings === undefined) return table;
  if (typeof strings !== 'object' || strings === null) throw optionError(who, 'strings', 'must be an object of strings per language');
  const given = new Map<string, Partial<CodeMessageStrings>>();
  for (const [key, value] of Object.entries(strings)) {
    const tag = canonicalTag(key);
    if (tag === undefined) throw optionError(who, 'strings', `has a key that is not a BCP 47 language tag: "${key}"`);
    given.set(tag, checkStrings(value, who, `strings["${key}"]`));
  }
  // Apply general before specific (`pt` before `pt-br`), each over what its chain already has.
  const ordered = [...given.keys()].sort((a, b) => a.split('-').length - b.split('-').length);
  for (const tag of ordered) {
    const merged: Partial<Record<keyof CodeMessageStrings, string>> = {};
    for (const candidate of fallbackChain(tag).reverse()) {
      Object.assign(merged, table.get(candidate), candidate === tag ? given.get(tag) : undefined);
    }
    const missing = STRING_KEYS.filter((k) => merged[k] === undefined);
    if (missing.length > 0) {
      throw optionError(who, `strings["${tag}"]`, `lacks ${missing.join(', ')}: a language without built-in strings needs every one`);
    }
    table.set(tag, Object.freeze(merged as CodeMessageStrings));
  }
  return table;
}

function checkStrings(value: unknown, who: string, name: string): Partial<CodeMessageStrings> {
  if (typeof value !== 'object' || value === null) throw optionError(who, name, 'must be an object of strings');
  const known: readonly string[] = STRING_KEYS;
  for (const [key, text] of Object.entries(value)) {
    if (!known.includes(key)) throw optionError(who, `${name}.${key}`, `is not a message string (${STRING_KEYS.join(', ')})`);
    if (typeof text !== 'string') throw optionError(who, `${name}.${key}`, 'must be a string');
    // Only the opt-in subject may carry the code: anywhere else `{code}` is a mistake.
    if (key !== 'subjectWithCode' && text.includes('{code}')) {
      throw optionError(who, `${name}.${key}`, 'must not use {code}; only subjectWithCode may');
    }
  }
  return value;
}
