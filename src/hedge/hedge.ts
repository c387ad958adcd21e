import { systemClock, type Clock } from '../core/clock.js';
import { DeadlineEntry, DeadlineQueue } from '../core/deadlines.js';
import { isFastRefusal } from '../core/errors.js';
import { eventNames, type FailureEvent } from '../core/events.js';
import { safeTest, type ErrorFilter } from '../core/handle.js';
import { Observer } from '../core/observe.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import type { Next, Scope } from '../core/scope.js';
import {
  checkClock,
  checkName,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalFunction,
  optionalNumber,
  optionNames,
} from '../core/validate.js';
import { isRetryBudget, type RetryBudget } from '../retry/budget.js';
import { LatencyWindow } from './latency-window.js';

/** Options of `hedge()`: `delayMs` or `delayPercentile` is required. */
export interface HedgeOptions {
  /** Attempts in all, the first included (an integer 1..10). Default 2. */
  maxAttempts?: number | undefined;
  /**
   * How long an attempt runs without an answer before the next one starts. 0 starts every
   * attempt at once. Required unless `delayPercentile` is given; with it, the delay used until
   * enough latencies were seen (without it, no attempt starts on a timer until then).
   */
  delayMs?: number | undefined;
  /** 0..1: the delay is this percentile of recent successful latencies (e.g. 0.95). */
  delayPercentile?: number | undefined;
  /**
   * Failures that start the next attempt at once. Any other failure ends the hedge with that
   * error. Default: every error except a caller abort and the library's fast refusals.
   */
  handle?: ErrorFilter | undefined;
  /** Share a retry budget with the retries to the same downstream: each extra attempt takes one. */
  budget?: RetryBudget | undefined;
  /** Time source of the hedge delay and of event durations; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Names the policy in its events and telemetry; default `'hedge'`. */
  name?: string | undefined;
}

/** Payload of `hedge`: another attempt starts beside those still running. */
export interface HedgeAttemptEvent {
  /** The attempt about to start: 2 for the first hedge. */
  readonly attempt: number;
  /** `delay`: the previous attempts ran too long; `failure`: one failed with a handled error. */
  readonly trigger: 'delay' | 'failure';
}

/** Payload of a hedge's `success`: which attempt answered, and when. */
export interface HedgeSuccessEvent {
  /** Milliseconds from the start of the first attempt to the winning answer. */
  readonly durationMs: number;
  /** The attempt whose answer won. */
  readonly attempt: number;
}

/** The events a hedge emits; subscribe with `on(event, listener)`. */
export interface HedgeEvents {
  /** Another attempt starts (not emitted for the first). */
  hedge: HedgeAttemptEvent;
  /** An attempt answered; the others were cancelled. */
  success: HedgeSuccessEvent;
  /** The hedge failed: every attempt failed, or one failed with an error `handle` does not match. */
  failure: FailureEvent;
  /** An extra attempt was skipped because the retry budget was spent. */
  budgetExhausted: {
    /** The attempt that was not started. */
    readonly attempt: number;
  };
}

export const HEDGE_EVENTS = eventNames<HedgeEvents>({ hedge: true, success: true, failure: true, budgetExhausted: true });

const HEDGE_OPTIONS = optionNames<HedgeOptions>({
  maxAttempts: true,
  delayMs: true,
  delayPercentile: true,
  handle: true,
  budget: true,
  clock: true,
  name: true,
});

/** Latencies kept for `delayPercentile`, and how many are needed before it is used. */
const WINDOW_SIZE = 256;
const MIN_SAMPLES = 20;
const MAX_ATTEMPTS = 10;

/** A caller abort or a fast refusal says nothing a second attempt could fix. */
const defaultHandle: ErrorFilter = (error) => !isFastRefusal(error);

/**
 * Runs the call once, and again after `delayMs` (or a percentile of recent latencies) while no
 * attempt has answered, up to `maxAttempts` at once. The first success wins; the others are
 * cancelled through their own `ctx.signal` and never count as failures for the policies inside.
 *
 * @example
 * ```ts
 * import { hedge } from 'breakwater';
 *
 * // a second copy of the request after 50 ms without an answer; the first answer wins
 * const hedged = hedge({ delayMs: 50 });
 * const res = await hedged.execute(({ signal }) => fetch('https://example.com/search', { signal }));
 * ```
 */
export function hedge(options?: HedgeOptions): HedgePolicy {
  const opts = checkOptionsObject('hedge', options, false, HEDGE_OPTIONS);
  const maxAttempts = optionalNumber('maxAttempts', opts['maxAttempts'], 2, { min: 1, max: MAX_ATTEMPTS, integer: true });
  const delayPercentile =
    opts['delayPercentile'] === undefined ? undefined : checkNumber('delayPercentile', opts['delayPercentile'], { above: 0, max: 1 });
  let delayMs: number | undefined;
  if (opts['delayMs'] !== undefined) delayMs = checkNumber('delayMs', opts['delayMs'], { min: 0, infinite: true });
  else if (delayPercentile === undefined) {
    throw new TypeError('breakwater: hedge needs option "delayMs" (or "delayPercentile"), received neither');
  }
  const budget = opts['budget'];
  if (budget !== undefined && !isRetryBudget(budget)) {
    throw new TypeError(`breakwater: option "budget" must be a RetryBudget (retryBudget()), received ${describeValue(budget)}`);
  }
  checkClock(opts['clock']);
  return new HedgePolicy({
    maxAttempts,
    delayMs: delayMs ?? Infinity,
    latencies: delayPercentile === undefined ? undefined : new LatencyWindow(WINDOW_SIZE, delayPercentile, MIN_SAMPLES),
    handle: optionalFunction<ErrorFilter>('handle', opts['handle']) ?? defaultHandle,
    budget,
    clock: (opts['clock'] as Clock | undefined) ?? systemClock,
    name: checkName(opts['name'], 'hedge'),
  });
}

interface HedgeSettings {
  readonly maxAttempts: number;
  /** The fixed delay, or the warm-up delay of percentile mode (Infinity: none). */
  readonly delayMs: number;
  readonly latencies: LatencyWindow | undefined;
  readonly handle: ErrorFilter;
  readonly budget: RetryBudget | undefined;
  readonly clock: Clock;
  readonly name: string;
}

function cancelled(): DOMException {
  return new DOMException('Cancelled: another hedged attempt answered first', 'AbortError');
}

/** One hedged call: its attempts, its next-attempt deadline, and how it settles (once). */
class HedgedCall extends DeadlineEntry {
  readonly forks: Scope[] = [];
  readonly startedAt: number[] = [];
  running = 0;
  done = false;
  /** No attempt may start any more (all started, or the budget said no). */
  exhausted = false;
  primaryError: unknown = undefined;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  detachCaller: () => void = noop;

  constructor(
    private readonly policy: HedgePolicy,
    readonly scope: Scope,
    readonly next: Next,
    readonly timed: boolean,
  ) {
    super();
  }

  expire(): void {
    this.policy.launch(this, 'delay');
  }
}

const noop = (): void => {};

/**
 * A hedging policy, built by `hedge()`: starts extra attempts of a slow or failed call and keeps
 * the first answer.
 *
 * @example
 * ```ts
 * import { hedge, retryBudget } from 'breakwater';
 *
 * const budget = retryBudget({ ratio: 0.1 });
 * const hedged = hedge({ delayPercentile: 0.95, delayMs: 100, budget });
 * hedged.on('hedge', ({ attempt, trigger }) => console.log(`attempt ${attempt} (${trigger})`));
 * const res = await hedged.execute(({ signal }) => fetch('https://example.com/search', { signal }));
 * ```
 */
export class HedgePolicy extends PolicyBase<HedgeEvents> {
  readonly kind = 'hedge';
  protected readonly eventNames = HEDGE_EVENTS;
  /** Attempts in all, the first included (the `maxAttempts` option). */
  readonly maxAttempts: number;
  private readonly settings: HedgeSettings;
  private readonly deadlines: DeadlineQueue;
  private readonly observer: Observer<HedgeEvents>;

  /** @internal Use `hedge()`, which validates the options. */
  constructor(settings: HedgeSettings) {
    const observer = new Observer<HedgeEvents>(() => settings.name, settings.clock);
    super(settings.name, observer);
    this.settings = settings;
    this.maxAttempts = settings.maxAttempts;
    this.deadlines = new DeadlineQueue(settings.clock);
    this.observer = observer;
  }

  /** The delay before the next attempt, as of now. */
  get delayMs(): number {
    return this.settings.latencies?.value ?? this.settings.delayMs;
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](scope: Scope, next: Next): Promise<unknown> {
    if (scope.aborted) return Promise.reject(scope.reason);
    if (this.settings.maxAttempts === 1) return next(scope);
    const timed = this.settings.latencies !== undefined || this.events.wantsOutcome();
    const call = new HedgedCall(this, scope, next, timed);
    const promise = new Promise<unknown>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    this.settings.budget?.recordCall();
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (onAbort on a scope that is not abortable returns a no-op remover and never calls back; the test only saves the closure)
    if (scope.abortable) {
      call.detachCaller = scope.onAbort((reason) => {
        // Stryker disable next-line ConditionalExpression: `false` is equivalent (done is set only by finish(), which detaches this listener in the same step, so it never runs once done is true)
        if (call.done) return;
        // The forks abort with their parent: every attempt sees the caller's reason.
        this.finish(call, undefined);
        this.emitFailure(call, reason);
        call.reject(reason);
      });
    }
    this.start(call);
    return promise;
  }

  /** @internal Starts the next attempt (the budget permitting); called by the delay and by handled failures. */
  launch(call: HedgedCall, trigger: HedgeAttemptEvent['trigger']): void {
    // Stryker disable next-line ConditionalExpression,LogicalOperator: `false` and `&&` are equivalent (no caller reaches launch on a settled or exhausted call: finish() and a budget refusal remove the deadline, start() arms none once exhausted, failed() checks both first); `true` was killed before this mark
    if (call.done || call.exhausted) return;
    const attempt = call.forks.length + 1;
    const budget = this.settings.budget;
    if (budget !== undefined && !budget.tryRetry()) {
      call.exhausted = true;
      this.deadlines.remove(call);
      // Stryker disable next-line ConditionalExpression: `true` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event); `false` was killed before this mark
      if (this.events.wants('budgetExhausted')) this.events.emit('budgetExhausted', { attempt });
      if (call.running === 0) this.fail(call, call.primaryError);
      return;
    }
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event); `false` was killed before this mark
    if (this.events.wants('hedge')) this.events.emit('hedge', { attempt, trigger });
    this.start(call);
  }

  /** Starts one attempt, then arms the delay for the next (a zero delay starts it at once). */
  private start(call: HedgedCall): void {
    const { maxAttempts, clock } = this.settings;
    const attempt = call.forks.length + 1;
    const fork = call.scope.fork(attempt);
    call.forks.push(fork);
    call.startedAt.push(call.timed ? this.observer.now() : 0);
    call.running++;
    if (attempt >= maxAttempts) call.exhausted = true;
    call.next(fork).then(
      (value) => this.succeeded(call, attempt, value),
      (error: unknown) => this.failed(call, attempt, error),
    );
    if (call.exhausted || call.done) return;
    const delayMs = this.delayMs;
    if (delayMs === 0) {
      this.launch(call, 'delay');
      return;
    }
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (an Infinity deadline sorts last in the queue and never arms its timer, and finish() removes the entry)
    if (delayMs !== Infinity) this.deadlines.add(call, clock.now() + delayMs);
  }

  private succeeded(call: HedgedCall, attempt: number, value: unknown): void {
    if (call.done) return;
    const now = call.timed ? this.observer.now() : 0;
    this.settings.latencies?.add(now - call.startedAt[attempt - 1]!);
    this.finish(call, attempt);
    // Untimed (a listener came later), both readings are 0: a duration of 0.
    this.observer.succeeded(call.startedAt[0]!, now, attempt);
    call.resolve(value);
  }

  private failed(call: HedgedCall, attempt: number, error: unknown): void {
    if (call.done) return;
    call.running--;
    if (attempt === 1) call.primaryError = error;
    if (!safeTest(this.settings.handle, error)) {
      this.fail(call, error);
      return;
    }
    if (!call.exhausted) {
      this.deadlines.remove(call);
      this.launch(call, 'failure');
      return;
    }
    if (call.running === 0) this.fail(call, call.primaryError);
  }

  private fail(call: HedgedCall, error: unknown): void {
    this.finish(call, undefined);
    this.emitFailure(call, error);
    call.reject(error);
  }

  /** Settles the hedge: no more attempts, every other one cancelled, links released. */
  private finish(call: HedgedCall, winner: number | undefined): void {
    call.done = true;
    this.deadlines.remove(call);
    call.detachCaller();
    let reason: DOMException | undefined;
    call.forks.forEach((fork, index) => {
      if (index + 1 !== winner && !fork.aborted) fork.abort((reason ??= cancelled()), 'cancelled');
      fork.dispose();
    });
  }

  private emitFailure(call: HedgedCall, error: unknown): void {
    // A call untimed at its start (a listener came later) reports a duration of 0.
    if (call.timed) this.observer.failed(call.startedAt[0]!, error);
    else this.observer.failed(0, error, 0);
  }
}
