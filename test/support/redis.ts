import { createHash, randomBytes } from 'node:crypto';
import { Cluster, type Command, Redis, type RedisOptions } from 'ioredis';

// Shared by the Redis store tests: how to reach the shared server, whether to
// skip or fail when it is missing, and how to clean up without touching
// anybody else's keys (SCAN on our own prefix, never FLUSHALL/FLUSHDB/KEYS).

/** The shared server the store tests use; CI starts one on 127.0.0.1:6379. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** CI must prove the Redis store: a missing server there is a failure, not a skip. */
export const IN_CI = ((ci) => ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false')(process.env.CI);

/** ioredis options as its constructor takes them under exactOptionalPropertyTypes. */
export type ClientOptions = Omit<RedisOptions, 'replyMapping'>;

/**
 * The client settings docs/scaling-with-redis.md recommends: fail fast while
 * disconnected, never replay a write npuser has given up on, keep reconnecting.
 */
export const FAIL_FAST: ClientOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  commandTimeout: 2000,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(times * 50, 500),
  // Tests talk to 127.0.0.1 only.
  lazyConnect: true,
};

/** A key prefix no other test file (or concurrent run) shares. */
export function testPrefix(label: string): string {
  return `npuser-test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** A connected client with the fail-fast settings; errors are expected in fault tests and must not print. */
export async function connect(url = REDIS_URL, options: ClientOptions = {}): Promise<Redis> {
  const client = new Redis(url, { ...FAIL_FAST, ...options });
  client.on('error', ignore);
  await client.connect();
  return client;
}

/**
 * Whether the shared Redis answers. Unreachable under CI throws, so the test
 * file fails loudly at collection; unreachable locally warns and lets the
 * caller skip.
 */
export async function probeRedis(url = REDIS_URL): Promise<boolean> {
  const client = new Redis(url, { ...FAIL_FAST, connectTimeout: 1000, retryStrategy: () => null });
  client.on('error', ignore);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (IN_CI) throw new Error(`Redis is not reachable at ${REDIS_URL} (${reason}); with CI set, the Redis store tests must run`);
    console.warn(
      `⚠ Redis is not reachable at ${REDIS_URL} (${reason}): skipping the Redis store tests. Set REDIS_URL or start redis-server.`,
    );
    return false;
  } finally {
    client.disconnect();
  }
}

/** `SCAN … MATCH` pattern for keys starting with `prefix`, glob characters escaped. */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}

/** Every key under `prefix` on one node, by SCAN (never KEYS, which blocks a shared server). */
export async function scanKeys(node: Redis, prefix: string): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = '0';
  // Bounded: a SCAN over a shared server ends, but a broken one must not loop for ever.
  for (let i = 0; i < 100_000; i += 1) {
    const [next, batch] = await node.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1000);
    for (const key of batch) keys.add(key);
    cursor = next;
    if (cursor === '0') return [...keys];
  }
  throw new Error('SCAN did not finish');
}

/** The nodes holding data: the client itself, or every master of a Cluster. */
export function dataNodes(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Every key under `prefix`, over all masters of a Cluster. */
export async function allKeys(client: Redis | Cluster, prefix: string): Promise<string[]> {
  return (await Promise.all(dataNodes(client).map((node) => scanKeys(node, prefix)))).flat();
}

/**
 * The keys among `keys` (all on `node`) that exist without a TTL: PTTL -1.
 * PTTL -2 (deleted or expired since they were listed) and 0 (the key's last
 * millisecond) are keys that had a TTL. A reply that is not an integer is a
 * failure of its own, never read as "has a TTL".
 */
export async function keysWithoutTtl(node: Redis, keys: readonly string[]): Promise<string[]> {
  const untimed: string[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const pipeline = node.pipeline();
    for (const key of batch) pipeline.pttl(key);
    const replies = (await pipeline.exec()) ?? [];
    if (replies.length !== batch.length) throw new Error(`PTTL pipeline answered ${replies.length} of ${batch.length} keys`);
    for (const [index, [error, pttl]] of replies.entries()) {
      if (error) throw error;
      if (typeof pttl !== 'number' || !Number.isInteger(pttl) || pttl < -2)
        throw new Error(`PTTL ${batch[index]!} answered ${String(pttl)}`);
      if (pttl === -1) untimed.push(batch[index]!);
    }
  }
  return untimed;
}

/** Options for {@link deleteKeys}. */
export interface DeleteKeysOptions {
  /**
   * Exact keys (prefix included) a test wrote without a TTL on purpose, to
   * see what npuser does with a key it did not write. Only these escape the
   * TTL check; name each one at the call, with the reason.
   */
  readonly withoutTtl?: readonly string[];
}

/**
 * Delete every key under `prefix` (SCAN + DEL, one key per DEL so a Cluster
 * never sees a cross-slot call), after checking that each one has a TTL.
 *
 * The security requirement is that every npuser key in Redis has PTTL > 0
 * after any test: every Redis test file cleans up through here, so every one
 * of them proves it. A key without a TTL makes this reject (and the afterAll
 * calling it fail the run), but only after everything is deleted, so a
 * failure never leaves a key behind that would live for ever on the shared server.
 */
export async function deleteKeys(client: Redis | Cluster, prefix: string, { withoutTtl = [] }: DeleteKeysOptions = {}): Promise<number> {
  const exempt = new Set(withoutTtl);
  const untimed: string[] = [];
  let deleted = 0;
  for (const node of dataNodes(client)) {
    const keys = await scanKeys(node, prefix);
    untimed.push(...(await keysWithoutTtl(node, keys)).filter((key) => !exempt.has(key)));
    for (let i = 0; i < keys.length; i += 500) {
      const pipeline = node.pipeline();
      for (const key of keys.slice(i, i + 500)) pipeline.del(key);
      await pipeline.exec();
    }
    deleted += keys.length;
  }
  if (untimed.length > 0) {
    // Key names only: npuser's are keyed hashes, never an address or a code.
    throw new Error(`${untimed.length} key(s) under ${prefix} had no TTL (PTTL -1): ${untimed.sort().join(', ')}`);
  }
  return deleted;
}

/**
 * A script call named by what npuser uses it for: `script:get` for the script
 * registered as `npuser_get_<sha>`. EVAL carries the script, EVALSHA its SHA-1;
 * either is matched against the SHA-1 in the names registered on the client.
 */
function scriptName(client: Redis | Cluster, command: string, first: unknown): string {
  const text = typeof first === 'string' ? first : Buffer.isBuffer(first) ? first.toString() : '';
  // transact's script is sent whole every time rather than registered; it names itself on its first line.
  if (command === 'eval' && text.startsWith('-- npuser transact\n')) return 'script:transact';
  const sha = command === 'eval' ? createHash('sha1').update(text).digest('hex') : text;
  const registered = Object.keys((client as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet);
  for (const name of registered) {
    const match = /^npuser_(.+)_([0-9a-f]{12})$/.exec(name);
    if (match?.[2] !== undefined && sha.startsWith(match[2])) return `script:${match[1] ?? name}`;
  }
  return `script:unknown`;
}

/**
 * Count the commands a client sends, by name, at the one place every command
 * (plain, script, the NOSCRIPT retry) passes: `sendCommand`. Commands, not
 * round trips: for those, see `roundTripProxy` in ./round-trips.ts.
 */
export interface CommandLog {
  readonly names: string[];
  /** Forget what was counted so far. */
  reset(): void;
  /** Stop counting. */
  restore(): void;
}

export function logCommands(client: Redis | Cluster): CommandLog {
  const names: string[] = [];
  // Redis and Cluster both send every command through sendCommand (with different extra parameters).
  const host = client as unknown as { sendCommand: (command: Command, ...rest: unknown[]) => unknown };
  const original = host.sendCommand;
  host.sendCommand = (command, ...rest) => {
    const isScript = command.name === 'evalsha' || command.name === 'eval';
    names.push(isScript ? scriptName(client, command.name, command.args[0]) : command.name);
    return Reflect.apply(original, client, [command, ...rest]);
  };
  return {
    names,
    reset: () => {
      names.length = 0;
    },
    restore: () => {
      host.sendCommand = original;
    },
  };
}

/** Tally names into `{ name: count }`, for readable assertions. */
export function tally(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

function ignore(): void {
  // Connection errors surface as rejected commands, which the tests check.
}
