import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, NP_USER_ERROR_CODES, OPTION_BOUNDS } from 'npuser';
import { headingAnchors, links, type Link } from '../support/markdown.js';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');

/**
 * Where README links into the repository. The registry page shows README.md
 * without the repository around it, so a relative link there leads nowhere.
 */
const REPOSITORY_FILES = 'https://github.com/npuserauth/npuser/blob/main/';

/** The repository file a link names (`docs/x.md`), or undefined for a link elsewhere. */
function repositoryPath(target: string): string | undefined {
  if (target.startsWith('#')) return undefined;
  if (target.startsWith(REPOSITORY_FILES)) return target.slice(REPOSITORY_FILES.length);
  return /^[a-z][a-z0-9+.-]*:/i.test(target) ? undefined : target.replace(/^\.\//, '');
}

function describeLink(file: string, link: Link): string {
  return `${file}:${link.line} ${link.target}`;
}

/** `path#fragment`: whether the file exists and, for Markdown, has a heading with that anchor. */
function resolves(from: URL, path: string): boolean {
  const [file = '', fragment] = path.split('#', 2);
  const url = new URL(file, from);
  if (!existsSync(url)) return false;
  if (fragment === undefined || !file.endsWith('.md')) return true;
  return headingAnchors(readFileSync(url, 'utf8')).has(decodeURIComponent(fragment));
}

/** Rows of the README's defaults table: option → [default, bounds]. */
function defaultsTable(): Map<string, [string, string]> {
  const section = readme.split('## Defaults')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, [string, string]>();
  for (const line of section.split('\n')) {
    const cells = /^\| `(\w+)` \| `([^`]+)` \|([^|]*)\|/.exec(line);
    if (cells) rows.set(cells[1]!, [cells[2]!, cells[3]!.trim()]);
  }
  return rows;
}

describe('README', () => {
  it('documents every default exactly as DEFAULTS has it', () => {
    const table = defaultsTable();
    expect([...table.keys()].sort()).toEqual(Object.keys(DEFAULTS).sort());
    for (const [name, value] of Object.entries(DEFAULTS)) {
      const written = table.get(name)![0];
      expect(written, name).toBe(typeof value === 'string' ? `'${value}'` : String(value));
    }
  });

  it('documents every bound exactly as OPTION_BOUNDS has it', () => {
    const table = defaultsTable();
    for (const [name, { min, max }] of Object.entries(OPTION_BOUNDS)) {
      expect(table.get(name)?.[1], name).toBe(`${min}–${max}`);
    }
  });

  it('lists every error code', () => {
    for (const code of NP_USER_ERROR_CODES) expect(readme).toContain(`| \`${code}\` |`);
  });

  it('gives the two setup commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });

  // npm shows README.md on the package page, away from the repository: a
  // relative link such as docs/security-model.md is a dead link there.
  it('links only to absolute URLs or to anchors in itself', () => {
    const found = links(readme);
    expect(found.length).toBeGreaterThan(0);
    const unusable = found.filter((link) => !link.target.startsWith('#') && !link.target.startsWith('https://'));
    expect(
      unusable.map((link) => describeLink('README.md', link)),
      `link with ${REPOSITORY_FILES}… instead`,
    ).toEqual([]);
  });

  it('links to repository files that exist, and to headings that exist', () => {
    const broken = links(readme).filter((link) => {
      if (link.target.startsWith('#')) return !headingAnchors(readme).has(decodeURIComponent(link.target.slice(1)));
      const path = repositoryPath(link.target);
      return path !== undefined && !resolves(root, path);
    });
    expect(broken.map((link) => describeLink('README.md', link))).toEqual([]);
    // The guides README sends readers to are all there.
    const docs = links(readme)
      .flatMap((link) => repositoryPath(link.target) ?? [])
      .filter((path) => path.startsWith('docs/'));
    expect(docs.length).toBeGreaterThan(0);
  });
});

describe('docs/', () => {
  it('links between guides only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const name of readdirSync(new URL('docs/', root)).filter((file) => file.endsWith('.md'))) {
      const file = new URL(`docs/${name}`, root);
      const text = readFileSync(file, 'utf8');
      for (const link of links(text)) {
        const path = link.target.startsWith('#') ? `${name}${link.target}` : repositoryPath(link.target);
        if (path !== undefined && !resolves(file, path)) broken.push(describeLink(`docs/${name}`, link));
      }
    }
    expect(broken).toEqual([]);
  });
});
