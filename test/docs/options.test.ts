// Each option's default lives in one place, DEFAULTS: the `@default` of every
// option's TSDoc (what editors show on hover, and the API reference) must say
// the same, or it would drift the first time a default changes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, OPTION_BOUNDS } from 'npuser';

const OPTIONS_SOURCE = fileURLToPath(new URL('../../src/options.ts', import.meta.url));

/** Each member of `NpUserOptions` with its doc comment's `@default` text and its whole comment. */
function documentedOptions(): Map<string, { defaultText: string | undefined; comment: string }> {
  // Parent links set: the JSDoc helpers walk up from each member to its comment.
  const source = ts.createSourceFile(OPTIONS_SOURCE, readFileSync(OPTIONS_SOURCE, 'utf8'), ts.ScriptTarget.Latest, true);
  const options = new Map<string, { defaultText: string | undefined; comment: string }>();
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || node.name.text !== 'NpUserOptions') return;
    for (const member of node.members) {
      if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name)) continue;
      const tag = ts.getJSDocTags(member).find((t) => t.tagName.text === 'default');
      const defaultText = tag === undefined ? undefined : ts.getTextOfJSDocComment(tag.comment);
      const comment = ts
        .getJSDocCommentsAndTags(member)
        .map((doc) => doc.getText(source))
        .join('\n');
      options.set(member.name.text, { defaultText, comment });
    }
  });
  return options;
}

describe('NpUserOptions TSDoc', () => {
  const options = documentedOptions();

  it('documents every option of DEFAULTS', () => {
    expect(options.size).toBeGreaterThan(20);
    for (const name of Object.keys(DEFAULTS)) expect(options.has(name), name).toBe(true);
  });

  it.each(Object.entries(DEFAULTS))('@default of %s is its value in DEFAULTS (%s)', (name, value) => {
    const written = options.get(name)?.defaultText?.split(' ')[0];
    expect(written, name).toBe(typeof value === 'string' ? `'${value}'` : String(value));
  });

  it.each(Object.entries(OPTION_BOUNDS))('%s states its bounds', (name, { min, max }) => {
    const { comment } = options.get(name)!;
    // Plain numbers (`1–10`), or in larger units where that reads better (`60 s – 30 days`).
    const plain = comment.includes(`${min}–${max}`);
    const inUnits = /\d+ (?:s|ms) – \d+ days/.test(comment);
    expect(plain || inUnits, `${name}: ${min}–${max}`).toBe(true);
  });

  it('gives every other option a @default too', () => {
    for (const [name, { defaultText }] of options) {
      if (name === 'secret') continue; // required, no default
      expect(defaultText, name).toBeTruthy();
    }
  });
});
