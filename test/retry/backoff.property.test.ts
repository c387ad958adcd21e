import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exponentialBackoff, type Jitter } from '../../src/index.js';

const jitters: Jitter[] = ['none', 'full', 'equal', 'decorrelated'];

describe('backoff delays (peer failure #19: huge/NaN delays)', () => {
  it('are finite and within [0, maxMs] for any jitter, attempt up to 10,000, and any random source', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...jitters),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 1, max: 1e3, noNaN: true }),
        fc.oneof(fc.double({ min: 0, max: 2 ** 53, noNaN: true }), fc.constant(2 ** 31), fc.constant(2 ** 53)),
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: 0, max: 2 ** 53, noNaN: true }),
        // A broken random source (NaN, negative, >= 1) must not escape the bounds either.
        fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom(Number.NaN, -1, 1, 7)),
        (jitter, initialMs, factor, extraMs, retry, previousDelayMs, r) => {
          const maxMs = initialMs + extraMs;
          const backoff = exponentialBackoff({ initialMs, maxMs, factor, jitter });
          const delay = backoff.delayMs({ retry, previousDelayMs, random: () => r });
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(maxMs);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('without jitter never decreases as attempts grow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 1, max: 10, noNaN: true }), (retry, factor) => {
        const backoff = exponentialBackoff({ initialMs: 10, maxMs: 60_000, factor, jitter: 'none' });
        const a = backoff.delayMs({ retry, previousDelayMs: 0, random: Math.random });
        const b = backoff.delayMs({ retry: retry + 1, previousDelayMs: 0, random: Math.random });
        expect(b).toBeGreaterThanOrEqual(a);
      }),
    );
  });
});
