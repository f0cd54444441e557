// @ts-check
// The in-process figures of `npm run bench` (run by bench/run.js with
// --expose-gc): the primitives, node:crypto and jose baselines, npuser's calls
// on the memory store with a mailer that only keeps the code, and the least a
// sign-in does (bench/minimal.js). One JSON line per figure on stdout. Every
// loop is bounded; nothing leaves the process.
import { generateKeyPairSync, randomBytes, randomInt, createHmac } from 'node:crypto';
import { jwtVerify } from 'jose';
import { NpUser, memoryCodeStore } from 'npuser';
import { deriveSigningKey } from './derive-signing-key.js';
import { asyncRound, codeListMailer, measure, printLine, shuffled, syncRound } from './lib.js';
import { minimalSignIn } from './minimal.js';
import { baselineVerifier, randomSubject, signWith, tokenMinter } from './tokens.js';

const SECRET = 'benchmark secret, at least thirty-two bytes';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 300);
const IN_FLIGHT = 64;
const STORE = { maxEntries: 2 ** 24 };

/** @typedef {import('./tokens.js').Algorithm} Algorithm */
/** @typedef {import('./lib.js').Figure} Figure */

const mailer = codeListMailer();
const hmacKey = deriveSigningKey(SECRET);
const ed25519 = generateKeyPairSync('ed25519');
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
/** @type {Record<Algorithm, { signingKeys?: import('npuser').SigningKeyInput[], privateKey: import('node:crypto').KeyObject, publicKey: import('node:crypto').KeyObject }>} */
const algorithms = {
  HS256: { privateKey: hmacKey, publicKey: hmacKey },
  EdDSA: { signingKeys: [{ kid: 'bench-ed25519', key: ed25519.privateKey }], ...ed25519 },
  ES256: { signingKeys: [{ kid: 'bench-p256', key: p256.privateKey }], ...p256 },
};

/** A fresh NpUser of `alg` on its own memory store: each figure has its own caches and store. @param {Algorithm} alg */
function app(alg) {
  const { signingKeys } = algorithms[alg];
  return new NpUser({ secret: SECRET, mailer, store: memoryCodeStore(STORE), ...(signingKeys ? { signingKeys } : {}) });
}

/** A real token of `np`, for the minter's template and the repeated-token figures. @param {NpUser} np */
async function signIn(np, email = `template${randomInt(1e9)}@example.com`) {
  await np.requestCode(email);
  return (await np.verifyCode(email, /** @type {string} */ (mailer.codes.at(-1)))).token;
}

/** `count` distinct tokens of `alg`, each of a new subject, or of `subjects` subjects in turn. @param {Algorithm} alg @param {number} count @param {number} [subjects] */
async function tokenPool(alg, count, subjects = count) {
  const mint = tokenMinter(await signIn(app(alg)), alg, algorithms[alg].privateKey);
  const people = Array.from({ length: Math.min(subjects, count) }, randomSubject);
  return shuffled(Array.from({ length: count }, (_, i) => mint(/** @type {string} */ (people[i % people.length]))));
}

/** @type {Figure[]} */
const figures = [];

// --- primitives -----------------------------------------------------------
const addresses = Array.from({ length: 4096 }, (_, i) => `someone${i}@example.com`);
const storeKey = randomBytes(32);
figures.push(
  {
    name: 'createHmac (address + code)',
    round: syncRound((i) =>
      createHmac('sha256', storeKey)
        .update(`${addresses[i & 4095]}042917`)
        .digest(),
    ),
  },
  { name: 'randomInt (a code)', round: syncRound(() => randomInt(0, 1_000_000)) },
  { name: 'randomBytes(16) (an id)', round: syncRound(() => randomBytes(16)) },
);
const map = new Map(addresses.map((address) => [address, '1']));
figures.push({
  name: 'Map set/get',
  round: syncRound((i) => {
    const key = /** @type {string} */ (addresses[i & 4095]);
    if ((i & 1) === 0) map.set(key, String(i));
    else map.get(key);
  }),
});

// The memory store's transactions as npuser runs them (inline, without a promise), on fresh keys of the
// shape npuser makes: what the store operations of a sign-in cost in the store itself.
{
  const STORE_RATE = 400_000;
  const size = Math.ceil((STORE_RATE * ROUND_MS) / 1000);
  const tags = () => Array.from({ length: size }, () => `{${randomBytes(32).toString('base64url')}}`);
  const record = `v1.${randomBytes(12).toString('base64url')}.${String(Date.now() + 600_000)}.${randomBytes(32).toString('base64url')}`;
  /** @param {string} t @returns {import('npuser').StoreStep[]} */
  const requestSteps = (t) => [
    { op: 'get', key: `${t}:failures`, stopIfCountAtLeast: 10 },
    { op: 'get', key: `${t}:cooldown`, stopIfPresent: true },
    { op: 'increment', key: `${t}:cooldown`, ttlMs: 60_000, stopIfCountAbove: 1 },
    { op: 'increment', key: `${t}:hourly`, ttlMs: 3_600_000, stopIfCountAbove: 5 },
    { op: 'delete', key: `${t}:attempts` },
    { op: 'set', key: `${t}:code`, value: record, ttlMs: 600_000 },
  ];
  /** @param {import('npuser').MemoryCodeStore} store */
  const inline = (store) => {
    const symbol = Object.getOwnPropertySymbols(store).find((s) => s.description === 'npuser inline transact');
    const offered = /** @type {{ run: (steps: import('npuser').StoreStep[]) => unknown[] } | undefined} */ (
      symbol && /** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (store))[symbol]
    );
    if (offered === undefined) throw new Error('the memory store offers no inline transact');
    return offered.run;
  };
  let requestTags = tags();
  const run = inline(memoryCodeStore(STORE));
  figures.push({
    name: 'memoryCodeStore: requestCode transaction',
    prepare: () => {
      requestTags = tags();
    },
    round: syncRound((i) => run(requestSteps(/** @type {string} */ (requestTags[i % size])))),
  });
  let verifyTags = tags();
  let verifyRun = inline(memoryCodeStore(STORE));
  figures.push({
    name: 'memoryCodeStore: verifyCode transactions',
    prepare: () => {
      verifyTags = tags();
      verifyRun = inline(memoryCodeStore(STORE));
      for (const t of verifyTags) verifyRun(requestSteps(t));
    },
    round: syncRound((i) => {
      const t = /** @type {string} */ (verifyTags[i % size]);
      verifyRun([
        { op: 'get', key: `${t}:failures`, stopIfCountAtLeast: 10 },
        { op: 'get', key: `${t}:code` },
        { op: 'increment', key: `${t}:attempts`, ttlMs: 600_000, stopIfCountAbove: 5 },
      ]);
      verifyRun([
        { op: 'consume', key: `${t}:code`, expected: record },
        { op: 'delete', key: `${t}:attempts` },
      ]);
    }),
  });
}

// --- tokens ---------------------------------------------------------------
// Every "distinct tokens" round validates tokens the NpUser has never seen:
// a new NpUser per round (empty caches), and a pool of tokens for one round.
/** @type {Record<Algorithm, number>} about the most a round could use per second, to size the pools */
const VALIDATE_RATE = { HS256: 150_000, EdDSA: 20_000, ES256: 25_000 };
const ROUND_POOL = (/** @type {number} */ rate) => Math.ceil((rate * ROUND_MS) / 1000);

/**
 * validateToken of fresh tokens from `pool`, on a new NpUser of `alg` each round.
 * @param {string} name @param {Algorithm} alg @param {string[]} pool @param {number} [inFlight]
 * @returns {Figure}
 */
function validating(name, alg, pool, inFlight = 1) {
  let np = app(alg);
  return {
    name,
    prepare: () => {
      np = app(alg);
    },
    round: asyncRound((i) => np.validateToken(/** @type {string} */ (pool[i])), { inFlight, limit: pool.length, perRound: true }),
  };
}

for (const alg of /** @type {Algorithm[]} */ (['HS256', 'EdDSA', 'ES256'])) {
  const { privateKey, publicKey } = algorithms[alg];
  const template = await signIn(app(alg));
  const [header = '', payload = ''] = template.split('.');
  figures.push({ name: `node:crypto ${alg} sign`, round: syncRound(() => signWith(alg, privateKey, `${header}.${payload}`)) });

  const distinct = await tokenPool(alg, ROUND_POOL(VALIDATE_RATE[alg]));
  const at = (/** @type {number} */ i) => /** @type {string} */ (distinct[i % distinct.length]);
  const baseline = baselineVerifier(alg, publicKey);
  figures.push({ name: `node:crypto ${alg} verify + claims`, round: syncRound((i) => baseline(at(i))) });
  const joseOptions = {
    algorithms: [alg],
    issuer: 'npuser',
    audience: 'npuser',
    typ: 'npuser+jwt',
    requiredClaims: ['sub', 'jti'],
    clockTolerance: 30,
    maxTokenAge: 3600,
  };
  figures.push({ name: `jose ${alg} verify`, round: asyncRound((i) => jwtVerify(at(i), publicKey, joseOptions)) });

  if (alg === 'HS256') {
    figures.push(
      validating('validateToken HS256, distinct tokens, new subjects', alg, distinct),
      validating('validateToken HS256, distinct tokens, 1000 subjects', alg, await tokenPool(alg, distinct.length, 1000)),
    );
  } else {
    figures.push(
      {
        name: `jose ${alg} verify, ${IN_FLIGHT} in flight`,
        round: asyncRound((i) => jwtVerify(at(i), publicKey, joseOptions), { inFlight: IN_FLIGHT }),
      },
      validating(`validateToken ${alg}, distinct tokens`, alg, distinct),
      validating(
        `validateToken ${alg}, distinct tokens, ${IN_FLIGHT} in flight`,
        alg,
        await tokenPool(alg, 2 * distinct.length),
        IN_FLIGHT,
      ),
    );
  }
  const repeatedApp = app(alg);
  const repeated = await signIn(repeatedApp);
  figures.push({ name: `validateToken ${alg}, repeated token`, round: asyncRound(() => repeatedApp.validateToken(repeated)) });
}

// --- sign-in ------------------------------------------------------------------
{
  const requesting = app('HS256');
  figures.push({ name: 'requestCode', round: asyncRound((i) => requesting.requestCode(`request${i}@example.com`)) });

  // Codes requested before each round (untimed), one per address, each verified once.
  const pending = ROUND_POOL(80_000);
  let verifying = app('HS256');
  /** @type {string[]} */
  let codes = [];
  figures.push({
    name: 'verifyCode',
    prepare: async () => {
      verifying = app('HS256');
      const first = mailer.codes.length;
      for (let i = 0; i < pending; i += 1) await verifying.requestCode(`verify${i}@example.com`);
      codes = mailer.codes.slice(first, first + pending);
    },
    round: asyncRound((i) => verifying.verifyCode(`verify${i}@example.com`, /** @type {string} */ (codes[i])), {
      limit: pending,
      perRound: true,
    }),
  });

  const flowing = app('HS256');
  figures.push({
    name: 'requestCode + verifyCode',
    round: asyncRound(async (i) => {
      const email = `flow${i}@example.com`;
      await flowing.requestCode(email);
      await flowing.verifyCode(email, /** @type {string} */ (mailer.codes.at(-1)));
    }),
  });

  // The same work with none of npuser's checks (bench/minimal.js): the yardstick for the sign-in above.
  /** @type {string} */
  let minimalCode = '';
  const minimal = minimalSignIn((code) => {
    minimalCode = code;
    return Promise.resolve();
  });
  figures.push({
    name: 'minimal sign-in',
    round: asyncRound(async (i) => {
      const email = `minimal${i}@example.com`;
      await minimal.requestCode(email);
      await minimal.verifyCode(email, minimalCode);
    }),
  });
}

await measure(figures, { rounds: ROUNDS, roundMs: ROUND_MS, onResult: printLine });
