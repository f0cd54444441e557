// The built package under dist/ for the packaging tests: where it is, a guard that it was built, and what its files load.
import ts from 'typescript';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where tsup writes the build. */
export const DIST = join(ROOT, 'dist');

/** Throws unless every one of `files` (paths under dist/) was built. */
export function assertBuilt(files: readonly string[]): void {
  for (const file of files) {
    if (!existsSync(join(DIST, file))) throw new Error(`dist/${file} is missing: run npm run build first`);
  }
}

/** Every bare specifier a built file, and the chunks it reaches, imports or requires. */
export function bareSpecifiers(entry: string): Set<string> {
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    // TypeScript's own scanner: import, export-from, require and import() calls, never comments.
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else found.add(specifier);
    }
  };
  visit(entry);
  return found;
}
