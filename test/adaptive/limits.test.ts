import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aimdLimit,
  gradient2Limit,
  vegasLimit,
  windowedLimit,
  type Limit,
  type LimitSample,
} from '../../src/adaptive/index.js';
import { ExpAvgMeasurement, log10Root } from '../../src/adaptive/limit.js';
import { TestClock } from '../../src/testing/index.js';
import { ReferenceGradient2 } from './reference-gradient2.js';

const sample = (rttMs: number, inflight: number, dropped = false): LimitSample => ({ rttMs, inflight, dropped });
const fixedRandom = () => 0.5;

// Ported from concurrency-limits-core/src/test/java/com/netflix/concurrency/limits/limit/
// (Netflix/concurrency-limits @78a74b9). The reference's RTTs are nanoseconds; ours are ms.

describe('ExpAvgMeasurement (ExpAvgMeasurementTest)', () => {
  it('testWarmup: the mean of the first 10 samples, then an exponential average', () => {
    const avg = new ExpAvgMeasurement(100, 10);
    const expected = [10.0, 10.5, 11, 11.5, 12, 12.5, 13, 13.5, 14, 14.5];
    for (let i = 0; i < 10; i++) {
      avg.add(i + 10);
      expect(Math.abs(avg.value - expected[i]!)).toBeLessThanOrEqual(0.01);
    }
    avg.add(100);
    expect(Math.abs(avg.value - 16.2)).toBeLessThanOrEqual(0.1);
  });
});

describe('log10 root (Log10RootIntFunctionTest)', () => {
  it('test0Index, testInRange, testOutofLookupRange', () => {
    expect(log10Root(0)).toBe(1);
    expect(log10Root(100)).toBe(2);
    expect(log10Root(10000)).toBe(4);
  });

  it('is max(1, floor(log10 n)) exactly, including just below powers of ten', () => {
    expect([1, 9, 10, 99, 999, 1000, 10 ** 15 - 1, 10 ** 15].map(log10Root)).toEqual([1, 1, 1, 1, 2, 3, 14, 15]);
  });

  it('stops at 308 digits: the largest double and Infinity end the count', () => {
    expect([Number.MAX_VALUE, Infinity].map(log10Root)).toEqual([308, 308]);
  });
});

describe('aimdLimit (AIMDLimitTest)', () => {
  it('testDefault: reports its initial limit before any sample', () => {
    // The reference builds initialLimit 10 with its default minLimit 20; that contradiction is
    // a RangeError here (see the options tests), so the floor comes down with it.
    expect(aimdLimit({ initialLimit: 10, minLimit: 10 }).limit).toBe(10);
  });

  it('increaseOnSuccess: 20 → 21', () => {
    const limit = aimdLimit({ initialLimit: 20 });
    limit.onSample(sample(1, 10));
    expect(limit.limit).toBe(21);
  });

  it('decreaseOnDrops: 30 → 27', () => {
    const limit = aimdLimit({ initialLimit: 30 });
    limit.onSample(sample(0, 0, true));
    expect(limit.limit).toBe(27);
  });

  it('successOverflow: stays at maxLimit 21', () => {
    // The reference uses minLimit 0; a limit of 0 would admit nothing, ever, so ours is ≥ 1.
    const limit = aimdLimit({ initialLimit: 21, maxLimit: 21, minLimit: 1 });
    limit.onSample(sample(1, 10));
    expect(limit.limit).toBe(21);
  });

  it('counts a call slower than timeoutMs as a drop, and grows only while in use', () => {
    const limit = aimdLimit({ initialLimit: 40, minLimit: 1, timeoutMs: 100 });
    limit.onSample(sample(101, 40));
    expect(limit.limit).toBe(36);
    limit.onSample(sample(100, 17)); // 17 × 2 < 36: not in use enough to grow
    expect(limit.limit).toBe(36);
    limit.onSample(sample(100, 18));
    expect(limit.limit).toBe(37);
  });
});

describe('vegasLimit (VegasLimitTest)', () => {
  const create = () =>
    vegasLimit({ alpha: 3, beta: 6, smoothing: 1.0, initialLimit: 10, maxConcurrency: 20, random: fixedRandom });

  it('largeLimitIncrease: 10000 → 10024', () => {
    const limit = vegasLimit({ initialLimit: 10000, maxConcurrency: 20000, random: fixedRandom });
    limit.onSample(sample(10_000, 5000));
    expect(limit.limit).toBe(10000);
    limit.onSample(sample(10_000, 6000));
    expect(limit.limit).toBe(10024);
  });

  it('increaseLimit: 10 → 16', () => {
    const limit = create();
    limit.onSample(sample(10, 10));
    expect(limit.limit).toBe(10);
    limit.onSample(sample(10, 11));
    expect(limit.limit).toBe(16);
  });

  it('decreaseLimit: 10 → 9', () => {
    const limit = create();
    limit.onSample(sample(10, 10));
    expect(limit.limit).toBe(10);
    limit.onSample(sample(50, 11));
    expect(limit.limit).toBe(9);
  });

  it('noChangeIfWithinThresholds: stays 10', () => {
    const limit = create();
    limit.onSample(sample(10, 10));
    expect(limit.limit).toBe(10);
    limit.onSample(sample(14, 14));
    expect(limit.limit).toBe(10);
  });

  it('decreaseSmoothing: 100 → 75 → 56', () => {
    const limit = vegasLimit({
      decrease: (current) => current / 2,
      smoothing: 0.5,
      initialLimit: 100,
      maxConcurrency: 200,
      random: fixedRandom,
    });
    limit.onSample(sample(10, 100));
    expect(limit.limit).toBe(100);
    limit.onSample(sample(20, 100));
    expect(limit.limit).toBe(75);
    limit.onSample(sample(20, 100));
    expect(limit.limit).toBe(56);
  });

  it('decreaseWithoutSmoothing: 100 → 50 → 25', () => {
    const limit = vegasLimit({ decrease: (current) => current / 2, initialLimit: 100, maxConcurrency: 200, random: fixedRandom });
    limit.onSample(sample(10, 100));
    expect(limit.limit).toBe(100);
    limit.onSample(sample(20, 100));
    expect(limit.limit).toBe(50);
    limit.onSample(sample(20, 100));
    expect(limit.limit).toBe(25);
  });

  it('forgets its no-load RTT every probeMultiplier × limit × jitter samples', () => {
    // jitter = 0.5 + 0.5 × 0 = 0.5 → a probe on sample 0.5 × 2 × 10 = 10.
    const limit = vegasLimit({ initialLimit: 10, maxConcurrency: 20, probeMultiplier: 2, random: () => 0 });
    limit.onSample(sample(10, 10));
    for (let i = 0; i < 8; i++) limit.onSample(sample(14, 14));
    expect(limit.noLoadRttMs).toBe(10);
    limit.onSample(sample(14, 14)); // the 10th: the probe takes this RTT as the new minimum
    expect(limit.noLoadRttMs).toBe(14);
    expect(limit.limit).toBe(10);
  });

  it('ignores a zero RTT (the reference throws on rtt ≤ 0)', () => {
    const limit = create();
    limit.onSample(sample(0, 10));
    expect(limit.noLoadRttMs).toBe(0);
    limit.onSample(sample(10, 10));
    expect(limit.noLoadRttMs).toBe(10);
  });
});

describe('gradient2Limit', () => {
  // No unit test upstream; these numbers are worked by hand from the reference formulas
  // (new = est × gradient + queueSize; est' = est × 0.8 + new × 0.2; gradient clamped to [0.5, 1]).
  it('has the reference defaults and grows by smoothing × queueSize = 0.8 per sample while latency holds', () => {
    const limit = gradient2Limit();
    expect([limit.limit, limit.minLimit, limit.maxConcurrency]).toEqual([20, 20, 200]);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      limit.onSample(sample(10, limit.limit));
      seen.push(limit.limit);
    }
    // 20.8, 21.6, 22.4, 23.2, 24, 24.8, 25.6, 26.4, 27.2, 28
    expect(seen).toEqual([20, 21, 22, 23, 24, 24, 25, 26, 27, 28]);
    expect(limit.baselineRttMs).toBe(10);
  });

  it('shrinks by the gradient when latency rises; the queue term only while it holds', () => {
    const limit = gradient2Limit();
    const reference = new ReferenceGradient2();
    for (let i = 0; i < 10; i++) {
      limit.onSample(sample(10, limit.limit));
      reference.onSample(10, reference.limit);
    }
    limit.onSample(sample(30, 28));
    reference.onSample(30, 28);
    // Ours: baseline 10 (a limit-bound sample cannot raise it), gradient 1.5 × 10 / 30 = 0.5,
    // 28 × 0.8 + (28 × 0.5) × 0.2 = 25.2.
    expect(limit.limit).toBe(25);
    // Reference: long RTT 10 × 599/601 + 30 × 2/601 = 10.067, gradient 0.5033,
    // 28 × 0.8 + (28 × 0.5033 + 4) × 0.2 = 26.02.
    expect(reference.limit).toBe(26);
  });

  it('changes nothing while app-limited (in flight < limit / 2), but learns the RTT then', () => {
    const limit = gradient2Limit({ initialLimit: 40, minLimit: 1 });
    for (let i = 0; i < 10; i++) limit.onSample(sample(10, 19));
    expect(limit.limit).toBe(40);
    for (let i = 0; i < 10; i++) limit.onSample(sample(50, 19));
    expect(limit.limit).toBe(40);
    expect(limit.baselineRttMs).toBeGreaterThan(10);
  });

  it('decays a stale baseline by 5% per sample while it is more than twice the RTT', () => {
    const limit = gradient2Limit({ initialLimit: 40, minLimit: 1 });
    for (let i = 0; i < 10; i++) limit.onSample(sample(100, 1));
    expect(limit.baselineRttMs).toBe(100);
    limit.onSample(sample(10, 1)); // app-limited: learned, 100 → 99.7 (EMA), then × 0.95
    expect(limit.baselineRttMs).toBeCloseTo((100 * (1 - 2 / 601) + 10 * (2 / 601)) * 0.95, 9);
  });

  it('agrees with the reference sample for sample while latency never rises', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ drop: fc.double({ min: 0, max: 0.5, noNaN: true }), inflight: fc.integer({ min: 0, max: 300 }) }), {
          maxLength: 300,
        }),
        (steps) => {
          const ours = gradient2Limit();
          const reference = new ReferenceGradient2();
          let rtt = 1000;
          for (const step of steps) {
            rtt = Math.max(0.001, rtt * (1 - step.drop));
            ours.onSample(sample(rtt, step.inflight));
            reference.onSample(rtt, step.inflight);
            expect(ours.limit).toBe(reference.limit);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

/**
 * A downstream with `servers` parallel slots and a 10 ms service time, driven at saturation:
 * every sample arrives with the limit fully in use, and its RTT is the service time stretched
 * by the queue beyond the slots (Little's law: rtt = 10 × max(1, inflight / servers)).
 */
function saturate(limit: Limit, servers: number, samples: number): number[] {
  const trace: number[] = [];
  for (let i = 0; i < samples; i++) {
    const inflight = limit.limit;
    limit.onSample(sample(10 * Math.max(1, inflight / servers), inflight));
    trace.push(limit.limit);
  }
  return trace;
}

describe('Gradient2 under steady overload (concurrency-limits PR #134)', () => {
  it('the reference grows to maxConcurrency; ours holds near rttTolerance × capacity', () => {
    const servers = 40;
    const reference = new ReferenceGradient2();
    const referenceTrace: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const inflight = reference.limit;
      reference.onSample(10 * Math.max(1, inflight / servers), inflight);
      referenceTrace.push(reference.limit);
    }
    const ours = saturate(gradient2Limit(), servers, 20_000);

    // Reference: the long-term RTT absorbs the queue it causes, so the limit keeps climbing.
    const referenceAtMax = referenceTrace.indexOf(200);
    expect(referenceAtMax).toBeGreaterThan(0);
    expect(referenceTrace.slice(-1000).every((l) => l === 200)).toBe(true);

    // Ours: the baseline stays the no-queue RTT (10 ms), so the limit settles where
    // rtt = 1.5 × 10 ms, i.e. at 1.5 × 40 = 60 slots, and stays there.
    const tail = ours.slice(-10_000);
    expect(Math.min(...tail)).toBeGreaterThanOrEqual(servers);
    expect(Math.max(...tail)).toBeLessThanOrEqual(1.5 * servers + 4);
    console.log(
      `PR #134 model (40 slots, 20 000 samples): reference reaches 200 at sample ${referenceAtMax + 1}; ours ends in [${Math.min(...tail)}, ${Math.max(...tail)}]`,
    );
  });
});

describe('estimator options', () => {
  it.each([
    [() => gradient2Limit({ initialLimit: 0 }), /"initialLimit".*received 0/],
    [() => gradient2Limit({ initialLimit: 10 }), /"initialLimit" must be within \["minLimit", "maxConcurrency"\] = \[20, 200\], received 10/],
    [() => gradient2Limit({ minLimit: 300 }), /"minLimit" \(300\) must be <= "maxConcurrency" \(200\)/],
    [() => gradient2Limit({ smoothing: 0 }), /"smoothing".*received 0/],
    [() => gradient2Limit({ smoothing: 1.5 }), /"smoothing".*received 1.5/],
    [() => gradient2Limit({ rttTolerance: 0.9 }), /"rttTolerance".*received 0.9/],
    [() => gradient2Limit({ longWindow: 2.5 }), /"longWindow".*received 2.5/],
    [() => gradient2Limit({ queueSize: -1 }), /"queueSize".*received -1/],
    [() => gradient2Limit({ maxConcurrency: NaN }), /"maxConcurrency".*received NaN/],
    [() => vegasLimit({ maxConcurrency: 10 }), /"initialLimit".*\[1, 10\], received 20/],
    [() => vegasLimit({ probeMultiplier: 0 }), /"probeMultiplier".*received 0/],
    [() => vegasLimit({ alpha: -3 }), /"alpha".*received -3/],
    [() => vegasLimit({ smoothing: -0.1 }), /"smoothing".*received -0.1/],
    [() => aimdLimit({ backoffRatio: 1 }), /"backoffRatio" must be in \[0.5, 1\), received 1/],
    [() => aimdLimit({ backoffRatio: 0.4 }), /"backoffRatio".*received 0.4/],
    [() => aimdLimit({ timeoutMs: 0 }), /"timeoutMs".*received 0/],
    [() => aimdLimit({ initialLimit: 10 }), /"initialLimit".*\[20, 200\], received 10/],
    [() => windowedLimit(gradient2Limit(), { minWindowMs: 50 }), /"minWindowMs".*received 50/],
    [() => windowedLimit(gradient2Limit(), { windowSize: 5 }), /"windowSize".*received 5/],
    [() => windowedLimit(gradient2Limit(), { minWindowMs: 500, maxWindowMs: 200 }), /"minWindowMs" \(500\) must be <= "maxWindowMs" \(200\)/],
  ])('%# throws a RangeError naming the option and the value', (make, message) => {
    expect(make).toThrow(RangeError);
    expect(make).toThrow(message);
  });

  it('throws a TypeError for wrong types', () => {
    expect(() => gradient2Limit({ queueSize: '4' as never })).toThrow(/"queueSize" must be a number or a function/);
    expect(() => vegasLimit({ increase: 2 as never })).toThrow(/"increase" must be a function/);
    expect(() => vegasLimit({ random: 0.5 as never })).toThrow(/"random"/);
    expect(() => aimdLimit('fast' as never)).toThrow(TypeError);
    expect(() => windowedLimit({} as never)).toThrow(/windowedLimit\(limit\) needs a Limit/);
    expect(() => windowedLimit(aimdLimit(), { clock: {} as never })).toThrow(/"clock"/);
  });

  it('treats an explicit undefined as the default', () => {
    expect(gradient2Limit({ initialLimit: undefined, queueSize: undefined }).limit).toBe(20);
    expect(vegasLimit({ alpha: undefined }).limit).toBe(20);
    expect(aimdLimit({ timeoutMs: undefined }).limit).toBe(20);
  });

  it('accepts functions of the limit for the reference tuning knobs', () => {
    const limit = gradient2Limit({ queueSize: (current) => Math.ceil(Math.sqrt(current)), initialLimit: 25, minLimit: 1 });
    limit.onSample(sample(10, 25)); // + 0.2 × √25 = 1
    expect(limit.limit).toBe(26);
  });
});

describe('limit change notification', () => {
  it('calls subscribers on change only, keeps going past a throwing one, and unsubscribes', () => {
    const limit = aimdLimit({ initialLimit: 20, maxLimit: 22 });
    const seen: number[] = [];
    limit.subscribe(() => {
      throw new Error('a bad listener');
    });
    const off = limit.subscribe((l) => seen.push(l));
    for (let i = 0; i < 4; i++) limit.onSample(sample(1, 20));
    expect(seen).toEqual([21, 22]);
    off();
    off();
    limit.onSample(sample(1, 20, true));
    expect(limit.limit).toBe(20);
    expect(seen).toEqual([21, 22]);
    expect(() => limit.subscribe('x' as never)).toThrow(TypeError);
  });

  it('windowedLimit forwards subscriptions, or watches a delegate that has none', () => {
    const clock = new TestClock();
    let value = 5;
    const bare = { get limit() { return value; }, onSample: () => void (value += 1) };
    const windowed = windowedLimit(bare, { minWindowMs: 100, maxWindowMs: 100, clock });
    const seen: number[] = [];
    windowed.subscribe((l) => seen.push(l));
    for (let i = 0; i < 30; i++) windowed.onSample({ rttMs: 10, inflight: 5, dropped: false, startMs: i * 10 });
    expect(value).toBe(7); // the first sample starts the clock; windows close at 120 ms and 230 ms
    expect(seen).toEqual([6, 7]);
  });
});

describe('windowedLimit', () => {
  it('hands the delegate one sample per window: mean RTT, highest in-flight count, any drop', () => {
    const got: LimitSample[] = [];
    const spy = { limit: 10, onSample: (s: LimitSample) => void got.push({ ...s }) };
    const windowed = windowedLimit(spy, { minWindowMs: 100, maxWindowMs: 100 });
    windowed.onSample({ rttMs: 5, inflight: 1, dropped: false, startMs: 0 }); // starts the clock: open until 5 + 100
    for (let i = 0; i < 15; i++) {
      windowed.onSample({ rttMs: i < 6 ? 10 : 30, inflight: i, dropped: i === 3, startMs: 10 + i * 5 });
    }
    // The window closes with the first sample ending after 105: i = 14 (end 110).
    expect(got).toEqual([{ rttMs: (6 * 10 + 9 * 30) / 15, inflight: 14, dropped: true, startMs: 80 }]);
  });

  it('keeps a window open until it holds windowSize samples (the reference discards it), and ignores samples under minRttThresholdMs', () => {
    const got: LimitSample[] = [];
    const windowed = windowedLimit({ limit: 10, onSample: (s: LimitSample) => void got.push({ ...s }) }, { minWindowMs: 100, maxWindowMs: 100 });
    // One call every 60 ms: a 100 ms window would hold 2; each one stretches to 10 calls.
    for (let i = 0; i < 30; i++) windowed.onSample({ rttMs: 50, inflight: 3, dropped: false, startMs: i * 60 });
    for (let i = 0; i < 50; i++) windowed.onSample({ rttMs: 0.05, inflight: 3, dropped: false, startMs: 3000 + i });
    // The first call starts the clock; windows close at calls 10 (start 600) and 20 (1200).
    expect(got.map((s) => s.startMs)).toEqual([600, 1200]);
  });

  it('reads its clock for samples without startMs', () => {
    const clock = new TestClock();
    const got: LimitSample[] = [];
    const windowed = windowedLimit({ limit: 10, onSample: (s: LimitSample) => void got.push(s) }, { minWindowMs: 100, maxWindowMs: 100, clock });
    for (let i = 0; i < 31; i++) {
      clock.jump(5);
      windowed.onSample(sample(5, i));
    }
    // The first sample (t = 5) starts the clock; the window closes with the first after 105.
    expect(got.map((s) => s.inflight)).toEqual([21]);
  });
});

// Samples no well-behaved limiter produces, but nothing may push a limit out of its range.
const rttArb = fc.oneof(
  fc.constant(0),
  fc.constant(Number.MIN_VALUE),
  fc.constant(Number.MAX_VALUE),
  fc.constant(1e300),
  fc.double({ min: 0, max: 1e6, noNaN: true }),
  fc.double({ min: 0, max: 50, noNaN: true }),
);
const inflightArb = fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(1e300));
const sampleArb = fc.record({ rttMs: rttArb, inflight: inflightArb, dropped: fc.boolean() });
const boundsArb = fc
  .tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 0, max: 300 }), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([minLimit, span, at]) => ({ minLimit, max: minLimit + span, initialLimit: minLimit + Math.floor(span * at) }));

type Make = (b: { minLimit: number; max: number; initialLimit: number }) => Limit;
const estimators: Array<[string, Make]> = [
  ['gradient2Limit', (b) => gradient2Limit({ minLimit: b.minLimit, maxConcurrency: b.max, initialLimit: b.initialLimit })],
  ['vegasLimit', (b) => vegasLimit({ minLimit: b.minLimit, maxConcurrency: b.max, initialLimit: b.initialLimit, random: fixedRandom })],
  ['vegasLimit (smoothing 0.3)', (b) => vegasLimit({ minLimit: b.minLimit, maxConcurrency: b.max, initialLimit: b.initialLimit, smoothing: 0.3, random: fixedRandom })],
  ['aimdLimit', (b) => aimdLimit({ minLimit: b.minLimit, maxLimit: b.max, initialLimit: b.initialLimit, timeoutMs: 20 })],
  [
    'windowedLimit(gradient2Limit)',
    (b) => windowedLimit(gradient2Limit({ minLimit: b.minLimit, maxConcurrency: b.max, initialLimit: b.initialLimit }), { clock: new TestClock() }),
  ],
];

describe.each(estimators)('%s properties', (_name, make) => {
  it('the limit is an integer within [minLimit, max] after any sample sequence', () => {
    fc.assert(
      fc.property(boundsArb, fc.array(sampleArb, { maxLength: 200 }), (bounds, samples) => {
        const limit = make(bounds);
        expect(limit.limit).toBe(bounds.initialLimit);
        let startMs = 0;
        for (const s of samples) {
          startMs += 7;
          limit.onSample({ ...s, startMs });
          expect(Number.isInteger(limit.limit)).toBe(true);
          expect(limit.limit).toBeGreaterThanOrEqual(bounds.minLimit);
          expect(limit.limit).toBeLessThanOrEqual(bounds.max);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('ignores samples that are not numbers', () => {
    const limit = make({ minLimit: 5, max: 50, initialLimit: 20 });
    for (const bad of [NaN, -1, Infinity, '10' as never, undefined as never]) {
      limit.onSample({ rttMs: bad, inflight: 20, dropped: false });
      limit.onSample({ rttMs: 10, inflight: bad, dropped: false });
    }
    expect(limit.limit).toBe(20);
  });
});

describe('vegasLimit: each branch of the reference update', () => {
  // The reference's VegasLimit._update, with alpha/beta/threshold 3/6/1 below a limit of 100.
  const make = (options: Parameters<typeof vegasLimit>[0] = {}) =>
    vegasLimit({ initialLimit: 10, maxConcurrency: 20, random: fixedRandom, ...options });

  it('a drop shrinks the limit by log10(limit) whatever the latency', () => {
    const limit = make();
    limit.onSample(sample(10, 10));
    limit.onSample(sample(10, 10, true));
    expect(limit.limit).toBe(9);
  });

  it('a faster RTT becomes the new no-load RTT and changes nothing else', () => {
    const limit = make();
    limit.onSample(sample(10, 10));
    limit.onSample(sample(5, 10));
    expect([limit.noLoadRttMs, limit.limit]).toEqual([5, 10]);
  });

  it('app-limited (in flight × 2 < limit): no change, even with a long queue; at exactly half it updates', () => {
    const limit = make();
    limit.onSample(sample(10, 10));
    limit.onSample(sample(50, 4)); // queue 8 > beta, but 4 × 2 < 10
    expect(limit.limit).toBe(10);
    limit.onSample(sample(50, 5)); // 5 × 2 = 10: in use, the queue of 8 shrinks it
    expect(limit.limit).toBe(9);
  });

  it('a queue above threshold but below alpha grows by log10(limit): 10 → 11', () => {
    const limit = make();
    limit.onSample(sample(10, 10));
    limit.onSample(sample(12, 10)); // queue ceil(10 × (1 − 10/12)) = 2
    expect(limit.limit).toBe(11);
  });

  it('a queue of exactly beta holds the limit; one more shrinks it', () => {
    const limit = make();
    limit.onSample(sample(10, 10));
    limit.onSample(sample(24, 10)); // queue ceil(5.83) = 6 = beta
    expect(limit.limit).toBe(10);
    limit.onSample(sample(30, 10)); // queue ceil(6.67) = 7
    expect(limit.limit).toBe(9);
  });

  it('from a limit of 100 the defaults step by 2: alpha 6, beta 12, threshold 2, increase 100 → 102', () => {
    const limit = vegasLimit({ initialLimit: 100, maxConcurrency: 1000, random: fixedRandom });
    limit.onSample(sample(10, 100));
    limit.onSample(sample(10.4, 100)); // queue ceil(3.85) = 4: above threshold 2, below alpha 6
    expect(limit.limit).toBe(102);
    limit.onSample(sample(10.9, 100)); // queue ceil(8.42) = 9: between alpha and beta
    expect(limit.limit).toBe(102);
  });

  it('uses the beta and threshold it is given', () => {
    const beta = make({ beta: 2 });
    beta.onSample(sample(10, 10));
    beta.onSample(sample(14, 10)); // queue 3 > beta 2 (alpha 3 is not below it)
    expect(beta.limit).toBe(9);
    const threshold = make({ threshold: 3 });
    threshold.onSample(sample(10, 10));
    threshold.onSample(sample(14, 10)); // queue 3 ≤ threshold 3: grows by beta 6
    expect(threshold.limit).toBe(16);
  });

  it('a user function that returns NaN leaves the limit as it was', () => {
    const limit = make({ decrease: () => NaN });
    limit.onSample(sample(10, 10));
    limit.onSample(sample(10, 10, true));
    expect(limit.limit).toBe(10);
    limit.onSample(sample(12, 10)); // and the next update starts from 10
    expect(limit.limit).toBe(11);
  });

  it('probes after jitter × probeMultiplier × limit samples, jitter = 0.5 + 0.5 × random(), a random outside [0, 1) read as 0', () => {
    // [random(), the sample that probes]: 0.5 + 0.5 × 0.5 = 0.75 → 0.75 × 2 × 10 = 15; 1, −0.5 and NaN → 0.5 → 10.
    for (const [random, probeAt] of [[0.5, 15], [1, 10], [-0.5, 10], [NaN, 10]] as const) {
      const limit = vegasLimit({ initialLimit: 10, maxConcurrency: 20, probeMultiplier: 2, random: () => random });
      limit.onSample(sample(10, 10));
      for (let i = 2; i < probeAt; i++) limit.onSample(sample(14, 14));
      expect(limit.noLoadRttMs).toBe(10);
      limit.onSample(sample(14, 14));
      expect([random, limit.noLoadRttMs]).toEqual([random, 14]);
    }
  });

  it('has the reference defaults and exposes its bounds', () => {
    const defaults = vegasLimit();
    expect([defaults.limit, defaults.minLimit, defaults.maxConcurrency]).toEqual([20, 1, 1000]);
    const bounded = vegasLimit({ minLimit: 3, maxConcurrency: 50 });
    expect([bounded.minLimit, bounded.maxConcurrency]).toEqual([3, 50]);
  });
});

describe('aimdLimit: options', () => {
  it('an infinite timeoutMs never counts latency as a drop', () => {
    const limit = aimdLimit({ timeoutMs: Infinity });
    limit.onSample(sample(1e9, 20));
    expect(limit.limit).toBe(21);
  });
});

describe('estimators ignore samples they cannot use, and stay exactly where they were', () => {
  // Bad samples that would move the estimator if it took them: a long RTT at full use, or a
  // short one (a new minimum, a lower baseline), with a drop.
  const badRtts: unknown[] = [NaN, -1, Infinity, -Infinity, '1000', '1', undefined, null];
  const badInflights: unknown[] = [NaN, -1, Infinity, '1000', undefined, null];
  const badSamples = (limit: number, zeroRttIsBad: boolean): LimitSample[] => [
    ...[...badRtts, ...(zeroRttIsBad ? [0] : [])].map((rttMs) => ({ rttMs: rttMs as number, inflight: limit, dropped: false })),
    ...badInflights.flatMap((inflight) => [1, 1000].map((rttMs) => ({ rttMs, inflight: inflight as number, dropped: rttMs === 1000 }))),
  ];
  const cases: Array<[string, () => Limit & { baselineRttMs?: number; noLoadRttMs?: number }, boolean]> = [
    ['gradient2Limit', () => gradient2Limit({ minLimit: 1 }), true],
    ['vegasLimit', () => vegasLimit({ random: fixedRandom }), true],
    ['aimdLimit', () => aimdLimit({ minLimit: 1, timeoutMs: 100 }), false],
  ];

  it.each(cases)('%s: a twin fed bad samples between the good ones follows the same trace', (_name, make, zeroRttIsBad) => {
    const clean = make();
    const noisy = make();
    const rtts = [10, 10, 12, 10, 30, 9, 11, 50, 10, 10, 200, 10, 8, 10, 10, 10];
    const state = (l: ReturnType<typeof make>) => [l.limit, l.baselineRttMs, l.noLoadRttMs];
    for (let round = 0; round < 4; round++) {
      for (const rtt of rtts) {
        const good = sample(rtt, clean.limit, rtt === 200);
        clean.onSample(good);
        noisy.onSample(good);
        for (const bad of badSamples(noisy.limit, zeroRttIsBad)) noisy.onSample(bad);
        expect(state(noisy)).toEqual(state(clean));
      }
    }
  });

  it('aimdLimit takes a zero RTT (a drop needs no latency)', () => {
    const limit = aimdLimit({ initialLimit: 30 });
    limit.onSample(sample(0, 30));
    expect(limit.limit).toBe(31);
  });

  it('caps a huge finite RTT so that the long-term average stays finite', () => {
    const limit = gradient2Limit();
    limit.onSample(sample(Number.MAX_VALUE, 20));
    limit.onSample(sample(Number.MAX_VALUE, 20));
    expect(limit.baselineRttMs).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('estimator options name the option and the value', () => {
  it.each([
    [() => vegasLimit({ initialLimit: 0 }), RangeError, /"initialLimit".*received 0/],
    [() => vegasLimit({ initialLimit: 2.5 }), RangeError, /"initialLimit".*received 2.5/],
    [() => vegasLimit({ maxConcurrency: 0 }), RangeError, /"maxConcurrency".*received 0/],
    [() => vegasLimit({ maxConcurrency: 30.5 }), RangeError, /"maxConcurrency".*received 30.5/],
    [() => vegasLimit({ minLimit: 0 }), RangeError, /"minLimit".*received 0/],
    [() => vegasLimit({ minLimit: 1.5 }), RangeError, /"minLimit".*received 1.5/],
    [() => vegasLimit({ minLimit: 30, maxConcurrency: 20 }), RangeError, /"minLimit" \(30\) must be <= "maxConcurrency" \(20\)/],
    [() => vegasLimit({ initialLimit: 5, minLimit: 10, maxConcurrency: 20 }), RangeError, /\["minLimit", "maxConcurrency"\] = \[10, 20\], received 5/],
    [() => vegasLimit({ beta: -1 }), RangeError, /"beta".*received -1/],
    [() => vegasLimit({ threshold: -1 }), RangeError, /"threshold".*received -1/],
    [() => vegasLimit({ decrease: 2 as never }), TypeError, /"decrease" must be a function/],
    [() => vegasLimit({ probeMultiplier: 2.5 }), RangeError, /"probeMultiplier".*received 2.5/],
    [() => vegasLimit('fast' as never), TypeError, /vegasLimit options must be an object/],
    [() => aimdLimit('fast' as never), TypeError, /aimdLimit options must be an object/],
    [() => aimdLimit({ initialLimit: 0, minLimit: 1 }), RangeError, /"initialLimit".*received 0/],
    [() => aimdLimit({ initialLimit: 20.5 }), RangeError, /"initialLimit".*received 20.5/],
    [() => aimdLimit({ minLimit: 0 }), RangeError, /"minLimit".*received 0/],
    [() => aimdLimit({ minLimit: 1.5 }), RangeError, /"minLimit".*received 1.5/],
    [() => aimdLimit({ maxLimit: 0 }), RangeError, /"maxLimit".*received 0/],
    [() => aimdLimit({ maxLimit: 30.5 }), RangeError, /"maxLimit".*received 30.5/],
    [() => aimdLimit({ initialLimit: 20, maxLimit: 10, minLimit: 5 }), RangeError, /\["minLimit", "maxLimit"\] = \[5, 10\], received 20/],
  ] as const)('%# throws', (make, type, message) => {
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });
});

describe('LimitBase subscriptions', () => {
  it('an unsubscribe removes that one subscription, once: the other listeners keep hearing', () => {
    const limit = aimdLimit({ initialLimit: 20 });
    const seen: string[] = [];
    const a = (l: number) => seen.push(`a${l}`);
    const offFirst = limit.subscribe(a);
    limit.subscribe(a);
    const offB = limit.subscribe((l) => seen.push(`b${l}`));
    offFirst();
    offFirst(); // a second call must not take a's other subscription
    limit.onSample(sample(1, 20));
    expect(seen).toEqual(['a21', 'b21']);
    offB();
    limit.onSample(sample(1, 21));
    expect(seen).toEqual(['a21', 'b21', 'a22']);
  });

  it('refuses a listener that is not a function, naming what it got', () => {
    expect(() => aimdLimit().subscribe('x' as never)).toThrow(/subscribe\(listener\) needs a function, received string/);
  });
});

describe('gradient2Limit: the baseline and the update, case by case', () => {
  it('in flight exactly half the limit is not app-limited: the limit moves', () => {
    const limit = gradient2Limit({ initialLimit: 40, minLimit: 1, queueSize: 10 });
    limit.onSample(sample(10, 20)); // 40 × 0.8 + (40 + 10) × 0.2 = 42
    expect(limit.limit).toBe(42);
  });

  it('at minLimit the baseline learns a slower RTT (a downstream slower for good)', () => {
    const limit = gradient2Limit({ initialLimit: 20, minLimit: 20, maxConcurrency: 20 });
    for (let i = 0; i < 10; i++) limit.onSample(sample(10, 20));
    limit.onSample(sample(20, 20));
    expect(limit.baselineRttMs).toBeCloseTo(10 * (1 - 2 / 601) + 20 * (2 / 601), 12);
  });

  it('above minLimit and limit-bound, only a faster RTT moves the baseline: down to it', () => {
    const limit = gradient2Limit();
    for (let i = 0; i < 10; i++) limit.onSample(sample(10, limit.limit));
    expect(limit.limit).toBe(28);
    limit.onSample(sample(12, 28));
    expect(limit.baselineRttMs).toBe(10);
    limit.onSample(sample(5, 28));
    expect(limit.baselineRttMs).toBe(5);
  });

  it('decays the baseline only when it is more than twice the RTT, not at exactly twice', () => {
    const limit = gradient2Limit({ initialLimit: 40, minLimit: 1 });
    for (let i = 0; i < 9; i++) limit.onSample(sample(19, 1));
    limit.onSample(sample(9, 1)); // warm-up mean (9 × 19 + 9) / 10 = 18 = 2 × 9
    expect(limit.baselineRttMs).toBe(18);
  });

  it('a queueSize function that returns NaN leaves the limit as it was', () => {
    const limit = gradient2Limit({ queueSize: () => NaN, minLimit: 1 });
    limit.onSample(sample(10, 20));
    expect(limit.limit).toBe(20);
    // The next update still starts from 20: baseline (10 + 100) / 2, gradient 1.5 × 55 / 100 =
    // 0.825 (no queue term), 20 × 0.8 + 16.5 × 0.2 = 19.3.
    limit.onSample(sample(100, 20));
    expect(limit.limit).toBe(19);
  });

  it.each([
    [() => gradient2Limit('fast' as never), TypeError, /gradient2Limit options must be an object/],
    [() => gradient2Limit({ initialLimit: 20.5 }), RangeError, /"initialLimit".*received 20.5/],
    [() => gradient2Limit({ minLimit: 0, initialLimit: 20 }), RangeError, /"minLimit".*received 0/],
    [() => gradient2Limit({ minLimit: 1.5 }), RangeError, /"minLimit".*received 1.5/],
    [() => gradient2Limit({ maxConcurrency: 0 }), RangeError, /"maxConcurrency".*received 0/],
    [() => gradient2Limit({ maxConcurrency: 30.5 }), RangeError, /"maxConcurrency".*received 30.5/],
  ] as const)('option %# throws', (make, type, message) => {
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });
});

describe('windowedLimit: window length, contents and inputs', () => {
  const spy = () => {
    const got: LimitSample[] = [];
    return { got, limit: { limit: 10, onSample: (s: LimitSample) => void got.push({ ...s }) } };
  };

  it('a window lasts 2 × its lowest RTT, clamped to [minWindowMs, maxWindowMs]', () => {
    const { got, limit } = spy();
    const windowed = windowedLimit(limit, { minWindowMs: 100, maxWindowMs: 1000 });
    // One call every 10 ms; RTT 200 (a few 300 early), then 600 from call 42, then 10 from call 52.
    const rttOf = (i: number) => (i <= 5 && i > 0 ? 300 : i < 42 ? 200 : i < 52 ? 600 : 10);
    for (let i = 0; i <= 230; i++) {
      windowed.onSample({ rttMs: rttOf(i), inflight: 50 - (i % 10), dropped: i === 45, startMs: 10 * i });
    }
    // Call 0 (end 200) starts the clock: open until 200 + 2 × 200 = 600. Call 41 (end 610) closes
    // it, the next until 610 + 400 = 1010; call 51 (end 1110, the 10th) closes that one, the next
    // until 1110 + min(1200, 1000) = 2110; call 211 (end 2120) closes it, the next until
    // 2120 + max(20, 100) = 2220; call 222 (end 2230) closes it.
    expect(got.map((s) => s.startMs)).toEqual([410, 510, 2110, 2220]);
    expect(got[0]).toEqual({ rttMs: (5 * 300 + 36 * 200) / 41, inflight: 50, dropped: false, startMs: 410 });
    expect(got[1]).toEqual({ rttMs: 600, inflight: 50, dropped: true, startMs: 510 });
    expect(got[2]!.dropped).toBe(false);
  });

  it('ignores samples it cannot use: the delegate gets exactly what a clean stream gives it', () => {
    const clean = spy();
    const noisy = spy();
    const a = windowedLimit(clean.limit, { minWindowMs: 100, maxWindowMs: 100 });
    const b = windowedLimit(noisy.limit, { minWindowMs: 100, maxWindowMs: 100 });
    const bad: Array<Partial<LimitSample>> = [
      { rttMs: '50' as never, inflight: 3 },
      { rttMs: Infinity, inflight: 3 },
      { rttMs: NaN, inflight: 3 },
      { rttMs: 0.05, inflight: 3 },
      { rttMs: 50, inflight: -1 },
      { rttMs: 50, inflight: NaN },
      { rttMs: 50, inflight: Infinity },
      { rttMs: 50, inflight: '90' as never },
    ];
    for (let i = 0; i < 60; i++) {
      const good = { rttMs: 20 + (i % 3), inflight: 3 + (i % 4), dropped: false, startMs: 10 * i };
      a.onSample(good);
      b.onSample(good);
      for (const s of bad) b.onSample({ dropped: true, startMs: 10 * i, ...s } as LimitSample);
    }
    expect(clean.got.length).toBeGreaterThan(2);
    expect(noisy.got).toEqual(clean.got);
  });

  it('takes an RTT of exactly minRttThresholdMs, and ignores faster ones', () => {
    for (const [threshold, options] of [[0.1, {}], [5, { minRttThresholdMs: 5 }]] as const) {
      const { got, limit } = spy();
      const windowed = windowedLimit(limit, { minWindowMs: 100, maxWindowMs: 100, ...options });
      windowed.onSample({ rttMs: threshold, inflight: 1, dropped: false, startMs: 0 }); // starts the clock
      for (let i = 0; i < 20; i++) windowed.onSample({ rttMs: threshold * 0.9, inflight: 1, dropped: false, startMs: 200 + i });
      for (let i = 0; i < 10; i++) windowed.onSample({ rttMs: threshold, inflight: 1, dropped: false, startMs: 300 + i });
      expect(got.map((s) => s.startMs)).toEqual([309]);
      expect(got[0]!.rttMs).toBeCloseTo(threshold, 12);
    }
  });

  it('reads its clock for a startMs that is not a finite number', () => {
    for (const startMs of [NaN, Infinity, undefined]) {
      const clock = new TestClock();
      const { got, limit } = spy();
      const windowed = windowedLimit(limit, { minWindowMs: 100, maxWindowMs: 100, clock });
      for (let i = 0; i < 31; i++) {
        clock.jump(5);
        windowed.onSample({ rttMs: 5, inflight: i, dropped: false, startMs: startMs as number });
      }
      expect(got.map((s) => s.inflight)).toEqual([21]);
    }
  });

  it('watches a delegate without subscribe: only real changes, each watcher removed on its own', () => {
    let value = 5;
    const bare = { get limit() { return value; }, onSample: (s: LimitSample) => void (value = s.dropped ? value : value + 1) };
    const windowed = windowedLimit(bare, { minWindowMs: 100, maxWindowMs: 100 });
    const seen: string[] = [];
    const offA = windowed.subscribe((l) => seen.push(`a${l}`));
    windowed.subscribe((l) => seen.push(`b${l}`));
    // A window with a drop leaves the bare limit as it was: nobody hears of it.
    for (let i = 0; i < 12; i++) windowed.onSample({ rttMs: 10, inflight: 5, dropped: true, startMs: i * 10 });
    expect(seen).toEqual([]);
    offA();
    for (let i = 12; i < 24; i++) windowed.onSample({ rttMs: 10, inflight: 5, dropped: false, startMs: i * 10 });
    expect(seen).toEqual(['b6']);
    expect(() => windowed.subscribe('x' as never)).toThrow(/subscribe\(listener\) needs a function, received string/);
  });

  it.each([
    [() => windowedLimit(null as never), TypeError, /windowedLimit\(limit\) needs a Limit/],
    [() => windowedLimit(5 as never), TypeError, /windowedLimit\(limit\) needs a Limit/],
    [() => windowedLimit(Object.assign(() => {}, { limit: 5, onSample: () => {} }) as never), TypeError, /windowedLimit\(limit\) needs a Limit/],
    [() => windowedLimit({ limit: 5 } as never), TypeError, /windowedLimit\(limit\) needs a Limit/],
    [() => windowedLimit({ onSample: () => {} } as never), TypeError, /windowedLimit\(limit\) needs a Limit/],
    [() => windowedLimit(aimdLimit(), 'x' as never), TypeError, /windowedLimit options must be an object/],
    [() => windowedLimit(aimdLimit(), { maxWindowMs: 50 }), RangeError, /"maxWindowMs".*received 50/],
    [() => windowedLimit(aimdLimit(), { windowSize: 10.5 }), RangeError, /"windowSize".*received 10.5/],
    [() => windowedLimit(aimdLimit(), { minRttThresholdMs: -1 }), RangeError, /"minRttThresholdMs".*received -1/],
  ] as const)('option %# throws', (make, type, message) => {
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });
});
