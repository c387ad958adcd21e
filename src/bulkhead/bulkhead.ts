import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { DeadlineEntry, DeadlineQueue } from '../core/deadlines.js';
import { BulkheadFullError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import type { FailureEvent, RejectedEvent, SuccessEvent } from '../core/events.js';
import { PolicyBase, RUN } from '../core/policy.js';
import { checkClock, checkName, checkNumber, checkOptionsObject, optionalNumber } from '../core/validate.js';
import { rejectSoon } from '../core/reject.js';

export interface BulkheadOptions {
  /** Calls of `fn` allowed in flight at once (an integer ≥ 1). */
  maxConcurrent: number;
  /** Callers allowed to wait for a slot (default 0: reject at once when all slots are busy). Infinity = unbounded. */
  maxQueue?: number;
  /**
   * Longest a caller waits in the queue; then it rejects with `BulkheadFullError` (and its
   * `fn` never runs). Default: no limit of its own (the caller's signal or an outer timeout
   * still applies). Needs `maxQueue > 0`.
   */
  queueTimeoutMs?: number;
  clock?: Clock;
  name?: string;
}

export interface BulkheadEvents {
  /** A call the bulkhead ran succeeded; `durationMs` counts from arrival (queue wait included). */
  success: SuccessEvent;
  /** A call the bulkhead ran failed; `durationMs` counts from arrival (queue wait included). */
  failure: FailureEvent;
  /** The queue was full, or a caller waited `queueTimeoutMs` without getting a slot. */
  rejected: RejectedEvent;
}

export interface BulkheadStats {
  readonly active: number;
  readonly queued: number;
  /** Cumulative count of `BulkheadFullError` rejections (full queue and queue timeouts). */
  readonly rejected: number;
}

/** Never more than `maxConcurrent` calls of `fn` in flight; up to `maxQueue` callers wait, FIFO. */
export function bulkhead(options: BulkheadOptions): Bulkhead {
  const opts = checkOptionsObject('bulkhead', options, true);
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

const noop = (): void => {};

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

/**
 * A caller waiting for a slot. It sits in two intrusive lists: the FIFO queue (`prev`/`next`)
 * and, when `queueTimeoutMs` is set, the shared deadline list (inherited links). Leaving
 * either is O(1), so an abort takes the waiter out at once instead of at dequeue time.
 */
class Waiter extends DeadlineEntry {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  waiting = true;
  admit: () => void = noop;
  fail: (reason: unknown) => void = noop;
  detach: () => void = noop;

  constructor(private readonly owner: Bulkhead) {
    super();
  }

  readonly onAbort = (reason: unknown): void => {
    this.owner.leave(this, reason, false);
  };

  expire(): void {
    this.owner.leave(this, undefined, true);
  }
}

export class Bulkhead extends PolicyBase<BulkheadEvents> {
  readonly kind = 'bulkhead';
  private activeCount = 0;
  private queuedCount = 0;
  private rejectedCount = 0;
  private readonly waiters = new Fifo<Waiter>();
  private readonly deadlines: DeadlineQueue | undefined;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
    readonly queueTimeoutMs: number | undefined,
    private readonly clock: Clock,
    name: string,
  ) {
    super(name);
    this.deadlines = queueTimeoutMs === undefined ? undefined : new DeadlineQueue(clock);
  }

  /** Calls of `fn` in flight (slots taken). */
  get active(): number {
    return this.activeCount;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.queuedCount;
  }

  get stats(): BulkheadStats {
    return { active: this.activeCount, queued: this.queuedCount, rejected: this.rejectedCount };
  }

  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    if (ctx.aborted) return Promise.reject(ctx.reason);
    const watching = this.events.wantsOutcome();
    const startedAt = watching ? this.clock.now() : 0;
    // A free slot implies an empty queue: `release` hands a slot straight to the queue head.
    if (this.activeCount < this.maxConcurrent) {
      this.activeCount++;
      return this.run(ctx, next, watching, startedAt);
    }
    if (this.queuedCount >= this.maxQueue) {
      const error = BulkheadFullError.fast();
      this.reject(error);
      return rejectSoon(error);
    }
    const waiter = new Waiter(this);
    const admitted = new Promise<void>((resolve, reject) => {
      waiter.admit = resolve;
      waiter.fail = reject;
    });
    this.waiters.push(waiter);
    this.queuedCount++;
    if (this.deadlines !== undefined) this.deadlines.add(waiter, this.clock.now() + this.queueTimeoutMs!);
    waiter.detach = ctx.onAbort(waiter.onAbort);
    // The continuation is chained here, in the caller's own promise chain, so it runs in the
    // caller's async context (AsyncLocalStorage) even though another call's completion admits it.
    return admitted.then(() => {
      if (ctx.aborted) {
        // Aborted between admission and this tick: hand the slot on, never start `fn`.
        this.release();
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
        this.release();
        if (this.events.wants('success')) this.events.emit('success', { durationMs: this.clock.now() - startedAt });
        return value;
      },
      (error: unknown) => {
        this.release();
        if (this.events.wants('failure')) {
          this.events.emit('failure', { durationMs: this.clock.now() - startedAt, error });
        }
        throw error;
      },
    );
  }

  // Shared handlers: the common path (no listeners) allocates no closure per call.
  private readonly releaseValue = (value: unknown): unknown => {
    this.release();
    return value;
  };
  private readonly releaseError = (error: unknown): never => {
    this.release();
    throw error;
  };

  /** Frees a slot, or hands it straight to the oldest waiter so no slot idles while someone waits. */
  private release(): void {
    const waiter = this.waiters.head;
    if (waiter === undefined) {
      this.activeCount--;
      return;
    }
    this.unlink(waiter);
    this.deadlines?.remove(waiter);
    waiter.detach();
    waiter.admit();
  }

  /** @internal A waiter gives up: its caller aborted, or (`timedOut`) its queue deadline passed. */
  leave(waiter: Waiter, reason: unknown, timedOut: boolean): void {
    if (!waiter.waiting) return;
    this.unlink(waiter);
    if (timedOut) {
      // The deadline list already dropped it; the caller's signal still holds our listener.
      waiter.detach();
      const error = queueTimeoutError(this.queueTimeoutMs!);
      this.reject(error);
      waiter.fail(error);
    } else {
      // The abort listener already fired and removed itself; removing it again would cost an
      // O(listeners) scan of the signal for each of many waiters aborted together.
      this.deadlines?.remove(waiter);
      waiter.fail(reason);
    }
  }

  private unlink(waiter: Waiter): void {
    waiter.waiting = false;
    this.waiters.remove(waiter);
    this.queuedCount--;
  }

  private reject(error: BulkheadFullError): void {
    this.rejectedCount++;
    if (this.events.wants('rejected')) this.events.emit('rejected', { reason: 'bulkhead-full', error });
  }
}
