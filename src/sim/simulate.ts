import { DeadlineEntry, DeadlineQueue } from '../core/deadlines.js';
import { isFastRefusal } from '../core/errors.js';
import type { Policy } from '../core/policy.js';
import { describeValue } from '../core/validate.js';
import { DOWNSTREAM_RESULT, Downstream } from './downstream.js';
import { SimulationEngine } from './engine.js';
import { Timer } from './heap.js';
import { CallerSignal } from './signal.js';
import { OUTCOME, Recorder, type OutcomeCode } from './report.js';
import type { SimulationReport } from './report.js';
import { resolveScenario, type RateStep, type ResolvedScenario, type Scenario } from './scenario.js';

// Random streams: one per consumer, so that one drawing more does not shift the others.
const STREAM_ARRIVALS = 1;
const STREAM_ROUTING = 2;
const STREAM_DOWNSTREAM = 3;
const STREAM_INSTANCE = 1000;

/** The reason a caller's signal aborts with when the caller stops waiting. */
class CallerTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`the caller gave up after ${timeoutMs} ms (simulated)`);
    this.name = 'CallerTimeoutError';
  }
}

/** Open-loop arrival times for a step schedule of rates. */
class Arrivals {
  private step = 0;

  constructor(
    private readonly steps: readonly RateStep[],
    private readonly poisson: boolean,
    private readonly random: () => number,
  ) {}

  /** The first arrival strictly after `t` (or at `t` when `first`), Infinity when the rate stays 0. */
  next(t: number, first: boolean): number {
    const steps = this.steps;
    for (;;) {
      while (this.step + 1 < steps.length && steps[this.step + 1]!.atMs <= t) this.step++;
      const current = steps[this.step]!;
      const boundary = this.step + 1 < steps.length ? steps[this.step + 1]!.atMs : Infinity;
      if (t < current.atMs) {
        // Before the first step: no traffic yet.
        t = current.atMs;
        first = true;
        continue;
      }
      if (current.rps === 0) {
        if (boundary === Infinity) return Infinity;
        t = boundary;
        first = true;
        continue;
      }
      const gapMs = 1000 / current.rps;
      let at: number;
      if (this.poisson) at = t - gapMs * Math.log(1 - this.random());
      else at = first ? t : t + gapMs;
      // The rate changes at the boundary: a Poisson process forgets, and restarts from there.
      if (at < boundary) return at;
      t = boundary;
      first = true;
    }
  }
}

interface Instance {
  readonly policy: Policy | undefined;
}

/** One attempt of a caller. With a caller timeout it is its own deadline entry. */
class Attempt extends DeadlineEntry {
  done = false;
  signal: CallerSignal | undefined = undefined;

  constructor(
    readonly fleet: Fleet,
    readonly request: number,
    readonly retriesLeft: number,
  ) {
    super();
  }

  readonly onValue = (value: unknown): void => {
    if (this.done) return;
    this.fleet.settle(this, value === DOWNSTREAM_RESULT ? OUTCOME.SUCCEEDED : OUTCOME.FALLBACK);
  };

  readonly onError = (error: unknown): void => {
    if (this.done) return;
    this.fleet.settle(this, isFastRefusal(error) ? OUTCOME.SHED : OUTCOME.FAILED);
  };

  expire(): void {
    if (this.done) return;
    this.fleet.giveUp(this);
  }
}

/** The callers and the upstream instances they call. */
class Fleet {
  private open = 0;
  private arrivalsDone = false;
  private nextInstance = 0;
  private readonly deadlines: DeadlineQueue | undefined;
  private readonly callerTimeout: CallerTimeoutError | undefined;

  constructor(
    private readonly engine: SimulationEngine,
    private readonly scenario: ResolvedScenario,
    private readonly instances: readonly Instance[],
    private readonly downstream: Downstream,
    private readonly recorder: Recorder,
    private readonly routing: () => number,
  ) {
    const timeoutMs = scenario.callerTimeoutMs;
    this.deadlines = timeoutMs === undefined ? undefined : new DeadlineQueue(engine.clock);
    this.callerTimeout = timeoutMs === undefined ? undefined : new CallerTimeoutError(timeoutMs);
  }

  arrive(): void {
    this.open++;
    this.attempt(this.recorder.arrive(this.engine.now), this.scenario.callerRetries);
  }

  endOfArrivals(): void {
    this.arrivalsDone = true;
    if (this.open === 0) this.engine.stop();
  }

  private route(): Instance {
    const count = this.instances.length;
    if (count === 1) return this.instances[0]!;
    if (this.scenario.arrivals === 'poisson') return this.instances[Math.floor(this.routing() * count)]!;
    const instance = this.instances[this.nextInstance]!;
    this.nextInstance = (this.nextInstance + 1) % count;
    return instance;
  }

  private attempt(request: number, retriesLeft: number): void {
    const attempt = new Attempt(this, request, retriesLeft);
    const { policy } = this.route();
    let options: { signal: AbortSignal } | undefined;
    if (this.deadlines !== undefined) {
      attempt.signal = new CallerSignal();
      options = { signal: attempt.signal as unknown as AbortSignal };
      this.deadlines.add(attempt, this.engine.now + this.scenario.callerTimeoutMs!);
    }
    let promise: Promise<unknown>;
    if (policy === undefined) promise = this.downstream.call();
    else {
      try {
        promise = policy.execute(this.downstream.call, options);
      } catch (error) {
        // A foreign policy broke the never-throw rule: its caller sees a failure all the same.
        promise = Promise.reject(error);
      }
    }
    promise.then(attempt.onValue, attempt.onError);
  }

  /** An attempt answered (or failed) while its caller still waited. */
  settle(attempt: Attempt, outcome: OutcomeCode): void {
    attempt.done = true;
    this.deadlines?.remove(attempt);
    if (outcome !== OUTCOME.SUCCEEDED && outcome !== OUTCOME.FALLBACK && attempt.retriesLeft > 0) {
      this.resend(attempt);
    } else this.finish(attempt.request, outcome);
  }

  /** The caller's timeout passed: it stops waiting (the call's work may go on) and maybe resends. */
  giveUp(attempt: Attempt): void {
    attempt.done = true;
    attempt.signal!.abort(this.callerTimeout);
    if (attempt.retriesLeft > 0) this.resend(attempt);
    else this.finish(attempt.request, OUTCOME.FAILED);
  }

  private resend(attempt: Attempt): void {
    this.recorder.callerRetry(attempt.request);
    this.attempt(attempt.request, attempt.retriesLeft - 1);
  }

  private finish(request: number, outcome: OutcomeCode): void {
    this.recorder.finish(request, outcome, this.engine.now);
    if (--this.open === 0 && this.arrivalsDone) this.engine.stop();
  }
}

interface Watchable {
  readonly kind?: unknown;
  readonly policies?: unknown;
  on?(event: string, listener: (event: never) => void): unknown;
}

const OPEN_STATES = new Set(['open', 'isolated']);

/**
 * Listens to the instance's policies, found by walking `pipeline.policies`: `stateChange`
 * (circuit breakers) and `retry` of every policy that has them. A built-in breaker (by its
 * `kind`) counts from the start in the share of breakers open; another policy that emits
 * `stateChange` has its transitions reported, with breaker index -1.
 */
function watch(
  root: Policy,
  instance: number,
  engine: SimulationEngine,
  recorder: Recorder,
): number {
  let breakers = 0;
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    const policy = value as Watchable;
    if (Array.isArray(policy.policies)) {
      for (const inner of policy.policies) visit(inner);
      return;
    }
    if (typeof policy.on !== 'function') return;
    watchStates(policy, instance, policy.kind === 'circuit-breaker' ? breakers++ : -1, engine, recorder);
    subscribe(policy, 'retry', (event: { delayMs?: unknown }) => {
      recorder.retry(engine.now);
      // A zero-delay retry may yield with setImmediate rather than the clock.
      if (event.delayMs === 0) engine.expectImmediate();
    });
  };
  visit(root);
  return breakers;
}

function subscribe(policy: Watchable, event: string, listener: (event: never) => void): boolean {
  try {
    policy.on!(event, listener);
    return true;
  } catch {
    // A policy without this event (one that validates event names) simply has none to report.
    return false;
  }
}

function watchStates(policy: Watchable, instance: number, breaker: number, engine: SimulationEngine, recorder: Recorder): void {
  // A breaker may start open (resumed from a snapshot).
  const initial = (policy as { state?: unknown }).state;
  if (breaker >= 0 && typeof initial === 'string') {
    if (OPEN_STATES.has(initial)) recorder.breakersOpen.set(0, recorder.breakersOpen.value + 1);
    if (initial === 'half-open') recorder.breakersHalfOpen.set(0, recorder.breakersHalfOpen.value + 1);
  }
  subscribe(policy, 'stateChange', (event: { from?: unknown; to?: unknown }) => {
    const from = String(event.from);
    const to = String(event.to);
    const now = engine.now;
    recorder.transition({ atMs: now, instance, breaker, from, to });
    if (breaker < 0) return; // not a built-in breaker: not counted in the share of breakers open
    if (OPEN_STATES.has(from)) recorder.breakersOpen.set(now, recorder.breakersOpen.value - 1);
    if (from === 'half-open') recorder.breakersHalfOpen.set(now, recorder.breakersHalfOpen.value - 1);
    if (OPEN_STATES.has(to)) recorder.breakersOpen.set(now, recorder.breakersOpen.value + 1);
    if (to === 'half-open') recorder.breakersHalfOpen.set(now, recorder.breakersHalfOpen.value + 1);
  });
}

function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && typeof (value as Policy).execute === 'function';
}

/**
 * Runs a scenario in virtual time: open-loop requests from a fleet of upstream instances,
 * each with its own real policies, against a downstream queue with parallel servers.
 * Deterministic: the same scenario and seed give the same report.
 *
 * @example
 * ```ts
 * import { bulkhead, circuitBreaker, pipeline, timeout } from 'breakwater';
 * import { simulate } from 'breakwater/sim';
 *
 * const report = await simulate({
 *   durationMs: 20_000,
 *   seed: 7,
 *   load: { rps: 200 },
 *   downstream: {
 *     servers: 20,
 *     latencyMs: { lognormal: { p50Ms: 20, p99Ms: 60 } },
 *     phases: [{ atMs: 5_000, latencyMs: 2_000, label: 'bad deploy' }],
 *   },
 *   policy: ({ clock }) => pipeline(bulkhead({ maxConcurrent: 10, clock }), circuitBreaker({ halfOpenAfterMs: 1_000, clock }), timeout(100, { clock })),
 *   callers: { timeoutMs: 1_000 },
 *   sloMs: 300,
 * });
 * console.log(report.totals.goodput, report.totals.sent);
 * ```
 */
export async function simulate(scenario: Scenario): Promise<SimulationReport> {
  const resolved = resolveScenario(scenario);
  const engine = new SimulationEngine({ seed: resolved.seed });
  const horizonMs = resolved.durationMs + resolved.drainMs;
  const recorder = new Recorder(horizonMs);
  const downstream = new Downstream(engine, resolved.phases, recorder, engine.random(STREAM_DOWNSTREAM));

  let breakersPerInstance = 0;
  const instances: Instance[] = [];
  for (let i = 0; i < resolved.instances; i++) {
    let policy: Policy | undefined;
    if (resolved.policy !== undefined) {
      const built: unknown = resolved.policy({
        clock: engine.clock,
        random: engine.random(STREAM_INSTANCE + i),
        instance: i,
        instances: resolved.instances,
      });
      if (!isPolicy(built)) {
        throw new TypeError(`breakwater/sim: "policy" must return a policy (an object with execute), received ${describeValue(built)}`);
      }
      policy = built;
      breakersPerInstance = Math.max(breakersPerInstance, watch(built, i, engine, recorder));
    }
    instances.push({ policy });
  }

  const fleet = new Fleet(engine, resolved, instances, downstream, recorder, engine.random(STREAM_ROUTING));
  const arrivals = new Arrivals(resolved.rateSteps, resolved.arrivals === 'poisson', engine.random(STREAM_ARRIVALS));
  // One timer object serves every arrival: it is scheduled again each time it fires.
  const arrival = new Timer(() => {
    fleet.arrive();
    schedule(arrivals.next(engine.now, false));
  });
  const schedule = (at: number): void => {
    if (at < resolved.durationMs) engine.schedule(arrival, at);
    else fleet.endOfArrivals();
  };
  schedule(arrivals.next(0, true));

  await engine.run({ untilMs: horizonMs });
  return recorder.report(resolved, breakersPerInstance, Math.max(resolved.durationMs, engine.now));
}
