import { setTimeout as wait } from 'node:timers/promises';

// Enough sends to smooth out one slow one, few enough to follow a change of mail server.
const SAMPLES = 16;

/**
 * The durations of the last few sends, and a typical one (the median): how
 * long an answer that sends nothing waits, so that it cannot be told by its
 * timing from one that sends.
 * @internal
 */
export class RecentDurations {
  readonly #samples: number[] = [];

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#samples.push(ms);
    if (this.#samples.length > SAMPLES) this.#samples.shift();
  }

  /** The median of the recorded durations in milliseconds; 0 before the first. */
  typical(): number {
    if (this.#samples.length === 0) return 0;
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  }
}

/**
 * Resolve after `ms` milliseconds (at once for 0, without a timer).
 * @internal
 */
export async function sleep(ms: number): Promise<void> {
  if (ms > 0) await wait(ms);
}
