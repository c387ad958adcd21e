import { systemClock, type Clock } from '../core/clock.js';
import { checkClock, checkOptionsObject, optionNames, optionalNumber } from '../core/validate.js';

/** Options of `retryBudget()`. */
export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of calls in the window, 0..1. Default 0.2 (Finagle's 20 %). */
  ratio?: number | undefined;
  /** Retries always allowed per second, so low-traffic callers can still retry. Default 10. */
  minPerSecond?: number | undefined;
  /** How far back calls and retries are counted. Default 10 000. */
  windowMs?: number | undefined;
  /** Time source of the window; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
}

const RETRY_BUDGET_OPTIONS = optionNames<RetryBudgetOptions>({ ratio: true, minPerSecond: true, windowMs: true, clock: true });

/**
 * Caps retries at a fraction of recent traffic. Without one, `maxRetries: 3` means a
 * downstream that starts failing receives up to 4× its normal load exactly when it can
 * least take it; with one, retries add at most `ratio` (+ a small floor) on top.
 * Share one budget between all retry policies that call the same downstream.
 */
export interface RetryBudget {
  /** Counts a first attempt (retry policies call this for every call). */
  recordCall(): void;
  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(): boolean;
  /** Counts over the window now. */
  readonly stats: {
    /** First attempts recorded in the window. */
    readonly calls: number;
    /** Retries taken in the window. */
    readonly retries: number;
    /** Retries the window allows in all: `minPerSecond · windowMs / 1000 + ratio · calls`, rounded down. */
    readonly allowed: number;
  };
}

const BUCKETS = 10;

/**
 * A shared cap on retries: at most `ratio` of the calls of the last `windowMs`, plus
 * `minPerSecond`. A retry the budget refuses is not made: the call fails with its last error.
 *
 * @example
 * ```ts
 * import { pipeline, retry, retryBudget, timeout } from 'breakwater';
 *
 * const budget = retryBudget({ ratio: 0.2 }); // one per downstream
 * const search = pipeline(retry({ maxRetries: 3, budget }), timeout(500));
 * const suggest = pipeline(retry({ maxRetries: 1, budget }), timeout(200));
 * console.log(budget.stats); // { calls: 0, retries: 0, allowed: 100 }
 * ```
 */
export function retryBudget(options?: RetryBudgetOptions): RetryBudget {
  const opts = checkOptionsObject('retryBudget', options, false, RETRY_BUDGET_OPTIONS);
  const ratio = optionalNumber('ratio', opts['ratio'], 0.2, { min: 0, max: 1 });
  const minPerSecond = optionalNumber('minPerSecond', opts['minPerSecond'], 10, { min: 0 });
  const windowMs = optionalNumber('windowMs', opts['windowMs'], 10_000, { above: 0 });
  checkClock(opts['clock']);
  const clock = (opts['clock'] as Clock | undefined) ?? systemClock;
  return new SlidingRetryBudget(ratio, minPerSecond, windowMs, clock);
}

/** Ten time buckets with running totals: O(1) per call, forgets by elapsed time. */
class SlidingRetryBudget implements RetryBudget {
  private readonly calls = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private totalCalls = 0;
  private totalRetries = 0;
  private readonly bucketMs: number;
  /** Index of the bucket that covers time `epoch`; -1 until the first use. */
  private currentBucket = -1;
  private epoch = 0;

  constructor(
    private readonly ratio: number,
    private readonly minPerSecond: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {
    this.bucketMs = windowMs / BUCKETS;
  }

  private roll(): number {
    const now = this.clock.now();
    if (this.currentBucket === -1) {
      this.currentBucket = 0;
      this.epoch = now;
      return 0;
    }
    const elapsed = now - this.epoch;
    // A clock that went backwards (only possible with a test clock) re-bases without credit.
    // Stryker disable next-line EqualityOperator: `elapsed <= 0` is equivalent (at 0 the re-base sets the epoch to itself and returns the current bucket, as the no-step path below does); `elapsed >= 0` was killed before this mark
    if (elapsed < 0) {
      this.epoch = now;
      return this.currentBucket;
    }
    const steps = Math.floor(elapsed / this.bucketMs);
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (with no step elapsed the loop below clears nothing and moves neither the bucket nor the epoch; the test only saves that work); `true` was killed before this mark
    if (steps === 0) return this.currentBucket;
    // Stryker disable next-line EqualityOperator: `steps <= BUCKETS` is equivalent (when they are equal both branches give BUCKETS); `steps >= BUCKETS` was killed before this mark
    const clear = steps < BUCKETS ? steps : BUCKETS;
    for (let i = 1; i <= clear; i++) {
      const index = (this.currentBucket + i) % BUCKETS;
      this.totalCalls -= this.calls[index]!;
      this.totalRetries -= this.retries[index]!;
      this.calls[index] = 0;
      this.retries[index] = 0;
    }
    this.currentBucket = (this.currentBucket + steps) % BUCKETS;
    this.epoch += steps * this.bucketMs;
    return this.currentBucket;
  }

  recordCall(): void {
    const index = this.roll();
    this.calls[index]!++;
    this.totalCalls++;
  }

  private get allowed(): number {
    return this.minPerSecond * (this.windowMs / 1000) + this.ratio * this.totalCalls;
  }

  tryRetry(): boolean {
    const index = this.roll();
    if (this.totalRetries + 1 > this.allowed) return false;
    this.retries[index]!++;
    this.totalRetries++;
    return true;
  }

  get stats(): { calls: number; retries: number; allowed: number } {
    this.roll();
    return { calls: this.totalCalls, retries: this.totalRetries, allowed: Math.floor(this.allowed) };
  }
}

export function isRetryBudget(value: unknown): value is RetryBudget {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RetryBudget).recordCall === 'function' &&
    typeof (value as RetryBudget).tryRetry === 'function'
  );
}

