import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import { CircuitOpenError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, track } from '../helpers.js';
import { boom, failTimes, harness } from './harness.js';

// One test per peer bug (see /work/shared/research/peer-failure-modes.md), named after it.

describe('regressions from peer libraries', () => {
  it('cockatiel#64: a time window idle longer than windowMs is empty (no stale failures)', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.5, windowMs: 1000, minimumThroughput: 3 });
    await h.fail();
    await h.fail();
    await h.clock.advance(1000); // idle, no calls at all
    expect(h.breaker.stats.calls).toBe(0);
    await h.fail();
    expect(h.breaker.state).toBe('closed');
  });

  it('vertx-circuit-breaker#18: a call longer than the window is counted when it completes', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 1, windowMs: 100, minimumThroughput: 1 });
    const long = h.start();
    await h.clock.advance(250);
    long.reject(boom);
    await flush();
    expect(h.breaker.state).toBe('open');
  });

  it('opossum#119: half-open does not let every concurrent caller through', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, halfOpenProbes: 3 });
    await h.fail();
    await h.clock.advance(100);
    const callers = Array.from({ length: 50 }, () => h.start());
    expect(h.calls).toBe(1 + 3);
    await flush();
    const rejected = callers.filter((c) => c.tracked.error instanceof CircuitOpenError);
    expect(rejected).toHaveLength(47); // rejected at once, nobody waits behind the probes
  });

  it('resilience4j#935: a probe that never settles cannot wedge half-open', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(100);
    const hung = h.start();
    expect(hung.admitted).toBe(true);
    await h.clock.advance(99);
    const waiting = h.start();
    expect(waiting.admitted).toBe(false);
    await flush();
    expect((waiting.tracked.error as CircuitOpenError).retryAfterMs).toBe(1);
    await h.clock.advance(1);
    expect((await h.succeed('second probe')).value).toBe('second probe');
    expect(h.breaker.state).toBe('closed');
    hung.reject(boom); // far too late: ignored
    await flush();
    expect(hung.tracked.error).toBe(boom);
    expect(h.breaker.state).toBe('closed');
    expect(h.clock.pending).toBe(0);
  });

  it('opossum#381: a slow call admitted while closed cannot flip the state when it lands in half-open', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    const slow = h.start(); // admitted while closed
    await h.fail(); // opens
    await h.clock.advance(100);
    const probe = h.start(); // half-open
    slow.reject(boom);
    await flush();
    expect(h.breaker.state).toBe('half-open');
    probe.resolve('ok');
    await flush();
    expect(h.breaker.state).toBe('closed');
  });

  it('opossum#385: threshold+1 failures in the same tick still reach half-open', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 100, consecutiveFailures: 3, clock });
    const failing = Array.from({ length: 4 }, () => track(breaker.execute(() => Promise.reject(boom))));
    await flush();
    expect(failing.every((t) => t.error === boom)).toBe(true);
    expect(breaker.state).toBe('open');
    await clock.advance(100);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(() => 'probe')).resolves.toBe('probe');
    expect(breaker.state).toBe('closed');
  });

  it('opossum#580: a busy loop that only advances the injected clock still gets a probe (no timers)', async () => {
    let now = 0;
    const clock = {
      now: () => now,
      setTimeout: () => {
        throw new Error('the breaker must not create timers');
      },
      clearTimeout: () => {},
    };
    const breaker = circuitBreaker({ halfOpenAfterMs: 100, consecutiveFailures: 1, clock });
    await breaker.execute(() => Promise.reject(boom)).catch(() => {});
    let admitted = 0;
    for (let i = 0; i < 150; i++) {
      now++;
      await breaker
        .execute(() => {
          admitted++;
          throw boom;
        })
        .catch(() => {});
    }
    expect(admitted).toBe(1); // the probe at t=100; it failed, so open again until 200
  });

  it('cockatiel#113 / opossum#720: a restored breaker shares no state and honours elapsed open time', async () => {
    const h = harness({ halfOpenAfterMs: 1000, consecutiveFailures: 2 });
    await h.fail();
    const closedSnapshot = h.breaker.toJSON();
    const twin = harness({ halfOpenAfterMs: 1000, consecutiveFailures: 2, initialState: closedSnapshot });
    await h.fail();
    expect(h.breaker.state).toBe('open');
    expect(twin.breaker.state).toBe('closed');
    expect(twin.breaker.stats.consecutiveFailures).toBe(1);

    await h.clock.advance(700);
    const openSnapshot = h.breaker.toJSON();
    const later = harness({ halfOpenAfterMs: 1000, consecutiveFailures: 2, initialState: openSnapshot }, 123_456);
    await later.clock.advance(299);
    expect((await later.succeed()).error).toBeInstanceOf(CircuitOpenError);
    await later.clock.advance(1);
    expect((await later.succeed()).value).toBe('ok'); // probe admitted after the remaining 300 ms
  });

  it('opossum#824: an option set to 0 is honoured or rejected, never silently defaulted', async () => {
    // Rejected where 0 is meaningless:
    for (const [key, extra] of [
      ['halfOpenAfterMs', {}],
      ['consecutiveFailures', {}],
      ['halfOpenProbes', {}],
      ['probeTimeoutMs', {}],
      ['failureRatio', { windowCalls: 3 }],
      ['windowMs', { failureRatio: 0.5 }],
      ['windowCalls', { failureRatio: 0.5 }],
      ['windowBuckets', { failureRatio: 0.5, windowMs: 100 }],
      ['slowCallRatio', { windowCalls: 3, slowCallMs: 5 }],
    ] as const) {
      for (const value of [0, -1, NaN, Infinity]) {
        expect(() => circuitBreaker({ halfOpenAfterMs: 100, ...extra, [key]: value }), `${key}=${value}`).toThrow(
          new RegExp(`"${key}".*${String(value)}`),
        );
      }
    }
    // Honoured where 0 means something:
    const h = harness({ halfOpenAfterMs: 100, windowCalls: 2, minimumThroughput: 0, slowCallMs: 0, slowCallRatio: 1 });
    const call = h.start();
    await h.clock.advance(1);
    call.resolve(1);
    await flush();
    expect(h.breaker.state).toBe('open'); // 1 ms > slowCallMs 0, and minimumThroughput 0
  });

  it('cockatiel executor: a throwing listener never changes an outcome nor leaks an unhandled rejection', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    for (const event of ['success', 'failure', 'rejected', 'stateChange'] as const) {
      h.breaker.on(event, () => {
        throw new Error(`listener ${event}`);
      });
    }
    expect((await h.succeed('v')).value).toBe('v');
    expect((await h.fail()).error).toBe(boom);
    expect(h.breaker.state).toBe('open');
    expect((await h.succeed()).error).toBeInstanceOf(CircuitOpenError);
    await h.clock.advance(100);
    expect((await h.succeed('p')).value).toBe('p');
    expect(h.breaker.state).toBe('closed');
  });

  it('Hystrix#1541: reading state has no side effects', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await failTimes(h, 1);
    await h.clock.advance(100);
    for (let i = 0; i < 5; i++) expect(h.breaker.state).toBe('half-open');
    void h.breaker.stats;
    expect(h.transitions).toEqual(['closed->open']); // the transition happens when a call arrives
    expect((await h.succeed()).value).toBe('ok');
    expect(h.transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });
});
