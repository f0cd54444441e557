// @ts-check
// What every bench script shares: time-boxed rounds, interleaved so that the
// machine's noise (other processes on the same cores, GC, the JIT) hits a
// baseline and the figure compared with it alike, and one JSON line per figure.
import { performance } from 'node:perf_hooks';

/**
 * A measured figure, as every bench script prints it (one JSON line each).
 * @typedef {object} Result
 * @property {string} name
 * @property {number} opsPerSec The best round.
 * @property {number} rounds Rounds measured (after one warm-up round).
 * @property {number} spread (best − worst) / best over the measured rounds.
 */

/**
 * One figure: `round(deadline)` runs operations until `performance.now()`
 * passes `deadline` (or its supply of fresh inputs runs out) and returns how
 * many it ran. `prepare()`, when given, runs before each round, untimed.
 * @typedef {object} Figure
 * @property {string} name
 * @property {(deadline: number) => number | Promise<number>} round
 * @property {() => unknown} [prepare]
 */

/**
 * A round of `fn(i)` one call at a time, synchronously.
 * @param {(i: number) => unknown} fn
 * @param {number} [limit] At most this many calls in all rounds together (a pool of fresh inputs).
 * @returns {(deadline: number) => number}
 */
export function syncRound(fn, limit = Number.POSITIVE_INFINITY) {
  let next = 0;
  return (deadline) => {
    const start = next;
    while (next < limit) {
      // The clock is read every 32 calls: reading it costs about as much as a Map lookup.
      for (let k = 0; k < 32 && next < limit; k += 1) fn(next++);
      if (performance.now() >= deadline) break;
    }
    return next - start;
  };
}

/**
 * A round of `await fn(i)` with `inFlight` calls at a time (1: one after the other).
 * @param {(i: number) => Promise<unknown>} fn
 * @param {{ inFlight?: number, limit?: number, perRound?: boolean }} [options] `limit`: at most this many calls
 * in all rounds together, or in each round with `perRound` (then `i` starts at 0 every round).
 * @returns {(deadline: number) => Promise<number>}
 */
export function asyncRound(fn, { inFlight = 1, limit = Number.POSITIVE_INFINITY, perRound = false } = {}) {
  let next = 0;
  return async (deadline) => {
    if (perRound) next = 0;
    const start = next;
    let over = false;
    const worker = async () => {
      while (!over && next < limit) {
        await fn(next++);
        if ((next & 15) === 0 && performance.now() >= deadline) over = true;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return next - start;
  };
}

/**
 * Measure `figures`: one warm-up round, then `rounds` rounds, each running
 * every figure in turn for `roundMs`. A full collection before each figure's
 * round (with --expose-gc) leaves it none of the garbage of the one before.
 * @param {Figure[]} figures
 * @param {{ rounds: number, roundMs: number, onResult?: (result: Result) => void }} options
 * @returns {Promise<Result[]>}
 */
export async function measure(figures, { rounds, roundMs, onResult }) {
  /** @type {number[][]} */
  const rates = figures.map(() => []);
  for (let round = 0; round <= rounds; round += 1) {
    for (const [index, figure] of figures.entries()) {
      await figure.prepare?.();
      globalThis.gc?.();
      const start = performance.now();
      const ops = await figure.round(start + roundMs);
      const seconds = (performance.now() - start) / 1000;
      if (round > 0 && ops > 0) rates[index]?.push(ops / seconds);
    }
  }
  return figures.map((figure, index) => {
    const measured = rates[index] ?? [];
    const best = Math.max(...measured);
    const worst = Math.min(...measured);
    const result = {
      name: figure.name,
      opsPerSec: Math.round(best),
      rounds: measured.length,
      spread: Number(((best - worst) / best).toFixed(3)),
    };
    onResult?.(result);
    return result;
  });
}

/**
 * Print one figure as its JSON line.
 * @param {Record<string, unknown> & { name: string }} figure
 */
export function printLine(figure) {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

/**
 * `items` in a shuffled order, from a seeded generator: the same order every
 * run, and no two neighbours predictable from each other's position.
 * @template T
 * @param {T[]} items
 * @returns {T[]}
 */
export function shuffled(items) {
  const out = [...items];
  let seed = 0x9e3779b9;
  for (let i = out.length - 1; i > 0; i -= 1) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0;
    const j = seed % (i + 1);
    const a = /** @type {T} */ (out[i]);
    out[i] = /** @type {T} */ (out[j]);
    out[j] = a;
  }
  return out;
}

/** The mailer of every bench: keeps the codes in the order they were sent, so nothing but a push is measured. */
export function codeListMailer() {
  /** @type {string[]} */
  const codes = [];
  return {
    codes,
    /** @param {import('npuser').CodeMessage} message */
    send(message) {
      codes.push(message.code);
      return Promise.resolve();
    },
  };
}
