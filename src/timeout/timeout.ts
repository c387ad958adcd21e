import { AsyncResource } from 'node:async_hooks';
import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { currentDeadline, remainingMs } from '../core/deadline.js';
import { DeadlineEntry, DeadlineQueue } from '../core/deadlines.js';
import { rejectSoon } from '../core/reject.js';
import { TimeoutError } from '../core/errors.js';
import { eventNames, type FailureEvent, type SuccessEvent, type TimeoutEvent } from '../core/events.js';
import { Observer } from '../core/observe.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import { checkClock, checkName, checkNumber, checkOptionsObject, optionNames } from '../core/validate.js';

/** Options of `timeout(ms, options)`. */
export interface TimeoutOptions {
  /** Time source of the timer; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Names the policy in its events and telemetry; default `'timeout'`. */
  name?: string | undefined;
}

const TIMEOUT_OPTIONS = optionNames<TimeoutOptions>({ clock: true, name: true });

/** The events a timeout emits; subscribe with `on(event, listener)`. */
export interface TimeoutEvents {
  /** `fn` answered in time. */
  success: SuccessEvent;
  /** `fn` failed in time (a timeout is the `timeout` event instead). */
  failure: FailureEvent;
  /** The limit passed first: the call rejected with `TimeoutError` and its signal was aborted. */
  timeout: TimeoutEvent;
}

export const TIMEOUT_EVENTS = eventNames<TimeoutEvents>({ success: true, failure: true, timeout: true });

/**
 * Rejects with `TimeoutError` after `ms` without waiting for `fn`, and aborts `ctx.signal`
 * with that error. A late result or rejection of `fn` is swallowed.
 *
 * `ms`: the limit in milliseconds (> 0); inside `runWithDeadline` a tighter deadline wins.
 *
 * @example
 * ```ts
 * import { TimeoutError, timeout } from 'breakwater';
 *
 * const limit = timeout(50);
 * await limit
 *   .execute(({ signal }) => fetch('https://example.com/slow', { signal }))
 *   .catch((error) => {
 *     if (error instanceof TimeoutError) console.log(error.timeoutMs); // 50
 *   });
 * ```
 */
export function timeout(ms: number, options?: TimeoutOptions): TimeoutPolicy {
  checkNumber('ms', ms, { above: 0 });
  const opts = checkOptionsObject('timeout', options, false, TIMEOUT_OPTIONS);
  checkClock(opts['clock']);
  return new TimeoutPolicy(ms, (opts['clock'] as Clock | undefined) ?? systemClock, checkName(opts['name'], 'timeout'));
}

/** One call in flight: it is its own deadline entry, so a call costs one object and one promise. */
class TimedCall extends DeadlineEntry {
  done = false;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  detachCaller: () => void = noop;
  startedAt = 0;
  /**
   * The caller's async context, captured only when someone listens for timeouts: the shared
   * timer fires in the context of whichever call armed it, and a `timeout` listener (a span
   * event, a log line with a request id) must see the context of the call that timed out.
   * An AsyncResource, not `AsyncLocalStorage.snapshot()`: on Node 20 a snapshot costs tens of
   * microseconds per call, a resource a fraction of one.
   */
  context: AsyncResource | undefined = undefined;

  constructor(
    readonly policy: TimeoutPolicy,
    readonly scope: Scope,
    /** The policy's `ms`, or less when an ambient deadline leaves less. */
    readonly timeoutMs: number,
  ) {
    super();
  }

  expire(): void {
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (expire() runs only for an entry still queued, and finish(), which sets done, is only reached once the entry has left the queue); `true` was killed before this mark
    if (this.done) return;
    this.finish();
    const error = TimeoutError.fast(this.timeoutMs);
    this.scope.abort(error);
    this.policy.onTimeout(this);
    this.reject(error);
  }

  finish(): void {
    this.done = true;
    this.detachCaller();
    this.scope.dispose();
  }
}

const noop = (): void => {};

/**
 * A timeout policy, built by `timeout()`: each call rejects with `TimeoutError` after `ms` and
 * its `ctx.signal` aborts. One timer serves every call in flight.
 *
 * @example
 * ```ts
 * import { timeout } from 'breakwater';
 *
 * const limit = timeout(1_000, { name: 'search' });
 * limit.on('timeout', ({ timeoutMs }) => console.log(`search gave up after ${timeoutMs} ms`));
 * const hits = await limit.execute(({ signal }) => fetch('https://example.com/search', { signal }));
 * ```
 */
export class TimeoutPolicy extends PolicyBase<TimeoutEvents> {
  readonly kind = 'timeout';
  protected readonly eventNames = TIMEOUT_EVENTS;
  private readonly deadlines: DeadlineQueue;
  private readonly observer: Observer<TimeoutEvents>;

  /** @internal Use `timeout()`, which validates the options. */
  constructor(
    /** The limit of each call, in milliseconds. */
    readonly ms: number,
    clock: Clock,
    name: string,
  ) {
    const observer = new Observer<TimeoutEvents>(() => name, clock);
    super(name, observer);
    this.deadlines = new DeadlineQueue(clock);
    this.observer = observer;
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    // Inside a request with a deadline (see runWithDeadline), never wait past what is left of it.
    let ms = this.ms;
    const ambient = currentDeadline();
    if (ambient !== undefined) {
      const left = remainingMs(ambient);
      if (left <= 0) return this.spent();
      ms = Math.min(ms, left);
    }
    const call = new TimedCall(this, ctx.child(), ms);
    // Read whatever the listeners: the deadline needs it.
    const now = this.observer.now();
    call.startedAt = now;
    if (this.observer.wantsTimeout()) call.context = new AsyncResource('breakwater.timeout');
    const promise = new Promise<unknown>((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
    });
    this.deadlines.add(call, now + ms);
    // Most calls have no caller signal and no outer timeout: skip the closure entirely.
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (onAbort on a scope that is not abortable returns a no-op remover and never calls back; the test only saves the closure); `false` was killed before this mark
    if (ctx.abortable) call.detachCaller = ctx.onAbort((reason) => {
      // Stryker disable next-line ConditionalExpression: `false` is equivalent (done is set only by finish(), which detaches this listener in the same step, so it never runs once done is true); `true` was killed before this mark
      if (call.done) return;
      this.deadlines.remove(call);
      call.finish();
      // A caller abort is not a timeout, but the call did fail from this policy's view.
      this.observer.failed(call.startedAt, reason);
      call.reject(reason);
    });
    next(call.scope).then(
      (value) => {
        if (call.done) return;
        this.deadlines.remove(call);
        call.finish();
        this.observer.succeeded(call.startedAt);
        call.resolve(value);
      },
      (error: unknown) => {
        if (call.done) return;
        this.deadlines.remove(call);
        call.finish();
        this.observer.failed(call.startedAt, error);
        call.reject(error);
      },
    );
    return promise;
  }

  /** The ambient deadline already passed: time out without starting anything. */
  private spent(): Promise<never> {
    const error = TimeoutError.fast(0);
    this.observer.timedOut(0, 0, 0);
    return rejectSoon(error);
  }

  /** @internal */
  onTimeout(call: TimedCall): void {
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (observer.timedOut() asks wantsTimeout() itself and returns; this test only saves the closure); `true` was killed before this mark
    if (!this.observer.wantsTimeout()) return;
    const emit = (): void => this.observer.timedOut(call.startedAt, call.timeoutMs);
    if (call.context !== undefined) call.context.runInAsyncScope(emit);
    else emit();
  }
}
