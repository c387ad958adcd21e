import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { circuitBreaker, type CircuitBreaker } from '../../src/circuit-breaker/index.js';
import { CircuitIsolatedError, CircuitOpenError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, track, type Tracked } from '../helpers.js';
import { BreakerModel, modelCoverage, type ModelCall, type ModelConfig, type ModelState } from '../circuit-breaker/model.js';

// Model-based test: random sequences of calls that succeed, fail, run slow, hang or are aborted
// by their caller, interleaved with time passing and isolation, run against the breaker and
// against the reference model. Admissions, rejections (with retryAfterMs), state, stats and
// stateChange events must match the model exactly after every step.

interface Pending {
  model: ModelCall;
  settle: (kind: 'ok' | 'fail' | 'abort') => void;
  tracked: Tracked<unknown>;
  value: unknown;
  error: unknown;
  abortReason: unknown;
}

interface Real {
  clock: TestClock;
  breaker: CircuitBreaker;
  pending: Pending[];
  events: Array<{ from: ModelState; to: ModelState }>;
  releases: Array<{ real: () => void; model: () => void }>;
}

type Model = { m: BreakerModel };

async function compare(model: Model, real: Real): Promise<void> {
  const m = model.m;
  expect(real.clock.now()).toBe(m.now);
  expect(real.breaker.state).toBe(m.visibleState());
  const stats = real.breaker.stats;
  expect({
    calls: stats.calls,
    failures: stats.failures,
    slowCalls: stats.slowCalls,
    consecutiveFailures: stats.consecutiveFailures,
  }).toEqual(m.stats());
  expect(real.events).toEqual(m.transitions);
}

let sequence = 0;

class CallCommand implements fc.AsyncCommand<Model, Real> {
  /**
   * `settleWith` undefined: the call stays pending (it may hang forever). `takesMs` > 0: time
   * passes while the call runs, then it settles (a slow call).
   */
  constructor(
    readonly settleWith: 'ok' | 'fail' | 'abort' | undefined,
    readonly takesMs = 0,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const expected = model.m.admit();
    let admitted = false;
    let settleFn!: (kind: 'ok' | 'fail' | 'abort') => void;
    const controller = new AbortController();
    const value = { value: ++sequence };
    const error = { error: sequence };
    const abortReason = { abort: sequence };
    const tracked = track(
      real.breaker.execute(
        () => {
          admitted = true;
          return new Promise((resolve, reject) => {
            settleFn = (kind) => {
              if (kind === 'ok') resolve(value);
              else if (kind === 'fail') reject(error);
              else {
                controller.abort(abortReason);
                reject(abortReason);
              }
            };
          });
        },
        { signal: controller.signal },
      ),
    );
    expect(admitted).toBe(expected.admitted);
    await flush();
    if (!expected.admitted) {
      expect(tracked.status).toBe('rejected');
      expect(tracked.error).toBeInstanceOf(expected.isolated ? CircuitIsolatedError : CircuitOpenError);
      expect((tracked.error as CircuitOpenError).retryAfterMs).toBe(expected.retryAfterMs);
    } else {
      expect(tracked.status).toBe('pending');
      const pending: Pending = { model: expected.call, settle: settleFn, tracked, value, error, abortReason };
      real.pending.push(pending);
      if (this.settleWith !== undefined) {
        if (this.takesMs > 0) {
          await real.clock.advance(this.takesMs);
          model.m.now += this.takesMs;
        }
        await settle(model, real, real.pending.length - 1, this.settleWith);
      }
    }
    await compare(model, real);
  }
  toString(): string {
    return `call(${this.settleWith ?? 'pending'}${this.takesMs > 0 ? `, ${this.takesMs} ms` : ''})`;
  }
}

async function settle(model: Model, real: Real, index: number, kind: 'ok' | 'fail' | 'abort'): Promise<void> {
  const [pending] = real.pending.splice(index, 1);
  pending!.settle(kind);
  await flush();
  model.m.settle(pending!.model, kind);
  // Whatever the breaker decided, the caller gets exactly what fn produced (===).
  if (kind === 'ok') expect(pending!.tracked.value).toBe(pending!.value);
  else expect(pending!.tracked.error).toBe(kind === 'fail' ? pending!.error : pending!.abortReason);
}

class SettleCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly kind: 'ok' | 'fail' | 'abort',
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    if (real.pending.length === 0) return;
    await settle(model, real, this.pick % real.pending.length, this.kind);
    await compare(model, real);
  }
  toString(): string {
    return `settle(#${this.pick}, ${this.kind})`;
  }
}

class AdvanceCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    await real.clock.advance(this.ms);
    model.m.now += this.ms;
    await compare(model, real);
  }
  toString(): string {
    return `advance(${this.ms})`;
  }
}

class IsolateCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    real.releases.push({ real: real.breaker.isolate(), model: model.m.isolate() });
    await compare(model, real);
  }
  toString(): string {
    return 'isolate';
  }
}

class ReleaseCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    if (real.releases.length === 0) return;
    // Releasing twice must be harmless: the entry stays in the list.
    const release = real.releases[this.pick % real.releases.length]!;
    release.real();
    release.model();
    await compare(model, real);
  }
  toString(): string {
    return `release(#${this.pick})`;
  }
}

const halfOpen = fc.record({
  halfOpenAfterMs: fc.constantFrom(20, 50, 100),
  halfOpenProbes: fc.integer({ min: 1, max: 3 }),
});
const slow = fc.option(
  fc.record({ slowCallMs: fc.constantFrom(10, 30), slowCallRatio: fc.constantFrom(0.5, 1) }),
  { nil: undefined },
);
const ratio = fc.constantFrom(0.25, 0.5, 0.75, 1);

const consecutiveMode = fc.record({ consecutiveFailures: fc.integer({ min: 1, max: 4 }) });
const countMode = fc
  .record({ failureRatio: ratio, windowCalls: fc.integer({ min: 1, max: 6 }), slow })
  .chain((c) => fc.integer({ min: 0, max: c.windowCalls }).map((minimumThroughput) => ({ ...c, minimumThroughput })));
const timeMode = fc.record({
  failureRatio: ratio,
  windowMs: fc.constantFrom(40, 100, 150),
  windowBuckets: fc.integer({ min: 1, max: 5 }),
  minimumThroughput: fc.integer({ min: 0, max: 5 }),
  slow,
});
/** Consecutive failures plus a slow-call ratio over a count window. */
const mixedMode = fc.record({
  consecutiveFailures: fc.integer({ min: 1, max: 3 }),
  windowCalls: fc.integer({ min: 1, max: 5 }),
  minimumThroughput: fc.integer({ min: 0, max: 1 }),
  slow: fc.record({ slowCallMs: fc.constantFrom(10, 30), slowCallRatio: fc.constantFrom(0.5, 1) }),
});

function toConfig(mode: Record<string, unknown>, h: { halfOpenAfterMs: number; halfOpenProbes: number }): ModelConfig {
  const { slow: slowPart, ...rest } = mode as { slow?: object };
  return { ...h, ...rest, ...(slowPart ?? {}) } as ModelConfig;
}

const commands = fc.commands(
  [
    fc.oneof(
      // Calls settled at once, mostly failures so the breaker trips often.
      { weight: 6, arbitrary: fc.constantFrom('ok', 'fail', 'fail', 'abort').map((k) => new CallCommand(k as 'ok')) },
      // Slow calls: time passes while they run.
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom('ok', 'ok', 'fail'), fc.constantFrom(5, 15, 35))
          .map(([k, ms]) => new CallCommand(k as 'ok', ms)),
      },
      // Calls left pending: settled later, or hung forever.
      { weight: 3, arbitrary: fc.constant(new CallCommand(undefined)) },
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.nat(20), fc.constantFrom('ok', 'ok', 'fail', 'abort'))
          .map(([pick, kind]) => new SettleCommand(pick, kind as 'ok')),
      },
      {
        weight: 4,
        arbitrary: fc
          .oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(5, 15, 20, 35, 50, 100, 150))
          .map((ms) => new AdvanceCommand(ms)),
      },
      { weight: 1, arbitrary: fc.constant(new IsolateCommand()) },
      { weight: 1, arbitrary: fc.nat(5).map((pick) => new ReleaseCommand(pick)) },
    ),
  ],
  { maxCommands: 60, size: 'max' },
);

async function runModel(config: ModelConfig, cmds: Iterable<fc.AsyncCommand<Model, Real>>): Promise<void> {
  const clock = new TestClock();
  const breaker = circuitBreaker({ ...config, clock });
  const real: Real = { clock, breaker, pending: [], events: [], releases: [] };
  breaker.on('stateChange', (e) => real.events.push({ from: e.from, to: e.to }));
  const model: Model = { m: new BreakerModel(config) };
  await fc.asyncModelRun(() => ({ model, real }), cmds);
  // The breaker never owns a timer.
  expect(clock.pending).toBe(0);
  for (const p of real.pending) p.settle('ok');
  await flush();
}

describe('circuit breaker matches the reference model', () => {
  const cases: Array<[string, fc.Arbitrary<Record<string, unknown>>]> = [
    ['consecutive failures', consecutiveMode],
    ['failure ratio over a count window', countMode],
    ['failure ratio over a time window', timeMode],
    ['consecutive failures plus slow-call ratio', mixedMode],
  ];
  for (const [title, mode] of cases) {
    it(title, async () => {
      await fc.assert(
        fc.asyncProperty(mode, halfOpen, commands, async (m, h, cmds) => {
          await runModel(toConfig(m, h), cmds);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('reached every branch of the model (the generator is not too weak)', () => {
    for (const branch of [
      'closed->open',
      'open->half-open',
      'half-open->closed',
      'half-open->open',
      'closed->isolated',
      'open->isolated',
      'half-open->isolated',
      'isolated->closed',
      'hung probe replaced',
      'probe admitted after a win',
      'probe refused after a win',
      'late probe result',
      'late closed result',
      'timed-out probe failed',
      'timed-out probe succeeded',
      'probe aborted',
      'slow probe',
      'closed call aborted',
    ]) {
      expect(modelCoverage[branch] ?? 0, branch).toBeGreaterThan(0);
    }
  });
});
