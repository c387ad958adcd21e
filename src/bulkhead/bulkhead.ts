import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { checkQueueOptions, ConcurrencyGate } from '../core/concurrency-gate.js';
import { BulkheadFullError, withoutStack } from '../core/errors.js';
import { eventNames, type FailureEvent, type RejectedEvent, type SuccessEvent } from '../core/events.js';
import { GAUGES, type Gauge } from '../core/gauges.js';
import { Observer, UNTIMED } from '../core/observe.js';
import { runAdmitted } from '../core/permit.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import { checkClock, checkName, checkNumber, checkOptionsObject, optionNames } from '../core/validate.js';

/** Options of `bulkhead()`. */
export interface BulkheadOptions {
  /** Calls of `fn` allowed in flight at once (an integer ≥ 1). */
  maxConcurrent: number;
  /** Callers allowed to wait for a slot (default 0: reject at once when all slots are busy). Infinity = unbounded. */
  maxQueue?: number | undefined;
  /**
   * Longest a caller waits in the queue; then it rejects with `BulkheadFullError` (and its
   * `fn` never runs). Default: no limit of its own (the caller's signal or an outer timeout
   * still applies). Needs `maxQueue > 0`.
   */
  queueTimeoutMs?: number | undefined;
  /** Time source of the queue timeout and of event durations; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Names the bulkhead in its events and telemetry; default `'bulkhead'`. */
  name?: string | undefined;
}

const BULKHEAD_OPTIONS = optionNames<BulkheadOptions>({ maxConcurrent: true, maxQueue: true, queueTimeoutMs: true, clock: true, name: true });

/** The events a bulkhead emits; subscribe with `on(event, listener)`. */
export interface BulkheadEvents {
  /** A call the bulkhead ran succeeded; `durationMs` counts from arrival (queue wait included). */
  success: SuccessEvent;
  /** A call the bulkhead ran failed; `durationMs` counts from arrival (queue wait included). */
  failure: FailureEvent;
  /** The queue was full, or a caller waited `queueTimeoutMs` without getting a slot. */
  rejected: RejectedEvent<'bulkhead-full'>;
}

export const BULKHEAD_EVENTS = eventNames<BulkheadEvents>({ success: true, failure: true, rejected: true });

/** A snapshot of a bulkhead's counters (`bulkhead.stats`). */
export interface BulkheadStats {
  /** Calls of `fn` in flight (slots taken). */
  readonly active: number;
  /** Callers waiting for a slot. */
  readonly queued: number;
  /** Cumulative count of `BulkheadFullError` rejections (full queue and queue timeouts). */
  readonly rejected: number;
}

/**
 * Never more than `maxConcurrent` calls of `fn` in flight; up to `maxQueue` callers wait, FIFO.
 *
 * @example
 * ```ts
 * import { bulkhead } from 'breakwater';
 *
 * const db = bulkhead({ maxConcurrent: 10, maxQueue: 50, queueTimeoutMs: 200, name: 'db' });
 * const res = await db.execute(({ signal }) => fetch('https://db.internal/query', { signal }));
 * ```
 */
export function bulkhead(options: BulkheadOptions): Bulkhead {
  const opts = checkOptionsObject('bulkhead', options, true, BULKHEAD_OPTIONS);
  const maxConcurrent = checkNumber('maxConcurrent', opts['maxConcurrent'], { min: 1, integer: true });
  const { maxQueue, queueTimeoutMs } = checkQueueOptions(opts);
  checkClock(opts['clock']);
  return new Bulkhead(
    maxConcurrent,
    maxQueue,
    queueTimeoutMs,
    (opts['clock'] as Clock | undefined) ?? systemClock,
    checkName(opts['name'], 'bulkhead'),
  );
}

/** Built without a stack trace: under overload, queue timeouts are a hot rejection path. */
function queueTimeoutError(ms: number): BulkheadFullError {
  return withoutStack(() => new BulkheadFullError(`Bulkhead queue wait exceeded ${ms} ms`));
}

/**
 * A bulkhead policy, built by `bulkhead()`: at most `maxConcurrent` calls of `fn` in flight, up
 * to `maxQueue` callers waiting in FIFO order, every other caller refused with
 * `BulkheadFullError`.
 *
 * @example
 * ```ts
 * import { bulkhead } from 'breakwater';
 *
 * const db = bulkhead({ maxConcurrent: 2, maxQueue: 10 });
 * await Promise.all([1, 2, 3].map((id) => db.execute(() => fetch(`https://example.com/users/${id}`))));
 * console.log(db.stats); // { active: 0, queued: 0, rejected: 0 }
 * ```
 */
export class Bulkhead extends PolicyBase<BulkheadEvents> {
  readonly kind = 'bulkhead';
  protected readonly eventNames = BULKHEAD_EVENTS;
  private rejectedCount = 0;
  private readonly gate: ConcurrencyGate;
  private readonly observer: Observer<BulkheadEvents>;

  /** @internal Use `bulkhead()`, which validates the options. */
  constructor(
    /** Calls of `fn` allowed in flight at once. */
    readonly maxConcurrent: number,
    /** Callers allowed to wait for a slot (0: none, Infinity: unbounded). */
    readonly maxQueue: number,
    /** Longest wait in the queue, in milliseconds; undefined when there is no limit of its own. */
    readonly queueTimeoutMs: number | undefined,
    clock: Clock,
    name: string,
  ) {
    const observer = new Observer<BulkheadEvents>(() => name, clock, 'bulkhead-full');
    super(name, observer);
    this.observer = observer;
    this.gate = new ConcurrencyGate({ limit: maxConcurrent }, maxQueue, queueTimeoutMs, clock, (queueTimedOut) => {
      const error = queueTimedOut ? queueTimeoutError(this.queueTimeoutMs!) : BulkheadFullError.fast();
      this.rejectedCount++;
      this.observer.rejected(error);
      return error;
    });
  }

  /** Calls of `fn` in flight (slots taken). */
  get active(): number {
    return this.gate.active;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.gate.queued;
  }

  /** Counters now: calls in flight, callers queued, refusals so far. */
  get stats(): BulkheadStats {
    return { active: this.gate.active, queued: this.gate.queued, rejected: this.rejectedCount };
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](scope: Scope, next: Next): Promise<unknown> {
    if (scope.aborted) return Promise.reject(scope.reason);
    const arrivedAt = this.observer.start();
    const admission = this.gate.acquire(scope);
    const slot = this.gate.slot;
    // The shared slot, with nobody timing the call: its handlers, no closure, no clock, no layer in between.
    if (admission === slot && arrivedAt === UNTIMED) return next(scope).then(slot.endValue, slot.endError);
    return runAdmitted(admission, scope, next, this.observer, arrivedAt);
  }

  /** @internal The gauges the metrics bridges report. */
  [GAUGES](): readonly Gauge[] {
    return [
      { metric: 'bulkhead.active', description: 'Calls running inside a bulkhead.', unit: '{call}', read: () => this.active },
      { metric: 'bulkhead.queued', description: 'Calls waiting in a bulkhead queue.', unit: '{call}', read: () => this.queued },
    ];
  }
}
