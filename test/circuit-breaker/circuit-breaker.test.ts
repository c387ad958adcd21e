import { describe, expect, it } from 'vitest';
import {
  circuitBreaker,
  CIRCUIT_TRANSITIONS,
  CircuitBreaker,
  type CircuitBreakerSnapshot,
  type CircuitState,
} from '../../src/circuit-breaker/index.js';
import {
  CircuitIsolatedError,
  CircuitOpenError,
  constantBackoff,
  exponentialBackoff,
  pipeline,
  timeout,
  TimeoutError,
  type Clock,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, getEventListeners, track } from '../helpers.js';
import { boom, failTimes, harness } from './harness.js';

describe('circuitBreaker options', () => {
  const bad: Array<[string, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
    ['missing halfOpenAfterMs', {}, TypeError, /"halfOpenAfterMs".*undefined/],
    ['halfOpenAfterMs 0', { halfOpenAfterMs: 0 }, RangeError, /"halfOpenAfterMs".*received 0/],
    ['halfOpenAfterMs negative', { halfOpenAfterMs: -1 }, RangeError, /"halfOpenAfterMs".*-1/],
    ['halfOpenAfterMs NaN', { halfOpenAfterMs: NaN }, RangeError, /"halfOpenAfterMs".*NaN/],
    ['halfOpenAfterMs Infinity', { halfOpenAfterMs: Infinity }, RangeError, /"halfOpenAfterMs".*Infinity/],
    ['halfOpenAfterMs not a backoff', { halfOpenAfterMs: { maxMs: 5 } }, TypeError, /"halfOpenAfterMs".*Backoff/],
    ['halfOpenAfterMs backoff maxMs 0', { halfOpenAfterMs: constantBackoff(0) }, RangeError, /"halfOpenAfterMs.maxMs".*0/],
    ['consecutiveFailures 0', { halfOpenAfterMs: 1, consecutiveFailures: 0 }, RangeError, /"consecutiveFailures".*0/],
    ['consecutiveFailures 1.5', { halfOpenAfterMs: 1, consecutiveFailures: 1.5 }, RangeError, /"consecutiveFailures".*1\.5/],
    ['consecutiveFailures string', { halfOpenAfterMs: 1, consecutiveFailures: '5' }, TypeError, /"consecutiveFailures".*"5"/],
    ['failureRatio without window', { halfOpenAfterMs: 1, failureRatio: 0.5 }, TypeError, /"failureRatio" \(0\.5\) needs a window/],
    ['failureRatio 0', { halfOpenAfterMs: 1, failureRatio: 0, windowCalls: 5 }, RangeError, /"failureRatio".*received 0/],
    ['failureRatio 1.5', { halfOpenAfterMs: 1, failureRatio: 1.5, windowCalls: 5 }, RangeError, /"failureRatio".*1\.5/],
    ['failureRatio -0.1', { halfOpenAfterMs: 1, failureRatio: -0.1, windowCalls: 5 }, RangeError, /"failureRatio".*-0\.1/],
    [
      'both windows',
      { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 5, windowMs: 100 },
      TypeError,
      /"windowMs" \(100\) and "windowCalls" \(5\)/,
    ],
    [
      'both trip modes',
      { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 5, consecutiveFailures: 3 },
      TypeError,
      /"consecutiveFailures" \(3\) and "failureRatio" \(0\.5\)/,
    ],
    ['window alone', { halfOpenAfterMs: 1, windowMs: 100 }, TypeError, /"windowMs" \(100\) needs "failureRatio"/],
    ['windowMs 0', { halfOpenAfterMs: 1, failureRatio: 0.5, windowMs: 0 }, RangeError, /"windowMs".*0/],
    ['windowCalls 0', { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 0 }, RangeError, /"windowCalls".*0/],
    ['windowBuckets without windowMs', { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 3, windowBuckets: 4 }, TypeError, /"windowBuckets" \(4\)/],
    ['windowBuckets 0', { halfOpenAfterMs: 1, failureRatio: 0.5, windowMs: 10, windowBuckets: 0 }, RangeError, /"windowBuckets".*0/],
    ['minimumThroughput without window', { halfOpenAfterMs: 1, minimumThroughput: 3 }, TypeError, /"minimumThroughput" \(3\)/],
    [
      'minimumThroughput above windowCalls',
      { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 3, minimumThroughput: 4 },
      RangeError,
      /"minimumThroughput" \(4\).*"windowCalls" \(3\)/,
    ],
    ['minimumThroughput -1', { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 3, minimumThroughput: -1 }, RangeError, /"minimumThroughput".*-1/],
    ['slowCallMs alone', { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 3, slowCallMs: 10 }, TypeError, /"slowCallMs" \(10\) needs "slowCallRatio"/],
    ['slowCallRatio alone', { halfOpenAfterMs: 1, failureRatio: 0.5, windowCalls: 3, slowCallRatio: 0.5 }, TypeError, /"slowCallRatio" \(0\.5\) needs "slowCallMs"/],
    ['slow calls without window', { halfOpenAfterMs: 1, slowCallMs: 10, slowCallRatio: 0.5 }, TypeError, /"slowCallRatio" \(0\.5\) needs a window/],
    ['slowCallRatio 2', { halfOpenAfterMs: 1, windowCalls: 3, slowCallMs: 10, slowCallRatio: 2 }, RangeError, /"slowCallRatio".*2/],
    ['slowCallMs -1', { halfOpenAfterMs: 1, windowCalls: 3, slowCallMs: -1, slowCallRatio: 1 }, RangeError, /"slowCallMs".*-1/],
    ['halfOpenProbes 0', { halfOpenAfterMs: 1, halfOpenProbes: 0 }, RangeError, /"halfOpenProbes".*0/],
    ['probeTimeoutMs 0', { halfOpenAfterMs: 1, probeTimeoutMs: 0 }, RangeError, /"probeTimeoutMs".*0/],
    ['handle not a function', { halfOpenAfterMs: 1, handle: 1 }, TypeError, /"handle".*1/],
    ['clock without timers', { halfOpenAfterMs: 1, clock: { now: () => 0 } }, TypeError, /"clock"/],
    ['empty name', { halfOpenAfterMs: 1, name: '' }, TypeError, /"name"/],
    ['initialState garbage', { halfOpenAfterMs: 1, initialState: 'open' }, TypeError, /"initialState".*"open"/],
  ];
  for (const [title, options, type, message] of bad) {
    it(`rejects ${title}`, () => {
      let thrown: unknown;
      try {
        circuitBreaker(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(type);
      expect((thrown as Error).message).toMatch(message);
    });
  }

  it('rejects a non-object', () => {
    expect(() => circuitBreaker(undefined as never)).toThrow(TypeError);
    expect(() => circuitBreaker(5 as never)).toThrow(/circuitBreaker options must be an object, received 5/);
  });

  it('is a CircuitBreaker policy named after its kind', () => {
    const breaker = circuitBreaker({ halfOpenAfterMs: 100 });
    expect(breaker).toBeInstanceOf(CircuitBreaker);
    expect(breaker.kind).toBe('circuit-breaker');
    expect(breaker.name).toBe('circuit-breaker');
    expect(circuitBreaker({ halfOpenAfterMs: 100, name: 'db' }).name).toBe('db');
    expect(breaker.state).toBe('closed');
  });
});

describe('trip mode A: consecutive failures', () => {
  it('defaults to 5 consecutive failures', async () => {
    const h = harness({ halfOpenAfterMs: 100 });
    await failTimes(h, 4);
    expect(h.breaker.state).toBe('closed');
    await h.fail();
    expect(h.breaker.state).toBe('open');
    expect(h.calls).toBe(5);
  });

  it('a success resets the count', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 2 });
    await h.fail();
    await h.succeed();
    await h.fail();
    expect(h.breaker.state).toBe('closed');
    expect(h.breaker.stats.consecutiveFailures).toBe(1);
    await h.fail();
    expect(h.breaker.state).toBe('open');
  });

  it('rejects while open with CircuitOpenError and the time left, without calling fn', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(30);
    const rejected = await h.succeed();
    expect(rejected.error).toBeInstanceOf(CircuitOpenError);
    expect(rejected.error).not.toBeInstanceOf(CircuitIsolatedError);
    expect((rejected.error as CircuitOpenError).retryAfterMs).toBe(70);
    expect((rejected.error as CircuitOpenError).code).toBe('ERR_CIRCUIT_OPEN');
    expect(h.calls).toBe(1);
  });

  it('half-open after halfOpenAfterMs: a successful probe closes it with a fresh count', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 2 });
    await failTimes(h, 2);
    await h.clock.advance(99);
    expect(h.breaker.state).toBe('open');
    await h.clock.advance(1);
    expect(h.breaker.state).toBe('half-open');
    expect((await h.succeed('probe')).value).toBe('probe');
    expect(h.breaker.state).toBe('closed');
    await h.fail();
    expect(h.breaker.state).toBe('closed');
    expect(h.transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('a failed probe opens it again for another halfOpenAfterMs', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(100);
    await h.fail();
    expect(h.breaker.state).toBe('open');
    await h.clock.advance(99);
    expect((await h.succeed()).error).toBeInstanceOf(CircuitOpenError);
    await h.clock.advance(1);
    expect((await h.succeed()).value).toBe('ok');
    expect(h.transitions).toEqual(['closed->open', 'open->half-open', 'half-open->open', 'open->half-open', 'half-open->closed']);
  });
});

describe('trip mode B: failure ratio', () => {
  it('count window: trips at the ratio once minimumThroughput calls are in', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.5, windowCalls: 4, minimumThroughput: 4 });
    await h.fail();
    await h.fail();
    await h.fail();
    expect(h.breaker.state).toBe('closed'); // 3 calls < minimumThroughput
    await h.succeed();
    expect(h.breaker.state).toBe('open'); // 3/4 ≥ 0.5
  });

  it('count window: old calls leave the window', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.5, windowCalls: 4, minimumThroughput: 4 });
    await h.fail();
    for (let i = 0; i < 4; i++) await h.succeed();
    await h.fail();
    expect(h.breaker.stats).toMatchObject({ calls: 4, failures: 1, failureRatio: 0.25 });
    await h.fail();
    expect(h.breaker.state).toBe('open');
  });

  it('count window: minimumThroughput defaults to windowCalls (capped at 100)', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.1, windowCalls: 3 });
    await h.fail();
    await h.fail();
    expect(h.breaker.state).toBe('closed');
    await h.succeed();
    expect(h.breaker.state).toBe('open');
  });

  it('time window: counts what completed in the last windowMs', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.5, windowMs: 1000, windowBuckets: 10, minimumThroughput: 3 });
    await h.fail();
    await h.fail();
    await h.clock.advance(1000); // both forgotten
    expect(h.breaker.stats.calls).toBe(0);
    await h.fail();
    await h.succeed();
    expect(h.breaker.state).toBe('closed');
    await h.fail();
    expect(h.breaker.state).toBe('open');
  });

  it('time window default minimumThroughput is 100 (resilience4j)', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.5, windowMs: 1000 });
    await failTimes(h, 99);
    expect(h.breaker.state).toBe('closed');
    await h.fail();
    expect(h.breaker.state).toBe('open');
  });

  it('minimumThroughput 0 is honoured (the first failure can trip)', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 1, windowCalls: 10, minimumThroughput: 0 });
    await h.succeed();
    expect(h.breaker.state).toBe('closed');
    const g = harness({ halfOpenAfterMs: 100, failureRatio: 1, windowCalls: 10, minimumThroughput: 0 });
    await g.fail();
    expect(g.breaker.state).toBe('open');
  });
});

describe('slow calls', () => {
  it('slow successes count towards slowCallRatio', async () => {
    const h = harness({
      halfOpenAfterMs: 100,
      failureRatio: 1,
      windowCalls: 4,
      minimumThroughput: 4,
      slowCallMs: 50,
      slowCallRatio: 0.5,
    });
    await h.succeed();
    await h.succeed();
    const a = h.start();
    await h.clock.advance(51);
    a.resolve('late but fine');
    await flush();
    expect(a.tracked.value).toBe('late but fine');
    expect(h.breaker.stats).toMatchObject({ calls: 3, slowCalls: 1, failures: 0 });
    const b = h.start();
    await h.clock.advance(50); // exactly slowCallMs is not slow (resilience4j: slower than)
    b.resolve(1);
    await flush();
    expect(h.breaker.state).toBe('closed');
    const c = h.start();
    await h.clock.advance(60);
    c.resolve(1);
    await flush();
    expect(h.breaker.state).toBe('open'); // window: ok, ok(b), slow(a), slow(c) → 2/4
  });

  it('a slow probe counts as a failed probe', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.5, windowCalls: 1, slowCallMs: 10, slowCallRatio: 1 });
    await h.fail();
    await h.clock.advance(100);
    const probe = h.start();
    await h.clock.advance(11);
    probe.resolve('slow');
    await flush();
    expect(probe.tracked.value).toBe('slow');
    expect(h.breaker.state).toBe('open');
  });
});

describe('half-open', () => {
  it('admits halfOpenProbes at once, closes when all succeed, rejects the rest at once', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, halfOpenProbes: 2 });
    await h.fail();
    await h.clock.advance(100);
    const p1 = h.start();
    const p2 = h.start();
    const extra = h.start();
    expect([p1.admitted, p2.admitted, extra.admitted]).toEqual([true, true, false]);
    await flush();
    expect(extra.tracked.error).toBeInstanceOf(CircuitOpenError);
    expect((extra.tracked.error as CircuitOpenError).retryAfterMs).toBe(100);
    p1.resolve(1);
    await flush();
    expect(h.breaker.state).toBe('half-open');
    // p1's success keeps its slot used: still only p2 may run.
    expect(h.start().admitted).toBe(false);
    p2.resolve(2);
    await flush();
    expect(h.breaker.state).toBe('closed');
  });

  it('an aborted or unhandled probe frees its slot without deciding anything', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, handle: (e) => e !== 'ignored' });
    await h.fail();
    await h.clock.advance(100);
    const controller = new AbortController();
    const aborted = track(h.breaker.execute(() => new Promise((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason))), { signal: controller.signal }));
    expect(h.start().admitted).toBe(false);
    controller.abort('gone');
    await flush();
    expect(aborted.error).toBe('gone');
    expect(h.breaker.state).toBe('half-open');
    const ignored = await h.fail('ignored');
    expect(ignored.error).toBe('ignored');
    expect(h.breaker.state).toBe('half-open');
    await h.succeed();
    expect(h.breaker.state).toBe('closed');
  });

  it('any failed probe reopens it, and the other probes no longer count', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, halfOpenProbes: 2 });
    await h.fail();
    await h.clock.advance(100);
    const p1 = h.start();
    const p2 = h.start();
    p1.reject(boom);
    await flush();
    expect(h.breaker.state).toBe('open');
    p2.resolve('fine');
    await flush();
    expect(p2.tracked.value).toBe('fine');
    expect(h.breaker.state).toBe('open');
  });
});

describe('slow probes', () => {
  it.each([50, 99, 100, 101, 150, 1000])('a probe that fails after %i ms opens it again', async (probeMs) => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(100);
    const probe = h.start();
    expect(probe.admitted).toBe(true);
    await h.clock.advance(probeMs);
    probe.reject(boom);
    await flush();
    expect(probe.tracked.error).toBe(boom);
    expect(h.breaker.state).toBe('open');
    expect(h.transitions).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
    // Open for a full halfOpenAfterMs from the failure, not from the probe's start.
    await h.clock.advance(99);
    expect(h.start().admitted).toBe(false);
  });

  it('a late probe success closes it while its half-open period is still current', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(100);
    const probe = h.start();
    await h.clock.advance(250);
    expect(h.breaker.state).toBe('half-open');
    probe.resolve('late but fine');
    await flush();
    expect(probe.tracked.value).toBe('late but fine');
    expect(h.breaker.state).toBe('closed');
  });

  it('a late probe decides even after another probe took its slot; that one then no longer counts', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(100);
    const slow = h.start();
    await h.clock.advance(100);
    const replacement = h.start(); // the slow probe timed out: its slot goes to a new probe
    expect(replacement.admitted).toBe(true);
    await h.clock.advance(20);
    slow.reject(boom);
    await flush();
    expect(h.breaker.state).toBe('open');
    replacement.resolve('ok'); // admitted in the half-open period that just ended
    await flush();
    expect(replacement.tracked.value).toBe('ok');
    expect(h.breaker.state).toBe('open');
  });

  it('a probe slower than slowCallMs opens it again, however long it took (slowCallMs 4 s, halfOpenAfterMs 5 s, a 5 s probe)', async () => {
    const h = harness({ halfOpenAfterMs: 5000, failureRatio: 1, windowCalls: 1, minimumThroughput: 1, slowCallMs: 4000, slowCallRatio: 1 });
    await h.fail();
    await h.clock.advance(5000);
    const probe = h.start();
    await h.clock.advance(5000);
    probe.resolve('slow');
    await flush();
    expect(probe.tracked.value).toBe('slow');
    expect(h.breaker.state).toBe('open');
  });

  it('a downstream that fails every call after 1.5 s: open and half-open alternate for a minute, never stuck half-open', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000, clock });
    const changes: Array<{ at: number; from: string; to: string }> = [];
    breaker.on('stateChange', (e) => changes.push({ at: clock.now(), from: e.from, to: e.to }));
    const slowFailure = (): Promise<never> =>
      new Promise((_resolve, reject) => clock.setTimeout(() => reject(boom), 1500));
    const calls: Array<ReturnType<typeof track>> = [];
    let admitted = 0;
    const sampled = new Set<string>();
    // A caller every 100 ms for a minute.
    for (let t = 0; t < 60_000; t += 100) {
      calls.push(
        track(
          breaker.execute(() => {
            admitted++;
            return slowFailure();
          }),
        ),
      );
      await clock.advance(100);
      sampled.add(breaker.state);
    }
    await clock.runAll();
    expect(calls.every((c) => c.status === 'rejected')).toBe(true);
    expect(sampled).toContain('open');
    // closed → open, then (open → half-open → open) again and again.
    expect(changes[0]).toMatchObject({ from: 'closed', to: 'open' });
    for (let i = 1; i < changes.length; i++) {
      expect(changes[i]!.from).toBe(changes[i - 1]!.to);
      expect(changes[i]!.to).toBe(changes[i]!.from === 'open' ? 'half-open' : 'open');
    }
    // The calls of 0–400 ms fail at 1.5–1.9 s: open at 1.9 s. Then a cycle every 2.5 s: open
    // 1 s, a probe at 2.9 s, a second one at 3.9 s (the first lost its slot), the first fails at
    // 4.4 s: open again. The last probe starts at 57.9 s, fails at 59.4 s.
    const openedAt = changes.filter((c) => c.to === 'open').map((c) => c.at);
    expect(openedAt).toEqual(Array.from({ length: 24 }, (_, k) => 1900 + 2500 * k));
    const halfOpenSpells = changes.flatMap((c, i) => (c.to === 'half-open' ? [changes[i + 1]!.at - c.at] : []));
    expect(halfOpenSpells).toEqual(Array.from({ length: 23 }, () => 1500));
    // The downstream saw the 19 calls before the first opening and two probes per cycle.
    expect(admitted).toBe(19 + 2 * 23);
  });
});

describe('isolate', () => {
  it('rejects with CircuitIsolatedError until released, ref-counted; release closes with a fresh window', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 3 });
    await h.fail();
    await h.fail();
    const release1 = h.breaker.isolate();
    const release2 = h.breaker.isolate();
    expect(h.breaker.state).toBe('isolated');
    const rejected = await h.succeed();
    expect(rejected.error).toBeInstanceOf(CircuitIsolatedError);
    expect(rejected.error).toBeInstanceOf(CircuitOpenError);
    expect((rejected.error as CircuitIsolatedError).retryAfterMs).toBe(Infinity);
    await h.clock.advance(10_000);
    expect(h.breaker.state).toBe('isolated');
    release1();
    release1(); // idempotent: does not release the second isolation
    expect(h.breaker.state).toBe('isolated');
    release2();
    expect(h.breaker.state).toBe('closed');
    await h.fail();
    await h.fail();
    expect(h.breaker.state).toBe('closed'); // the two failures before isolation are forgotten
    expect(h.transitions).toEqual(['closed->isolated', 'isolated->closed']);
    expect(h.calls).toBe(4);
  });

  it('isolating an open breaker that is due for half-open reports the chain of transitions', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(100);
    const release = h.breaker.isolate();
    expect(h.transitions).toEqual(['closed->open', 'open->half-open', 'half-open->isolated']);
    release();
    expect(h.breaker.state).toBe('closed');
  });

  it('a call admitted before isolation cannot change the state when it settles', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    const running = h.start();
    const release = h.breaker.isolate();
    running.reject(boom);
    await flush();
    expect(running.tracked.error).toBe(boom);
    release();
    expect(h.breaker.state).toBe('closed');
  });
});

describe('events', () => {
  it('emits success, failure (with durationMs), rejected and one stateChange per transition', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, handleResult: (v) => v === 'bad' });
    const log: unknown[] = [];
    h.breaker.on('success', (e) => log.push(['success', e]));
    h.breaker.on('failure', (e) => log.push(['failure', e]));
    h.breaker.on('rejected', (e) => log.push(['rejected', e.reason, e.error instanceof CircuitOpenError]));
    h.breaker.on('stateChange', (e) => log.push(['stateChange', e]));
    const a = h.start();
    await h.clock.advance(7);
    a.resolve('good');
    await flush();
    const b = h.start();
    await h.clock.advance(3);
    b.resolve('bad');
    await flush();
    expect(b.tracked.value).toBe('bad');
    await h.succeed();
    expect(log).toEqual([
      ['success', { durationMs: 7 }],
      ['failure', { durationMs: 3, error: undefined, result: 'bad' }],
      ['stateChange', { from: 'closed', to: 'open' }],
      ['rejected', 'circuit-open', true],
    ]);
  });

  it('a throwing listener changes nothing', async () => {
    const plain = harness({ halfOpenAfterMs: 100, consecutiveFailures: 2 });
    const noisy = harness({ halfOpenAfterMs: 100, consecutiveFailures: 2 });
    for (const event of ['success', 'failure', 'rejected', 'stateChange'] as const) {
      noisy.breaker.on(event, () => {
        throw new Error('listener');
      });
    }
    const script = async (h: typeof plain): Promise<unknown[]> => {
      const out: unknown[] = [];
      const record = (t: { status: string; value: unknown; error: unknown }): void => {
        out.push([t.status, t.value, t.error], h.breaker.state);
      };
      record(await h.succeed());
      record(await h.fail());
      record(await h.fail());
      record(await h.succeed());
      await h.clock.advance(100);
      record(await h.succeed());
      record(await h.fail());
      return out;
    };
    expect(await script(noisy)).toEqual(await script(plain));
    expect(noisy.transitions).toEqual(plain.transitions);
  });

  it('a stateChange listener may call back into the breaker', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    let release: (() => void) | undefined;
    h.breaker.on('stateChange', (e) => {
      if (e.to === 'half-open') release = h.breaker.isolate();
    });
    await h.fail();
    await h.clock.advance(100);
    const t = await h.succeed();
    expect(t.error).toBeInstanceOf(CircuitIsolatedError);
    expect(h.transitions).toEqual(['closed->open', 'open->half-open', 'half-open->isolated']);
    release!();
    expect(h.breaker.state).toBe('closed');
  });

  it('legal transitions: the table', () => {
    expect(CIRCUIT_TRANSITIONS).toEqual({
      closed: ['open', 'isolated'],
      open: ['half-open', 'isolated'],
      'half-open': ['closed', 'open', 'isolated'],
      isolated: ['closed'],
    });
  });
});

describe('handle and handleResult', () => {
  it('errors excluded by handle count neither way', async () => {
    class NotFound extends Error {}
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 2, handle: (e) => !(e instanceof NotFound) });
    await h.fail();
    const nf = new NotFound();
    expect((await h.fail(nf)).error).toBe(nf);
    expect(h.breaker.stats.consecutiveFailures).toBe(1); // not reset either
    await h.fail();
    expect(h.breaker.state).toBe('open');
  });

  it('a throwing handle predicate does not replace the error', async () => {
    const h = harness({
      halfOpenAfterMs: 100,
      consecutiveFailures: 1,
      handle: () => {
        throw new Error('predicate');
      },
    });
    expect((await h.fail()).error).toBe(boom);
    expect(h.breaker.state).toBe('closed');
  });

  it('handleResult results count as failures but are returned', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 2, handleResult: (v) => (v as { status: number }).status >= 500 });
    const r = { status: 503 };
    expect((await h.succeed(r)).value).toBe(r);
    expect((await h.succeed(r)).value).toBe(r);
    expect(h.breaker.state).toBe('open');
  });
});

describe('caller aborts', () => {
  it('are not failures, and the breaker adds no listener to the caller signal', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    const controller = new AbortController();
    const t = track(
      h.breaker.execute(
        (ctx) =>
          new Promise((_, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
          }),
        { signal: controller.signal },
      ),
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1); // fn's own
    controller.abort('user left');
    await flush();
    expect(t.error).toBe('user left');
    expect(h.breaker.state).toBe('closed');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    const quiet = new AbortController();
    await h.breaker.execute(() => 1, { signal: quiet.signal });
    expect(getEventListeners(quiet.signal, 'abort')).toHaveLength(0);
  });

  it('an already-aborted signal rejects with its reason and never calls fn', async () => {
    const h = harness({ halfOpenAfterMs: 100 });
    const reason = { why: 'early' };
    let called = false;
    await expect(
      h.breaker.execute(
        () => {
          called = true;
        },
        { signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(called).toBe(false);
  });
});

describe('halfOpenAfterMs as a Backoff', () => {
  it('repeated openings wait longer; the count resets when it closes', async () => {
    const h = harness({
      halfOpenAfterMs: exponentialBackoff({ initialMs: 100, factor: 2, maxMs: 1000, jitter: 'none' }),
      consecutiveFailures: 1,
    });
    const openFor = async (): Promise<number> => {
      const t = await h.succeed();
      return (t.error as CircuitOpenError).retryAfterMs;
    };
    await h.fail();
    expect(await openFor()).toBe(100);
    await h.clock.advance(100);
    await h.fail(); // probe fails: opening 2
    expect(await openFor()).toBe(200);
    await h.clock.advance(200);
    await h.fail(); // opening 3
    expect(await openFor()).toBe(400);
    await h.clock.advance(400);
    await h.succeed(); // closes: count resets
    expect(h.breaker.state).toBe('closed');
    await h.fail();
    expect(await openFor()).toBe(100);
  });

  it('passes the injected random and survives a backoff that throws', async () => {
    const seen: number[] = [];
    const h = harness({
      halfOpenAfterMs: {
        maxMs: 500,
        delayMs: ({ random }) => {
          const r = random();
          seen.push(r);
          if (seen.length > 1) throw new Error('bad backoff');
          return r * 100;
        },
      },
      random: () => 0.25,
      consecutiveFailures: 1,
    });
    await h.fail();
    expect(((await h.succeed()).error as CircuitOpenError).retryAfterMs).toBe(25);
    await h.clock.advance(25);
    const probe = await h.fail();
    expect(probe.error).toBe(boom); // the backoff's error never replaces the caller's
    expect(((await h.succeed()).error as CircuitOpenError).retryAfterMs).toBe(500);
    expect(seen).toEqual([0.25, 0.25]);
  });

  it('clamps a Backoff delay to 0..maxMs; NaN gives maxMs', async () => {
    const delays = [-5, 0, 2500, NaN, 1000, 999];
    const h = harness({
      halfOpenAfterMs: { maxMs: 1000, delayMs: ({ retry }) => delays[retry - 1]! },
      consecutiveFailures: 1,
    });
    const openings: Array<[number, CircuitState]> = [];
    for (let i = 0; i < delays.length; i++) {
      await h.fail(); // trips, or fails the probe: the next opening
      const { openMs } = h.breaker.toJSON();
      openings.push([openMs, h.breaker.state]);
      await h.clock.advance(openMs);
    }
    expect(openings).toEqual([
      [0, 'half-open'], // -5: no wait at all
      [0, 'half-open'],
      [1000, 'open'], // 2500
      [1000, 'open'], // NaN
      [1000, 'open'],
      [999, 'open'],
    ]);
    expect(h.calls).toBe(delays.length);
  });

  it('a Backoff returning a numeric string (plain JavaScript) opens for that many ms', async () => {
    const h = harness(
      { halfOpenAfterMs: { maxMs: 1000, delayMs: () => '300' as unknown as number }, consecutiveFailures: 1 },
      5000,
    );
    await h.fail();
    expect(((await h.succeed()).error as CircuitOpenError).retryAfterMs).toBe(300);
    expect(h.breaker.toJSON()).toMatchObject({ openMs: 300, openRemainingMs: 300 });
    await h.clock.advance(300);
    expect((await h.succeed()).value).toBe('ok');
  });
});

describe('persisted state', () => {
  it('toJSON/initialState restore an open breaker with the open time left', async () => {
    const h = harness({ halfOpenAfterMs: 1000, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(400);
    const snapshot = JSON.parse(JSON.stringify(h.breaker)) as CircuitBreakerSnapshot;
    expect(snapshot).toMatchObject({ version: 1, state: 'open', openRemainingMs: 600, openMs: 1000 });
    // Another process: its monotonic clock has another origin.
    const other = harness({ halfOpenAfterMs: 1000, consecutiveFailures: 1, initialState: snapshot }, 5_000_000);
    expect(other.breaker.state).toBe('open');
    expect(((await other.succeed()).error as CircuitOpenError).retryAfterMs).toBe(600);
    await other.clock.advance(600);
    expect((await other.succeed()).value).toBe('ok');
    expect(other.calls).toBe(1);
  });

  it('restores windows and counters', async () => {
    const h = harness({ halfOpenAfterMs: 1000, failureRatio: 0.5, windowMs: 1000, minimumThroughput: 4 });
    await h.fail();
    await h.clock.advance(500);
    await h.fail();
    await h.succeed();
    const snapshot = h.breaker.toJSON();
    const other = harness({ halfOpenAfterMs: 1000, failureRatio: 0.5, windowMs: 1000, minimumThroughput: 4, initialState: snapshot }, 77);
    expect(other.breaker.stats).toMatchObject({ calls: 3, failures: 2 });
    await other.clock.advance(500); // the first failure ages out in the restored window too
    expect(other.breaker.stats).toMatchObject({ calls: 2, failures: 1 });

    const c = harness({ halfOpenAfterMs: 1000, consecutiveFailures: 3 });
    await c.fail();
    await c.fail();
    const restored = harness({ halfOpenAfterMs: 1000, consecutiveFailures: 3, initialState: c.breaker.toJSON() });
    await restored.fail();
    expect(restored.breaker.state).toBe('open');
  });

  it('the restored breaker shares nothing with the original or the snapshot', async () => {
    const h = harness({ halfOpenAfterMs: 1000, failureRatio: 0.5, windowCalls: 4 });
    await h.fail();
    const snapshot = h.breaker.toJSON();
    const restored = harness({ halfOpenAfterMs: 1000, failureRatio: 0.5, windowCalls: 4, initialState: snapshot });
    await h.fail();
    await h.fail();
    await h.fail();
    expect(h.breaker.state).toBe('open');
    expect(restored.breaker.state).toBe('closed');
    expect(restored.breaker.stats.calls).toBe(1);
    (snapshot.window as unknown as unknown[]).push([0, 1, 1, 0]);
    expect(restored.breaker.stats.calls).toBe(1);
  });

  it('isolation is not persisted; half-open is', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    const release = h.breaker.isolate();
    expect(h.breaker.toJSON()).toMatchObject({ state: 'closed', window: [] });
    release();
    await h.fail();
    await h.clock.advance(100);
    await h.clock.advance(0);
    const probe = h.start();
    expect(h.breaker.toJSON().state).toBe('half-open');
    const restored = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, initialState: h.breaker.toJSON() });
    expect(restored.breaker.state).toBe('half-open');
    expect((await restored.succeed()).value).toBe('ok');
    expect(restored.breaker.state).toBe('closed');
    probe.resolve(1);
  });

  it('an open breaker past its time, with no call since, snapshots as open with 0 ms left', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1 });
    await h.fail();
    await h.clock.advance(250);
    expect(h.breaker.state).toBe('half-open'); // as a reader sees it; no call has moved it on
    const snapshot = h.breaker.toJSON();
    expect(snapshot).toMatchObject({ state: 'open', openRemainingMs: 0, openMs: 100, openings: 1 });
    const restored = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, initialState: snapshot });
    expect(restored.breaker.state).toBe('half-open');
    expect((await restored.succeed()).value).toBe('ok');
    expect(restored.transitions).toEqual(['open->half-open', 'half-open->closed']);
  });

  it('a snapshot with more open time left than its openMs stays open for the time left', async () => {
    const snapshot = { ...circuitBreaker({ halfOpenAfterMs: 100 }).toJSON(), state: 'open', openRemainingMs: 600, openMs: 100, openings: 1 } as const;
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 1, initialState: snapshot });
    expect(((await h.succeed()).error as CircuitOpenError).retryAfterMs).toBe(600);
    expect(h.breaker.toJSON()).toMatchObject({ state: 'open', openRemainingMs: 600, openMs: 600 });
    await h.clock.advance(599);
    expect(((await h.succeed()).error as CircuitOpenError).retryAfterMs).toBe(1);
    await h.clock.advance(1);
    expect((await h.succeed()).value).toBe('ok');
    expect(h.calls).toBe(1);
  });

  it('rejects a malformed snapshot naming the field', () => {
    const good = circuitBreaker({ halfOpenAfterMs: 100 }).toJSON();
    expect(() => circuitBreaker({ halfOpenAfterMs: 100, initialState: { ...good, state: 'isolated' } as never })).toThrow(
      /"initialState.state".*"isolated"/,
    );
    expect(() => circuitBreaker({ halfOpenAfterMs: 100, initialState: { ...good, openRemainingMs: -5 } })).toThrow(
      /"initialState.openRemainingMs".*-5/,
    );
    expect(() => circuitBreaker({ halfOpenAfterMs: 100, initialState: { ...good, version: 2 } as never })).toThrow(
      /"initialState.version"/,
    );
    expect(() =>
      circuitBreaker({ halfOpenAfterMs: 100, initialState: { ...good, window: [[0, 1, 2, 0]] } }),
    ).toThrow(/"initialState.window\[0\]\[2\]"/);
  });
});

describe('stats', () => {
  it('plain numbers for the current window; ratios 0 without calls', async () => {
    const h = harness({ halfOpenAfterMs: 100, failureRatio: 0.9, windowCalls: 10 });
    expect(h.breaker.stats).toEqual({
      state: 'closed',
      calls: 0,
      failures: 0,
      slowCalls: 0,
      failureRatio: 0,
      slowCallRatio: 0,
      consecutiveFailures: 0,
    });
    await h.fail();
    await h.succeed();
    await h.succeed();
    await h.fail();
    expect(h.breaker.stats).toMatchObject({ calls: 4, failures: 2, failureRatio: 0.5 });
  });
});

describe('resource hygiene', () => {
  it('creates no timers and passes thrown values through ===', async () => {
    const h = harness({ halfOpenAfterMs: 100, consecutiveFailures: 100 });
    const odd: unknown[] = ['text', undefined, null, 0, Object.freeze({ frozen: true }), Symbol('s'), 10n];
    for (const value of odd) {
      const t = track(
        h.breaker.execute(() => {
          throw value;
        }),
      );
      await flush();
      expect(t.status).toBe('rejected');
      expect(t.error).toBe(value);
    }
    const hung = h.start();
    expect(h.clock.pending).toBe(0);
    hung.resolve(1);
    await flush();
    expect(h.clock.pending).toBe(0);
  });

  it('a sync throw or a non-promise value becomes the promise outcome', async () => {
    const breaker = circuitBreaker({ halfOpenAfterMs: 100 });
    let promise!: Promise<unknown>;
    expect(() => {
      promise = breaker.execute(() => {
        throw boom;
      });
    }).not.toThrow();
    await expect(promise).rejects.toBe(boom);
    await expect(breaker.execute(() => 42)).resolves.toBe(42);
  });

  it('composes: breaker outside a timeout counts timeouts as failures', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 2, clock });
    const policy = pipeline(breaker, timeout(50, { clock }));
    const a = track(policy.execute(() => new Promise(() => {})));
    const b = track(policy.execute(() => new Promise(() => {})));
    await clock.advance(50);
    expect(a.error).toBeInstanceOf(TimeoutError);
    expect(b.error).toBeInstanceOf(TimeoutError);
    expect(breaker.state).toBe('open');
    expect(clock.pending).toBe(0);
  });
});

describe('clock reads on the closed path', () => {
  function countingClock(): Clock & { reads: number } {
    const inner = new TestClock();
    return {
      reads: 0,
      now() {
        this.reads++;
        return inner.now();
      },
      setTimeout: (cb, ms) => inner.setTimeout(cb, ms),
      clearTimeout: (handle) => inner.clearTimeout(handle),
    };
  }

  it('consecutive mode reads no clock; a time window one per call; listeners two', async () => {
    const c1 = countingClock();
    const consecutive = circuitBreaker({ halfOpenAfterMs: 100, clock: c1 });
    for (let i = 0; i < 10; i++) await consecutive.execute(() => i);
    await consecutive.execute(() => Promise.reject(boom)).catch(() => {});
    expect(c1.reads).toBe(0);

    const c2 = countingClock();
    const windowed = circuitBreaker({ halfOpenAfterMs: 100, failureRatio: 0.5, windowMs: 1000, clock: c2 });
    for (let i = 0; i < 10; i++) await windowed.execute(() => i);
    expect(c2.reads).toBe(10);

    const c3 = countingClock();
    const watched = circuitBreaker({ halfOpenAfterMs: 100, clock: c3 });
    watched.on('success', () => {});
    for (let i = 0; i < 10; i++) await watched.execute(() => i);
    expect(c3.reads).toBe(20);
  });
});
