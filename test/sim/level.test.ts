import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LevelSeries } from '../../src/sim/level.js';

/** The same sums, the slow way: every interval split at every second boundary. */
function reference(horizonMs: number, changes: ReadonlyArray<readonly [number, number]>, endMs: number) {
  const seconds = Math.ceil(horizonMs / 1000);
  const integral = new Array<number>(seconds).fill(0);
  const peak = new Array<number>(seconds).fill(0);
  const points = [...changes.filter(([t]) => t < horizonMs), [Math.min(endMs, horizonMs), NaN] as const];
  let level = 0;
  let since = 0;
  for (const [t, value] of points) {
    for (let s = 0; s < seconds; s++) {
      const from = Math.max(since, s * 1000);
      const to = Math.min(t, (s + 1) * 1000);
      if (to > from) integral[s]! += level * (to - from);
      if (to > from || (since >= s * 1000 && since < (s + 1) * 1000)) peak[s] = Math.max(peak[s]!, level);
    }
    if (!Number.isNaN(value)) {
      level = value;
      since = t;
      const s = Math.floor(t / 1000);
      peak[s] = Math.max(peak[s]!, value);
    }
  }
  return { integral, peak };
}

describe('LevelSeries', () => {
  it('sums levels per second and keeps per-second peaks, across second boundaries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 6000 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 7000, noNaN: true }), fc.integer({ min: 0, max: 50 })), { maxLength: 40 }),
        fc.double({ min: 0, max: 7000, noNaN: true }),
        (horizonMs, raw, endRaw) => {
          const changes = [...raw].sort((a, b) => a[0] - b[0]);
          const endMs = Math.max(endRaw, changes.at(-1)?.[0] ?? 0);
          const series = new LevelSeries(horizonMs);
          for (const [t, v] of changes) series.set(t, v);
          series.close(endMs);
          const expected = reference(horizonMs, changes, endMs);
          expect([...series.peak]).toEqual(expected.peak);
          [...series.integral].forEach((value, i) => expect(value).toBeCloseTo(expected.integral[i]!, 6));
          const peakOnly = new LevelSeries(horizonMs, true);
          for (const [t, v] of changes) peakOnly.set(t, v);
          peakOnly.close(endMs);
          expect([...peakOnly.peak]).toEqual(expected.peak);
        },
      ),
    );
  });
});
