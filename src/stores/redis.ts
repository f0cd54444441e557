/**
 * A {@link CodeStore} on Redis or Redis Cluster, for apps running on more than
 * one process or machine. It takes your ioredis client; npuser itself never
 * loads ioredis.
 *
 * @module npuser/stores/redis
 */
import { createHash } from 'node:crypto';
// Types only: the built file must not load ioredis, an optional peer the app
// brings (and may bring in another major version than npuser's dev copy).
import type { Cluster, Redis } from 'ioredis';
import type { CodeStore, StoreCounter, StoreEntry } from '../types.js';

/**
 * Options for {@link redisCodeStore}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisCodeStore, type RedisCodeStoreOptions } from 'npuser/stores/redis';
 * const options: RedisCodeStoreOptions = { client: new Redis(process.env.REDIS_URL!), keyPrefix: 'blog:npuser:' };
 * const store = redisCodeStore(options);
 * ```
 */
export interface RedisCodeStoreOptions {
  /**
   * Your ioredis client: a `Redis` (standalone, Sentinel) or a `Cluster`. The
   * store only sends commands through it; connecting, reconnecting and
   * closing are the app's. Configure it to fail fast (see
   * `docs/scaling-with-redis.md`): `enableOfflineQueue: false`,
   * `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false` and a
   * `commandTimeout` below npuser's `storeTimeoutMs`.
   *
   * The store registers its three Lua scripts on the client with
   * `defineCommand`, under names that start with `npuser_` and end with the
   * script's SHA-1, so two npuser versions sharing a client never overwrite
   * each other's scripts.
   */
  client: Redis | Cluster;
  /**
   * Put in front of every key npuser writes, so its keys are easy to find
   * (`SCAN 0 MATCH npuser:*`) and two apps can share one Redis. npuser's keys
   * are `{tag}:kind`: the braces are the Redis Cluster hash tag that keeps one
   * address's keys in one slot. The prefix therefore must not contain `{` or
   * `}` (it would become the hash tag and put every key in one slot), nor
   * whitespace or control characters; it must be 1–100 characters.
   *
   * Use this rather than ioredis's own `keyPrefix` client option: that option
   * would apply to every command of a client the app shares, it is not applied
   * to `SCAN`/`KEYS` patterns (so tooling would have to add it by hand), and
   * npuser cannot check it for braces. A client `keyPrefix`, if the app has
   * one, is still applied on top (to plain commands and script keys alike).
   * @default 'npuser:'
   */
  keyPrefix?: string;
}

const DEFAULT_KEY_PREFIX = 'npuser:';
const MAX_KEY_PREFIX_LENGTH = 100;
// Braces would steal the hash tag; whitespace and control characters make keys
// that are hard to type in redis-cli and easy to forge in logs.
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const BAD_PREFIX_CHARACTER = /[{}\s\u0000-\u001f\u007f]/;

/** A Lua script with the ioredis command name it is registered under. */
interface LuaScript {
  readonly name: string;
  readonly lua: string;
}

function script(purpose: string, lua: string): LuaScript {
  // The SHA in the name: a client shared by two npuser versions whose scripts
  // differ gets two commands instead of one silently replacing the other.
  const sha = createHash('sha1').update(lua).digest('hex');
  return { name: `npuser_${purpose}_${sha.slice(0, 12)}`, lua };
}

// `get` must return the value and the time it has left. Two commands (GET,
// PTTL) would be two round trips and could straddle the expiry; a script runs
// both in one round trip, atomically, on one frozen clock (Redis does not
// expire keys in the middle of a script).
const GET = script(
  'get',
  `local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`,
);

// `increment` must create the counter and its TTL together and never extend an
// existing TTL. A script runs without interleaving: no other client can see
// the counter between INCR and PEXPIRE, and replication and the AOF carry the
// script's effects as one unit, so a crash cannot leave a counter without a
// TTL (INCR then EXPIRE from the client could: a permanent lock-out).
//
// "New" is decided by PTTL == -1 after the INCR, not by INCR returning 1:
// npuser pre-creates attempt counters at "0" with the code's TTL, and their
// first INCR returns 1 although they already have an expiry, which must stay.
// PTTL == -1 also covers a key that exists without any TTL (written by someone
// else, or PERSISTed): it gets the TTL now rather than living for ever, and
// its count is kept, so nobody's budget is reset.
// PTTL == 0 means the counter lives only in this very millisecond; like the
// memory store (gone at its expiry), it then starts a new window at 1.
const INCREMENT = script(
  'increment',
  `local n = redis.call('INCR', KEYS[1])
local t = redis.call('PTTL', KEYS[1])
if t == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  t = tonumber(ARGV[1])
elseif t == 0 then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  n = 1
  t = tonumber(ARGV[1])
end
return {n, t}`,
);

// `consume(key, expected)` must delete the value only if it is `expected`:
// npuser takes a code back by the record it wrote, and a newer request may
// have replaced that record in the meantime. GET, compare in the client, then
// DEL would be two round trips and could delete a newer record written in
// between; WATCH, GET, MULTI/DEL/EXEC would be several round trips, with
// retries, and WATCH needs a connection no other caller shares. A script
// compares and deletes in one round trip, without interleaving, so of any
// number of concurrent callers at most one receives the value. GET raises
// WRONGTYPE on a key that is not a string, as GETDEL does. A missing key is
// `false` in Lua, never equal to ARGV[1], so nothing is created; a different
// value is left as it is, TTL included (GET never touches a TTL).
const CONSUME_IF = script(
  'consume',
  `local v = redis.call('GET', KEYS[1])
if v ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
return v`,
);

type ScriptCall = (key: string, ...args: string[]) => Promise<unknown>;

/**
 * Register `lua` on the client with ioredis `defineCommand`, and return a
 * function that runs it.
 *
 * Why `defineCommand` rather than our own EVALSHA with a NOSCRIPT fallback:
 * ioredis sends the full script (EVAL) the first time it runs on each
 * connection, and EVALSHA after that. A call is therefore one round trip even
 * on a fresh connection, after a reconnect, on a restarted or failed-over
 * server and on every node of a Cluster, where our own fallback would cost a
 * failed EVALSHA first. Only a `SCRIPT FLUSH` on a live connection costs one
 * extra round trip (ioredis then retries with EVAL by itself).
 */
function defineScript(client: Redis | Cluster, { name, lua }: LuaScript): ScriptCall {
  const host = client as unknown as Record<string, unknown>;
  if (typeof host[name] !== 'function') client.defineCommand(name, { numberOfKeys: 1, lua });
  const command = host[name];
  if (typeof command !== 'function') {
    throw new TypeError('redisCodeStore: options.client did not accept a Lua script through defineCommand');
  }
  return (key, ...args) => Promise.resolve(Reflect.apply(command, client, [key, ...args]) as unknown);
}

function checkKeyPrefix(keyPrefix: unknown): string {
  if (keyPrefix === undefined) return DEFAULT_KEY_PREFIX;
  if (
    typeof keyPrefix !== 'string' ||
    keyPrefix.length === 0 ||
    keyPrefix.length > MAX_KEY_PREFIX_LENGTH ||
    BAD_PREFIX_CHARACTER.test(keyPrefix)
  ) {
    throw new TypeError(
      `redisCodeStore: options.keyPrefix must be 1–${MAX_KEY_PREFIX_LENGTH} characters without braces, whitespace or control characters`,
    );
  }
  return keyPrefix;
}

function checkClient(client: unknown): asserts client is Redis | Cluster {
  const c = client as Partial<Record<'defineCommand' | 'set' | 'getdel' | 'del', unknown>> | null | undefined;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.defineCommand !== 'function' ||
    typeof c.set !== 'function' ||
    typeof c.getdel !== 'function' ||
    typeof c.del !== 'function'
  ) {
    throw new TypeError('redisCodeStore: options.client must be an ioredis Redis or Cluster client');
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('redisCodeStore: key must be a non-empty string');
}

/** Redis takes whole milliseconds; rounding up never shortens a TTL to 0. */
function ttlArgument(ttlMs: unknown): number {
  const ms = typeof ttlMs === 'number' ? Math.ceil(ttlMs) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new TypeError('redisCodeStore: ttlMs must be a positive number');
  return ms;
}

/**
 * A reply outside what the command can return: a proxy, a mock or a server
 * that is not Redis. The message names the operation only, never a key or a
 * value (they are hashes anyway, but replies are not echoed).
 */
function badReply(operation: string): Error {
  return new Error(`redisCodeStore: unexpected reply from Redis to ${operation}`);
}

const isInteger = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n);

/**
 * Create a {@link CodeStore} on Redis (≥ 6.2) or Redis Cluster through an
 * ioredis client you create and own.
 *
 * Every operation is one command, one round trip, atomic on the server:
 *
 * | operation | Redis |
 * |---|---|
 * | `set` | `SET key value PX ttl` |
 * | `get` | a Lua script: `GET` and `PTTL` together |
 * | `consume(key)` | `GETDEL` (Redis 6.2 or later) |
 * | `consume(key, expected)` | a Lua script: `GET`, and `DEL` only when the value is `expected` |
 * | `delete` | `DEL` |
 * | `increment` | a Lua script: `INCR`, and `PEXPIRE` only when the counter is new |
 *
 * Keys are `keyPrefix` followed by npuser's `{tag}:kind`, where the tag is a
 * keyed hash: a Cluster keeps one address's keys in one slot, and neither keys
 * nor values carry an address or a code. Every key has a TTL from the moment
 * it exists. Replies are checked: anything else (a wrong type written by
 * another program, a key without a TTL, a proxy's garbage) rejects, and npuser
 * answers `ERR_NPUSER_STORE_FAILED`.
 *
 * Run Redis with `maxmemory-policy noeviction`: evicting a failure counter
 * resets an attacker's budget.
 *
 * @throws TypeError when `client` is not an ioredis client or `keyPrefix` is invalid.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { NpUser } from 'npuser';
 * import { redisCodeStore } from 'npuser/stores/redis';
 *
 * const client = new Redis(process.env.REDIS_URL!, {
 *   enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, commandTimeout: 1000,
 * });
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET!, mailer, store: redisCodeStore({ client }) });
 * ```
 */
export function redisCodeStore(options: RedisCodeStoreOptions): CodeStore {
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new TypeError('redisCodeStore: options must be an object');
  }
  const { client } = options;
  checkClient(client);
  const prefix = checkKeyPrefix(options.keyPrefix);
  const runGet = defineScript(client, GET);
  const runIncrement = defineScript(client, INCREMENT);
  const runConsumeIf = defineScript(client, CONSUME_IF);

  // Each method validates its arguments synchronously but reports problems as
  // a rejection, like the memory store: callers see one failure channel.
  return {
    set: async (key, value, ttlMs) => {
      checkKey(key);
      if (typeof value !== 'string') throw new TypeError('redisCodeStore: value must be a string');
      const reply: unknown = await client.set(prefix + key, value, 'PX', ttlArgument(ttlMs));
      if (reply !== 'OK') throw badReply('SET');
    },

    get: async (key): Promise<StoreEntry | undefined> => {
      checkKey(key);
      const reply = await runGet(prefix + key);
      if (reply === null) return undefined;
      if (!Array.isArray(reply) || reply.length !== 2) throw badReply('get');
      const [value, ttl] = reply as [unknown, unknown];
      if (typeof value !== 'string' || !isInteger(ttl) || ttl < -1) throw badReply('get');
      // The entry's last millisecond: gone at its TTL, as the contract says.
      if (ttl === 0) return undefined;
      // npuser writes nothing without a TTL; a key that has none was written by
      // someone else, and reading it as a live entry would be trusting it.
      if (ttl === -1) throw new Error('redisCodeStore: key has no TTL; it was not written by npuser');
      return { value, ttlMs: ttl };
    },

    consume: async (key, expected) => {
      checkKey(key);
      if (expected === undefined) {
        // GETDEL is atomic on the server: of any number of concurrent callers,
        // exactly one receives the value. It needs Redis 6.2 or later. A
        // built-in command, not the script: nothing to compare, and no script
        // to load on a fresh connection.
        const reply: unknown = await client.getdel(prefix + key);
        if (reply === null) return undefined;
        if (typeof reply !== 'string') throw badReply('GETDEL');
        return reply;
      }
      if (typeof expected !== 'string') throw new TypeError('redisCodeStore: expected must be a string when given');
      // The script compares and deletes in one atomic step (see CONSUME_IF):
      // another value than `expected` stays, and of any number of concurrent
      // callers at most one receives it.
      const reply = await runConsumeIf(prefix + key, expected);
      if (reply === null) return undefined;
      // The script returns `expected` itself or nil: anything else is not Redis answering.
      if (reply !== expected) throw badReply('consume');
      return expected;
    },

    delete: async (key) => {
      checkKey(key);
      const reply: unknown = await client.del(prefix + key);
      if (reply !== 0 && reply !== 1) throw badReply('DEL');
    },

    increment: async (key, ttlMs): Promise<StoreCounter> => {
      checkKey(key);
      const reply = await runIncrement(prefix + key, String(ttlArgument(ttlMs)));
      if (!Array.isArray(reply) || reply.length !== 2) throw badReply('increment');
      const [count, ttl] = reply as [unknown, unknown];
      if (!isInteger(count) || count < 1 || !isInteger(ttl) || ttl < 1) throw badReply('increment');
      return { count, ttlMs: ttl };
    },
  };
}
