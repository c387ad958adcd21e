import { describe, expect, it } from 'vitest';
import { ConsecutiveFailures } from '../../src/circuit-breaker/consecutive-failures.js';
import { readCircuitBreakerOptions, type CircuitBreakerOptions, type CircuitBreakerSnapshot } from '../../src/circuit-breaker/options.js';
import { tripRuleFor, type TripRule } from '../../src/circuit-breaker/trip-rule.js';
import { WindowRatio } from '../../src/circuit-breaker/window-ratio.js';
import { TestClock } from '../../src/testing/index.js';

const ruleFor = (options: Omit<CircuitBreakerOptions, 'halfOpenAfterMs'>): TripRule =>
  tripRuleFor(readCircuitBreakerOptions({ halfOpenAfterMs: 1000, ...options }));

/** Records `outcomes` ('F' failure, 'S' success, 'W' slow success) at time 0; the trip answers. */
function feed(rule: TripRule, outcomes: string): boolean[] {
  return [...outcomes].map((o) => rule.record(0, o === 'F', o === 'W'));
}

describe('tripRuleFor', () => {
  it('picks one rule from the options: consecutive failures without a window, a ratio over a count or a time window', () => {
    const a = ruleFor({});
    expect(a).toBeInstanceOf(ConsecutiveFailures);
    expect([a.windowKind, a.needsTime]).toEqual(['none', false]);
    const calls = ruleFor({ failureRatio: 0.5, windowCalls: 10 });
    expect(calls).toBeInstanceOf(WindowRatio);
    expect([calls.windowKind, calls.needsTime]).toEqual(['calls', false]);
    const time = ruleFor({ failureRatio: 0.5, windowMs: 1000 });
    expect(time).toBeInstanceOf(WindowRatio);
    expect([time.windowKind, time.needsTime]).toEqual(['time', true]);
  });
});

describe('ConsecutiveFailures', () => {
  it('trips at the limit; a success ends the run, and the counts run until reset', () => {
    const rule = ruleFor({ consecutiveFailures: 3 });
    expect(feed(rule, 'FFSFF')).toEqual([false, false, false, false, false]);
    expect(rule.record(0, true, false)).toBe(true);
    expect(rule.counts(new TestClock())).toEqual({ calls: 6, failures: 5, slowCalls: 0, consecutiveFailures: 3 });
    rule.reset();
    expect(rule.counts(new TestClock())).toEqual({ calls: 0, failures: 0, slowCalls: 0, consecutiveFailures: 0 });
  });
});

describe('WindowRatio', () => {
  // resilience4j's documentation of minimumNumberOfCalls: "If minimumNumberOfCalls is 10, then
  // at least 10 calls must be recorded, before the failure rate can be calculated. If only 9
  // calls have been evaluated the CircuitBreaker will not transition to open even if all 9
  // calls have failed."
  it('does not trip on 9 failures of 9 when 10 calls are the minimum; the 10th call, a success, trips it (90 % ≥ 50 %)', () => {
    const rule = ruleFor({ failureRatio: 0.5, windowCalls: 100, minimumThroughput: 10 });
    expect(feed(rule, 'FFFFFFFFF')).not.toContain(true);
    expect(rule.record(0, false, false)).toBe(true);
  });

  it('trips when the ratio is reached, not only exceeded', () => {
    const rule = ruleFor({ failureRatio: 0.5, windowCalls: 4, minimumThroughput: 4 });
    expect(feed(rule, 'SSFF')).toEqual([false, false, false, true]);
  });

  it('with consecutiveFailures and a slow-call ratio, failures trip by count and slowness by ratio', () => {
    const byCount = ruleFor({ consecutiveFailures: 2, slowCallMs: 10, slowCallRatio: 0.5, windowCalls: 10, minimumThroughput: 10 });
    expect(feed(byCount, 'FF')).toEqual([false, true]);
    const byRatio = ruleFor({ consecutiveFailures: 2, slowCallMs: 10, slowCallRatio: 0.5, windowCalls: 4, minimumThroughput: 4 });
    expect(feed(byRatio, 'WSFW')).toEqual([false, false, false, true]);
    expect(byRatio.counts(new TestClock())).toEqual({ calls: 4, failures: 1, slowCalls: 2, consecutiveFailures: 0 });
  });

  it('restores a window of its own kind, and starts a window of another kind fresh (the options changed between deploys)', () => {
    const clock = new TestClock();
    const byTime = () => ruleFor({ failureRatio: 0.5, windowMs: 1000, minimumThroughput: 1 });
    const byCount = () => ruleFor({ failureRatio: 0.5, windowCalls: 10, minimumThroughput: 1 });
    const [time, count] = [byTime(), byCount()];
    feed(time, 'FWF');
    feed(count, 'FWF');
    const timeSnapshot = time.snapshot(0) as CircuitBreakerSnapshot;
    const countSnapshot = count.snapshot(0) as CircuitBreakerSnapshot;
    const everything = { calls: 3, failures: 2, slowCalls: 1, consecutiveFailures: 1 };

    const countAgain = byCount();
    countAgain.restore(countSnapshot, 0);
    expect(countAgain.counts(clock)).toEqual(everything);
    const timeAgain = byTime();
    timeAgain.restore(timeSnapshot, 0);
    expect(timeAgain.counts(clock)).toEqual(everything);

    // The streak is the breaker's, not the window's: it carries over.
    const countFromTime = byCount();
    countFromTime.restore(timeSnapshot, 0);
    expect(countFromTime.counts(clock)).toEqual({ calls: 0, failures: 0, slowCalls: 0, consecutiveFailures: 1 });
    const timeFromCount = byTime();
    timeFromCount.restore(countSnapshot, 0);
    expect(timeFromCount.counts(clock)).toEqual({ calls: 0, failures: 0, slowCalls: 0, consecutiveFailures: 1 });
  });

  it('a restored time window retires its buckets as they age, slow calls included', () => {
    // 10 buckets of 100 ms: a slow call at 0 and a success at 500, restored at 500.
    const options = { failureRatio: 0.5, windowMs: 1000, minimumThroughput: 1 } as const;
    const original = ruleFor(options);
    original.record(0, false, true);
    original.record(500, false, false);
    const restored = ruleFor(options);
    restored.restore(original.snapshot(500) as CircuitBreakerSnapshot, 500);
    expect(restored.counts(new TestClock(500))).toEqual({ calls: 2, failures: 0, slowCalls: 1, consecutiveFailures: 0 });
    // At 1050 the bucket of 0 has left the window, the bucket of 500 has not.
    expect(restored.counts(new TestClock(1050))).toEqual({ calls: 1, failures: 0, slowCalls: 0, consecutiveFailures: 0 });
  });
});
