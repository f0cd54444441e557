// @ts-check
// Reads a constant out of a TypeScript source without running it, for the tools that
// run on plain Node and cannot import .ts (typedoc's config, the benchmarks): they get
// the value the code is compiled with, never a copy of it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The literal `const <name> = …` is initialised with, seen through `as const`,
 * `satisfies …` and parentheses.
 * @param {string | URL} file
 * @param {string} name
 * @returns {ts.Expression}
 */
function initializer(file, name) {
  const path = file instanceof URL ? fileURLToPath(file) : file;
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement) || (statement.declarationList.flags & ts.NodeFlags.Const) === 0) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (!ts.isIdentifier(declaration.name) || declaration.name.text !== name || declaration.initializer === undefined) continue;
      return unwrap(declaration.initializer);
    }
  }
  throw new Error(`${path}: no top-level \`const ${name} = …\``);
}

/** @param {ts.Expression} node @returns {ts.Expression} */
function unwrap(node) {
  return ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isParenthesizedExpression(node) ? unwrap(node.expression) : node;
}

/** @param {ts.Expression} node @returns {string | undefined} */
function stringLiteral(node) {
  return ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) ? node.text : undefined;
}

/**
 * The string `const <name> = '…'` holds in `file`.
 * @param {string | URL} file
 * @param {string} name
 * @returns {string}
 */
export function readStringConstant(file, name) {
  const value = stringLiteral(initializer(file, name));
  if (value === undefined) throw new Error(`${String(file)}: \`${name}\` is not a string literal`);
  return value;
}

/**
 * The object `const <name> = { key: '…', … }` holds in `file`: every value a
 * string literal, every key an identifier or a string.
 * @param {string | URL} file
 * @param {string} name
 * @returns {Readonly<Record<string, string>>}
 */
export function readRecordConstant(file, name) {
  const node = initializer(file, name);
  if (!ts.isObjectLiteralExpression(node)) throw new Error(`${String(file)}: \`${name}\` is not an object literal`);
  /** @type {Record<string, string>} */
  const record = {};
  for (const property of node.properties) {
    const key =
      ts.isPropertyAssignment(property) && (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))
        ? property.name.text
        : undefined;
    const value = key === undefined || !ts.isPropertyAssignment(property) ? undefined : stringLiteral(unwrap(property.initializer));
    if (key === undefined || value === undefined) {
      throw new Error(`${String(file)}: \`${name}\` must map names to string literals, not \`${property.getText()}\``);
    }
    record[key] = value;
  }
  return Object.freeze(record);
}
