import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IN_CI } from './redis.js';

// Dedicated, throw-away redis-server processes for tests that stop, pause,
// demote or cluster a server: never the shared one. Each runs on 127.0.0.1,
// on a spare port, without persistence, in its own temporary directory, and
// dies with the test process.

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';

/**
 * Whether redis-server and redis-cli can be run. Missing under CI throws (the
 * file fails at collection); missing locally warns and lets the caller skip.
 */
export function haveRedisBinaries(): boolean {
  const missing = [REDIS_SERVER, REDIS_CLI].filter((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return true;
  if (IN_CI) throw new Error(`${missing.join(' and ')} not found; with CI set, the Redis fault and cluster tests must run`);
  console.warn(`⚠ ${missing.join(' and ')} not found: skipping the tests that start their own Redis servers.`);
  return false;
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * A port that is free, and whose cluster bus port (port + 10 000) is free too.
 * Drawn from 20 000–29 999, below the ephemeral range, so the bus port is valid.
 */
export async function sparePort(): Promise<number> {
  for (let i = 0; i < 200; i += 1) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no spare port pair found');
}

/** Resolves once the server on `port` answers PING with PONG; rejects after `timeoutMs`. */
export async function waitForPong(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pingOnce(port)) return;
    await sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => {
      done(false);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

const running = new Set<ChildProcess>();
// A test process that dies must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One dedicated redis-server. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Its working directory (cluster config lives there); removed by `stop`. */
  readonly dir: string;
  /** Whether the process is running. */
  readonly alive: boolean;
  /** Kill the process (SIGKILL: the abrupt death of a crash). Data is gone; the directory stays. */
  kill(): Promise<void>;
  /** Start it again on the same port, empty. */
  restart(): Promise<void>;
  /** Kill it and remove its directory. */
  stop(): Promise<void>;
}

/**
 * Start a redis-server on a spare port with persistence off.
 * `extraArgs` are appended to the command line (e.g. cluster options).
 */
export async function startRedisServer(
  extraArgs: (port: number, dir: string) => string[] = () => [],
  options: { dir?: string } = {},
): Promise<RedisServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'npuser-redis-'));
  const ownsDir = options.dir === undefined;
  // Another process may take the port between the check and the bind: retry with a new one.
  for (let attempt = 0; ; attempt += 1) {
    const port = await sparePort();
    try {
      return await launch(port, dir, ownsDir, extraArgs);
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }
}

async function launch(
  port: number,
  dir: string,
  ownsDir: boolean,
  extraArgs: (port: number, dir: string) => string[],
): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    args.push('--loglevel', 'warning', ...extraArgs(port, dir));
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    running.add(proc);
    output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    proc.stdout.on('data', collect);
    proc.stderr.on('data', collect);
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code, signal) => {
        running.delete(proc);
        reject(new Error(`redis-server on port ${port} exited (${code ?? signal}): ${output}`));
      });
    });
    exited.catch(() => undefined);
    await Promise.race([waitForPong(port), exited]);
  }

  async function kill(): Promise<void> {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        resolve();
      }),
    );
    proc.kill('SIGKILL');
    await Promise.race([exited, sleep(5000)]);
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get alive() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    kill,
    restart: start,
    stop: async () => {
      await kill();
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run redis-cli with `args`, bounded by `timeoutMs`; resolves with its output. */
export function redisCli(args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(REDIS_CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    proc.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`redis-cli ${args.join(' ')} exited with ${code}: ${output}`));
    });
  });
}
