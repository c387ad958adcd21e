import { describe, expect, it } from 'vitest';
import {
  bucketAvailable,
  bucketFull,
  bucketHas,
  bucketRetryAfterMs,
  bucketTokens,
  levelAfterTake,
} from '../../src/rate-limit/bucket-rule.js';

// The pure rule, on cases whose answers follow from decimal arithmetic alone. Another
// implementation of the rule (e.g. a script in a shared store) can run the same cases.

const perMs = (refillPerSecond: number) => refillPerSecond / 1000;
const msPerToken = (refillPerSecond: number) => 1000 / refillPerSecond;

describe('bucket rule', () => {
  it('a never-used bucket (capacity, −∞) is full and grants up to capacity', () => {
    expect(bucketTokens(2, -Infinity, 115, perMs(7))).toBe(Infinity);
    expect(bucketFull(2, -Infinity, 115, 2, perMs(7))).toBe(true);
    expect(bucketHas(2, -Infinity, 115, 2, perMs(7))).toBe(true);
    expect(levelAfterTake(2, -Infinity, 115, 1, 2, perMs(7))).toBe(1);
    expect(bucketAvailable(2, -Infinity, 115, 2, perMs(7))).toBe(2);
  });

  it('capacity 2, rate 7, 115 ms in: two immediate grants, then none', () => {
    const rate = perMs(7);
    let level = levelAfterTake(2, -Infinity, 115, 1, 2, rate);
    let at = 115;
    expect(level).toBe(1);
    expect(bucketHas(level, at, 115, 1, rate)).toBe(true);
    level = levelAfterTake(level, at, 115, 1, 2, rate);
    at = 115;
    expect(level).toBe(0);
    expect(bucketHas(level, at, 115, 1, rate)).toBe(false);
    expect(bucketAvailable(level, at, 115, 2, rate)).toBe(0);
    // One token takes 1000/7 = 142.857… ms: due at 115 + 143 = 258 ms, not at 257.
    expect(bucketRetryAfterMs(level, at, 1, 115, 0, rate, msPerToken(7))).toBe(143);
    expect(bucketHas(level, at, 257, 1, rate)).toBe(false);
    expect(bucketHas(level, at, 258, 1, rate)).toBe(true);
  });

  it('capacity 3, rate 0.3, drained: 3 tokens exactly 10 s later (the rounded rate computes 2.9999999999999996)', () => {
    const rate = perMs(0.3);
    expect(bucketTokens(0, 0, 10_000, rate)).toBeLessThan(3);
    expect(bucketHas(0, 0, 10_000, 3, rate)).toBe(true);
    expect(bucketHas(0, 0, 9_999, 3, rate)).toBe(false);
    expect(bucketAvailable(0, 0, 10_000, 3, rate)).toBe(3);
    expect(bucketAvailable(0, 0, 9_999, 3, rate)).toBe(2);
    expect(bucketRetryAfterMs(0, 0, 3, 0, 0, rate, msPerToken(0.3))).toBe(10_000);
    // The level a grant within the tolerance leaves is a hair below 0, never below −n·2^-36.
    const level = levelAfterTake(0, 0, 10_000, 3, 3, rate);
    expect(level).toBeLessThanOrEqual(0);
    expect(level).toBeGreaterThanOrEqual(-3 * 2 ** -36);
    // …and full means full, without tolerance.
    expect(bucketFull(0, 0, 10_000, 3, rate)).toBe(false);
    expect(bucketFull(0, 0, 10_001, 3, rate)).toBe(true);
  });

  it('the tolerance is n·2^-36: a request short by more is refused, one short by less is granted', () => {
    const short = (by: number) => bucketHas(1 - by, 0, 0, 1, 1);
    expect(short(2 ** -37)).toBe(true);
    expect(short(2 ** -36)).toBe(true);
    expect(short(2 ** -35)).toBe(false);
    expect(short(1e-9)).toBe(false);
  });

  it('at Date.now() magnitudes (1.7e12 ms) and with a backward-jump offset', () => {
    const at = 1.7e12 + 0.25;
    const rate = perMs(10);
    // 10/s: a token per 100 ms.
    expect(bucketHas(0, at, at + 99, 1, rate)).toBe(false);
    expect(bucketHas(0, at, at + 100, 1, rate)).toBe(true);
    expect(bucketRetryAfterMs(0, at, 1, at, 0, rate, msPerToken(10))).toBe(100);
    // The reading is 5 s behind the effective time: the offset puts it back.
    expect(bucketRetryAfterMs(0, at, 1, at - 5000, 5000, rate, msPerToken(10))).toBe(100);
  });

  it('uncapped accrual for waiters asking for more than capacity in total', () => {
    const rate = perMs(1);
    // Capacity 2, empty at 0; waiters ahead reserved 2, this one wants 1 more: 3 s.
    expect(bucketRetryAfterMs(0, 0, 3, 0, 0, rate, msPerToken(1))).toBe(3000);
    expect(bucketRetryAfterMs(0, 0, 3, 1000.5, 0, rate, msPerToken(1))).toBe(2000);
  });

  it('a clock reading before `at` earns nothing', () => {
    expect(bucketTokens(0.5, 100, 40, perMs(7))).toBe(0.5);
    expect(bucketTokens(0.5, 100, 100, perMs(7))).toBe(0.5);
  });
});
