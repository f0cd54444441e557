import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from 'npuser';
import { markdownExamples, sourceFiles, tsdocExamples, typecheckExamples, type CodeExample } from '../support/code-examples.js';

// Every ```ts block of README.md and docs/*.md and every @example of src/ compiles
// against the sources, with test/docs/examples/prelude.d.ts declaring what fragments
// take as given (np, req, res…). A failure names the file and line of the example.

const guides = readdirSync(new URL('../../docs/', import.meta.url))
  .filter((name) => name.endsWith('.md'))
  .sort();
const examples: CodeExample[] = [
  ...markdownExamples('README.md'),
  ...guides.flatMap((name) => markdownExamples(`docs/${name}`)),
  ...sourceFiles('src').flatMap((file) => tsdocExamples(file)),
];

// Two examples that must fail, to show the check can: a wrong argument type, and a name
// nobody declares. Compiled with the others, so they cost no second program.
const WRONG: readonly CodeExample[] = [
  { file: 'wrong-argument.md', line: 10, code: "const ok = 1;\nawait np.requestCode(42, { clientKey: 'x' });" },
  { file: 'undeclared.md', line: 20, code: 'await undeclaredThing.run();' },
];
const checked = typecheckExamples([...examples, ...WRONG]);

const where = (example: CodeExample): string => `${example.file}:${example.line}`;

describe('code examples: extraction', () => {
  it('finds the examples of README.md, every guide with code and every source file with @example', () => {
    const files = new Set(examples.map((example) => example.file));
    expect(files).toContain('README.md');
    for (const guide of ['custom-store-and-mailer.md', 'scaling-with-redis.md', 'sending-mail.md'])
      expect(files).toContain(`docs/${guide}`);
    expect([...files].filter((file) => file.startsWith('src/')).length).toBeGreaterThan(10);
    expect(examples.length).toBeGreaterThan(80);
  });

  it('reads the @example of a doc comment at the line its code starts, fenced or not', () => {
    const source = [
      '/**', //                         1
      ' * Summary.', //                 2
      ' *', //                          3
      ' * @example', //                 4
      ' * ```ts', //                    5
      " * const a = 'one';", //         6
      ' * ```', //                      7
      ' * @example Without a fence', // 8
      " * const b = 'two';", //         9
      ' * @remarks', //                 10
      " * const c = 'not an example';", // 11
      ' */',
    ].join('\n');
    expect(tsdocExamples('x.ts', source)).toEqual([
      { file: 'x.ts', line: 6, code: "const a = 'one';" },
      { file: 'x.ts', line: 9, code: "const b = 'two';" },
    ]);
    expect(markdownExamples('x.md', '# T\n\n```ts\nconst a = 1;\n```\n\n```sh\nnpm test\n```\n')).toEqual([
      { file: 'x.md', line: 4, code: 'const a = 1;' },
    ]);
  });

  it('reports a wrong example with the file and line it is written on', () => {
    const [argument, undeclared] = WRONG.map((example) => checked.problems(example).map((p) => p.text));
    expect(argument).toEqual([expect.stringMatching(/^wrong-argument\.md:11:\d+ TS2345 /)]);
    expect(undeclared).toEqual([expect.stringMatching(/^undeclared\.md:20:7 TS2304 Cannot find name 'undeclaredThing'/)]);
  });
});

describe('code examples: type-check', () => {
  it('test/docs/examples/prelude.d.ts', () => {
    expect(checked.preludeProblems.map((p) => p.text)).toEqual([]);
  });

  it.each(examples.map((example) => [where(example), example] as const))('%s', (_, example) => {
    expect(checked.problems(example).map((p) => p.text)).toEqual([]);
  });
});

// What a type-check cannot see, checked on the text of every example.
describe('code examples: what they teach', () => {
  it.each(examples.filter((e) => /Set-Cookie/i.test(e.code)).map((e) => [where(e), e] as const))(
    '%s: a session cookie set by hand has Path=/ (without it, the browser scopes it to the sign-in route)',
    (_, example) => {
      for (const [header] of example.code.matchAll(/Set-Cookie['"`]?\s*,\s*[`'"][^`'"]*/gi)) expect(header).toMatch(/;\s*Path=\//i);
    },
  );

  it.each(examples.filter((e) => /\.catch\(/.test(e.code)).map((e) => [where(e), e] as const))(
    '%s: no failure is swallowed (revokeToken(…).catch(() => undefined) hid ERR_NPUSER_STORE_FAILED: the token stayed valid)',
    (_, example) => {
      expect(example.code).not.toMatch(/\.catch\(\s*(?:\(\s*\)|_\w*)\s*=>\s*(?:undefined|\{\s*\}|null)\s*\)/);
    },
  );

  // Examples that verify an NpUser's own tokens (np.jwks(), or an NpUser they construct); the
  // service's tokens carry the app's id as audience, and its guide says so.
  it.each(
    examples.filter((e) => /jwtVerify\(/.test(e.code) && /\bnp\.jwks\(|new NpUser\(/.test(e.code)).map((e) => [where(e), e] as const),
  )(
    '%s: jwtVerify checks the issuer and audience the NpUser sets (a jwks() example verified an audience its NpUser did not set)',
    (_, example) => {
      const verified = example.code.slice(example.code.indexOf('jwtVerify('));
      const constructed = /new NpUser\(\{([\s\S]*?)\}\);/.exec(example.code)?.[1] ?? '';
      for (const claim of ['issuer', 'audience'] as const) {
        const expected = new RegExp(`${claim}:\\s*'([^']*)'`).exec(verified)?.[1];
        if (expected === undefined) continue;
        const set = new RegExp(`${claim}:\\s*'([^']*)'`).exec(constructed)?.[1] ?? DEFAULTS[claim];
        expect(
          expected,
          `${claim}: the NpUser ${constructed === '' ? '(the prelude’s, with the defaults)' : 'in the example'} sets '${set}'`,
        ).toBe(set);
      }
    },
  );
});
