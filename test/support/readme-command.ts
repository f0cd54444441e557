// The one command an example's README gives to start it, and what the browser tests run for it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './dist.js';

const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

export interface ReadmeCommand {
  /** As the README gives it: `npm start`, `npm run example:express`. */
  readonly command: string;
  /** The script `node` runs for it, relative to the repository root. */
  readonly script: string;
}

/**
 * The first line of the first `sh` block of `readme` (a path from the repository root), and the
 * server script it comes to: an npm script must be `tsup --silent && node <script>`, the build
 * then the server. The tests run the server part alone: `npm test` has built the package, and a
 * second build in the middle of the run would pull dist/ out from under the other test files.
 */
export function readmeCommand(readme: string): ReadmeCommand {
  const text = readFileSync(join(ROOT, readme), 'utf8');
  const command = /```sh\n([^\n]+)\n/.exec(text)?.[1]?.trim();
  if (command === undefined) throw new Error(`${readme} gives no command in a sh block`);
  const npm = /^npm (?:start|run ([\w:-]+))$/.exec(command);
  const line = npm === null ? command : scripts[npm[1] ?? 'start'];
  const script = line === undefined ? undefined : /^(?:tsup --silent && )?node (\S+\.js)$/.exec(line)?.[1];
  if (script === undefined) throw new Error(`${readme}: "${command}" does not start a server this test knows how to run (${String(line)})`);
  return { command, script };
}
