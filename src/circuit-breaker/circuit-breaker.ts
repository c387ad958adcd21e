import type { Next, Scope } from '../core/scope.js';
import type { CircuitOpenError } from '../core/errors.js';
import { safeTest, type ErrorFilter, type ResultFilter } from '../core/handle.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import { rejectSoon } from '../core/reject.js';
import { GAUGES, type Gauge } from '../core/gauges.js';
import { Observer } from '../core/observe.js';
import { CIRCUIT_BREAKER_EVENTS, reportFailedResult, type CircuitBreakerEvents } from './events.js';
import { CircuitMachine } from './machine.js';
import {
  readCircuitBreakerOptions,
  type CircuitBreakerOptions,
  type CircuitBreakerSettings,
  type CircuitBreakerSnapshot,
  type CircuitState,
} from './options.js';
import type { Permit, Verdict } from './permit.js';
import { tripRuleFor } from './trip-rule.js';

/** A snapshot of a breaker's state and counters (`breaker.stats`). */
export interface CircuitBreakerStats {
  /** The state now (as `breaker.state`). */
  readonly state: CircuitState;
  /** Counted calls in the current window (since the breaker last closed, in trip mode A). */
  readonly calls: number;
  /** Counted failures among `calls`. */
  readonly failures: number;
  /** Counted calls slower than `slowCallMs` among `calls`. */
  readonly slowCalls: number;
  /** failures / calls; 0 when there were no calls. */
  readonly failureRatio: number;
  /** slowCalls / calls; 0 when there were no calls. */
  readonly slowCallRatio: number;
  /** Counted failures in a row since the last success. */
  readonly consecutiveFailures: number;
}

/**
 * Stops calling a failing dependency for a while, then lets a few probes through to find out
 * whether it recovered. Transitions are computed when a call arrives: the breaker owns no timer.
 *
 * @example
 * ```ts
 * import { CircuitOpenError, circuitBreaker } from 'breakwater';
 *
 * const breaker = circuitBreaker({ failureRatio: 0.5, windowMs: 10_000, minimumThroughput: 4, halfOpenAfterMs: 5_000 });
 * breaker.on('stateChange', ({ from, to }) => console.log(`${from} -> ${to}`));
 * const res = await breaker.execute(() => fetch('https://example.com')).catch((error) => {
 *   if (error instanceof CircuitOpenError) return new Response(null, { status: 503 }); // fn was not called
 *   throw error;
 * });
 * ```
 */
export function circuitBreaker<R = unknown>(options: CircuitBreakerOptions<R>): CircuitBreaker {
  return new CircuitBreaker(readCircuitBreakerOptions(options));
}

/**
 * A state refuses a call with the error to reject it with. Told apart by shape, not with
 * `instanceof`: our error classes answer that by reading brands (so that the ESM and CJS
 * builds know each other's errors), and even `instanceof Error` made every closed call
 * measurably slower.
 */
function isRefusal(admission: Permit | CircuitOpenError): admission is CircuitOpenError {
  return !('onSuccess' in admission);
}

// The policy asks the current state for a permit, times the call when something needs the
// duration, judges how it settled and hands the verdict to the permit. States, transitions and
// persistence are the machine's (machine.ts, states.ts); when to open is the trip rule's.
/**
 * A circuit breaker, built by `circuitBreaker()`: closed, it counts failures; open, it refuses
 * every call with `CircuitOpenError`; half-open, it lets `halfOpenProbes` probes through.
 *
 * @example
 * ```ts
 * import { circuitBreaker } from 'breakwater';
 *
 * const breaker = circuitBreaker({ halfOpenAfterMs: 5_000, consecutiveFailures: 3 });
 * for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.reject(new Error('503'))).catch(() => {});
 * console.log(breaker.state, breaker.stats.consecutiveFailures); // open 3
 * const saved = JSON.stringify(breaker); // resume it elsewhere: circuitBreaker({ initialState: JSON.parse(saved) })
 * ```
 */
export class CircuitBreaker extends PolicyBase<CircuitBreakerEvents> {
  readonly kind = 'circuit-breaker';
  protected readonly eventNames = CIRCUIT_BREAKER_EVENTS;

  private readonly machine: CircuitMachine;
  private readonly handle: ErrorFilter;
  private readonly handleResult: ResultFilter | undefined;
  /** Slow calls are measured: every closed call is timed. */
  private readonly timesCalls: boolean;
  /** The trip rule needs the completion time of every call (a time window). */
  private readonly needsSettledAt: boolean;
  private readonly observer: Observer<CircuitBreakerEvents>;

  /** @internal Use `circuitBreaker(options)`, which validates the options. */
  constructor(settings: CircuitBreakerSettings) {
    const observer = new Observer<CircuitBreakerEvents>(() => this.name, settings.clock, 'circuit-open');
    super(settings.name, observer);
    this.observer = observer;
    const rule = tripRuleFor(settings);
    this.machine = new CircuitMachine(settings, rule, observer);
    this.handle = settings.handle;
    this.handleResult = settings.handleResult;
    this.timesCalls = settings.slowCallMs !== undefined;
    this.needsSettledAt = rule.needsTime;
  }

  /**
   * The current state. A pure read: an open breaker whose `halfOpenAfterMs` has passed reads
   * as `'half-open'`, and the transition (with its event) happens when the next call arrives.
   */
  get state(): CircuitState {
    return this.machine.visibleState;
  }

  /** Outcomes in the current window. A pure read. */
  get stats(): CircuitBreakerStats {
    const state = this.machine.visibleState;
    const { calls, failures, slowCalls, consecutiveFailures } = this.machine.rule.counts(this.machine.clock);
    return {
      state,
      calls,
      failures,
      slowCalls,
      failureRatio: calls === 0 ? 0 : failures / calls,
      slowCallRatio: calls === 0 ? 0 : slowCalls / calls,
      consecutiveFailures,
    };
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](scope: Scope, next: Next): Promise<unknown> {
    const permit = this.machine.state.tryAcquire();
    if (isRefusal(permit)) return this.refuse(permit);
    const admittedAt = permit.admittedAt;
    // No clock read unless something needs a duration (a probe, slow calls, listeners).
    const timed = admittedAt !== undefined || this.timesCalls || this.observer.wantsOutcome();
    const startedAt = admittedAt ?? (timed ? this.machine.clock.now() : 0);
    return next(scope).then(
      (value: unknown) => {
        this.resolved(permit, timed, startedAt, value);
        return value;
      },
      (error: unknown) => {
        this.threw(permit, timed, startedAt, scope, error);
        throw error;
      },
    );
  }

  private refuse(error: CircuitOpenError): Promise<never> {
    this.observer.rejected(error);
    return rejectSoon(error);
  }

  private resolved(permit: Permit, timed: boolean, startedAt: number, value: unknown): void {
    const verdict = this.handleResult !== undefined && safeTest(this.handleResult, value) ? 'failure' : 'success';
    const settledAt = timed || this.needsSettledAt ? this.machine.clock.now() : undefined;
    const durationMs = timed ? settledAt! - startedAt : 0;
    // Reported before it counts: listeners see a call's failure before the stateChange it causes.
    if (timed) {
      if (verdict === 'success') this.observer.succeeded(startedAt, settledAt);
      else reportFailedResult(this.observer, durationMs, value);
    }
    if (verdict === 'success') permit.onSuccess(durationMs, settledAt);
    else permit.onFailure(durationMs, settledAt);
  }

  private threw(permit: Permit, timed: boolean, startedAt: number, scope: Scope, error: unknown): void {
    // A caller that gave up (or an attempt the library cancelled) says nothing about the
    // dependency's health.
    const verdict: Verdict = scope.withdrawn || !safeTest(this.handle, error) ? 'ignored' : 'failure';
    const settledAt = timed || this.needsSettledAt ? this.machine.clock.now() : undefined;
    const durationMs = timed ? settledAt! - startedAt : 0;
    if (timed) this.observer.failed(startedAt, error, settledAt);
    if (verdict === 'failure') permit.onFailure(durationMs, settledAt);
    else permit.onIgnore();
  }

  /** @internal The gauge the metrics bridges report: 1 for the current state, 0 for the others. */
  [GAUGES](): readonly Gauge[] {
    return [
      {
        metric: 'circuit.state',
        description: 'Circuit breaker state: 1 for the current state, 0 for the others.',
        unit: '1',
        label: 'state',
        read: () => oneHot(this.state),
      },
    ];
  }

  /**
   * Holds the breaker open (`CircuitIsolatedError`) until the returned function is called.
   * Nested isolations are counted; the last release closes it with a fresh window.
   */
  isolate(): () => void {
    return this.machine.isolate();
  }

  /**
   * A plain snapshot for `initialState` (e.g. kept between serverless invocations). Open time
   * is stored as time remaining: monotonic clocks of two processes share no origin.
   */
  toJSON(): CircuitBreakerSnapshot {
    return this.machine.snapshot();
  }
}

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated'];

function oneHot(current: CircuitState): Readonly<Record<string, number>> {
  const values: Record<string, number> = {};
  for (const state of CIRCUIT_STATES) values[state] = state === current ? 1 : 0;
  return values;
}
