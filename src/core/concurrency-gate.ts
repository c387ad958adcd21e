import type { Clock } from './clock.js';
import type { Scope } from './scope.js';
import { DeadlineEntry, DeadlineQueue } from './deadlines.js';
import { Fifo } from './fifo.js';

/**
 * Where a gate reads how many calls may run at once: a fixed number (a bulkhead) or an
 * estimate that moves (an adaptive limiter). Read at every admission; when it grows, the
 * owner calls `grew()` so waiters get the new slots at once.
 */
export interface LimitSource {
  readonly limit: number;
}

const noop = (): void => {};

/**
 * A caller waiting for a slot. It sits in two intrusive lists: the FIFO queue (`prev`/`next`)
 * and, when a queue timeout is set, the shared deadline list (inherited links). Leaving
 * either is O(1), so an abort takes the waiter out at once instead of at dequeue time.
 */
class Waiter extends DeadlineEntry {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  waiting = true;
  admit: () => void = noop;
  fail: (reason: unknown) => void = noop;
  detach: () => void = noop;

  constructor(private readonly gate: ConcurrencyGate) {
    super();
  }

  readonly onAbort = (reason: unknown): void => {
    this.gate.leave(this, reason, false);
  };

  expire(): void {
    this.gate.leave(this, undefined, true);
  }
}

/**
 * The admission half of a bulkhead: slots counted against a limit, and a bounded FIFO queue
 * of callers waiting for one (with an optional shared queue deadline). What runs in a slot,
 * what a refusal looks like and what gets reported are the owning policy's business.
 *
 * A shrinking limit takes effect as running calls finish: a released slot above the limit is
 * dropped instead of handed on. Nothing running is ever aborted.
 */
export class ConcurrencyGate {
  private activeCount = 0;
  private queuedCount = 0;
  private readonly waiters = new Fifo<Waiter>();
  private readonly deadlines: DeadlineQueue | undefined;

  /**
   * @param onQueueTimeout builds the rejection of a waiter whose queue deadline passed (the
   *   owner counts and reports it there).
   */
  constructor(
    private readonly source: LimitSource,
    readonly maxQueue: number,
    readonly queueTimeoutMs: number | undefined,
    private readonly clock: Clock,
    private readonly onQueueTimeout: () => unknown,
  ) {
    this.deadlines = queueTimeoutMs === undefined ? undefined : new DeadlineQueue(clock);
  }

  /** Slots taken (calls running). */
  get active(): number {
    return this.activeCount;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.queuedCount;
  }

  /** Takes a slot when one is free and nobody is ahead in the queue. */
  tryAcquire(): boolean {
    if (this.activeCount >= this.source.limit) return false;
    // A free slot with a non-empty queue means the limit grew unannounced: serve the queue first.
    if (this.waiters.head !== undefined) {
      this.grew();
      if (this.activeCount >= this.source.limit) return false;
    }
    this.activeCount++;
    return true;
  }

  /** True when a caller refused a slot may wait for one. */
  get hasRoom(): boolean {
    return this.queuedCount < this.maxQueue;
  }

  /**
   * Queues a caller (check `hasRoom` first). Resolves once it holds a slot; rejects with the
   * context's abort reason, or the queue-timeout error, if it leaves the queue first.
   */
  enqueue(ctx: Scope): Promise<void> {
    const waiter = new Waiter(this);
    const admitted = new Promise<void>((resolve, reject) => {
      waiter.admit = resolve;
      waiter.fail = reject;
    });
    this.waiters.push(waiter);
    this.queuedCount++;
    if (this.deadlines !== undefined) this.deadlines.add(waiter, this.clock.now() + this.queueTimeoutMs!);
    waiter.detach = ctx.onAbort(waiter.onAbort);
    return admitted;
  }

  /** Frees a slot, or hands it straight to the oldest waiter so no slot idles while someone waits. */
  release(): void {
    const waiter = this.waiters.head;
    if (waiter === undefined || this.activeCount > this.source.limit) {
      // No one waits, or the limit shrank below what runs: this slot goes away.
      this.activeCount--;
      return;
    }
    this.handOver(waiter);
    if (this.activeCount < this.source.limit) this.grew();
  }

  /** The limit may have grown: admits waiters into every free slot, oldest first. */
  grew(): void {
    let waiter = this.waiters.head;
    while (waiter !== undefined && this.activeCount < this.source.limit) {
      this.activeCount++;
      this.handOver(waiter);
      waiter = this.waiters.head;
    }
  }

  private handOver(waiter: Waiter): void {
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
      waiter.fail(this.onQueueTimeout());
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
}
