// The real demo (`node examples/demo/server.js`, on the built package), or an example's server, as a child process, for the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './dist.js';

const SERVER = join(ROOT, 'examples/demo/server.js');

export interface DemoProcessOptions {
  /** The script `node` runs, relative to the repository root. */
  script?: string;
  /** Added to the environment (after PORT=0, NODE_ENV=development and an empty NPUSER_SECRET). */
  env?: Record<string, string>;
  /** How long `waitFor` waits, and how long `stop` waits before SIGKILL. */
  waitMs?: number;
}

/** The demo as a child process, with everything it printed so far. */
export class DemoProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code once the demo has exited. */
  readonly exited: Promise<number | null>;
  output = '';
  readonly #waitMs: number;
  #waiters = new Set<() => void>();

  constructor({ script, env = {}, waitMs = 20_000 }: DemoProcessOptions = {}) {
    this.#waitMs = waitMs;
    this.child = spawn(process.execPath, [script === undefined ? SERVER : join(ROOT, script)], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', NODE_ENV: 'development', NPUSER_SECRET: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      for (const wake of this.#waiters) wake();
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        resolve(code);
      });
    });
    this.child.on('exit', () => {
      for (const wake of this.#waiters) wake();
    });
  }

  /** Wait until `pattern` matches the output printed after `from`, for at most `waitMs`. */
  waitFor(pattern: RegExp, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.output.slice(from));
        if (match) {
          done();
          resolve(match);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(
            new Error(`the demo exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${pattern}:\n${this.output}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the demo did not print ${pattern} within ${this.#waitMs} ms:\n${this.output}`));
      }, this.#waitMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Stop it with SIGTERM (a graceful shutdown), then SIGKILL if it lingers; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), this.#waitMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
