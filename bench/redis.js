// @ts-check
// `npm run bench` (after bench/run.js) or `npm run bench:redis`: requestCode,
// verifyCode and validateToken on redisCodeStore next to memoryCodeStore, as ratios to raw jose
// verification measured in the same run, plus the Redis commands per call.
// Only 127.0.0.1; every loop is bounded; its own key prefix, deleted at the end.
import { randomBytes } from 'node:crypto';
import { jwtVerify } from 'jose';
import { Redis } from 'ioredis';
import { NpUser, memoryCodeStore } from 'npuser';
import { redisCodeStore } from 'npuser/stores/redis';
import { deriveSigningKey } from './derive-signing-key.js';
import { lastCodeMailer } from './last-code-mailer.js';

const SECRET = 'benchmark secret, at least thirty-two bytes';
const ITERATIONS = Number(process.env.BENCH_REDIS_ITERATIONS ?? 2000);
const CONCURRENCY = 32;
const ROUNDS = 3;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `npuser-bench:${randomBytes(6).toString('hex')}:`;

// A benchmark floods its target: never point it at a server that is not on this machine.
const { hostname } = new URL(REDIS_URL);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
  console.error(`bench/redis.js: refusing REDIS_URL ${REDIS_URL}: only a Redis on 127.0.0.1 is benchmarked`);
  process.exit(1);
}

const client = new Redis(REDIS_URL, {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 1000,
  retryStrategy: () => null,
});
client.on('error', () => undefined);
try {
  await client.connect();
} catch (err) {
  console.log(`\nredis bench skipped: no Redis at ${REDIS_URL} (${err instanceof Error ? err.message : String(err)})`);
  client.disconnect();
  process.exit(0);
}

// Every command the store sends passes here, scripts and their retries included.
let commands = 0;
const sendCommand = client.sendCommand.bind(client);
client.sendCommand = (/** @type {Parameters<typeof sendCommand>} */ ...args) => {
  commands += 1;
  return sendCommand(...args);
};

/**
 * Run `fn(0 … n-1)` with `concurrency` calls in flight; ops/s and commands per call.
 * @param {number} n @param {number} concurrency @param {(i: number) => Promise<unknown>} fn
 */
async function measure(n, concurrency, fn) {
  let next = 0;
  const before = commands;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { opsPerSecond: n / seconds, commandsPerCall: (commands - before) / n };
}

const stores = {
  memory: { mailer: lastCodeMailer(), store: memoryCodeStore({ maxEntries: 2_000_000 }) },
  redis: { mailer: lastCodeMailer(), store: redisCodeStore({ client, keyPrefix: PREFIX }) },
};
const apps = {
  memory: new NpUser({ secret: SECRET, mailer: stores.memory.mailer, store: stores.memory.store }),
  redis: new NpUser({ secret: SECRET, mailer: stores.redis.mailer, store: stores.redis.store }),
};

// The baseline, as in bench/run.js: one token verified by jose alone, with npuser's key and checks.
await apps.memory.requestCode('baseline@example.com');
const { token } = await apps.memory.verifyCode('baseline@example.com', stores.memory.mailer.codes.get('baseline@example.com') ?? '');
const signingKey = deriveSigningKey(SECRET);
const verifyOptions = { algorithms: ['HS256'], issuer: 'npuser', audience: 'npuser', typ: 'npuser+jwt' };

/** @type {Map<string, { opsPerSecond: number, commandsPerCall: number }>} */
const best = new Map();
/** @param {string} name @param {{ opsPerSecond: number, commandsPerCall: number }} result */
function keep(name, result) {
  const previous = best.get(name);
  if (!previous || result.opsPerSecond > previous.opsPerSecond) best.set(name, result);
}

try {
  for (let round = 0; round < ROUNDS; round += 1) {
    keep('jose jwtVerify (baseline)', await measure(ITERATIONS, 1, () => jwtVerify(token, signingKey, verifyOptions)));
    for (const kind of /** @type {const} */ (['memory', 'redis'])) {
      const np = apps[kind];
      const { codes } = stores[kind].mailer;
      for (const concurrency of [1, CONCURRENCY]) {
        // Fresh addresses per round and setting: no limit or cooldown interferes.
        const email = (/** @type {number} */ i) => `r${round}c${concurrency}i${i}@example.com`;
        keep(`${kind}|requestCode|${concurrency}`, await measure(ITERATIONS, concurrency, (i) => np.requestCode(email(i))));
        keep(`${kind}|verifyCode|${concurrency}`, await measure(ITERATIONS, concurrency, (i) => np.verifyCode(email(i), codes.get(email(i)) ?? '')));
        // Every authenticated request validates a token; with checkRevocation (the default) that reads the store.
        keep(`${kind}|validateToken|${concurrency}`, await measure(ITERATIONS, concurrency, () => np.validateToken(token)));
      }
    }
  }
} finally {
  // SCAN on our own prefix, never KEYS or FLUSHDB: the server may be shared.
  let cursor = '0';
  let deleted = 0;
  for (let i = 0; i < 100_000; i += 1) {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await client.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  client.disconnect();
  console.error(`(deleted ${deleted} benchmark keys under ${PREFIX})`);
}

const baseline = best.get('jose jwtVerify (baseline)')?.opsPerSecond ?? 1;
/** @param {string} name */
const get = (name) => best.get(name) ?? { opsPerSecond: Number.NaN, commandsPerCall: Number.NaN };
const fmt = (/** @type {number} */ n) => (n >= 100 ? String(Math.round(n)) : n.toFixed(2));

console.log(`\nnpuser Redis bench (best of ${ROUNDS} rounds of ${ITERATIONS} calls, Redis at ${REDIS_URL}, Node ${process.version})\n`);
console.log(`jose jwtVerify baseline: ${Math.round(baseline)} ops/s\n`);
console.log('| call | in flight | memory ops/s | redis ops/s | memory / jose | redis / jose | redis / memory | Redis commands per call |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const call of ['requestCode', 'verifyCode', 'validateToken']) {
  for (const concurrency of [1, CONCURRENCY]) {
    const memory = get(`memory|${call}|${concurrency}`);
    const redis = get(`redis|${call}|${concurrency}`);
    console.log(
      `| ${call} | ${concurrency} | ${fmt(memory.opsPerSecond)} | ${fmt(redis.opsPerSecond)} | ${(memory.opsPerSecond / baseline).toFixed(3)} | ${(redis.opsPerSecond / baseline).toFixed(3)} | ${(redis.opsPerSecond / memory.opsPerSecond).toFixed(2)} | ${fmt(redis.commandsPerCall)} |`,
    );
  }
}
