import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { isFastRefusal } from '../core/errors.js';
import { eventNames, type FailureEvent, type RetryEvent, type SuccessEvent } from '../core/events.js';
import { readHandleOptions, safeTest, type ErrorFilter, type ResultFilter } from '../core/handle.js';
import { Observer, UNTIMED, type StartTime } from '../core/observe.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import { sleep } from '../core/sleep.js';
import {
  checkClock,
  checkName,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionNames,
  optionalFunction,
  optionalNumber,
} from '../core/validate.js';
import { exponentialBackoff, isBackoff, type Backoff } from './backoff.js';
import { isRetryBudget, type RetryBudget } from './budget.js';

/** `R`: the type of the results `handleResult` judges, when you know it (default `unknown`). */
export interface RetryOptions<R = unknown> {
  /** Retries after the first call (0 = never retry; Infinity allowed with a caller signal). */
  maxRetries: number;
  /** Default `exponentialBackoff()`. */
  backoff?: Backoff | undefined;
  /**
   * Which errors to retry. Default: every error except the library's fast refusals
   * (`isFastRefusal`: open circuit, full bulkhead, concurrency or rate limit, limiter
   * unavailable), which say no call was made and waiting them out would only add latency.
   * `TimeoutError` and every user error are retried. Nothing is retried once the caller aborted.
   */
  handle?: ErrorFilter | undefined;
  /** Results that count as failures (retried; the last one is returned when retries run out). */
  handleResult?: ResultFilter<R> | undefined;
  /** Cap on any single wait, including one asked for by an error's `retryAfterMs`. Default 30 000. */
  maxDelayMs?: number | undefined;
  /** Caps retries at a fraction of recent calls (see `retryBudget`); share one per downstream. */
  budget?: RetryBudget | undefined;
  /** Time source of the waits between attempts; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Source of the backoff's jitter, returning numbers in [0, 1); default `Math.random` (seed it in tests). */
  random?: (() => number) | undefined;
  /** Names the policy in its events and telemetry; default `'retry'`. */
  name?: string | undefined;
}

const RETRY_OPTIONS = optionNames<RetryOptions>({
  maxRetries: true, backoff: true, handle: true, handleResult: true, maxDelayMs: true,
  budget: true, clock: true, random: true, name: true,
});

/** The events a retry emits; subscribe with `on(event, listener)`. */
export interface RetryEvents {
  /** An attempt failed and is retried after `delayMs`. */
  retry: RetryEvent;
  /** The call finally succeeded (possibly after retries). */
  success: SuccessEvent;
  /** The call finally failed: retries exhausted, error not handled, or aborted. */
  failure: FailureEvent;
  /** A retry was skipped because the retry budget was spent. */
  budgetExhausted: {
    /** The attempt that would have started (2 for the first retry). */
    readonly attempt: number;
    /** The failure that would have been retried; the call rejects with it. */
    readonly error: unknown;
  };
}

export const RETRY_EVENTS = eventNames<RetryEvents>({ retry: true, success: true, failure: true, budgetExhausted: true });

interface Failure {
  readonly error: unknown;
  readonly result: unknown;
  readonly isResult: boolean;
}

/** The default `handle`: an open breaker or a full bulkhead inside a retry fails fast. */
const notFastRefusal: ErrorFilter = (error) => !isFastRefusal(error);

function retryAfterOf(error: unknown): number {
  if (typeof error !== 'object' || error === null) return 0;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  // Stryker disable next-line EqualityOperator: `value >= 0` is equivalent (a retryAfterMs of 0 and the fallback are both 0); `typeof value !== 'number'`, `value <= 0` and `value === Infinity` were killed before this mark
  return typeof value === 'number' && value > 0 && value !== Infinity ? value : 0;
}

/**
 * Runs `fn` again when it fails, up to `maxRetries` times, waiting the backoff's delay between
 * attempts (at least an error's `retryAfterMs`, at most `maxDelayMs`). Each attempt gets its own
 * `ctx.attempt`; the wait ends at once when the caller aborts.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, retry } from 'breakwater';
 *
 * const retrying = retry({
 *   maxRetries: 3,
 *   backoff: exponentialBackoff({ initialMs: 5, maxMs: 100, jitter: 'full' }),
 *   handle: (error) => !(error instanceof TypeError), // a bug won't fix itself: don't retry it
 * });
 * const result = await retrying.execute(async ({ attempt }) => {
 *   if (attempt < 3) throw new Error('flaky');
 *   return 'ok';
 * });
 * console.log(result); // ok
 * ```
 */
export function retry<R = unknown>(options: RetryOptions<R>): RetryPolicy {
  const opts = checkOptionsObject('retry', options, true, RETRY_OPTIONS);
  const maxRetries = checkNumber('maxRetries', opts['maxRetries'], { min: 0, integer: true, infinite: true });
  const backoff = opts['backoff'] === undefined ? exponentialBackoff() : opts['backoff'];
  if (!isBackoff(backoff)) {
    throw new TypeError(
      `breakwater: option "backoff" must be a Backoff (constantBackoff(), exponentialBackoff()), received ${describeValue(backoff)}`,
    );
  }
  const maxDelayMs = optionalNumber('maxDelayMs', opts['maxDelayMs'], 30_000, { min: 0 });
  checkClock(opts['clock']);
  const random = optionalFunction<() => number>('random', opts['random']) ?? Math.random;
  const { handle: given, handleResult } = readHandleOptions(opts);
  const handle = opts['handle'] === undefined ? notFastRefusal : given;
  const budget = opts['budget'];
  if (budget !== undefined && !isRetryBudget(budget)) {
    throw new TypeError(`breakwater: option "budget" must be a RetryBudget (retryBudget()), received ${describeValue(budget)}`);
  }
  return new RetryPolicy({
    budget,
    maxRetries,
    backoff,
    maxDelayMs,
    handle,
    handleResult,
    clock: (opts['clock'] as Clock | undefined) ?? systemClock,
    random,
    name: checkName(opts['name'], 'retry'),
  });
}

interface RetrySettings {
  budget: RetryBudget | undefined;
  maxRetries: number;
  backoff: Backoff;
  maxDelayMs: number;
  handle: ErrorFilter;
  handleResult: ResultFilter | undefined;
  clock: Clock;
  random: () => number;
  name: string;
}

/**
 * A retry policy, built by `retry()`.
 *
 * @example
 * ```ts
 * import { retry } from 'breakwater';
 *
 * const retrying = retry({ maxRetries: 2, name: 'inventory' });
 * retrying.on('retry', ({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs.toFixed(1)} ms`));
 * const stock = await retrying.execute(() => fetch('https://example.com/stock'));
 * ```
 */
export class RetryPolicy extends PolicyBase<RetryEvents> {
  readonly kind = 'retry';
  protected readonly eventNames = RETRY_EVENTS;
  /** Retries after the first call (the `maxRetries` option). */
  readonly maxRetries: number;
  private readonly settings: RetrySettings;
  private readonly observer: Observer<RetryEvents>;

  /** @internal Use `retry()`, which validates the options. */
  constructor(settings: RetrySettings) {
    const observer = new Observer<RetryEvents>(() => settings.name, settings.clock);
    super(settings.name, observer);
    this.settings = settings;
    this.maxRetries = settings.maxRetries;
    this.observer = observer;
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    const startedAt = this.observer.start();
    const { handleResult, budget } = this.settings;
    if (budget !== undefined) budget.recordCall();
    // The first attempt runs without any extra allocation beyond one `then`; the retry loop
    // only exists once something failed.
    return next(ctx).then(
      // Stryker disable next-line ConditionalExpression: `false` for `handleResult === undefined` is equivalent (the handler then runs with no handleResult on an untimed call: it skips safeTest, and succeeded(UNTIMED) emits nothing); the other five ConditionalExpression mutants of this line were killed before this mark
      handleResult === undefined && startedAt === UNTIMED
        ? undefined
        : (value: unknown) => {
            // Stryker disable next-line ConditionalExpression: `true` for `handleResult !== undefined` is equivalent (with no handleResult, safeTest(undefined, value) catches the TypeError and returns false); the other three ConditionalExpression mutants of this line were killed before this mark
            if (handleResult !== undefined && safeTest(handleResult, value) && !ctx.aborted) {
              return this.retryLoop(ctx, next, { error: undefined, result: value, isResult: true }, startedAt);
            }
            this.emitOutcome(startedAt, false, undefined);
            return value;
          },
      (error: unknown) => this.retryLoop(ctx, next, { error, result: undefined, isResult: false }, startedAt),
    );
  }

  private shouldRetry(ctx: Scope, failure: Failure): boolean {
    // Once the caller gave up (or an outer timeout fired), nothing new starts.
    if (ctx.aborted) return false;
    return failure.isResult || safeTest(this.settings.handle, failure.error);
  }

  private withinBudget(budget: RetryBudget | undefined, attempt: number, failure: Failure): boolean {
    if (budget === undefined || budget.tryRetry()) return true;
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event); `false` was killed before this mark
    if (this.events.wants('budgetExhausted')) {
      this.events.emit('budgetExhausted', { attempt: attempt + 1, error: failure.isResult ? failure.result : failure.error });
    }
    return false;
  }

  private async retryLoop(ctx: Scope, next: Next, first: Failure, startedAt: StartTime): Promise<unknown> {
    const { maxRetries, backoff, maxDelayMs, clock, random, handleResult, budget } = this.settings;
    let failure = first;
    let previousDelayMs = 0;
    for (let attempt = 1; ; attempt++) {
      if (attempt > maxRetries || !this.shouldRetry(ctx, failure) || !this.withinBudget(budget, attempt, failure)) {
        if (failure.isResult) {
          this.emitOutcome(startedAt, false, undefined);
          return failure.result;
        }
        this.emitOutcome(startedAt, true, failure.error);
        throw failure.error;
      }
      const backoffMs = backoff.delayMs({ retry: attempt, previousDelayMs, random });
      const wanted = Math.max(backoffMs, failure.isResult ? 0 : retryAfterOf(failure.error));
      // Stryker disable next-line EqualityOperator: `wanted <= maxDelayMs` is equivalent (when they are equal both branches give maxDelayMs); `wanted >= maxDelayMs` was killed before this mark
      const delayMs = wanted < maxDelayMs ? wanted : maxDelayMs;
      previousDelayMs = delayMs;
      if (this.events.wants('retry')) {
        this.events.emit('retry', failure.isResult
          ? { attempt: attempt + 1, delayMs, error: undefined, result: failure.result }
          : { attempt: attempt + 1, delayMs, error: failure.error });
      }
      try {
        // A zero delay still yields (a 0 ms timer of the clock): a fn that fails without I/O
        // would otherwise retry in one unbroken chain of microtasks, deaf to the caller's
        // abort, an outer timeout or a freed bulkhead slot (with maxRetries: Infinity, forever).
        await sleep(clock, delayMs, ctx);
      } catch (reason) {
        this.emitOutcome(startedAt, true, reason);
        throw reason;
      }
      try {
        const value = await next(ctx.withAttempt(attempt + 1));
        // Stryker disable next-line ConditionalExpression: `true` for `handleResult !== undefined` is equivalent (with no handleResult, safeTest(undefined, value) catches the TypeError and returns false); the other two ConditionalExpression mutants of this line were killed before this mark
        if (handleResult !== undefined && safeTest(handleResult, value)) {
          failure = { error: undefined, result: value, isResult: true };
          continue;
        }
        this.emitOutcome(startedAt, false, undefined);
        return value;
      } catch (error) {
        failure = { error, result: undefined, isResult: false };
      }
    }
  }

  private emitOutcome(startedAt: StartTime, failed: boolean, error: unknown): void {
    if (failed) this.observer.failed(startedAt, error);
    else this.observer.succeeded(startedAt);
  }
}
