import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { eventNames, type FailureEvent, type SuccessEvent } from '../core/events.js';
import { readHandleOptions, safeTest, type ErrorFilter, type ResultFilter } from '../core/handle.js';
import { Observer, UNTIMED } from '../core/observe.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import { checkClock, checkName, checkOptionsObject, optionNames } from '../core/validate.js';

/** `R`: the type of the results `handleResult` judges, when you know it (default `unknown`). */
export interface FallbackOptions<R = unknown> {
  /** Only used to measure `durationMs` for events. */
  clock?: Clock | undefined;
  /** Which errors get the fallback. Default: all, except after the caller aborted. */
  handle?: ErrorFilter | undefined;
  /** Results that get replaced by the fallback too. Default: none. */
  handleResult?: ResultFilter<R> | undefined;
  /** Names the policy in its events and telemetry; default `'fallback'`. */
  name?: string | undefined;
}

const FALLBACK_OPTIONS = optionNames<FallbackOptions>({ clock: true, handle: true, handleResult: true, name: true });

/** The fallback answered instead of `fn`. */
export interface FallbackEvent {
  /** What it replaced: the thrown value, or the result `handleResult` judged a failure. */
  readonly error: unknown;
}

/** The events a fallback emits; subscribe with `on(event, listener)`. */
export interface FallbackEvents {
  /** The call failed and the fallback value answered instead. */
  fallback: FallbackEvent;
  /** The caller got a value: `fn`'s result, or the fallback's answer (what the caller saw). */
  success: SuccessEvent;
  /** The caller got a rejection: `handle` did not match the failure, the caller aborted, or the fallback itself failed. */
  failure: FailureEvent;
}

export const FALLBACK_EVENTS = eventNames<FallbackEvents>({ fallback: true, success: true, failure: true });

/**
 * Answers with `value` (or `value(error)`) when the call fails. A function is called with the
 * thrown value, or with the result that `handleResult` judged a failure. The policy's
 * `execute` resolves to `fn`'s result or to the fallback value: `Promise<T | F>`.
 *
 * @example
 * ```ts
 * import { fallback, pipeline, timeout } from 'breakwater';
 *
 * const recommendations = pipeline(fallback((): string[] => []), timeout(200));
 * const list = await recommendations.execute(() => new Promise<string[]>(() => {})); // never answers
 * console.log(list); // []
 * ```
 */
export function fallback<F, R = unknown>(
  value: F | ((error: unknown) => F | PromiseLike<F>),
  options?: FallbackOptions<R>,
): FallbackPolicy<F> {
  const opts = checkOptionsObject('fallback', options, false, FALLBACK_OPTIONS);
  const { handle, handleResult } = readHandleOptions(opts);
  checkClock(opts['clock']);
  const clock = (opts['clock'] as Clock | undefined) ?? systemClock;
  const produce = typeof value === 'function' ? (value as (error: unknown) => unknown) : () => value;
  return new FallbackPolicy<F>(produce, handle, handleResult, clock, checkName(opts['name'], 'fallback'));
}

/**
 * `F`: the fallback value's type, what `execute` may resolve to instead of `fn`'s result.
 *
 * @example
 * ```ts
 * import { fallback } from 'breakwater';
 *
 * const cached = fallback(() => ({ cached: true }), { name: 'profile' });
 * cached.on('fallback', ({ error }) => console.log('served the cached profile after', String(error)));
 * const profile = await cached.execute(() => Promise.reject(new Error('503')));
 * console.log(profile); // { cached: true }
 * ```
 */
export class FallbackPolicy<F = unknown> extends PolicyBase<FallbackEvents, F> {
  readonly kind = 'fallback';
  protected readonly eventNames = FALLBACK_EVENTS;
  private readonly observer: Observer<FallbackEvents>;

  /** @internal Use `fallback()`, which validates the options. */
  constructor(
    private readonly produce: (error: unknown) => unknown,
    private readonly handle: ErrorFilter,
    private readonly handleResult: ResultFilter | undefined,
    clock: Clock,
    name: string,
  ) {
    const observer = new Observer<FallbackEvents>(() => name, clock);
    super(name, observer);
    this.observer = observer;
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    const { handleResult } = this;
    const startedAt = this.observer.start();
    const result = next(ctx).then(
      // Stryker disable next-line ConditionalExpression: `false` is equivalent (with no handleResult, safeTest(undefined, value) catches the TypeError and returns false, so the handler returns the value unchanged); `true` was killed before this mark
      handleResult === undefined
        ? undefined
        : (value: unknown) => (safeTest(handleResult, value) ? this.answer(value) : value),
      (error: unknown) => {
        if (ctx.withdrawn || !safeTest(this.handle, error)) throw error;
        return this.answer(error);
      },
    );
    // success/failure describe what the caller got: a fallback answer counts as a success.
    // Tested here, not only inside `watch`: an untimed call then never reaches its code, and
    // the compiler's inlining budget goes to the rest of the call.
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (watch() returns the promise itself when startedAt is UNTIMED); `true` was killed before this mark
    return startedAt === UNTIMED ? result : this.observer.watch(result, startedAt);
  }

  private answer(replaced: unknown): unknown {
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event); `false` was killed before this mark
    if (this.events.wants('fallback')) this.events.emit('fallback', { error: replaced });
    return this.produce(replaced);
  }
}
