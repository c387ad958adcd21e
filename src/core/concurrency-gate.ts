import type { Clock } from './clock.js';
import type { Scope } from './scope.js';
import { DeadlineEntry, DeadlineQueue } from './deadlines.js';
import { Fifo } from './fifo.js';
import { HeldPermit, type Admission, type Permit } from './permit.js';
import { checkNumber, optionalNumber } from './validate.js';

/**
 * Where a gate reads how many calls may run at once: a fixed number (a bulkhead), an estimate
 * that moves (an adaptive limiter), or any number that changes at run time. Read at every
 * admission. A source that can be subscribed to tells the gate of changes, and a limit that
 * grows admits waiters into the new slots at once; otherwise its owner calls `grew()`.
 */
export interface LimitSource {
  readonly limit: number;
  subscribe?(listener: (limit: number) => void): () => void;
}

const noop = (): void => {};

/** The queue options of a gated policy, validated; `queueTimeoutMs` undefined means no deadline. */
export interface QueueOptions {
  readonly maxQueue: number;
  readonly queueTimeoutMs: number | undefined;
}

/** Reads `maxQueue` (default 0) and `queueTimeoutMs` (which needs a queue) from checked options. */
export function checkQueueOptions(opts: Record<string, unknown>): QueueOptions {
  const maxQueue = optionalNumber('maxQueue', opts['maxQueue'], 0, { min: 0, integer: true, infinite: true });
  if (opts['queueTimeoutMs'] === undefined) return { maxQueue, queueTimeoutMs: undefined };
  const queueTimeoutMs = checkNumber('queueTimeoutMs', opts['queueTimeoutMs'], { above: 0, infinite: true });
  if (maxQueue === 0) {
    throw new RangeError(
      `breakwater: option "queueTimeoutMs" (${queueTimeoutMs}) needs "maxQueue" > 0, received maxQueue 0`,
    );
  }
  // An infinite wait limit is no limit: no deadline, no timer.
  return { maxQueue, queueTimeoutMs: queueTimeoutMs === Infinity ? undefined : queueTimeoutMs };
}

/** The gate's own permit: a slot, handed back (or on to the oldest waiter) when the call ends. */
class Slot extends HeldPermit {
  constructor(private readonly gate: ConcurrencyGate<Permit>) {
    super();
  }

  end(): void {
    this.gate.release();
  }
}

/**
 * A caller waiting for a slot. It sits in two intrusive lists: the FIFO queue (`prev`/`next`)
 * and, when a queue timeout is set, the shared deadline list (inherited links). Leaving
 * either is O(1), so an abort takes the waiter out at once instead of at dequeue time.
 */
class Waiter extends DeadlineEntry {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  waiting = true;
  admit: (permit: Permit) => void = noop;
  fail: (reason: unknown) => void = noop;
  detach: () => void = noop;

  constructor(private readonly gate: ConcurrencyGate<Permit>) {
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
 * The engine of a bulkhead and of an adaptive concurrency limiter: slots counted against a
 * limit, and a bounded FIFO queue of callers waiting for one (with an optional shared queue
 * deadline). `acquire` answers each call with a permit (a slot), a promise of one (a place in
 * the queue), or a refusal; what runs under the permit and what gets reported are the owning
 * policy's business.
 *
 * A shrinking limit takes effect as running calls finish: a released slot above the limit is
 * dropped instead of handed on. Nothing running is ever aborted.
 */
export class ConcurrencyGate<P extends Permit = HeldPermit> {
  private activeCount = 0;
  private queuedCount = 0;
  private readonly waiters = new Fifo<Waiter>();
  private readonly deadlines: DeadlineQueue | undefined;
  /** The permit every admitted call runs under: the gate's own slot, or the owner's. */
  readonly slot: P;

  /**
   * @param refuse builds the refusal of a caller: at once (`queueTimedOut` false: no slot and no
   *   room in the queue) or after its queue deadline passed (the owner counts and reports it there).
   * @param permit the permit of every admitted call, once its slot is taken (default: the
   *   gate's own, which hands the slot back; an owner that learns from each call passes its
   *   own, which must release the slot through the gate's `release`).
   */
  constructor(
    private readonly source: LimitSource,
    readonly maxQueue: number,
    readonly queueTimeoutMs: number | undefined,
    private readonly clock: Clock,
    private readonly refuse: (queueTimedOut: boolean) => unknown,
    permit?: P,
  ) {
    this.deadlines = queueTimeoutMs === undefined ? undefined : new DeadlineQueue(clock);
    // Without a permit of the owner's, P is the default HeldPermit.
    this.slot = permit ?? (new Slot(this) as unknown as P);
    if (typeof source.subscribe === 'function') {
      let last = source.limit;
      source.subscribe((limit) => {
        if (limit > last) this.grew();
        last = limit;
      });
    }
  }

  /**
   * A slot now (when one is free and nobody is ahead in the queue), a place in the queue, or
   * the refusal. The queued promise resolves with the permit once a slot is handed over, and
   * rejects with the scope's abort reason, or the queue-timeout refusal, if it leaves first.
   */
  acquire(scope: Scope): Admission {
    if (this.activeCount < this.source.limit) {
      // A free slot with a non-empty queue means the limit grew unannounced: serve the queue first.
      if (this.waiters.head !== undefined) this.grew();
      if (this.activeCount < this.source.limit) {
        this.activeCount++;
        return this.slot;
      }
    }
    if (this.queuedCount >= this.maxQueue) return this.refuse(false);
    return this.enqueue(scope);
  }

  /** Slots taken (calls running). */
  get active(): number {
    return this.activeCount;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.queuedCount;
  }

  private enqueue(scope: Scope): Promise<Permit> {
    const waiter = new Waiter(this);
    const admitted = new Promise<Permit>((resolve, reject) => {
      waiter.admit = resolve;
      waiter.fail = reject;
    });
    this.waiters.push(waiter);
    this.queuedCount++;
    if (this.deadlines !== undefined) this.deadlines.add(waiter, this.clock.now() + this.queueTimeoutMs!);
    waiter.detach = scope.onAbort(waiter.onAbort);
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
    waiter.admit(this.slot);
  }

  /** @internal A waiter gives up: its caller aborted, or (`timedOut`) its queue deadline passed. */
  leave(waiter: Waiter, reason: unknown, timedOut: boolean): void {
    if (!waiter.waiting) return;
    this.unlink(waiter);
    if (timedOut) {
      // The deadline list already dropped it; the caller's signal still holds our listener.
      waiter.detach();
      waiter.fail(this.refuse(true));
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
