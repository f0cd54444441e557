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
import { argumentError, optionError, optionsObject } from '../lib/checks.js';
import type { CodeStore, StoreCounter, StoreEntry, StoreStepResult } from '../types.js';
import { keySlot } from './redis-slot.js';
import { type CheckedStep, checkExpected, checkKey, checkSteps, checkTtl, checkValue, stops } from './steps.js';

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
   * The store registers the Lua scripts of `get`, `increment` and `consume`
   * on the client with `defineCommand`, under names that start with
   * `npuser_` and end with the script's SHA-1, so two npuser versions sharing
   * a client never overwrite each other's scripts. The script of `transact`
   * is not registered: it is sent with `EVAL` on every call.
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

const WHO = 'redisCodeStore';
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

function script(purpose: string, source: string): LuaScript {
  // Indentation is for reading here; the server does not need it, and EVAL sends every byte.
  const lua = source.replace(/^[ ]+/gm, '');
  // The SHA in the name: a client shared by two npuser versions whose scripts
  // differ gets two commands instead of one silently replacing the other.
  const sha = createHash('sha1').update(lua).digest('hex');
  return { name: `npuser_${purpose}_${sha.slice(0, 12)}`, lua };
}

// What every script shares, so the single operations and `transact` follow
// one set of rules (the scripts carry no comments: EVAL sends them whole).
//
// Why scripts at all: a script runs without interleaving, on one frozen clock
// (Redis expires nothing in the middle of one), and replication and the AOF
// carry its effects as one unit. So `get` reads value and TTL together, a
// counter and its TTL come into existence together (never INCR then EXPIRE,
// which a crash in between would leave as a counter without a TTL: a
// permanent lock-out), and `consume(key, expected)` compares and deletes in
// one step, so of any number of concurrent callers at most one gets the value.
//
// `read` is the one way a script looks at a key. GET raises WRONGTYPE on
// anything but a string. A key without an expiry (PTTL -1: a PERSIST, a
// migration that dropped TTLs, a program writing under npuser's prefix) or in
// its very last millisecond (PTTL 0) is expired: it reads as missing and is
// deleted with the script's writes. Every operation sees it so, and the key
// heals: the next increment starts a fresh window instead of every read
// rejecting for ever.
//
// Writes are staged in `staged` and applied by `commit` at the end, so a
// script that raises part-way (WRONGTYPE, a value that is not a counter) has
// written nothing. Redis refuses a script's write for lack of memory (OOM) or
// on a replica (READONLY) at its first write, never after one (a script that
// has written is let finish), so those leave nothing half-done either. That
// is why `commit` writes the SETs before the DELs: a DEL needs no memory, and
// once one had run, the SETs after it would be let through past maxmemory.
//
// An increment of an existing counter is written back with KEEPTTL: its
// expiry stays exactly as it was created. A counter is "new" when `read`
// finds nothing, not when INCR would return 1: a counter another writer
// created at "0" with its own TTL keeps that TTL.
const PRELUDE = `local staged = {}
local function read(k)
  local s = staged[k]
  if s ~= nil then
    if s then return s[1], s[2], s[3] end
    return nil
  end
  local v = redis.call('GET', k)
  if not v then return nil end
  local t = redis.call('PTTL', k)
  if t > 0 then return v, t, true end
  staged[k] = false
  return nil
end
local function count(v)
  if v == '0' or (#v <= 15 and string.match(v, '^[1-9]%d*$')) then return tonumber(v) end
  error({err = 'ERR npuser: the value is not a counter'})
end
local function incr(k, ttl)
  local v, t, keep = read(k)
  local n = 1
  if v then n = count(v) + 1 else t = tonumber(ttl) keep = false end
  staged[k] = {string.format('%d', n), t, keep}
  return n, t
end
local function take(k, compare, expected)
  local v = read(k)
  if v and (not compare or v == expected) then
    staged[k] = false
    return v
  end
  return nil
end
local function commit()
  for k, s in pairs(staged) do
    if s then
      if s[3] then redis.call('SET', k, s[1], 'KEEPTTL') else redis.call('SET', k, s[1], 'PX', s[2]) end
    end
  end
  for k, s in pairs(staged) do
    if not s then redis.call('DEL', k) end
  end
end
`;

const GET = script(
  'get',
  `${PRELUDE}local v, t = read(KEYS[1])
commit()
if v then return {v, t} end
return false`,
);

const INCREMENT = script(
  'increment',
  `${PRELUDE}local n, t = incr(KEYS[1], ARGV[1])
commit()
return {n, t}`,
);

// One script for `consume(key)` and `consume(key, expected)`: with no ARGV
// it takes whatever is live, with one only that exact value. A missing key is
// never equal to `expected`, so nothing is created; another value is left as
// it is, TTL included.
const CONSUME = script(
  'consume',
  `${PRELUDE}local v = take(KEYS[1], #ARGV > 0, ARGV[1])
commit()
if v then return v end
return false`,
);

// `transact`: KEYS[i] is the key of step i, ARGV[3i-2 .. 3i] its op and two
// arguments (see `encodeStep`). Each result is an array, never nil (a nil
// would cut Lua's result array short): {} for nothing, {value, pttl} for a
// get, {count, pttl} for an increment, {value} for a consume that took it.
// The result has one item per step that ran, so its length says where the
// transaction stopped.
//
// Unlike the single operations it is sent with EVAL every time, never
// EVALSHA: a transaction is one round trip whatever the server's script cache
// holds (a fresh connection, a SCRIPT FLUSH, a server that evicts scripts
// loaded through EVAL, as newer Redis and Valkey versions do beyond 500), for
// the ~3 KB of the script on every call.
const TRANSACT = script(
  'transact',
  `-- npuser transact
${PRELUDE}if #ARGV ~= 3 * #KEYS then error({err = 'ERR npuser: transact arguments do not match its keys'}) end
local results = {}
for i = 1, #KEYS do
  local k, op, a, b = KEYS[i], ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local stop = false
  if op == 'g' then
    local v, t = read(k)
    if v then
      results[i] = {v, t}
      stop = a == '1'
      if b ~= '' and count(v) >= tonumber(b) then stop = true end
    else
      results[i] = {}
    end
  elseif op == 'i' then
    local n, t = incr(k, a)
    results[i] = {n, t}
    stop = b ~= '' and n > tonumber(b)
  elseif op == 's' then
    staged[k] = {a, tonumber(b), false}
    results[i] = {}
  elseif op == 'd' then
    staged[k] = false
    results[i] = {}
  elseif op == 'c' or op == 'C' then
    local v = take(k, op == 'C', a)
    if v then results[i] = {v} else results[i] = {} end
  else
    error({err = 'ERR npuser: unknown transact step'})
  end
  if stop then break end
end
commit()
return results`,
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
    throw optionError(WHO, 'client', 'did not accept a Lua script through defineCommand');
  }
  return (key, ...args) => Promise.resolve(Reflect.apply(command, client, [key, ...args]) as unknown);
}

/** A step as ARGV: its op and two arguments, '' where it has none. TTLs are whole milliseconds. */
function encodeStep(step: CheckedStep, where: string): [string, string, string] {
  switch (step.op) {
    case 'get':
      return ['g', step.stopIfPresent ? '1' : '', step.stopIfCountAtLeast === undefined ? '' : String(step.stopIfCountAtLeast)];
    case 'increment':
      return [
        'i',
        String(ttlArgument(step.ttlMs, `${where}.ttlMs`)),
        step.stopIfCountAbove === undefined ? '' : String(step.stopIfCountAbove),
      ];
    case 'set':
      return ['s', step.value, String(ttlArgument(step.ttlMs, `${where}.ttlMs`))];
    case 'delete':
      return ['d', '', ''];
    case 'consume':
      return step.expected === undefined ? ['c', '', ''] : ['C', step.expected, ''];
  }
}

/** What one step's item of the transact reply means, checked against what the step can produce. */
function stepResult(step: CheckedStep, item: unknown): StoreStepResult {
  if (!Array.isArray(item)) throw badReply('transact');
  const [first, second] = item as unknown[];
  switch (step.op) {
    case 'get':
      if (item.length === 0) return undefined;
      if (item.length !== 2 || typeof first !== 'string' || !isInteger(second) || second < 1) throw badReply('transact');
      return { value: first, ttlMs: second } satisfies StoreEntry;
    case 'increment':
      if (item.length !== 2 || !isInteger(first) || first < 1 || !isInteger(second) || second < 1) throw badReply('transact');
      return { count: first, ttlMs: second } satisfies StoreCounter;
    case 'set':
    case 'delete':
      if (item.length !== 0) throw badReply('transact');
      return undefined;
    case 'consume':
      if (item.length === 0) return undefined;
      // Only `expected` itself can come back when it was given.
      if (item.length !== 1 || typeof first !== 'string' || (step.expected !== undefined && first !== step.expected)) {
        throw badReply('transact');
      }
      return first;
  }
}

/**
 * The results of one script run of `steps`, and whether the transaction
 * stopped in it. The reply must agree with the steps' stop conditions: only
 * the last item may stop, and a reply shorter than the run must end on one.
 */
function runResults(steps: readonly CheckedStep[], reply: unknown): { results: StoreStepResult[]; stopped: boolean } {
  if (!Array.isArray(reply) || reply.length === 0 || reply.length > steps.length) throw badReply('transact');
  const results: StoreStepResult[] = [];
  let stopped = false;
  for (const [index, item] of (reply as unknown[]).entries()) {
    if (stopped) throw badReply('transact');
    const step = steps[index] as CheckedStep;
    const result = stepResult(step, item);
    results.push(result);
    stopped = stops(WHO, step, result);
  }
  if (results.length < steps.length && !stopped) throw badReply('transact');
  return { results, stopped };
}

function checkKeyPrefix(keyPrefix: unknown): string {
  if (keyPrefix === undefined) return DEFAULT_KEY_PREFIX;
  if (
    typeof keyPrefix !== 'string' ||
    keyPrefix.length === 0 ||
    keyPrefix.length > MAX_KEY_PREFIX_LENGTH ||
    BAD_PREFIX_CHARACTER.test(keyPrefix)
  ) {
    throw optionError(WHO, 'keyPrefix', `must be 1–${MAX_KEY_PREFIX_LENGTH} characters without braces, whitespace or control characters`);
  }
  return keyPrefix;
}

function checkClient(client: unknown): asserts client is Redis | Cluster {
  const c = client as Partial<Record<'defineCommand' | 'set' | 'del' | 'eval', unknown>> | null | undefined;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.defineCommand !== 'function' ||
    typeof c.set !== 'function' ||
    typeof c.del !== 'function' ||
    typeof c.eval !== 'function'
  ) {
    throw optionError(WHO, 'client', 'must be an ioredis Redis or Cluster client');
  }
}

/** Redis takes whole milliseconds; rounding up never shortens a TTL to 0. */
function ttlArgument(ttlMs: unknown, name = 'ttlMs'): number {
  const ms = Math.ceil(checkTtl(WHO, ttlMs, name));
  if (!Number.isSafeInteger(ms)) throw argumentError(WHO, name, 'must be a positive number of milliseconds below 2^53');
  return ms;
}

/**
 * A reply outside what the command can return: a proxy, a mock or a server
 * that is not Redis. The message names the operation only, never a key or a
 * value (they are hashes anyway, but replies are not echoed).
 */
function badReply(operation: string): Error {
  return new Error(`npuser: ${WHO} got an unexpected reply from Redis to ${operation}`);
}

const isInteger = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n);

/** The bytes ioredis puts in front of every key it sends (its own `keyPrefix` option), for slot numbers. */
function clientKeyPrefix(client: Redis | Cluster): Buffer {
  const prefix = (client as { options?: { keyPrefix?: unknown } }).options?.keyPrefix;
  if (typeof prefix === 'string') return Buffer.from(prefix, 'utf8');
  if (Buffer.isBuffer(prefix)) return prefix;
  return Buffer.alloc(0);
}

/**
 * Create a {@link CodeStore} on Redis (≥ 6.2) or Redis Cluster through an
 * ioredis client you create and own.
 *
 * Every operation is one round trip, atomic on the server:
 *
 * | operation | Redis |
 * |---|---|
 * | `set` | `SET key value PX ttl` |
 * | `get` | a Lua script: `GET` and `PTTL` together |
 * | `consume(key)`, `consume(key, expected)` | a Lua script: `GET`, and `DEL` when the value is live (and is `expected`) |
 * | `delete` | `DEL` |
 * | `increment` | a Lua script: a new counter is written with its TTL, an existing one keeps its TTL (`KEEPTTL`) |
 * | `transact` | one Lua script that runs the steps in order (per slot on a Cluster, see below) |
 *
 * `transact(steps)` checks every step before sending anything (a bad step
 * rejects with a `TypeError`), and sends the steps and their arguments as the
 * script's KEYS and ARGV, one key per step. On a standalone server (or
 * Sentinel) the whole transaction is one script: one round trip, atomic on the
 * server. On a Cluster the keys of one transaction may lie in different slots
 * (an address's `{tag}` and a client's): the steps are split into runs of
 * consecutive steps whose keys share a slot, and each run is one script, run
 * in order, the next only once the one before has neither stopped nor failed.
 * That is one round trip per run of steps in one slot, each run atomic on its
 * own; a run that fails leaves the runs before it in effect. The transaction
 * script is sent whole (EVAL) on every call, so it never costs a second round
 * trip for a script the server does not have.
 *
 * Within one script, writes are applied once every step has run: a script
 * that fails (`WRONGTYPE`, a value that is not a counter, `OOM`, `READONLY`)
 * has changed nothing. The single operations follow the same rules, being the
 * same Lua.
 *
 * Keys are `keyPrefix` followed by npuser's `{tag}:kind`, where the tag is a
 * keyed hash: a Cluster keeps one address's keys in one slot, and neither keys
 * nor values carry an address or a code. Every key npuser writes has a TTL
 * from the moment it exists. A key found without one (a `PERSIST`, a
 * migration that dropped TTLs, another program) is expired for every
 * operation alike: it reads as missing and is deleted in the same script, and
 * an increment starts a new counter at 1 with its TTL, so such a key heals
 * instead of failing every sign-in of its address for ever. Replies are
 * checked: anything else (a wrong type written by another program, a value
 * that is not a counter where one is read as such, a proxy's garbage) rejects,
 * and npuser answers `ERR_NPUSER_STORE_FAILED`.
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
  const given = optionsObject<RedisCodeStoreOptions>(WHO, options);
  const { client } = given;
  checkClient(client);
  const prefix = checkKeyPrefix(given.keyPrefix);
  const runGet = defineScript(client, GET);
  const runIncrement = defineScript(client, INCREMENT);
  const runConsume = defineScript(client, CONSUME);
  const cluster = (client as { isCluster?: unknown }).isCluster === true;
  const slotPrefix = cluster ? Buffer.concat([clientKeyPrefix(client), Buffer.from(prefix, 'utf8')]) : Buffer.alloc(0);
  const slotOf = (key: string) => keySlot(Buffer.concat([slotPrefix, Buffer.from(key, 'utf8')]));

  /** Consecutive steps whose keys share a slot (all of them, off a Cluster). */
  function runsOf(steps: readonly CheckedStep[]): CheckedStep[][] {
    if (!cluster) return [[...steps]];
    const runs: CheckedStep[][] = [];
    let slot = -1;
    for (const step of steps) {
      const next = slotOf(step.key);
      if (next !== slot || runs.length === 0) runs.push([]);
      slot = next;
      runs[runs.length - 1]?.push(step);
    }
    return runs;
  }

  // Each method validates its arguments synchronously but reports problems as
  // a rejection, like the memory store: callers see one failure channel.
  return {
    set: async (key, value, ttlMs) => {
      checkKey(WHO, key);
      checkValue(WHO, value);
      const reply: unknown = await client.set(prefix + key, value, 'PX', ttlArgument(ttlMs));
      if (reply !== 'OK') throw badReply('SET');
    },

    get: async (key): Promise<StoreEntry | undefined> => {
      checkKey(WHO, key);
      const reply = await runGet(prefix + key);
      if (reply === null) return undefined;
      if (!Array.isArray(reply) || reply.length !== 2) throw badReply('get');
      const [value, ttl] = reply as [unknown, unknown];
      // The script returns live entries only: a TTL of at least 1 ms.
      if (typeof value !== 'string' || !isInteger(ttl) || ttl < 1) throw badReply('get');
      return { value, ttlMs: ttl };
    },

    consume: async (key, expected) => {
      checkKey(WHO, key);
      checkExpected(WHO, expected);
      const reply = await (expected === undefined ? runConsume(prefix + key) : runConsume(prefix + key, expected));
      if (reply === null) return undefined;
      // With `expected`, the script returns it or nil: anything else is not Redis answering.
      if (typeof reply !== 'string' || (expected !== undefined && reply !== expected)) throw badReply('consume');
      return reply;
    },

    delete: async (key) => {
      checkKey(WHO, key);
      const reply: unknown = await client.del(prefix + key);
      if (reply !== 0 && reply !== 1) throw badReply('DEL');
    },

    increment: async (key, ttlMs): Promise<StoreCounter> => {
      checkKey(WHO, key);
      const reply = await runIncrement(prefix + key, String(ttlArgument(ttlMs)));
      if (!Array.isArray(reply) || reply.length !== 2) throw badReply('increment');
      const [count, ttl] = reply as [unknown, unknown];
      if (!isInteger(count) || count < 1 || !isInteger(ttl) || ttl < 1) throw badReply('increment');
      return { count, ttlMs: ttl };
    },

    transact: async (steps) => {
      const checked = checkSteps(WHO, steps);
      if (checked.length === 0) return [];
      // Encoded before anything is sent: a TTL Redis cannot take refuses the whole call.
      const encoded = new Map(checked.map((step, index) => [step, encodeStep(step, `transact steps[${index}]`)]));
      const results: StoreStepResult[] = [];
      for (const run of runsOf(checked)) {
        const keys = run.map((step) => prefix + step.key);
        const args = run.flatMap((step) => encoded.get(step) ?? []);
        const reply: unknown = await client.eval(TRANSACT.lua, keys.length, ...keys, ...args);
        const { results: ran, stopped } = runResults(run, reply);
        results.push(...ran);
        if (stopped) break;
      }
      return results;
    },
  };
}
