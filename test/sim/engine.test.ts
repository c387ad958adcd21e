import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import * as bw from '../../src/index.js';
import { SimulationEngine, Timer, createRandom, simulate, type Scenario, type SimulationReport } from '../../src/sim/index.js';
import { TimerHeap } from '../../src/sim/heap.js';
import { TestClock } from '../../src/testing/index.js';

describe('SimulationEngine', () => {
  it('fires timers in time order, ties in creation order, with now() at each deadline', async () => {
    const engine = new SimulationEngine();
    const log: string[] = [];
    engine.at(20, () => log.push(`b@${engine.now}`));
    engine.at(10, () => log.push(`a@${engine.now}`));
    engine.at(20, () => log.push(`c@${engine.now}`));
    engine.clock.setTimeout(() => log.push(`d@${engine.now}`), 5);
    await engine.run();
    expect(log).toEqual(['d@5', 'a@10', 'b@20', 'c@20']);
    expect(engine.pending).toBe(0);
    expect(engine.steps).toBe(4);
  });

  it('lets a long chain of promise reactions settle before the next timer fires', async () => {
    const engine = new SimulationEngine();
    const log: string[] = [];
    engine.at(10, () => {
      let chain: Promise<unknown> = Promise.resolve();
      for (let i = 0; i < 10_000; i++) chain = chain.then(() => undefined);
      void chain.then(async () => {
        await null;
        queueMicrotask(() => {
          log.push(`chain settled at ${engine.now}`);
          engine.after(0, () => log.push(`scheduled by the chain, fired at ${engine.now}`));
        });
      });
    });
    engine.at(10, () => log.push(`tie at ${engine.now}`));
    engine.at(10.5, () => log.push(`next at ${engine.now}`));
    await engine.run();
    expect(log).toEqual(['chain settled at 10', 'tie at 10', 'scheduled by the chain, fired at 10', 'next at 10.5']);
  });

  it('clearTimeout removes a timer; a cleared or fired handle is ignored', async () => {
    const engine = new SimulationEngine();
    const fired: number[] = [];
    const a = engine.clock.setTimeout(() => fired.push(1), 10);
    engine.clock.setTimeout(() => fired.push(2), 20);
    engine.clock.clearTimeout(a);
    engine.clock.clearTimeout(a);
    engine.clock.clearTimeout({ not: 'a timer' });
    await engine.run();
    expect(fired).toEqual([2]);
  });

  it('treats negative, NaN and infinite delays as 0, like Node', async () => {
    const engine = new SimulationEngine();
    const at: number[] = [];
    engine.at(5, () => {
      for (const ms of [-1, NaN, Infinity]) engine.clock.setTimeout(() => at.push(engine.now), ms);
    });
    await engine.run();
    expect(at).toEqual([5, 5, 5]);
  });

  it('run({ untilMs }) stops before later timers and leaves now() at untilMs', async () => {
    const engine = new SimulationEngine();
    const fired: number[] = [];
    engine.at(10, () => fired.push(10));
    engine.at(30, () => fired.push(30));
    await engine.run({ untilMs: 20 });
    expect(fired).toEqual([10]);
    expect(engine.now).toBe(20);
    expect(engine.pending).toBe(1);
    await engine.run();
    expect(fired).toEqual([10, 30]);
  });

  it('stop() ends the run after the current timer settles', async () => {
    const engine = new SimulationEngine();
    const fired: number[] = [];
    engine.at(10, () => {
      fired.push(10);
      void Promise.resolve().then(() => engine.stop());
    });
    engine.at(20, () => fired.push(20));
    await engine.run();
    expect(fired).toEqual([10]);
    expect(engine.now).toBe(10);
  });

  it('a timer callback that throws rejects the run with that value', async () => {
    const engine = new SimulationEngine();
    const boom = { boom: true };
    engine.at(1, () => {
      throw boom;
    });
    await expect(engine.run()).rejects.toBe(boom);
  });

  it('reports a zero-delay loop instead of hanging', async () => {
    const engine = new SimulationEngine({ maxStepsAtOneInstant: 10_000 });
    const spin = (): void => void engine.after(0, spin);
    spin();
    await expect(engine.run()).rejects.toThrow(/without time advancing/);
  });

  it('refuses a second run while one is going and bad options at construction', async () => {
    const engine = new SimulationEngine();
    engine.at(1, () => {});
    const first = engine.run();
    await expect(engine.run()).rejects.toThrow(/already running/);
    await first;
    expect(() => new SimulationEngine({ seed: 1.5 })).toThrow(/"seed"/);
    expect(() => new SimulationEngine({ yieldEvery: 0 })).toThrow(/"yieldEvery"/);
    expect(() => new SimulationEngine({ maxStepsAtOneInstant: -1 })).toThrow(/"maxStepsAtOneInstant"/);
  });

  it('yields real event-loop turns during long runs (I/O and other timers are not starved)', async () => {
    const engine = new SimulationEngine({ yieldEvery: 100 });
    let realTimerFired = false;
    setTimeout(() => (realTimerFired = true), 0);
    let firedAfterRealTimer = 0;
    const tick = (): void => {
      if (realTimerFired) firedAfterRealTimer++;
      if (engine.now < 100_000) engine.after(1, tick);
    };
    tick();
    await engine.run();
    expect(firedAfterRealTimer).toBeGreaterThan(0);
  });
});

describe('TimerHeap', () => {
  it('pops in (time, seq) order under random pushes, pops and removals', () => {
    // A reschedule is the engine's: the timer's pending entry is cancelled, then the same
    // object is pushed again with a new time and seq (its old entry stays behind, stale).
    type Op = { kind: 'push'; time: number } | { kind: 'pop' } | { kind: 'remove'; pick: number } | { kind: 'reschedule'; pick: number; time: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('push' as const), time: fc.integer({ min: 0, max: 50 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('pop' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('reschedule' as const), pick: fc.nat(), time: fc.integer({ min: 0, max: 50 }) }) },
    );
    fc.assert(
      // Up to 1,500 operations: the heap grows past its first 256 entries and compacts.
      fc.property(fc.array(op, { maxLength: 1_500 }), (ops) => {
        const heap = new TimerHeap();
        const model: Timer[] = [];
        let seq = 0;
        const order = (a: Timer, b: Timer): number => a.time - b.time || a.seq - b.seq;
        for (const o of ops) {
          if (o.kind === 'push') {
            const timer = new Timer();
            timer.time = o.time;
            timer.seq = seq++;
            heap.push(timer);
            model.push(timer);
          } else if (o.kind === 'pop') {
            model.sort(order);
            expect(heap.pop()).toBe(model.shift());
          } else if (o.kind === 'remove' && model.length > 0) {
            const victim = model.splice(o.pick % model.length, 1)[0]!;
            expect(heap.remove(victim)).toBe(true);
            expect(heap.remove(victim)).toBe(false);
          } else if (o.kind === 'reschedule' && model.length > 0) {
            const moved = model[o.pick % model.length]!;
            expect(heap.remove(moved)).toBe(true);
            moved.time = o.time;
            moved.seq = seq++;
            heap.push(moved);
          }
          expect(heap.size).toBe(model.length);
        }
        model.sort(order);
        for (const expected of model) expect(heap.pop()).toBe(expected);
        expect(heap.pop()).toBeUndefined();
      }),
    );
  });
});

describe('createRandom', () => {
  it('gives the same sequence for the same seed and stream, another for another', () => {
    const take = (r: () => number): number[] => Array.from({ length: 5 }, r);
    expect(take(createRandom(7, 1))).toEqual(take(createRandom(7, 1)));
    expect(take(createRandom(7, 1))).not.toEqual(take(createRandom(7, 2)));
    expect(take(createRandom(7, 1))).not.toEqual(take(createRandom(8, 1)));
  });

  it('is uniform on [0, 1): mean, variance and a chi-square test over 20 bins', () => {
    const random = createRandom(12345, 0);
    const n = 200_000;
    const bins = new Array<number>(20).fill(0);
    let sum = 0;
    let squares = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = random();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
      squares += u * u;
      bins[Math.floor(u * 20)]!++;
    }
    expect(outside).toBe(0);
    const mean = sum / n;
    expect(mean).toBeCloseTo(0.5, 2);
    expect(squares / n - mean * mean).toBeCloseTo(1 / 12, 3);
    const expected = n / 20;
    const chi2 = bins.reduce((acc, observed) => acc + (observed - expected) ** 2 / expected, 0);
    // 19 degrees of freedom: P(chi2 > 43.8) = 0.001.
    expect(chi2).toBeLessThan(43.8);
  });
});

/**
 * The engine must run real policies exactly as TestClock (the project's reference virtual
 * clock, which settles with a full event-loop turn after every timer) does: same outcomes at
 * the same virtual times, for random schedules of calls through a four-policy pipeline.
 */
describe('the engine agrees with TestClock', () => {
  interface Call {
    readonly startMs: number;
    readonly latencyMs: number;
    readonly fails: boolean;
  }
  type Outcome = readonly [index: number, endMs: number, result: string];

  function build(clock: bw.Clock, seed: number): bw.Policy {
    return bw.pipeline(
      bw.retry({ maxRetries: 2, backoff: bw.exponentialBackoff({ initialMs: 5, maxMs: 40 }), clock, random: createRandom(seed, 9) }),
      bw.circuitBreaker({ consecutiveFailures: 3, halfOpenAfterMs: 50, clock }),
      bw.bulkhead({ maxConcurrent: 2, maxQueue: 2, clock }),
      bw.timeout(60, { clock }),
    );
  }

  function schedule(clock: bw.Clock, calls: readonly Call[], seed: number, outcomes: Outcome[]): void {
    const policy = build(clock, seed);
    calls.forEach((call, index) => {
      clock.setTimeout(() => {
        let attempt = 0;
        policy
          .execute(
            () =>
              new Promise<string>((resolve, reject) => {
                const failing = call.fails && attempt++ === 0;
                clock.setTimeout(() => (failing ? reject(new Error('down')) : resolve('ok')), call.latencyMs);
              }),
          )
          .then(
            (value) => outcomes.push([index, clock.now(), value]),
            (error: unknown) => outcomes.push([index, clock.now(), (error as { code?: string }).code ?? (error as Error).message]),
          );
      }, call.startMs);
    });
  }

  it('for random schedules of calls', async () => {
    const call = fc.record({ startMs: fc.integer({ min: 0, max: 400 }), latencyMs: fc.integer({ min: 1, max: 120 }), fails: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 25 }), fc.integer(), async (calls, seed) => {
        const testClock = new TestClock();
        const expected: Outcome[] = [];
        schedule(testClock, calls, seed, expected);
        await testClock.runAll();

        const engine = new SimulationEngine();
        const actual: Outcome[] = [];
        schedule(engine.clock, calls, seed, actual);
        await engine.run();

        expect(actual).toEqual(expected);
        expect(actual.length).toBe(calls.length);
        expect(engine.pending).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});

describe('settling without process._tickCallback', () => {
  const scenario = (): Scenario => ({
    durationMs: 4_000,
    seed: 3,
    load: { rps: 300, instances: 2 },
    downstream: {
      servers: 4,
      latencyMs: { lognormal: { p50Ms: 10, p99Ms: 40 } },
      phases: [{ atMs: 1_500, latencyMs: 300, errorRate: 0.4, label: 'bad deploy' }],
    },
    policy: ({ clock, random }) =>
      bw.pipeline(
        bw.retry({ maxRetries: 2, clock, random }),
        bw.circuitBreaker({ halfOpenAfterMs: 500, consecutiveFailures: 5, clock }),
        bw.bulkhead({ maxConcurrent: 3, maxQueue: 2, clock }),
        bw.timeout(100, { clock }),
      ),
    callers: { timeoutMs: 400, retries: 1 },
    sloMs: 150,
  });

  it('this Node has the hook the engine drains with (else every run takes the fallback)', () => {
    expect(typeof (process as { _tickCallback?: unknown })._tickCallback).toBe('function');
  });

  it('the sentinel-and-tick fallback gives the same report, byte for byte', async () => {
    const withDrain = JSON.stringify(await simulate(scenario()));
    vi.resetModules();
    const host = process as { _tickCallback?: unknown };
    const hook = host._tickCallback;
    host._tickCallback = undefined;
    let fresh: typeof import('../../src/sim/index.js');
    try {
      // The engine reads the hook once, when its module is evaluated.
      fresh = await import('../../src/sim/index.js');
    } finally {
      host._tickCallback = hook;
    }
    expect(fresh.simulate).not.toBe(simulate);
    const withTicks = JSON.stringify(await fresh.simulate(scenario()));
    expect(withTicks).toBe(withDrain);
    expect((JSON.parse(withDrain) as SimulationReport).totals.breakerTransitions).toBeGreaterThan(0);
  });
});
