import { afterEach, describe, expect, it, vi } from 'vitest';
import { NpUser, consoleMailer } from 'npuser';
import { codeMessage, signal } from '../support/code-message.js';
import { captureStdout } from '../support/output.js';

function captured(options: Parameters<typeof consoleMailer>[0] = {}) {
  const printed: string[] = [];
  const mailer = consoleMailer({ write: (text) => void printed.push(text), ...options });
  return { mailer, printed, output: () => printed.join('') };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('consoleMailer', () => {
  it('prints the code prominently, on the line the demo’s browser test reads', async () => {
    const { mailer, output } = captured();
    await mailer.send(codeMessage(), { signal: signal() });
    expect(output()).toContain('│ CODE:    042 917    (type 042917)\n');
    // The exact pattern of test/e2e/demo-browser.test.ts.
    expect(/│ CODE:\s+[\d ]+\s+\(type (\d+)\)/.exec(output())?.[1]).toBe('042917');
    expect(output()).toContain('│ To:      ada@example.com');
    expect(output()).toContain('│ Subject: Your My blog sign-in code');
    expect(output()).toContain('printed, not sent');
  });

  it('prints the rendered text part, in the reader’s language', async () => {
    const { mailer, output } = captured();
    await mailer.send(codeMessage({ locale: 'de-AT' }), { signal: signal() });
    expect(output()).toContain('│ Subject: Ihr Anmeldecode für My blog');
    expect(output()).toContain('│   Er gilt 10 Minuten lang und nur ein einziges Mal.');
    expect(output()).toContain('│   Wenn Sie diesen Code nicht angefordert haben');
    expect(output()).toContain('│ CODE:    042 917    (type 042917)');
  });

  it('takes the same message options as the other mailers: strings, defaultLocale, render', async () => {
    const translated = captured({ defaultLocale: 'es', strings: { es: { subject: 'Entra en {appName}' } } });
    await translated.mailer.send(codeMessage(), { signal: signal() });
    expect(translated.output()).toContain('│ Subject: Entra en My blog');
    expect(translated.output()).toContain('│   Funciona una sola vez, durante 10 minutos.');

    const rendered = captured({ render: (m) => ({ subject: 'Custom', text: `Use ${m.code}.`, html: '' }) });
    await rendered.mailer.send(codeMessage(), { signal: signal() });
    expect(rendered.output()).toContain('│ Subject: Custom');
    expect(rendered.output()).toContain('│   Use 042917.');
  });

  it('keeps every printed line inside the frame, even with line breaks in appName', async () => {
    const { mailer, output } = captured();
    await mailer.send(codeMessage({ appName: 'Evil\nBcc: x' }), { signal: signal() });
    const lines = output()
      .split('\n')
      .filter((line) => line !== '');
    for (const line of lines) expect(line).toMatch(/^[┌│└]/);
    expect(output()).toContain('│ Subject: Your Evil Bcc: x sign-in code');
  });

  it('writes to standard output by default', async () => {
    vi.stubEnv('NODE_ENV', 'development');
    const stdout = captureStdout();
    await consoleMailer().send(codeMessage(), { signal: signal() });
    expect(stdout.text()).toContain('(type 042917)');
  });

  it('an aborted send prints nothing and rejects', async () => {
    const { mailer, printed } = captured();
    const controller = new AbortController();
    controller.abort(new Error('npuser stopped waiting'));
    await expect(mailer.send(codeMessage(), { signal: controller.signal })).rejects.toThrow(/aborted/);
    expect(printed).toEqual([]);
  });

  it('a failing write rejects (never throws synchronously out of send)', async () => {
    const mailer = consoleMailer({
      write: () => {
        throw new Error('EPIPE');
      },
    });
    const sending = mailer.send(codeMessage(), { signal: signal() });
    expect(sending).toBeInstanceOf(Promise);
    await expect(sending).rejects.toThrow('EPIPE');
  });

  it('is refused under NODE_ENV=production unless forced, before any option is used', () => {
    vi.stubEnv('NODE_ENV', 'production');
    expect(() => consoleMailer({ write: () => undefined })).toThrow(/production/);
    expect(() => consoleMailer({ write: () => undefined, force: true })).not.toThrow();
  });

  it.each<[string, unknown, string]>([
    ['options null', null, 'npuser: consoleMailer(options) takes an options object'],
    ['write not a function', { write: 'stdout' }, 'npuser: consoleMailer options.write must be a function'],
    ['force not a boolean', { force: 'yes' }, 'npuser: consoleMailer options.force must be a boolean'],
    ['render not a function', { render: 'text' }, 'npuser: consoleMailer options.render must be a function'],
    ['codeInSubject not a boolean', { codeInSubject: 1 }, 'npuser: consoleMailer options.codeInSubject must be a boolean'],
  ])('rejects malformed options at construction, in the one format: %s', (_name, options, expected) => {
    expect(() => consoleMailer(options as never)).toThrow(new TypeError(expected));
  });

  it('rejects a defaultLocale without strings, naming the option', () => {
    expect(() => consoleMailer({ defaultLocale: 'xx' })).toThrow(/^npuser: consoleMailer options\.defaultLocale "xx" has no strings/);
  });

  it('is what NpUser uses by default outside production, localised by context.locale', async () => {
    vi.stubEnv('NODE_ENV', 'development');
    const stdout = captureStdout();
    const np = new NpUser({ secret: 'console test secret: at least 32 bytes!!', generateCode: () => '770122' });
    await np.requestCode('ada@example.com', { locale: 'pt-BR' });
    const output = stdout.text();
    expect(output).toContain('│ CODE:    770 122    (type 770122)');
    expect(output).toContain('│ Subject: Código de acesso para npuser');
  });
});
