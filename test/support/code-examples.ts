// The code examples of the documentation, and a type-check of each against the sources.
//
// Examples are fragments: they use `np`, `email`, `req`, `res`… without declaring them.
// test/docs/examples/prelude.d.ts declares those once, for all of them; each example is
// compiled as its own module, so what one declares never leaks into another.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { fencedBlocks } from './markdown.js';
import { ROOT } from './dist.js';

/** One example: where it is (`README.md`, line of its first line of code) and its code. */
export interface CodeExample {
  /** Repository-relative path of the file it is written in. */
  readonly file: string;
  /** 1-based line of the example's first line of code in that file. */
  readonly line: number;
  readonly code: string;
}

/** A compiler diagnostic, placed in the file the example is written in. */
export interface ExampleProblem {
  /** `README.md:52:7 TS2304 Cannot find name 'jwtVerify'.` */
  readonly text: string;
  readonly code: number;
}

const TS_LANGS = new Set(['ts', 'typescript', 'mts', 'cts']);

/** The ```ts blocks of a Markdown file (`text`: its contents, read from the repository if not given). */
export function markdownExamples(file: string, text = readFileSync(join(ROOT, file), 'utf8')): CodeExample[] {
  return fencedBlocks(text)
    .filter((block) => TS_LANGS.has(block.lang))
    .map((block) => ({ file, line: block.line, code: block.code }));
}

/**
 * The code of every `@example` of the doc comments in a source file: its ```ts
 * blocks, or, when it has no fence, its whole text (TSDoc reads that as code).
 * `text` is the file's contents, read from the repository if not given.
 */
export function tsdocExamples(file: string, text = readFileSync(join(ROOT, file), 'utf8')): CodeExample[] {
  const lines = text.split('\n');
  const examples: CodeExample[] = [];
  // The doc comments, as [first line, last line] 0-based indexes.
  for (let start = 0; start < lines.length; start += 1) {
    if (!/^\s*\/\*\*/.test(lines[start] ?? '')) continue;
    let end = start;
    while (end < lines.length && !(lines[end] ?? '').includes('*/')) end += 1;
    // The comment's text, line for line: ` * ` stripped, `/**` and `*/` blanked.
    const body = lines.slice(start, end + 1).map((line, i) => {
      let text = line;
      if (i === 0) text = text.replace(/^\s*\/\*\*/, '');
      if (start + i === end) text = text.replace(/\*\/.*$/, '');
      return text.replace(/^\s*\* ?/, '');
    });
    examples.push(...examplesIn(file, body, start));
    start = end;
  }
  return examples;
}

/** The examples of one doc comment whose text is `body`, starting at 0-based line `offset`. */
function examplesIn(file: string, body: readonly string[], offset: number): CodeExample[] {
  const found: CodeExample[] = [];
  for (let i = 0; i < body.length; i += 1) {
    if (!/^@example\b/.test(body[i] ?? '')) continue;
    // The section runs to the next block tag outside a fence, or to the end of the comment.
    let end = i + 1;
    let fenced = false;
    while (end < body.length) {
      const line = body[end] ?? '';
      if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
      else if (!fenced && /^@\w/.test(line)) break;
      end += 1;
    }
    const section = body.slice(i + 1, end).join('\n');
    const blocks = fencedBlocks(section);
    if (blocks.length === 0 && section.trim() !== '') {
      found.push({ file, line: offset + i + 2, code: section });
    }
    for (const block of blocks.filter((b) => TS_LANGS.has(b.lang))) {
      // block.line counts from the section's first line, which is the comment's line i + 1.
      found.push({ file, line: offset + i + 1 + block.line, code: block.code });
    }
    i = end - 1;
  }
  return found;
}

/** Repository-relative paths of every .ts file under `dir` (a repository-relative directory). */
export function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(dir, name).split('\\').join('/'))
    .sort();
}

/** Where the examples' prelude and their compiler options live. */
export const EXAMPLES_DIR = join(ROOT, 'test', 'docs', 'examples');

function compilerOptions(): { options: ts.CompilerOptions; fileNames: string[] } {
  const configFile = join(EXAMPLES_DIR, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configFile,
    { noEmit: true },
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (parsed === undefined) throw new Error(`cannot read ${configFile}`);
  return { options: parsed.options, fileNames: parsed.fileNames };
}

/** The virtual file an example is compiled as: beside the prelude, named after where it is written. */
function virtualPath(example: CodeExample): string {
  return join(EXAMPLES_DIR, `${example.file.replace(/[^\w.-]+/g, '_')}_L${example.line}.ts`);
}

/**
 * Type-checks `examples`, each as a module of its own, with the prelude and the
 * repository's compiler options (so `npuser`, `npuser/testing`… resolve to src/
 * through tsconfig `paths`). Returns each example's problems, by example.
 */
export function typecheckExamples(examples: readonly CodeExample[]): {
  problems: (example: CodeExample) => ExampleProblem[];
  preludeProblems: ExampleProblem[];
} {
  const { options, fileNames } = compilerOptions();
  // Each example, and each .d.ts of the prelude under a .ts name: skipLibCheck
  // (the repository's setting) would leave a declaration file unchecked.
  const virtual = new Map<string, string>(
    // `export {}` makes every example a module even without an import, so top-level
    // await works and a local `const np` shadows the prelude's instead of clashing.
    examples.map((example) => [virtualPath(example), `${example.code}\nexport {};\n`]),
  );
  const prelude = new Map<string, string>();
  for (const fileName of fileNames) {
    const checked = fileName.replace(/\.d\.ts$/, '.checked.ts');
    virtual.set(checked, readFileSync(fileName, 'utf8'));
    prelude.set(checked, fileName);
  }

  const disk = ts.createCompilerHost(options, true);
  const host: ts.CompilerHost = {
    ...disk,
    getSourceFile: (fileName, languageVersion, onError, shouldCreate) => {
      const text = virtual.get(fileName);
      return text === undefined
        ? disk.getSourceFile(fileName, languageVersion, onError, shouldCreate)
        : ts.createSourceFile(fileName, text, languageVersion, true);
    },
    fileExists: (fileName) => virtual.has(fileName) || disk.fileExists(fileName),
    readFile: (fileName) => virtual.get(fileName) ?? disk.readFile(fileName),
  };
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });

  const describe = (diagnostic: ts.Diagnostic, place: (line: number) => string): ExampleProblem => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
    if (diagnostic.file === undefined || diagnostic.start === undefined) {
      return { text: `TS${diagnostic.code} ${message}`, code: diagnostic.code };
    }
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return { text: `${place(line)}:${character + 1} TS${diagnostic.code} ${message}`, code: diagnostic.code };
  };
  const diagnosticsOf = (fileName: string): readonly ts.Diagnostic[] => {
    const source = program.getSourceFile(fileName);
    if (source === undefined) throw new Error(`${fileName} is not in the program`);
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  };

  const preludeProblems = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...[...prelude.keys()].flatMap((fileName) => diagnosticsOf(fileName)),
  ].map((diagnostic) => {
    const fileName = diagnostic.file?.fileName ?? '';
    const where = relative(ROOT, prelude.get(fileName) ?? fileName)
      .split('\\')
      .join('/');
    return describe(diagnostic, (line) => `${where}:${line + 1}`);
  });

  return {
    problems: (example) =>
      diagnosticsOf(virtualPath(example)).map((diagnostic) => describe(diagnostic, (line) => `${example.file}:${example.line + line}`)),
    preludeProblems,
  };
}
