import { describe, expect, it } from 'vitest';
import { constantBackoff, retry, retryBudget } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

describe('retryBudget', () => {
  it('allows minPerSecond·window + ratio·calls retries, then none', () => {
    const clock = new TestClock();
    const budget = retryBudget({ ratio: 0.5, minPerSecond: 1, windowMs: 2000, clock });
    for (let i = 0; i < 10; i++) budget.recordCall();
    // 1/s · 2 s + 0.5 · 10 = 7
    let granted = 0;
    while (budget.tryRetry() && granted < 100) granted++;
    expect(granted).toBe(7);
    expect(budget.stats).toEqual({ calls: 10, retries: 7, allowed: 7 });
  });

  it('forgets calls and retries older than the window', async () => {
    const clock = new TestClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1000, clock });
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(999);
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(1);
    expect(budget.tryRetry()).toBe(true);
    await clock.advance(50_000); // idle far longer than the window
    expect(budget.stats).toEqual({ calls: 0, retries: 0, allowed: 1 });
  });

  it('a clock going backwards neither credits nor locks out', () => {
    const clock = new TestClock(10_000);
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1000, clock });
    expect(budget.tryRetry()).toBe(true);
    clock.jump(-5000);
    expect(budget.tryRetry()).toBe(false);
    clock.jump(6000);
    expect(budget.tryRetry()).toBe(true);
  });

  it('starts its window at its first use, not at time 0', async () => {
    const clock = new TestClock(50);
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1000, clock });
    expect(budget.tryRetry()).toBe(true);
    await clock.advance(999);
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(1);
    expect(budget.tryRetry()).toBe(true);
  });

  it('a clock going backwards re-bases the window there: what was taken stays counted one window from the new time', async () => {
    const clock = new TestClock(10_000);
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1000, clock });
    expect(budget.tryRetry()).toBe(true);
    clock.jump(-5050); // not a whole number of 100 ms buckets
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(999);
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(1);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.stats).toEqual({ calls: 0, retries: 1, allowed: 1 });
  });

  it('forgets a window after any idle, however long, in at most ten bucket clears', () => {
    const clock = new TestClock();
    const budget = retryBudget({ ratio: 0.5, minPerSecond: 0, windowMs: 1000, clock });
    budget.recordCall();
    budget.recordCall();
    expect(budget.tryRetry()).toBe(true);
    // 2^52 ms at 100 ms a bucket: clearing one bucket per step elapsed would never finish.
    clock.jump(2 ** 52);
    expect(budget.stats).toEqual({ calls: 0, retries: 0, allowed: 0 });
    budget.recordCall();
    budget.recordCall();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });

  it('defaults to 20 % of calls plus 10 a second over 10 s, and names itself and its options in errors', () => {
    expect(retryBudget().stats).toEqual({ calls: 0, retries: 0, allowed: 100 });
    expect(() => retryBudget(5 as never)).toThrow(/retryBudget options must be an object/);
    expect(() => retryBudget({ clock: {} as never })).toThrow(/"clock"/);
  });

  it('stops a retry policy from amplifying load on a failing downstream', async () => {
    const clock = new TestClock();
    const budget = retryBudget({ ratio: 0.1, minPerSecond: 0, clock });
    const policy = retry({ maxRetries: 3, backoff: constantBackoff(0), budget, clock });
    let exhausted = 0;
    policy.on('budgetExhausted', () => exhausted++);
    let downstreamCalls = 0;
    const calls = [];
    for (let i = 0; i < 100; i++) {
      calls.push(
        track(
          policy.execute(() => {
            downstreamCalls++;
            return Promise.reject(new Error('down'));
          }),
        ),
      );
    }
    await clock.advance(0);
    expect(calls.every((c) => c.status === 'rejected')).toBe(true);
    // 100 calls + at most 10 % retries, instead of 400 without a budget.
    expect(downstreamCalls).toBe(110);
    // Every call ends on a denied retry: 90 on their first retry, the 10 granted ones on their second.
    expect(exhausted).toBe(100);
  });

  it.each([
    [{ ratio: 1.5 }, /"ratio"/],
    [{ ratio: -0.1 }, /"ratio"/],
    [{ minPerSecond: -1 }, /"minPerSecond"/],
    [{ windowMs: 0 }, /"windowMs"/],
  ])('rejects %j', (options, message) => {
    expect(() => retryBudget(options)).toThrow(message);
  });

  it.each<[string, unknown]>([
    ['an empty object', {}],
    ['null', null],
    ['a number', 5],
    ['an object without tryRetry', { recordCall: () => {} }],
    ['an object without recordCall', { tryRetry: () => true }],
    ['an object whose recordCall is not a function', { recordCall: 1, tryRetry: () => true }],
    ['a function carrying both', Object.assign(() => {}, { recordCall: () => {}, tryRetry: () => true })],
  ])('retry rejects %s as a budget with a TypeError naming "budget"', (_, budget) => {
    expect(() => retry({ maxRetries: 1, budget: budget as never })).toThrow(TypeError);
    expect(() => retry({ maxRetries: 1, budget: budget as never })).toThrow(/"budget"/);
  });

  it('retry takes a hand-written budget', async () => {
    let calls = 0;
    let asked = 0;
    const budget = { recordCall: () => void calls++, tryRetry: () => (asked++, false), stats: { calls: 0, retries: 0, allowed: 0 } };
    const clock = new TestClock();
    const call = track(retry({ maxRetries: 2, budget, clock }).execute(() => Promise.reject(new Error('down'))));
    await clock.advance(0);
    expect(call.status).toBe('rejected');
    expect([calls, asked]).toEqual([1, 1]);
  });
});
