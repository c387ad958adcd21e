import type { Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { CircuitIsolatedError, CircuitOpenError } from '../core/errors.js';
import type { FailureEvent, RejectedEvent, StateChangeEvent, SuccessEvent } from '../core/events.js';
import { safeTest, type ErrorFilter, type ResultFilter } from '../core/handle.js';
import { PolicyBase, RUN } from '../core/policy.js';
import type { Backoff } from '../retry/backoff.js';
import {
  readCircuitBreakerOptions,
  type CircuitBreakerOptions,
  type CircuitBreakerSettings,
  type CircuitBreakerSnapshot,
  type CircuitState,
} from './options.js';
import { CountWindow, TimeWindow, type OutcomeWindow } from './window.js';
import { rejectSoon } from '../core/reject.js';

export interface CircuitBreakerFailureEvent extends FailureEvent {
  /** The result `handleResult` judged a failure, when that was the cause (`error` is then undefined). */
  readonly result?: unknown;
}

export interface CircuitBreakerEvents {
  stateChange: StateChangeEvent<CircuitState>;
  /** A call the breaker let through succeeded. */
  success: SuccessEvent;
  /** A call the breaker let through failed (whether or not it counted towards tripping). */
  failure: CircuitBreakerFailureEvent;
  /** The breaker refused a call (`reason` is always `'circuit-open'`, isolated too). */
  rejected: RejectedEvent;
}

export interface CircuitBreakerStats {
  readonly state: CircuitState;
  /** Counted calls in the current window (since the breaker last closed, in trip mode A). */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  /** failures / calls; 0 when there were no calls. */
  readonly failureRatio: number;
  /** slowCalls / calls; 0 when there were no calls. */
  readonly slowCallRatio: number;
  readonly consecutiveFailures: number;
}

/**
 * Every legal transition (contract): a test asserts the breaker never emits another.
 * `half-open → half-open` does not exist: a hung probe only loses its slot.
 */
export const CIRCUIT_TRANSITIONS: Readonly<Record<CircuitState, readonly CircuitState[]>> = Object.freeze({
  closed: Object.freeze(['open', 'isolated'] as const),
  open: Object.freeze(['half-open', 'isolated'] as const),
  'half-open': Object.freeze(['closed', 'open', 'isolated'] as const),
  isolated: Object.freeze(['closed'] as const),
});

/**
 * Stops calling a failing dependency for a while, then lets a few probes through to find out
 * whether it recovered. Transitions are computed when a call arrives: the breaker owns no timer.
 */
export function circuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  return new CircuitBreaker(readCircuitBreakerOptions(options));
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const ISOLATED = 3;
type StateCode = 0 | 1 | 2 | 3;
const NAMES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated'];

/** Outcome of one call, as far as the breaker is concerned. */
const SUCCEEDED = 0;
const FAILED = 1;
/** Not counted either way: a caller abort, or an error `handle` excludes. */
const IGNORED = 2;
type Outcome = 0 | 1 | 2;

/** A half-open call. `live` turns false when it outlives `probeTimeoutMs` and loses its slot. */
interface Probe {
  readonly startedAt: number;
  live: boolean;
}

export class CircuitBreaker extends PolicyBase<CircuitBreakerEvents> {
  readonly kind = 'circuit-breaker';

  // Settings, flattened: the call path reads them on every call.
  private readonly clock: Clock;
  private readonly halfOpenAfter: number | Backoff;
  private readonly random: () => number;
  private readonly consecutiveLimit: number;
  private readonly failureRatio: number;
  private readonly slowCallRatio: number;
  private readonly minimumThroughput: number;
  /** Infinity when slow calls are not measured. */
  private readonly slowCallMs: number;
  private readonly timesCalls: boolean;
  private readonly halfOpenProbes: number;
  private readonly probeTimeoutMs: number;
  private readonly handle: ErrorFilter;
  private readonly handleResult: ResultFilter | undefined;
  private readonly window: OutcomeWindow | undefined;
  /** The window needs the completion time of every call. */
  private readonly timeWindow: boolean;

  private current: StateCode = CLOSED;
  /**
   * Bumped on every transition. A call remembers the period it was admitted in; its outcome
   * only counts if the period is still current (peer bug opossum#381).
   */
  private period = 0;
  private openedAt = 0;
  private openMs = 0;
  private openings = 0;
  private probes: Probe[] = [];
  private probeSuccesses = 0;
  private isolations = 0;
  private consecutive = 0;
  private runCalls = 0;
  private runFailures = 0;

  /** Use `circuitBreaker(options)`, which validates the options. */
  constructor(settings: CircuitBreakerSettings) {
    super(settings.name);
    this.clock = settings.clock;
    this.halfOpenAfter = settings.halfOpenAfterMs;
    this.random = settings.random;
    this.consecutiveLimit = settings.consecutiveFailures;
    this.failureRatio = settings.failureRatio ?? Infinity;
    this.slowCallRatio = settings.slowCallRatio ?? Infinity;
    this.minimumThroughput = settings.minimumThroughput;
    this.slowCallMs = settings.slowCallMs ?? Infinity;
    this.timesCalls = settings.slowCallMs !== undefined;
    this.halfOpenProbes = settings.halfOpenProbes;
    this.probeTimeoutMs = settings.probeTimeoutMs;
    this.handle = settings.handle;
    this.handleResult = settings.handleResult;
    if (settings.windowCalls !== undefined) this.window = new CountWindow(settings.windowCalls);
    else if (settings.windowMs !== undefined) this.window = new TimeWindow(settings.windowMs, settings.windowBuckets);
    this.timeWindow = this.window?.kind === 'time';
    if (settings.initialState !== undefined) this.restore(settings.initialState);
  }

  /**
   * The current state. A pure read: an open breaker whose `halfOpenAfterMs` has passed reads
   * as `'half-open'`, and the transition (with its event) happens when the next call arrives.
   */
  get state(): CircuitState {
    if (this.current === OPEN && this.clock.now() - this.openedAt >= this.openMs) return 'half-open';
    return NAMES[this.current]!;
  }

  /** Outcomes in the current window. A pure read. */
  get stats(): CircuitBreakerStats {
    const state = this.state;
    let calls: number;
    let failures: number;
    let slowCalls = 0;
    if (this.window !== undefined) {
      const totals = this.window.view(this.timeWindow ? this.clock.now() : 0);
      calls = totals.calls;
      failures = totals.failures;
      slowCalls = totals.slowCalls;
    } else {
      calls = this.runCalls;
      failures = this.runFailures;
    }
    return {
      state,
      calls,
      failures,
      slowCalls,
      failureRatio: calls === 0 ? 0 : failures / calls,
      slowCallRatio: calls === 0 ? 0 : slowCalls / calls,
      consecutiveFailures: this.consecutive,
    };
  }

  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    if (this.current !== CLOSED) return this.runNotClosed(ctx, next);
    const period = this.period;
    // No clock read unless something needs a duration (slow calls, listeners).
    const timed = this.timesCalls || this.events.wantsOutcome();
    const startedAt = timed ? this.clock.now() : 0;
    return next(ctx).then(
      (value: unknown) => {
        this.settled(period, undefined, timed, startedAt, this.judgeResult(value), false, value);
        return value;
      },
      (error: unknown) => {
        this.settled(period, undefined, timed, startedAt, this.judgeError(ctx, error), true, error);
        throw error;
      },
    );
  }

  private runNotClosed(ctx: Scope, next: Next): Promise<unknown> {
    if (this.current === ISOLATED) return this.reject(CircuitIsolatedError.fast());
    const now = this.clock.now();
    if (this.current === OPEN) {
      const remaining = this.openedAt + this.openMs - now;
      if (remaining > 0) return this.reject(CircuitOpenError.fast(remaining < this.openMs ? remaining : this.openMs));
      this.transition(HALF_OPEN);
      // A stateChange listener may have isolated the breaker (or released it again).
      if ((this.current as StateCode) !== HALF_OPEN) return this[RUN](ctx, next);
    }
    const probes = this.probes;
    // Probes that hung past the timeout give up their slots (peer bug resilience4j#935).
    while (probes.length !== 0 && now - probes[0]!.startedAt >= this.probeTimeoutMs) probes.shift()!.live = false;
    if (probes.length + this.probeSuccesses >= this.halfOpenProbes) {
      // Slots are full, so a probe is in flight: the earliest to time out frees the next slot.
      const oldest = probes[0];
      return this.reject(CircuitOpenError.fast(oldest === undefined ? this.probeTimeoutMs : oldest.startedAt + this.probeTimeoutMs - now));
    }
    const probe: Probe = { startedAt: now, live: true };
    probes.push(probe);
    const period = this.period;
    return next(ctx).then(
      (value: unknown) => {
        this.settled(period, probe, true, now, this.judgeResult(value), false, value);
        return value;
      },
      (error: unknown) => {
        this.settled(period, probe, true, now, this.judgeError(ctx, error), true, error);
        throw error;
      },
    );
  }

  private reject(error: CircuitOpenError): Promise<never> {
    if (this.events.wants('rejected')) this.events.emit('rejected', { reason: 'circuit-open', error });
    return rejectSoon(error);
  }

  private judgeResult(value: unknown): Outcome {
    return this.handleResult !== undefined && safeTest(this.handleResult, value) ? FAILED : SUCCEEDED;
  }

  private judgeError(ctx: Scope, error: unknown): Outcome {
    // A caller that gave up says nothing about the dependency's health.
    return ctx.withdrawn || !safeTest(this.handle, error) ? IGNORED : FAILED;
  }

  /** A call the breaker admitted has settled: report it, then count it if its period is current. */
  private settled(
    period: number,
    probe: Probe | undefined,
    timed: boolean,
    startedAt: number,
    outcome: Outcome,
    threw: boolean,
    valueOrError: unknown,
  ): void {
    const now = timed || this.timeWindow ? this.clock.now() : 0;
    const durationMs = timed ? now - startedAt : 0;
    if (timed) {
      if (threw) {
        if (this.events.wants('failure')) this.events.emit('failure', { durationMs, error: valueOrError });
      } else if (outcome === FAILED) {
        if (this.events.wants('failure')) this.events.emit('failure', { durationMs, error: undefined, result: valueOrError });
      } else if (this.events.wants('success')) {
        this.events.emit('success', { durationMs });
      }
    }
    if (period !== this.period) return;
    if (probe !== undefined) {
      // A probe that outlived probeTimeoutMs lost its slot at that moment: whatever it says
      // now is not evidence about this half-open period. An ignored outcome frees the slot too.
      if (!this.dropProbe(probe) || durationMs >= this.probeTimeoutMs || outcome === IGNORED) return;
      if (outcome === FAILED || durationMs > this.slowCallMs) this.trip(now);
      else if (++this.probeSuccesses >= this.halfOpenProbes) this.close();
      return;
    }
    if (outcome === IGNORED) return;
    const failed = outcome === FAILED;
    const slow = durationMs > this.slowCallMs;
    this.consecutive = failed ? this.consecutive + 1 : 0;
    let trip = this.consecutiveLimit !== 0 && this.consecutive >= this.consecutiveLimit;
    const window = this.window;
    if (window === undefined) {
      this.runCalls++;
      if (failed) this.runFailures++;
    } else {
      window.record(now, failed, slow);
      const calls = window.calls;
      trip ||=
        calls >= this.minimumThroughput &&
        calls !== 0 &&
        (window.failures / calls >= this.failureRatio || window.slowCalls / calls >= this.slowCallRatio);
    }
    if (trip) this.trip(timed || this.timeWindow ? now : this.clock.now());
  }

  /** Removes a probe from the in-flight list; false when it had already timed out. */
  private dropProbe(probe: Probe): boolean {
    if (!probe.live) return false;
    probe.live = false;
    const index = this.probes.indexOf(probe);
    if (index !== -1) this.probes.splice(index, 1);
    return true;
  }

  private trip(now: number): void {
    this.openings++;
    this.openMs = this.nextOpenMs();
    this.openedAt = now;
    this.transition(OPEN);
  }

  private nextOpenMs(): number {
    const after = this.halfOpenAfter;
    if (typeof after === 'number') return after;
    let delay: number;
    try {
      delay = after.delayMs({ retry: this.openings, previousDelayMs: this.openMs, random: this.random });
    } catch {
      // A broken custom Backoff must not turn the caller's outcome into its own error.
      delay = after.maxMs;
    }
    return delay >= 0 ? (delay <= after.maxMs ? delay : after.maxMs) : delay < 0 ? 0 : after.maxMs;
  }

  /** Closed again: a fresh window, and the Backoff starts over. */
  private close(): void {
    this.consecutive = 0;
    this.runCalls = 0;
    this.runFailures = 0;
    this.openings = 0;
    this.window?.reset();
    this.transition(CLOSED);
  }

  private transition(to: StateCode): void {
    const from = this.current;
    this.current = to;
    this.period++;
    for (const probe of this.probes) probe.live = false;
    this.probes = [];
    this.probeSuccesses = 0;
    // Emitted last, with the breaker consistent: a listener may call back into it.
    if (this.events.wants('stateChange')) this.events.emit('stateChange', { from: NAMES[from]!, to: NAMES[to]! });
  }

  /**
   * Holds the breaker open (`CircuitIsolatedError`) until the returned function is called.
   * Nested isolations are counted; the last release closes it with a fresh window.
   */
  isolate(): () => void {
    if (this.isolations++ === 0) {
      // Make the event chain match what `state` reported: open → half-open first, if due.
      if (this.current === OPEN && this.clock.now() - this.openedAt >= this.openMs) this.transition(HALF_OPEN);
      if (this.current !== ISOLATED) this.transition(ISOLATED);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.isolations === 0 && this.current === ISOLATED) this.close();
    };
  }

  /**
   * A plain snapshot for `initialState` (e.g. kept between serverless invocations). Open time
   * is stored as time remaining: monotonic clocks of two processes share no origin.
   */
  toJSON(): CircuitBreakerSnapshot {
    const now = this.clock.now();
    const windowKind = this.window === undefined ? 'none' : this.window.kind;
    if (this.current === ISOLATED) {
      // What releasing it would give: closed, with a fresh window.
      return {
        version: 1,
        state: 'closed',
        openRemainingMs: 0,
        openMs: this.openMs,
        openings: 0,
        consecutiveFailures: 0,
        runCalls: 0,
        runFailures: 0,
        windowKind,
        window: [],
      };
    }
    const remaining = this.current === OPEN ? this.openedAt + this.openMs - now : 0;
    return {
      version: 1,
      state: this.current === OPEN ? 'open' : this.current === HALF_OPEN ? 'half-open' : 'closed',
      openRemainingMs: remaining > 0 ? Math.min(remaining, this.openMs) : 0,
      openMs: this.openMs,
      openings: this.openings,
      consecutiveFailures: this.consecutive,
      runCalls: this.runCalls,
      runFailures: this.runFailures,
      windowKind,
      window: this.window === undefined ? [] : this.window.snapshot(now),
    };
  }

  private restore(snapshot: CircuitBreakerSnapshot): void {
    const now = this.clock.now();
    this.current = snapshot.state === 'open' ? OPEN : snapshot.state === 'half-open' ? HALF_OPEN : CLOSED;
    this.openMs = Math.max(snapshot.openMs, snapshot.openRemainingMs);
    this.openedAt = now + snapshot.openRemainingMs - this.openMs;
    this.openings = snapshot.openings;
    this.consecutive = snapshot.consecutiveFailures;
    this.runCalls = snapshot.runCalls;
    this.runFailures = snapshot.runFailures;
    // A window of another kind (the options changed between deploys) starts fresh.
    if (this.window !== undefined && snapshot.windowKind === this.window.kind) this.window.restore(snapshot.window, now);
  }
}
