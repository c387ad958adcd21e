import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { ConcurrencyGate } from '../core/concurrency-gate.js';
import { BulkheadFullError } from '../core/errors.js';
import { eventNames, type FailureEvent, type RejectedEvent, type SuccessEvent } from '../core/events.js';
import { PolicyBase, RUN } from '../core/policy.js';
import { checkClock, checkName, checkNumber, checkOptionsObject, optionNames, optionalNumber } from '../core/validate.js';
import { rejectSoon } from '../core/reject.js';

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
  clock?: Clock | undefined;
  name?: string | undefined;
}

const BULKHEAD_OPTIONS = optionNames<BulkheadOptions>({ maxConcurrent: true, maxQueue: true, queueTimeoutMs: true, clock: true, name: true });

export interface BulkheadEvents {
  /** A call the bulkhead ran succeeded; `durationMs` counts from arrival (queue wait included). */
  success: SuccessEvent;
  /** A call the bulkhead ran failed; `durationMs` counts from arrival (queue wait included). */
  failure: FailureEvent;
  /** The queue was full, or a caller waited `queueTimeoutMs` without getting a slot. */
  rejected: RejectedEvent;
}

export const BULKHEAD_EVENTS = eventNames<BulkheadEvents>({ success: true, failure: true, rejected: true });

export interface BulkheadStats {
  readonly active: number;
  readonly queued: number;
  /** Cumulative count of `BulkheadFullError` rejections (full queue and queue timeouts). */
  readonly rejected: number;
}

/** Never more than `maxConcurrent` calls of `fn` in flight; up to `maxQueue` callers wait, FIFO. */
export function bulkhead(options: BulkheadOptions): Bulkhead {
  const opts = checkOptionsObject('bulkhead', options, true, BULKHEAD_OPTIONS);
  const maxConcurrent = checkNumber('maxConcurrent', opts['maxConcurrent'], { min: 1, integer: true });
  const maxQueue = optionalNumber('maxQueue', opts['maxQueue'], 0, { min: 0, integer: true, infinite: true });
  let queueTimeoutMs: number | undefined;
  if (opts['queueTimeoutMs'] !== undefined) {
    queueTimeoutMs = checkNumber('queueTimeoutMs', opts['queueTimeoutMs'], { above: 0, infinite: true });
    if (maxQueue === 0) {
      throw new RangeError(
        `breakwater: option "queueTimeoutMs" (${queueTimeoutMs}) needs "maxQueue" > 0, received maxQueue 0`,
      );
    }
    // An infinite wait limit is no limit: no deadline, no timer.
    if (queueTimeoutMs === Infinity) queueTimeoutMs = undefined;
  }
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
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new BulkheadFullError(`Bulkhead queue wait exceeded ${ms} ms`);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export class Bulkhead extends PolicyBase<BulkheadEvents> {
  readonly kind = 'bulkhead';
  protected readonly eventNames = BULKHEAD_EVENTS;
  private rejectedCount = 0;
  private readonly gate: ConcurrencyGate;

  /** @internal Use `bulkhead()`, which validates the options. */
  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
    readonly queueTimeoutMs: number | undefined,
    private readonly clock: Clock,
    name: string,
  ) {
    super(name);
    this.gate = new ConcurrencyGate({ limit: maxConcurrent }, maxQueue, queueTimeoutMs, clock, () => {
      const error = queueTimeoutError(this.queueTimeoutMs!);
      this.reject(error);
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

  get stats(): BulkheadStats {
    return { active: this.gate.active, queued: this.gate.queued, rejected: this.rejectedCount };
  }

  /** @internal */
  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    if (ctx.aborted) return Promise.reject(ctx.reason);
    const watching = this.events.wantsOutcome();
    const startedAt = watching ? this.clock.now() : 0;
    const gate = this.gate;
    if (gate.tryAcquire()) return this.run(ctx, next, watching, startedAt);
    if (!gate.hasRoom) {
      const error = BulkheadFullError.fast();
      this.reject(error);
      return rejectSoon(error);
    }
    // The continuation is chained here, in the caller's own promise chain, so it runs in the
    // caller's async context (AsyncLocalStorage) even though another call's completion admits it.
    return gate.enqueue(ctx).then(() => {
      if (ctx.aborted) {
        // Aborted between admission and this tick: hand the slot on, never start `fn`.
        gate.release();
        throw ctx.reason;
      }
      return this.run(ctx, next, watching, startedAt);
    });
  }

  private run(ctx: Scope, next: Next, watching: boolean, startedAt: number): Promise<unknown> {
    // `next` never throws (core/policy.ts `invoke`, core/pipeline.ts `adapt`).
    const running = next(ctx);
    if (!watching) return running.then(this.releaseValue, this.releaseError);
    return running.then(
      (value) => {
        this.gate.release();
        if (this.events.wants('success')) this.events.emit('success', { durationMs: this.clock.now() - startedAt });
        return value;
      },
      (error: unknown) => {
        this.gate.release();
        if (this.events.wants('failure')) {
          this.events.emit('failure', { durationMs: this.clock.now() - startedAt, error });
        }
        throw error;
      },
    );
  }

  // Shared handlers: the common path (no listeners) allocates no closure per call.
  private readonly releaseValue = (value: unknown): unknown => {
    this.gate.release();
    return value;
  };
  private readonly releaseError = (error: unknown): never => {
    this.gate.release();
    throw error;
  };

  private reject(error: BulkheadFullError): void {
    this.rejectedCount++;
    if (this.events.wants('rejected')) this.events.emit('rejected', { reason: 'bulkhead-full', error });
  }
}
