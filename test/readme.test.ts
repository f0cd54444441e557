import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, NP_USER_ERROR_CODES, OPTION_BOUNDS } from 'npuser';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

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
});
