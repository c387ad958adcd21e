import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import type { FailureEvent, RetryEvent, SuccessEvent } from '../core/events.js';
import { readHandleOptions, safeTest, type ErrorFilter, type ResultFilter } from '../core/handle.js';
import { PolicyBase, RUN } from '../core/policy.js';
import { nextTurn, sleep } from '../core/sleep.js';
import {
  checkClock,
  checkName,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalFunction,
  optionalNumber,
} from '../core/validate.js';
import { exponentialBackoff, isBackoff, type Backoff } from './backoff.js';
import { isRetryBudget, type RetryBudget } from './budget.js';

export interface RetryOptions {
  /** Retries after the first call (0 = never retry; Infinity allowed with a caller signal). */
  maxRetries: number;
  /** Default `exponentialBackoff()`. */
  backoff?: Backoff;
  /** Which errors to retry. Default: every error, except after the caller aborted. */
  handle?: ErrorFilter;
  /** Results that count as failures (retried; the last one is returned when retries run out). */
  handleResult?: ResultFilter;
  /** Cap on any single wait, including one asked for by an error's `retryAfterMs`. Default 30 000. */
  maxDelayMs?: number;
  /** Caps retries at a fraction of recent calls (see `retryBudget`); share one per downstream. */
  budget?: RetryBudget;
  clock?: Clock;
  random?: () => number;
  name?: string;
}

export interface RetryPolicyEvents {
  retry: RetryEvent;
  /** The call finally succeeded (possibly after retries). */
  success: SuccessEvent;
  /** The call finally failed: retries exhausted, error not handled, or aborted. */
  failure: FailureEvent;
  /** A retry was skipped because the retry budget was spent. */
  budgetExhausted: { readonly attempt: number; readonly error: unknown };
}

interface Failure {
  readonly error: unknown;
  readonly result: unknown;
  readonly isResult: boolean;
}

function retryAfterOf(error: unknown): number {
  if (typeof error !== 'object' || error === null) return 0;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' && value > 0 && value !== Infinity ? value : 0;
}

export function retry(options: RetryOptions): RetryPolicy {
  const opts = checkOptionsObject('retry', options, true);
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
  const { handle, handleResult } = readHandleOptions(opts);
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

export class RetryPolicy extends PolicyBase<RetryPolicyEvents> {
  readonly kind = 'retry';
  readonly maxRetries: number;
  private readonly settings: RetrySettings;

  constructor(settings: RetrySettings) {
    super(settings.name);
    this.settings = settings;
    this.maxRetries = settings.maxRetries;
  }

  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    const watching = this.events.wantsOutcome();
    const startedAt = watching ? this.settings.clock.now() : 0;
    const { handleResult, budget } = this.settings;
    if (budget !== undefined) budget.recordCall();
    // The first attempt runs without any extra allocation beyond one `then`; the retry loop
    // only exists once something failed.
    return next(ctx).then(
      handleResult === undefined && !watching
        ? undefined
        : (value: unknown) => {
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
    if (this.events.wants('budgetExhausted')) {
      this.events.emit('budgetExhausted', { attempt: attempt + 1, error: failure.isResult ? failure.result : failure.error });
    }
    return false;
  }

  private async retryLoop(ctx: Scope, next: Next, first: Failure, startedAt: number): Promise<unknown> {
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
      const delayMs = wanted < maxDelayMs ? wanted : maxDelayMs;
      previousDelayMs = delayMs;
      if (this.events.wants('retry')) {
        this.events.emit('retry', failure.isResult
          ? { attempt: attempt + 1, delayMs, error: undefined, result: failure.result }
          : { attempt: attempt + 1, delayMs, error: failure.error });
      }
      try {
        // A zero delay still yields one turn of the event loop: a fn that fails without I/O
        // would otherwise retry in one unbroken chain of microtasks, deaf to the caller's
        // abort, an outer timeout or a freed bulkhead slot (with maxRetries: Infinity, forever).
        await (delayMs > 0 ? sleep(clock, delayMs, ctx) : nextTurn(ctx));
      } catch (reason) {
        this.emitOutcome(startedAt, true, reason);
        throw reason;
      }
      try {
        const value = await next(ctx.withAttempt(attempt + 1));
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

  private emitOutcome(startedAt: number, failed: boolean, error: unknown): void {
    if (!this.events.wants(failed ? 'failure' : 'success')) return;
    const durationMs = this.settings.clock.now() - startedAt;
    if (failed) this.events.emit('failure', { durationMs, error });
    else this.events.emit('success', { durationMs });
  }
}
