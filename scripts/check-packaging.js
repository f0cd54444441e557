// @ts-check
// `npm run check:packaging [-- <dir>]`: publint and attw on the tarball `npm pack` makes of the
// package in <dir> (default: this repository), packed into a temporary directory.
//
// Not `attw --pack`: it runs `npm pack` in the package directory and deletes
// `<name>-<version>.tgz` there afterwards, so a tarball the user had packed
// themselves (same name) was overwritten, then removed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../node_modules/.bin/', import.meta.url));
const dir = resolve(process.argv[2] ?? '.');
const destination = mkdtempSync(join(tmpdir(), 'npuser-check-packaging-'));

try {
  /** @type {unknown} */
  const output = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', destination], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const packed = /** @type {{ filename: string }[]} */ (output);
  const [first] = packed;
  if (packed.length !== 1 || first === undefined) throw new Error(`npm pack: expected one tarball, got ${String(packed.length)}`);
  const tarball = join(destination, first.filename);
  execFileSync(join(bin, 'publint'), ['--strict', tarball], { stdio: 'inherit' });
  execFileSync(join(bin, 'attw'), [tarball, '--profile', 'node16'], { stdio: 'inherit' });
} catch (err) {
  // The failing tool has already printed its report.
  process.exitCode = 1;
  if (!(err instanceof Error && 'status' in err)) throw err;
} finally {
  rmSync(destination, { recursive: true, force: true });
}
