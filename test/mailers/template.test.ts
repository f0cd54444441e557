import { describe, expect, it } from 'vitest';
import { CODE_MESSAGE_STRINGS, groupCodeDigits, renderCodeMessage, type CodeMessage, type CodeMessageStrings } from 'npuser';
import { codeMessage } from '../support/code-message.js';

const HOSTILE = '<script>alert(1)</script> & "quotes" \'single\'';

/** The shared sample message, with a fixed expiry time. */
const message = (overrides: Partial<CodeMessage> = {}): CodeMessage =>
  codeMessage({ expiresAt: new Date(Date.UTC(2026, 0, 1, 12, 10)), ...overrides });

/** The HTML as a reader sees it: tags dropped, entities for the five escaped characters decoded. */
function visible(html: string): string {
  return html
    .replace(/<div style="display:none[^>]*>.*?<\/div>/s, '')
    .replace(/<title>.*?<\/title>/s, '')
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

describe('renderCodeMessage: backward compatible', () => {
  it('renders the same English subject and text as before, with one argument', () => {
    const { subject, text } = renderCodeMessage(message());
    expect(subject).toBe('Your My blog sign-in code');
    expect(text).toBe(
      [
        'Your code to sign in to My blog:',
        '',
        '    042 917',
        '',
        'It works once, for 10 minutes.',
        '',
        'If you did not ask for this code, ignore this message: nobody can sign in without it.',
        '',
      ].join('\n'),
    );
  });

  it('groupCodeDigits still groups by three', () => {
    expect(groupCodeDigits('042917')).toBe('042 917');
    expect(groupCodeDigits('0429173312')).toBe('042 917 331 2');
  });
});

describe('renderCodeMessage: the HTML part', () => {
  const { html } = renderCodeMessage(message());

  it('is a whole document in the reader’s language, ready for light and dark mode', () => {
    expect(html).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="color-scheme" content="light dark">');
  });

  it('has the app name, the intro, the lifetime and the "did not ask" line', () => {
    const text = visible(html);
    expect(text).toContain('My blog');
    expect(text).toContain('Your code to sign in to My blog:');
    expect(text).toContain('It works once, for 10 minutes.');
    expect(text).toContain('If you did not ask for this code, ignore this message');
  });

  it('shows the code as grouped spans with nothing between them, so it copies as one string', () => {
    expect(html).toContain('<p class="npuser-code" ');
    expect(html).toContain('<span>042</span><span style="padding-left:0.45em;">917</span></p>');
    expect(visible(html).replace(/\s/g, '')).toContain('042917');
    const eight = renderCodeMessage(message({ code: '00731205' })).html;
    expect(eight).toContain('<span>007</span><span style="padding-left:0.45em;">312</span><span style="padding-left:0.45em;">05</span>');
  });

  it('loads nothing and links nowhere: no images, links, scripts, stylesheets, or any URL', () => {
    expect(html).not.toMatch(/<(img|a|link|script|style|iframe|object|embed|form|base)\b/i);
    expect(html).not.toMatch(/\b(src|href|srcset|background|action)\s*=/i);
    expect(html).not.toMatch(/https?:|\/\/|url\(|@import/i);
  });

  it('sets no text or background colour anywhere: the client’s own colours (light or dark) apply', () => {
    const styles = [...html.matchAll(/style="([^"]*)"/g)].map((m) => m[1]!);
    expect(styles.length).toBeGreaterThan(5);
    for (const style of styles) expect(style).not.toMatch(/(^|;)\s*(color|background|background-color)\s*:/);
    expect(html).not.toMatch(/bgcolor|<font/i);
  });

  it('hides a preview line without the code, so inbox previews do not show it', () => {
    const preheader = /<div style="display:none;[^"]*">(.*?)<\/div>/s.exec(html)?.[1];
    expect(preheader).toBe('Your code to sign in to My blog: It works once, for 10 minutes.');
  });
});

describe('renderCodeMessage: escaping', () => {
  it('HTML-escapes a hostile appName everywhere in the HTML, and keeps it intact in subject and text', () => {
    for (const locale of ['en', 'fr', 'de', 'es', 'pt', 'xx']) {
      const { subject, text, html } = renderCodeMessage(message({ appName: HOSTILE, locale }));
      expect(html).not.toContain('<script>');
      expect(html).not.toContain('"quotes"');
      expect(html).not.toContain("'single'");
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39;');
      expect(visible(html)).toContain(HOSTILE);
      expect(subject).toContain(HOSTILE);
      expect(text).toContain(HOSTILE);
    }
  });

  it('HTML-escapes app strings and the locale tag', () => {
    const { html } = renderCodeMessage(message({ locale: 'en' }), {
      strings: { en: { intro: '<img src=x onerror=alert(1)> {appName}', ignore: '" onmouseover="x' } },
    });
    expect(html).not.toMatch(/<img/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; My blog');
    expect(html).toContain('&quot; onmouseover=&quot;x');
  });

  it('keeps the subject on one line: line breaks from appName become spaces', () => {
    const { subject } = renderCodeMessage(message({ appName: 'Evil\r\nBcc: eve@evil.example\u2028x' }));
    expect(subject).toBe('Your Evil Bcc: eve@evil.example x sign-in code');
    expect(subject).not.toMatch(/[\r\n\u2028]/);
  });
});

describe('renderCodeMessage: languages', () => {
  it.each([
    ['en', 'Your My blog sign-in code', 'It works once, for 10 minutes.'],
    ['fr', 'Votre code de connexion à My blog', 'Il ne fonctionne qu’une fois, pendant 10 minutes.'],
    ['de', 'Ihr Anmeldecode für My blog', 'Er gilt 10 Minuten lang und nur ein einziges Mal.'],
    ['es', 'Tu código de acceso a My blog', 'Funciona una sola vez, durante 10 minutos.'],
    ['pt', 'Código de acesso para My blog', 'Funciona uma única vez, durante 10 minutos.'],
  ])('%s', (locale, subject, lifetime) => {
    const rendered = renderCodeMessage(message({ locale }));
    expect(rendered.subject).toBe(subject);
    expect(rendered.text).toContain(lifetime);
    expect(rendered.html).toContain(`<html lang="${locale}">`);
    expect(visible(rendered.html)).toContain(lifetime);
  });

  it.each([
    ['pt-BR', 'pt'],
    ['pt-PT', 'pt'],
    ['fr-CA', 'fr'],
    ['de-CH', 'de'],
    ['es-419', 'es'],
    ['EN-gb', 'en'],
    ['de-Latn-DE-u-co-phonebk', 'de'],
    ['zh-Hant-TW', 'en'],
    ['ja', 'en'],
    ['not a locale!!', 'en'],
    ['', 'en'],
  ])('%s falls back to %s', (locale, language) => {
    expect(renderCodeMessage(message({ locale })).subject).toBe(renderCodeMessage(message({ locale: language })).subject);
  });

  it('without a locale, uses defaultLocale (en unless set)', () => {
    expect(renderCodeMessage(message()).subject).toBe('Your My blog sign-in code');
    expect(renderCodeMessage(message(), { defaultLocale: 'fr' }).subject).toBe('Votre code de connexion à My blog');
    expect(renderCodeMessage(message({ locale: 'ja' }), { defaultLocale: 'de-DE' }).subject).toBe('Ihr Anmeldecode für My blog');
  });

  it('localises the lifetime with Intl: whole minutes, or seconds, singular and plural', () => {
    const lifetime = (locale: string, ttlSeconds: number) => renderCodeMessage(message({ locale, ttlSeconds })).text.split('\n')[4];
    expect(lifetime('en', 60)).toBe('It works once, for 1 minute.');
    expect(lifetime('en', 300)).toBe('It works once, for 5 minutes.');
    expect(lifetime('en', 90)).toBe('It works once, for 90 seconds.');
    expect(lifetime('en', 30)).toBe('It works once, for 30 seconds.');
    expect(lifetime('de', 60)).toBe('Er gilt 1 Minute lang und nur ein einziges Mal.');
    expect(lifetime('es', 60)).toBe('Funciona una sola vez, durante 1 minuto.');
    expect(lifetime('pt-BR', 45)).toBe('Funciona uma única vez, durante 45 segundos.');
  });

  it('every built-in language has every string, and only subjectWithCode uses {code}', () => {
    const keys: (keyof CodeMessageStrings)[] = ['subject', 'subjectWithCode', 'intro', 'lifetime', 'ignore'];
    expect(Object.keys(CODE_MESSAGE_STRINGS).sort()).toEqual(['de', 'en', 'es', 'fr', 'pt']);
    for (const strings of Object.values(CODE_MESSAGE_STRINGS)) {
      expect(Object.keys(strings).sort()).toEqual([...keys].sort());
      for (const key of keys) {
        expect(strings[key].length).toBeGreaterThan(0);
        expect(strings[key].includes('{code}')).toBe(key === 'subjectWithCode');
      }
      expect(strings.subject).toContain('{appName}');
      expect(strings.lifetime).toContain('{duration}');
    }
    expect(Object.isFrozen(CODE_MESSAGE_STRINGS)).toBe(true);
    expect(Object.isFrozen(CODE_MESSAGE_STRINGS.en)).toBe(true);
  });
});

describe('renderCodeMessage: app strings', () => {
  const nl: CodeMessageStrings = {
    subject: 'Je inlogcode voor {appName}',
    subjectWithCode: '{code} is je inlogcode voor {appName}',
    intro: 'Je code om in te loggen bij {appName}:',
    lifetime: 'Hij werkt één keer, {duration} lang.',
    ignore: 'Heb je deze code niet aangevraagd? Negeer dan dit bericht.',
  };

  it('adds a language, found for its regional tags too, with Intl formatting the duration', () => {
    const rendered = renderCodeMessage(message({ locale: 'nl-BE' }), { strings: { nl } });
    expect(rendered.subject).toBe('Je inlogcode voor My blog');
    expect(rendered.text).toContain('Hij werkt één keer, 10 minuten lang.');
    expect(rendered.html).toContain('<html lang="nl">');
  });

  it('overrides some strings of a built-in language, the rest staying built in', () => {
    const rendered = renderCodeMessage(message({ locale: 'en' }), { strings: { en: { subject: 'Sign in to {appName}' } } });
    expect(rendered.subject).toBe('Sign in to My blog');
    expect(rendered.text).toContain('It works once, for 10 minutes.');
  });

  it('a regional override applies to that region only, over its language', () => {
    const options = { strings: { 'pt-BR': { subject: 'Seu código de acesso ao {appName}' }, pt: { ignore: 'Ignore.' } } };
    const br = renderCodeMessage(message({ locale: 'pt-BR' }), options);
    const pt = renderCodeMessage(message({ locale: 'pt-PT' }), options);
    expect(br.subject).toBe('Seu código de acesso ao My blog');
    expect(br.text).toContain('Ignore.');
    expect(pt.subject).toBe('Código de acesso para My blog');
    expect(pt.text).toContain('Ignore.');
  });

  it('codeInSubject puts the code in the subject, in every language', () => {
    for (const locale of ['en', 'fr', 'de', 'es', 'pt']) {
      expect(renderCodeMessage(message({ locale }), { codeInSubject: true }).subject).toMatch(/^042917 /);
      expect(renderCodeMessage(message({ locale })).subject).not.toContain('042917');
    }
  });

  it('leaves an unknown placeholder as written', () => {
    expect(renderCodeMessage(message(), { strings: { en: { subject: '{appName} {nope}' } } }).subject).toBe('My blog {nope}');
  });

  it('options that are not an object → TypeError', () => {
    expect(() => renderCodeMessage(message(), null as never)).toThrow(
      new TypeError('npuser: renderCodeMessage(options) takes an options object'),
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['strings a string', { strings: 'en' }, /^npuser: renderCodeMessage options\.strings must be an object/],
    [
      'an unknown key',
      { strings: { en: { subjet: 'x' } } },
      /^npuser: renderCodeMessage options\.strings\["en"\]\.subjet is not a message string/,
    ],
    [
      '{code} in the intro',
      { strings: { en: { intro: 'Code {code}' } } },
      /^npuser: renderCodeMessage options\.strings\["en"\]\.intro must not use \{code\}; only subjectWithCode may/,
    ],
    [
      'an incomplete new language',
      { strings: { nl: { subject: 'x' } } },
      /^npuser: renderCodeMessage options\.strings\["nl"\] lacks subjectWithCode, intro, lifetime, ignore/,
    ],
    [
      'a non-string value',
      { strings: { fr: { subject: null } } },
      /^npuser: renderCodeMessage options\.strings\["fr"\]\.subject must be a string/,
    ],
    [
      'a language that is not an object',
      { strings: { fr: 'Bonjour' } },
      /^npuser: renderCodeMessage options\.strings\["fr"\] must be an object of strings/,
    ],
    [
      'a bad tag',
      { strings: { '12345678901': {} } },
      /^npuser: renderCodeMessage options\.strings has a key that is not a BCP 47 language tag: "12345678901"/,
    ],
    ['defaultLocale without strings', { defaultLocale: 'nl' }, /^npuser: renderCodeMessage options\.defaultLocale "nl" has no strings/],
    ['defaultLocale not a string', { defaultLocale: 7 }, /^npuser: renderCodeMessage options\.defaultLocale must be a BCP 47 language tag/],
    ['codeInSubject not a boolean', { codeInSubject: 1 }, /^npuser: renderCodeMessage options\.codeInSubject must be a boolean/],
  ])('%s → TypeError', (_name, options, pattern) => {
    expect(() => renderCodeMessage(message(), options as never)).toThrow(TypeError);
    expect(() => renderCodeMessage(message(), options as never)).toThrow(pattern);
  });
});
