// @ts-check
// `npm run bench`: every figure in one run, each part in a fresh process so
// none inherits another's heap: the in-process throughput (bench/throughput.js),
// the heap per pending code at 10^5 and 10^6 (bench/memory.js), Redis
// (bench/redis.js, skipped without a Redis on 127.0.0.1), the sign-in beside
// a popular peer's (bench/peer.js) and the HTTP layer (bench/http.js, when it
// exists). Prints each part's JSON lines as they come, then one table: each
// npuser figure as its ratio to its baseline, measured in the same run, and
// npuser's performance targets. bench/README.md explains every figure.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (/** @type {string} */ file) => fileURLToPath(new URL(file, import.meta.url));

/**
 * @typedef {{ name: string, opsPerSec?: number, rounds?: number, spread?: number, bytesPerCode?: number, roundTrips?: number }} Line
 */

/**
 * Run one part; echo and collect its JSON lines.
 * @param {string} label @param {string[]} args
 * @returns {Promise<Line[]>}
 */
function part(label, args) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    /** @type {Line[]} */
    const lines = [];
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (/** @type {string} */ chunk) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        if (!line.startsWith('{')) continue;
        process.stdout.write(`${line}\n`);
        /** @type {unknown} */
        const parsed = JSON.parse(line);
        lines.push(/** @type {Line} */ (parsed));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      process.stderr.write(`(${label}: ${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
      if (code === 0) resolve(lines);
      else reject(new Error(`${label} exited with ${String(code)}`));
    });
  });
}

const lines = [
  ...(await part('throughput', ['--expose-gc', here('./throughput.js')])),
  ...(await part('memory, 10^5', ['--expose-gc', here('./memory.js'), '100000'])),
  ...(await part('memory, 10^6', ['--expose-gc', here('./memory.js'), '1000000'])),
  ...(await part('redis', [here('./redis.js')])),
  ...(await part('peer', ['--expose-gc', here('./peer.js')])),
  ...(existsSync(here('./http.js')) ? await part('http', [here('./http.js')]) : []),
];

// --- the table ------------------------------------------------------------------

/** @type {Map<string, Line>} */
const byName = new Map(lines.map((line) => [line.name, line]));
/** Seconds per operation of `name`, or NaN when it was not measured. @param {string} name */
const cost = (name) => 1 / (byName.get(name)?.opsPerSec ?? Number.NaN);
/** The rate of doing all `parts` (name → times per call) one after the other. @param {Record<string, number>} parts */
const sumOf = (parts) => 1 / Object.entries(parts).reduce((sum, [name, times]) => sum + times * cost(name), 0);

const HMAC = 'createHmac (address + code)';
const MAP = 'Map set/get';
// What each call does at the least: its HMACs (store tags, the code's digest, the subject), the code draw, the
// token's signature, and one Map operation per store step.
const PRIMITIVES = {
  requestCode: { [HMAC]: 2, 'randomInt (a code)': 1, [MAP]: 6 },
  verifyCode: { [HMAC]: 3, 'node:crypto HS256 sign': 1, [MAP]: 5 },
};
const FLOW = { [HMAC]: 5, 'randomInt (a code)': 1, 'node:crypto HS256 sign': 1, [MAP]: 11 };
// The same, with the store operations as the memory store does them (its transactions, measured directly).
const FLOW_WITH_STORE = {
  [HMAC]: 5,
  'randomInt (a code)': 1,
  'node:crypto HS256 sign': 1,
  'memoryCodeStore: requestCode transaction': 1,
  'memoryCodeStore: verifyCode transactions': 1,
};

/**
 * @typedef {{ figure: string, baseline: string, base: number, target?: [string, number] }} Ratio
 * @type {Ratio[]}
 */
const ratios = [];
/** @param {string} figure @param {string} baseline @param {number} base @param {[string, number]} [target] */
const ratio = (figure, baseline, base, target) => {
  if (byName.has(figure)) ratios.push({ figure, baseline, base, ...(target ? { target } : {}) });
};
for (const alg of ['HS256', 'EdDSA', 'ES256']) {
  const limit = `node:crypto ${alg} verify + claims`;
  ratio(`jose ${alg} verify`, limit, 1 / cost(limit));
  const target = alg === 'HS256' ? 0.5 : 0.8;
  ratio(`validateToken ${alg}, distinct tokens, new subjects`, limit, 1 / cost(limit), ['≥', target]);
  ratio(`validateToken ${alg}, distinct tokens, 1000 subjects`, limit, 1 / cost(limit), ['≥', target]);
  ratio(`validateToken ${alg}, distinct tokens`, limit, 1 / cost(limit), ['≥', target]);
  const jose64 = `jose ${alg} verify, 64 in flight`;
  ratio(`validateToken ${alg}, distinct tokens, 64 in flight`, jose64, 1 / cost(jose64), ['≥', 1]);
  ratio(`validateToken ${alg}, repeated token`, limit, 1 / cost(limit));
}
ratio('requestCode', 'its primitives', sumOf(PRIMITIVES.requestCode));
ratio('verifyCode', 'its primitives', sumOf(PRIMITIVES.verifyCode));
ratio('requestCode + verifyCode', 'its primitives (store steps as Map set/get)', sumOf(FLOW), ['≥', 0.5]);
ratio('requestCode + verifyCode', 'its primitives (store steps as the memory store runs them)', sumOf(FLOW_WITH_STORE), ['≥', 0.5]);
// How near the least a sign-in does (bench/minimal.js) comes to the same primitives, and npuser to it: no targets.
ratio('minimal sign-in', 'its primitives (store steps as Map set/get)', sumOf(FLOW));
ratio('requestCode + verifyCode', 'minimal sign-in', 1 / cost('minimal sign-in'));
// The peer is measured in its own process, beside a sign-in of npuser's in the same rounds (bench/peer.js).
const PEER = 'peer: email-OTP send + sign-in';
ratio('requestCode + verifyCode, beside the peer', PEER, 1 / cost(PEER), ['≥', 10]);
for (const line of lines) {
  const redis = /^redis: (.*)$/.exec(line.name);
  if (redis && line.opsPerSec !== undefined) ratio(line.name, `memory: ${redis[1] ?? ''}`, 1 / cost(`memory: ${redis[1] ?? ''}`));
}
// The HTTP layer against the bare node:http handler of the same run: reported, with no target.
const HTTP_CEILING = 'bare node:http (ceiling)';
ratio('npuser serve: POST /v1/validate-token', HTTP_CEILING, 1 / cost(HTTP_CEILING));

const fmt = (/** @type {number} */ n) => (Number.isFinite(n) ? (n >= 100 ? String(Math.round(n)) : n.toFixed(2)) : '–');
const verdict = (/** @type {number} */ value, /** @type {[string, number] | undefined} */ target) =>
  target === undefined
    ? ''
    : `${target[0]} ${target[1]}: ${(target[0] === '≥' ? value >= target[1] : value <= target[1]) ? 'met' : 'NOT met'}`;

const out = [`\nnpuser bench: Node ${process.version}, ${String(byName.size)} figures, ratios in this run\n`];
out.push('| figure | ops/s | spread | compared with | ratio | target |', '|---|---:|---:|---|---:|---|');
for (const { figure, baseline, base, target } of ratios) {
  const line = byName.get(figure);
  const value = (line?.opsPerSec ?? Number.NaN) / base;
  out.push(
    `| ${figure} | ${fmt(line?.opsPerSec ?? Number.NaN)} | ${fmt(line?.spread ?? Number.NaN)} | ${baseline} | ${fmt(value)} | ${verdict(value, target)} |`,
  );
}
out.push('', '| measured alone | value | target |', '|---|---:|---|');
for (const line of lines) {
  if (line.bytesPerCode !== undefined) {
    const target = /1e6/.test(line.name) ? verdict(line.bytesPerCode, ['≤', 250]) : '';
    out.push(`| ${line.name} | ${String(line.bytesPerCode)} bytes | ${target} |`);
  } else if (line.roundTrips !== undefined) {
    const most = /verifyCode/.test(line.name) ? 2 : 1;
    out.push(`| ${line.name} | ${String(line.roundTrips)} | ${verdict(line.roundTrips, ['≤', most])} |`);
  }
}
const compared = new Set(ratios.map((r) => r.figure));
const others = lines.filter((line) => line.opsPerSec !== undefined && !compared.has(line.name));
out.push('', '| baselines and other figures | ops/s | spread |', '|---|---:|---:|');
for (const line of others) out.push(`| ${line.name} | ${fmt(line.opsPerSec ?? Number.NaN)} | ${fmt(line.spread ?? Number.NaN)} |`);
process.stdout.write(`${out.join('\n')}\n`);
