import { describe, expect, it } from 'vitest';
import { exponentialBackoff, retry, type Backoff } from '../../src/index.js';

// Exact delays, against the formulas of the AWS Architecture Blog post "Exponential Backoff And
// Jitter" (Marc Brooker, 2015): with temp = min(cap, base · 2^attempt),
//   full jitter:         random_between(0, temp)
//   equal jitter:        temp / 2 + random_between(0, temp / 2)
//   decorrelated jitter: min(cap, random_between(base, previous sleep · 3))
// The bounds property (backoff.property.test.ts) says a delay stays in [0, maxMs]; these say
// which delay, and what a random source outside [0, 1) is taken to mean.

const base = { initialMs: 100, factor: 2, maxMs: 10_000 };
/** Retry 3: temp = 100 · 2² = 400 ms. */
const at = (backoff: Backoff, r: number, previousDelayMs = 0, retryNumber = 3) =>
  backoff.delayMs({ retry: retryNumber, previousDelayMs, random: () => r });

describe('exponentialBackoff delays, exactly', () => {
  it('full jitter: random · temp; a random of 1 or more counts as 1, below 0 or NaN as 0', () => {
    const full = exponentialBackoff({ ...base, jitter: 'full' });
    expect(at(full, 0.25)).toBe(100);
    expect(at(full, 0)).toBe(0);
    expect(at(full, 1)).toBe(400);
    expect(at(full, 1.5)).toBe(400);
    expect(at(full, -0.5)).toBe(0);
    expect(at(full, Number.NaN)).toBe(0);
  });

  it('equal jitter: temp/2 + random · temp/2, with the same reading of a broken random', () => {
    const equal = exponentialBackoff({ ...base, jitter: 'equal' });
    expect(at(equal, 0.5)).toBe(300);
    expect(at(equal, 0)).toBe(200);
    expect(at(equal, 1.5)).toBe(400);
    expect(at(equal, -0.5)).toBe(200);
    expect(at(equal, Number.NaN)).toBe(200);
  });

  it('decorrelated jitter: between base and 3 × the previous delay (base before the first), capped', () => {
    const decorrelated = exponentialBackoff({ initialMs: 100, maxMs: 1_000, jitter: 'decorrelated' });
    // First retry: previous counts as base, so between 100 and 300.
    expect(at(decorrelated, 0.5, 0, 1)).toBe(200);
    expect(at(decorrelated, 0.5, 50, 1)).toBe(200);
    // 3 × 200 = 600: between 100 and 600.
    expect(at(decorrelated, 0.5, 200, 2)).toBe(350);
    // 3 × 1000 is past the cap: between 100 and 1000.
    expect(at(decorrelated, 0.5, 1_000, 5)).toBe(550);
    expect(at(decorrelated, 1, 1_000, 5)).toBe(1_000);
  });

  it('decorrelated jitter stays at the cap where base + (cap − base) rounds past it', () => {
    // In binary floating point 0.3 + (0.9 − 0.3) is 0.9000000000000001: a random of 1 (how one
    // of 1 or more is read) would land just past maxMs without the final clamp.
    expect(0.3 + (0.9 - 0.3)).toBeGreaterThan(0.9);
    const decorrelated = exponentialBackoff({ initialMs: 0.3, maxMs: 0.9, jitter: 'decorrelated' });
    expect(at(decorrelated, 1, 0.9, 2)).toBe(0.9);
    expect(at(decorrelated, 7, 0.9, 2)).toBe(0.9);
  });

  it('no jitter: base · factor^(retry−1), capped; a zero base stays 0 even when factor^retry overflows', () => {
    const none = exponentialBackoff({ ...base, jitter: 'none' });
    expect([1, 2, 3, 7, 8].map((n) => at(none, 0.5, 0, n))).toEqual([100, 200, 400, 6_400, 10_000]);
    expect(at(none, 0.5, 0, 5_000)).toBe(10_000);
    const zero = exponentialBackoff({ initialMs: 0, maxMs: 1_000, jitter: 'none' });
    expect(2 ** 4_999).toBe(Infinity); // 0 · Infinity would be NaN
    expect(at(zero, 0.5, 0, 5_000)).toBe(0);
  });

  it('names itself and the option in its errors', () => {
    expect(() => exponentialBackoff(5 as never)).toThrow(TypeError);
    expect(() => exponentialBackoff(5 as never)).toThrow(/exponentialBackoff/);
    expect(() => exponentialBackoff({ initialMs: -1 })).toThrow(RangeError);
    expect(() => exponentialBackoff({ initialMs: -1 })).toThrow(/"initialMs".*-1/);
    // Not "initialMs (100) must not exceed maxMs (-1)": the bad option is the one named first.
    expect(() => exponentialBackoff({ maxMs: -1 })).toThrow(RangeError);
    expect(() => exponentialBackoff({ maxMs: -1 })).toThrow(/option "maxMs"/);
    expect(exponentialBackoff({ initialMs: 0 }).maxMs).toBe(30_000);
  });
});

describe('retry({ backoff }) accepts any object with delayMs() and a numeric maxMs, nothing else', () => {
  const delayMs = () => 1;
  it.each([
    ['null', null],
    ['a number', 5],
    ['an object without maxMs', { delayMs }],
    ['an object whose maxMs is a string', { delayMs, maxMs: '5' }],
    ['an object without delayMs', { maxMs: 5 }],
    ['a function carrying both', Object.assign(() => 1, { delayMs, maxMs: 5 })],
  ])('rejects %s with a TypeError naming "backoff"', (_, backoff) => {
    expect(() => retry({ maxRetries: 1, backoff: backoff as never })).toThrow(TypeError);
    expect(() => retry({ maxRetries: 1, backoff: backoff as never })).toThrow(/"backoff"/);
  });

  it('takes a hand-written Backoff', () => {
    expect(retry({ maxRetries: 1, backoff: { maxMs: 5, delayMs } }).maxRetries).toBe(1);
  });
});
