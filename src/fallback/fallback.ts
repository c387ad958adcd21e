import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import type { FailureEvent, SuccessEvent } from '../core/events.js';
import { readHandleOptions, safeTest, type ErrorFilter, type ResultFilter } from '../core/handle.js';
import { PolicyBase, RUN } from '../core/policy.js';
import { checkClock, checkName, checkOptionsObject } from '../core/validate.js';

export interface FallbackOptions {
  /** Only used to measure `durationMs` for events. */
  clock?: Clock;
  /** Which errors get the fallback. Default: all, except after the caller aborted. */
  handle?: ErrorFilter;
  /** Results that get replaced by the fallback too. Default: none. */
  handleResult?: ResultFilter;
  name?: string;
}

export interface FallbackEvents {
  /** The fallback answered instead of `fn`; `error` is what it replaced (a thrown value or a result). */
  fallback: { readonly error: unknown };
  success: SuccessEvent;
  failure: FailureEvent;
}

/**
 * Answers with `value` (or `value(error)`) when the call fails. A function is called with the
 * thrown value, or with the result that `handleResult` judged a failure.
 */
export function fallback<T>(
  value: T | ((error: unknown) => T | PromiseLike<T>),
  options?: FallbackOptions,
): FallbackPolicy {
  const opts = checkOptionsObject('fallback', options, false);
  const { handle, handleResult } = readHandleOptions(opts);
  checkClock(opts['clock']);
  const clock = (opts['clock'] as Clock | undefined) ?? systemClock;
  const produce = typeof value === 'function' ? (value as (error: unknown) => unknown) : () => value;
  return new FallbackPolicy(produce, handle, handleResult, clock, checkName(opts['name'], 'fallback'));
}

export class FallbackPolicy extends PolicyBase<FallbackEvents> {
  readonly kind = 'fallback';

  constructor(
    private readonly produce: (error: unknown) => unknown,
    private readonly handle: ErrorFilter,
    private readonly handleResult: ResultFilter | undefined,
    private readonly clock: Clock,
    name: string,
  ) {
    super(name);
  }

  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    const { handleResult } = this;
    const watching = this.events.wantsOutcome();
    const result = next(ctx).then(
      handleResult === undefined
        ? undefined
        : (value: unknown) => (safeTest(handleResult, value) ? this.answer(value) : value),
      (error: unknown) => {
        if (ctx.withdrawn || !safeTest(this.handle, error)) throw error;
        return this.answer(error);
      },
    );
    return watching ? this.observe(result) : result;
  }

  /** success/failure describe what the caller got: a fallback answer counts as a success. */
  private observe(result: Promise<unknown>): Promise<unknown> {
    const startedAt = this.clock.now();
    return result.then(
      (value) => {
        if (this.events.wants('success')) this.events.emit('success', { durationMs: this.clock.now() - startedAt });
        return value;
      },
      (error: unknown) => {
        if (this.events.wants('failure')) {
          this.events.emit('failure', { durationMs: this.clock.now() - startedAt, error });
        }
        throw error;
      },
    );
  }

  private answer(replaced: unknown): unknown {
    if (this.events.wants('fallback')) this.events.emit('fallback', { error: replaced });
    return this.produce(replaced);
  }
}
