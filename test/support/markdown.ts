// What the documentation tests read out of Markdown: fenced code blocks, links and heading anchors.
// Line-based on purpose: every result carries the 1-based line it was found on, for the failure message.

/** A fenced code block: its info string (`ts`, `sh`), its text, and the line of its first line of code. */
export interface FencedBlock {
  readonly lang: string;
  readonly code: string;
  readonly line: number;
}

/** A link target, with the line it is on. */
export interface Link {
  readonly target: string;
  readonly line: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;

/** Every fenced code block of `markdown`, in order. */
export function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const open = FENCE.exec(lines[i] ?? '');
    if (open === null) continue;
    const [, fence = '```', lang = ''] = open;
    const start = i + 1;
    let end = start;
    // A fence closes on the same character, at least as long, with nothing after it.
    while (end < lines.length && !new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[end] ?? ''))
      end += 1;
    blocks.push({ lang: lang.toLowerCase(), code: lines.slice(start, end).join('\n'), line: start + 1 });
    i = end;
  }
  return blocks;
}

/** The lines of `markdown` with the code of fenced blocks blanked out, so line numbers still hold. */
function proseLines(markdown: string): string[] {
  const lines = markdown.split('\n');
  for (const block of fencedBlocks(markdown)) {
    const count = block.code === '' ? 0 : block.code.split('\n').length;
    for (let i = 0; i < count; i += 1) lines[block.line - 1 + i] = '';
  }
  return lines;
}

/**
 * Every link target: inline links and images `[text](target "title")`, reference
 * definitions `[label]: target`, autolinks `<https://…>` and HTML `href`/`src`.
 */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  const patterns = [
    /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^\s)>]*)>?(?:\s+["'(][^)]*)?\)/g,
    /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g,
    /<((?:https?|mailto):[^>\s]+)>/g,
    /\b(?:href|src)\s*=\s*["']([^"']*)["']/g,
  ];
  proseLines(markdown).forEach((line, index) => {
    // Code spans are text, not links.
    const text = line.replace(/(`+)[^`]*?\1/g, '');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) found.push({ target: match[1] ?? '', line: index + 1 });
    }
  });
  return found;
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text, not its target
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Every anchor a document's headings define, with GitHub's `-1`, `-2` for repeats. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const slug = headingSlug(heading[1] ?? '');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
