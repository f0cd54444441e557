// @ts-check
// `node --expose-gc bench/memory.js <pending>`: heap per pending code in the
// memory store, in a fresh process (bench/run.js starts one per figure). Each
// code is a real requestCode of its own address: the code's record, its
// cooldown and its hourly counter. One JSON line on stdout.
import { NpUser, memoryCodeStore } from 'npuser';
import { printLine } from './lib.js';

const pending = Number(process.argv[2] ?? 100_000);
const gc = globalThis.gc;
if (gc === undefined) throw new Error('bench/memory.js needs node --expose-gc');

const store = memoryCodeStore({ maxEntries: 2 ** 24 });
// The mailer keeps nothing: only the store's memory is measured.
const np = new NpUser({ secret: 'benchmark secret, at least thirty-two bytes', store, mailer: { send: () => Promise.resolve() } });
await np.requestCode('warm-up@example.com');

/** Heap in use after full collections. */
function settledHeap() {
  for (let i = 0; i < 3; i += 1) /** @type {() => void} */ (gc)();
  return process.memoryUsage().heapUsed;
}

const before = settledHeap();
const started = performance.now();
for (let i = 0; i < pending; i += 1) await np.requestCode(`pending${i}@example.com`);
const seconds = (performance.now() - started) / 1000;
const after = settledHeap();
if (store.size !== 3 * pending + 3) throw new Error(`expected ${3 * pending + 3} entries, the store holds ${store.size}`);
printLine({
  name: `memory store, heap per pending code, ${pending.toExponential(0).replace('e+', 'e')} codes`,
  bytesPerCode: Math.round((after - before) / pending),
  pending,
  seconds: Number(seconds.toFixed(1)),
});
