import { describe, expect, it } from 'vitest';
import { RecentDurations } from '../../src/lib/durations.js';

// A refused address (allowEmail) waits as long as a send typically takes, so its answer comes
// in the same time as an allowed one's. The typical duration is the median of the last 16 sends.
describe('RecentDurations', () => {
  it('is 0 before any send, then the median of the last 16', () => {
    const durations = new RecentDurations();
    expect(durations.typical()).toBe(0);
    for (const ms of [30, 10, 20]) durations.record(ms);
    expect(durations.typical()).toBe(20);
    // One very slow send does not move the typical time much.
    durations.record(5000);
    expect(durations.typical()).toBe(30);
    for (let i = 0; i < 16; i += 1) durations.record(100);
    expect(durations.typical()).toBe(100);
  });

  it('ignores what is not a duration', () => {
    const durations = new RecentDurations();
    for (const ms of [Number.NaN, -1, Number.POSITIVE_INFINITY]) durations.record(ms);
    expect(durations.typical()).toBe(0);
  });
});
