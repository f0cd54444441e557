// docs/errors.md has one heading per error code, where each problem's `type` links, with the
// status the HTTP layer answers; and the guides' links between themselves lead somewhere.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NP_USER_ERROR_CODES } from 'npuser';
import { PROBLEM_STATUS, problemType } from '../../src/http/problem.js';
import { ROOT } from '../support/dist.js';

const errors = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');

/** GitHub's anchor for a heading: lower case, spaces to hyphens, other punctuation but `_` and `-` dropped. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

describe('docs/errors.md', () => {
  const headings = [...errors.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);

  it('has one heading per error code, and nothing else at that level', () => {
    expect(headings).toHaveLength(NP_USER_ERROR_CODES.length);
    expect(new Set(headings)).toEqual(new Set(NP_USER_ERROR_CODES));
  });

  it.each(NP_USER_ERROR_CODES)('%s: the problem type links to its heading, which gives the status the HTTP layer answers', (code) => {
    expect(new URL(problemType(code)).hash).toBe(`#${anchorOf(code)}`);
    const section = errors.split(`## ${code}\n`)[1]!.split('\n## ')[0]!;
    expect(section).toMatch(new RegExp(`^\\n\\*\\*Status ${PROBLEM_STATUS[code]}\\b`));
    expect(section).toContain('**What to do:**');
    expect(errors).toContain(`| [\`${code}\`](#${anchorOf(code)}) | ${PROBLEM_STATUS[code]} |`);
  });
});

describe('the guides', () => {
  // Every guide in docs/, so a new one is checked without being listed here.
  const guides = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => name.slice(0, -'.md'.length))
    .sort();

  it('finds every guide', () => {
    expect(guides).toEqual(expect.arrayContaining(['getting-started', 'errors', 'security-model', 'service', 'scaling-with-redis']));
  });

  it.each(guides)('docs/%s.md: every relative link leads to a file, and every #anchor to a heading', (guide) => {
    const file = join(ROOT, 'docs', `${guide}.md`);
    const text = readFileSync(file, 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split('#');
      const linked = path === '' ? file : resolve(dirname(file), path!);
      expect(existsSync(linked), `${guide}.md → ${target!}`).toBe(true);
      if (anchor !== undefined && linked.endsWith('.md')) {
        const anchors = [...readFileSync(linked, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1]!));
        expect(anchors, `${guide}.md → ${target!}`).toContain(anchor);
      }
    }
  });
});
