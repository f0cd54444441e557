// @ts-check
// The Redis figures of `npm run bench` (or `npm run bench:redis`): npuser's
// calls on redisCodeStore next to the memory store, one and 32 in flight, and
// the round trips each call takes. One JSON line per figure on stdout.
// Only a Redis on this machine; its own key prefix, deleted at the end.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { NpUser, memoryCodeStore } from 'npuser';
import { redisCodeStore } from 'npuser/stores/redis';
import { asyncRound, codeListMailer, measure, printLine } from './lib.js';

const SECRET = 'benchmark secret, at least thirty-two bytes';
const ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 3);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 300);
const IN_FLIGHT = [1, 32];
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `npuser-bench:${randomBytes(6).toString('hex')}:`;

// A benchmark floods its target: never point it at a server that is not on this machine.
const { hostname } = new URL(REDIS_URL);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
  console.error(`bench/redis.js: refusing REDIS_URL ${REDIS_URL}: only a Redis on 127.0.0.1 is benchmarked`);
  process.exit(1);
}

// Configured as docs/scaling-with-redis.md advises: fail fast, never queue.
const client = new Redis(REDIS_URL, {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 1000,
  commandTimeout: 1000,
  retryStrategy: () => null,
});
client.on('error', () => undefined);
try {
  await client.connect();
} catch (err) {
  console.error(`redis bench skipped: no Redis at ${REDIS_URL} (${err instanceof Error ? err.message : String(err)})`);
  client.disconnect();
  process.exit(0);
}

// Every command the store sends passes here. The store never pipelines and
// awaits each command before the next, so commands per call are round trips
// per call (test/stores/redis-round-trips.test.ts counts them on the wire).
let commands = 0;
const sendCommand = client.sendCommand.bind(client);
client.sendCommand = (/** @type {Parameters<typeof sendCommand>} */ ...args) => {
  commands += 1;
  return sendCommand(...args);
};

const mailer = codeListMailer();
/** @param {'memory' | 'redis'} kind */
const app = (kind) =>
  new NpUser({
    secret: SECRET,
    mailer,
    store: kind === 'memory' ? memoryCodeStore({ maxEntries: 2 ** 24 }) : redisCodeStore({ client, keyPrefix: PREFIX }),
  });

/** @type {import('./lib.js').Figure[]} */
const figures = [];
let run = 0;
for (const kind of /** @type {const} */ (['memory', 'redis'])) {
  for (const inFlight of IN_FLIGHT) {
    const tag = `${kind} ${inFlight}`;
    const np = app(kind);
    const fresh = () => `r${run}-${tag.replace(' ', '-')}`;
    let round = fresh();
    figures.push({
      name: `${kind}: requestCode, ${inFlight} in flight`,
      prepare: () => {
        round = `${fresh()}-${(run += 1)}`;
      },
      round: asyncRound((i) => np.requestCode(`${round}-${i}@example.com`), { inFlight, perRound: true }),
    });

    // Codes requested before each round (untimed), each verified once.
    const pool = kind === 'memory' ? 20_000 : 4000;
    /** @type {string[]} */
    let codes = [];
    let verifying = round;
    figures.push({
      name: `${kind}: verifyCode, ${inFlight} in flight`,
      prepare: async () => {
        verifying = `${fresh()}-v${(run += 1)}`;
        const first = mailer.codes.length;
        for (let i = 0; i < pool; i += 1) await np.requestCode(`${verifying}-${i}@example.com`);
        codes = mailer.codes.slice(first, first + pool);
      },
      round: asyncRound((i) => np.verifyCode(`${verifying}-${i}@example.com`, /** @type {string} */ (codes[i])), {
        inFlight,
        limit: pool,
        perRound: true,
      }),
    });

    await np.requestCode(`${tag.replace(' ', '-')}-token@example.com`);
    const { token } = await np.verifyCode(`${tag.replace(' ', '-')}-token@example.com`, /** @type {string} */ (mailer.codes.at(-1)));
    // Every authenticated request validates a token; with checkRevocation (the default) that reads the store.
    figures.push({ name: `${kind}: validateToken, ${inFlight} in flight`, round: asyncRound(() => np.validateToken(token), { inFlight }) });

    figures.push({
      name: `${kind}: requestCode + verifyCode, ${inFlight} in flight`,
      round: asyncRound(
        async (i) => {
          const email = `flow-${tag.replace(' ', '-')}-${run}-${i}@example.com`;
          await np.requestCode(email);
          await np.verifyCode(email, /** @type {string} */ (mailer.codes.at(-1)));
        },
        { inFlight: 1 },
      ),
    });
  }
}
// The flow needs its own code right after its request: it runs one at a time, so it is measured once per store.
const measured = figures.filter((f) => !/requestCode \+ verifyCode, 32/.test(f.name));

try {
  await measure(measured, { rounds: ROUNDS, roundMs: ROUND_MS, onResult: printLine });

  // Round trips of one call each, on a fresh address, as the round-trip test counts them.
  const np = app('redis');
  const email = `trips-${run}@example.com`;
  /** @param {() => Promise<unknown>} call */
  const trips = async (call) => {
    const before = commands;
    await call();
    return commands - before;
  };
  const requestCode = await trips(() => np.requestCode(email, { clientKey: '192.0.2.1' }));
  const wrong = await trips(() => np.verifyCode(email, '000000', { clientKey: '192.0.2.1' }).catch(() => undefined));
  await np.requestCode(`${email}.again`);
  let token = '';
  const verifyCode = await trips(async () => {
    ({ token } = await np.verifyCode(`${email}.again`, /** @type {string} */ (mailer.codes.at(-1))));
  });
  const validateToken = await trips(() => np.validateToken(token));
  for (const [call, count] of /** @type {const} */ ([
    ['requestCode', requestCode],
    ['verifyCode (right code)', verifyCode],
    ['verifyCode (wrong code)', wrong],
    ['validateToken', validateToken],
  ])) {
    printLine({ name: `redis: round trips per call, ${call}`, roundTrips: count });
  }
} finally {
  // SCAN on our own prefix, never KEYS or FLUSHDB: the server may be shared.
  let cursor = '0';
  for (let i = 0; i < 100_000; i += 1) {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  client.disconnect();
}
