// `npuser serve` as a child process (the built command, as `npx npuser serve` runs it), for the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DIST, ROOT } from './dist.js';

export const CLI = join(DIST, 'cli.js');

export class ServeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout = '';
  stderr = '';
  readonly #waiters = new Set<() => void>();

  constructor(args: readonly string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [CLI, 'serve', ...args], {
      cwd: ROOT,
      // Nothing of the test runner's own configuration leaks in: only what each test gives.
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString('utf8');
      this.#wake();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
      this.#wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.#wake();
        resolve(code);
      });
    });
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  /** The JSON lines written to stdout so far. */
  lines(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Wait until `condition` holds on what was printed, for at most `ms`. */
  waitFor(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) {
          done();
          resolve();
        } else if (this.child.exitCode !== null) {
          done();
          reject(new Error(`npuser serve exited (${this.child.exitCode}) before ${what}:\n${this.stdout}\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`npuser serve: no ${what} within ${ms} ms:\n${this.stdout}\n${this.stderr}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolves with the base URL once the server listens. */
  async listening(): Promise<string> {
    await this.waitFor(() => this.lines().some((line) => line.event === 'listening'), 'listening line');
    const line = this.lines().find((l) => l.event === 'listening')!;
    return `http://127.0.0.1:${String(line.port)}`;
  }

  /** SIGTERM, then SIGKILL if it lingers; resolves with the exit code. */
  async stop(ms = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
