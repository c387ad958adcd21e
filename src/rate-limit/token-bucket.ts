import type { Clock } from '../core/clock.js';
import type { Scope } from '../core/scope.js';
import { RateLimitedError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';

// The token-bucket arithmetic and the FIFO wait queues, shared by `rateLimiter` (one bucket)
// and `keyedRateLimiter` (one bucket per key, stored compactly).
//
// A bucket is ONE number: `fullAt`, the (effective) time at which it will be full again.
// Tokens at time t are `capacity − (fullAt − t) · rate`, clamped to [0, capacity]; taking n
// tokens moves `fullAt` to `max(fullAt, t) + n / rate`. This is the token bucket written as
// GCRA: tokens are computed from elapsed time (no interval timer, no drift), a bucket with
// `fullAt ≤ now` is indistinguishable from a new one, and a refused request writes nothing.
//
// Exactness: every "are there n tokens at time t?" question goes through `has`, a function
// that is monotone in t, and `retryAfterMs` is the smallest whole millisecond r for which
// `has` answers yes at exactly the time a later call would compute (`(raw + r) + offset`).
// So acquiring at now + retryAfterMs succeeds and one millisecond earlier fails, with no
// floating-point slack in either direction.
//
// Clock going backwards: the bucket runs on an effective time that never decreases. When the
// clock reads earlier than before, `offset` absorbs the difference: elapsed time counts as 0
// (no tokens appear) and time resumes from there (no lock-out).

/** A caller waiting for tokens. It holds a reservation only in its queue's `reserved` sum. */
class TokenWaiter {
  prev: TokenWaiter | undefined = undefined;
  next: TokenWaiter | undefined = undefined;
  waiting = true;
  resolve: () => void = noop;
  reject: (reason: unknown) => void = noop;
  detach: () => void = noop;

  constructor(
    private readonly buckets: TokenBuckets,
    readonly queue: WaitQueue,
    readonly tokens: number,
  ) {}

  readonly onAbort = (reason: unknown): void => {
    this.buckets.leave(this, reason);
  };
}

/** The waiters of one bucket, FIFO. Exists only while someone waits; so does its timer. */
class WaitQueue extends Fifo<TokenWaiter> {
  /** Tokens promised to the waiters, in order; later arrivals queue behind all of them. */
  reserved = 0;
  timer: unknown = undefined;
  readonly fire: () => void;

  constructor(
    buckets: TokenBuckets,
    readonly slot: number,
  ) {
    super();
    this.fire = () => {
      this.timer = undefined;
      buckets.serve(this);
    };
  }
}

const noop = (): void => {};
/** Bounds the correction loops of `dueIn`; the estimate is within a step or two of the answer. */
const MAX_CORRECTION = 8;

export interface BucketSettings {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxWaitMs: number;
  readonly clock: Clock;
}

/** What a request for tokens came to: granted now (`null`), a wait, or a refusal. */
export type Outcome = null | Promise<void> | RateLimitedError;

export class TokenBuckets {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxWaitMs: number;
  /** Milliseconds to earn one token. */
  readonly msPerToken: number;
  private readonly perMs: number;
  private readonly clock: Clock;
  /** Per slot: effective time at which the bucket is full again. */
  fullAt: Float64Array;
  /** A lower bound on `fullAt` over all live slots: no bucket can be full before it. */
  earliestFull = Infinity;
  /** Cumulative refusals (shared by every view of these buckets). */
  rejected = 0;
  /** The raw clock reading of the last `sync()`. */
  raw = 0;
  private offset = 0;
  private last = -Infinity;
  private readonly waits = new Map<number, WaitQueue>();

  constructor(settings: BucketSettings, slots: number) {
    this.capacity = settings.capacity;
    this.refillPerSecond = settings.refillPerSecond;
    this.maxWaitMs = settings.maxWaitMs;
    this.clock = settings.clock;
    this.msPerToken = 1000 / settings.refillPerSecond;
    this.perMs = settings.refillPerSecond / 1000;
    this.fullAt = new Float64Array(slots).fill(-Infinity);
  }

  /** Reads the clock; returns the effective time, which never goes backwards. */
  sync(): number {
    const raw = this.clock.now();
    this.raw = raw;
    let t = raw + this.offset;
    if (t < this.last) {
      this.offset = this.last - raw;
      t = raw + this.offset;
    }
    this.last = t;
    return t;
  }

  /** Grows the per-slot storage (keyed buckets grow on demand up to `maxKeys`). */
  grow(slots: number): void {
    const bigger = new Float64Array(slots).fill(-Infinity);
    bigger.set(this.fullAt);
    this.fullAt = bigger;
  }

  /** Makes `slot` a full bucket as of `t` (a new key, about to take its first tokens). */
  reset(slot: number, t: number): void {
    // `earliestFull` is updated by the take that follows at once, not here: lowering it to t
    // would make the keyed table scan for full buckets on every new key.
    this.fullAt[slot] = t;
  }

  /** Are there `needed` tokens at effective time `t`? Accrual is not capped here (see `dueIn`). */
  private has(fullAt: number, t: number, needed: number): boolean {
    return this.capacity - (fullAt - t) * this.perMs >= needed;
  }

  /** Tokens in `slot` at effective time `t`, in [0, capacity]. */
  tokens(slot: number, t: number): number {
    const deficit = this.fullAt[slot]! - t;
    if (deficit <= 0) return this.capacity;
    const tokens = this.capacity - deficit * this.perMs;
    return tokens > 0 ? tokens : 0;
  }

  isFull(slot: number, t: number): boolean {
    return this.fullAt[slot]! <= t;
  }

  hasWaiters(slot: number): boolean {
    return this.waits.size !== 0 && this.waits.has(slot);
  }

  private take(slot: number, tokens: number, t: number): void {
    const fullAt = this.fullAt[slot]!;
    const next = (fullAt > t ? fullAt : t) + tokens * this.msPerToken;
    this.fullAt[slot] = next;
    if (next < this.earliestFull) this.earliestFull = next;
  }

  /** Gives back tokens taken for a caller that aborted before it could use them. */
  refund(slot: number, tokens: number): void {
    const fullAt = this.fullAt[slot]! - tokens * this.msPerToken;
    this.fullAt[slot] = fullAt;
    if (fullAt < this.earliestFull) this.earliestFull = fullAt;
    const queue = this.waits.size === 0 ? undefined : this.waits.get(slot);
    if (queue !== undefined) this.serve(queue);
  }

  /**
   * Smallest whole r ≥ 0 such that `needed` tokens have accrued at raw clock time `raw + r`,
   * evaluated exactly as a later `sync()` will see that time. `needed` may exceed capacity
   * (waiters ahead): tokens handed to earlier waiters are consumed as they accrue, so the
   * accrual is uncapped here. Uses the current `offset` (no jump assumed in between).
   */
  dueIn(slot: number, needed: number, raw: number): number {
    const fullAt = this.fullAt[slot]!;
    const offset = this.offset;
    let r = Math.ceil(fullAt - (this.capacity - needed) * this.msPerToken - (raw + offset));
    if (!(r > 0)) r = 0;
    for (let i = 0; i < MAX_CORRECTION && !this.has(fullAt, raw + r + offset, needed); i++) r++;
    for (let i = 0; i < MAX_CORRECTION && r > 0 && this.has(fullAt, raw + (r - 1) + offset, needed); i++) r--;
    return r;
  }

  /** Takes `tokens` now if nobody waits and they are there; changes nothing otherwise. */
  tryTake(slot: number, tokens: number, t: number): boolean {
    if (this.waits.size !== 0 && this.waits.has(slot)) return false;
    if (!this.has(this.fullAt[slot]!, t, tokens)) return false;
    this.take(slot, tokens, t);
    return true;
  }

  /** Milliseconds until `tokens` could be taken from `slot`, queue included (for refusals). */
  retryAfter(slot: number, tokens: number): number {
    const queue = this.waits.size === 0 ? undefined : this.waits.get(slot);
    return this.dueIn(slot, queue === undefined ? tokens : queue.reserved + tokens, this.raw);
  }

  /**
   * Asks for `tokens` (≤ capacity) at effective time `t` (from the latest `sync`): granted at
   * once, queued FIFO behind earlier waiters when the wait fits in `maxWaitMs`, refused
   * otherwise. A refusal takes nothing; a waiter that aborts gives its reservation back.
   */
  request(slot: number, tokens: number, ctx: Scope, t: number): Outcome {
    let queue = this.waits.size === 0 ? undefined : this.waits.get(slot);
    if (queue === undefined && this.has(this.fullAt[slot]!, t, tokens)) {
      this.take(slot, tokens, t);
      return null;
    }
    const wait = this.dueIn(slot, queue === undefined ? tokens : queue.reserved + tokens, this.raw);
    if (wait > this.maxWaitMs) return RateLimitedError.fast(wait);
    if (queue === undefined) {
      queue = new WaitQueue(this, slot);
      this.waits.set(slot, queue);
    }
    const waiter = new TokenWaiter(this, queue, tokens);
    const granted = new Promise<void>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    queue.push(waiter);
    queue.reserved += tokens;
    waiter.detach = ctx.onAbort(waiter.onAbort);
    if (queue.head === waiter) this.arm(queue);
    return granted;
  }

  /** Hands tokens to the waiters at the head that can be served now; re-arms for the next one. */
  serve(queue: WaitQueue): void {
    const t = this.sync();
    const slot = queue.slot;
    let waiter = queue.head;
    while (waiter !== undefined && this.has(this.fullAt[slot]!, t, waiter.tokens)) {
      this.take(slot, waiter.tokens, t);
      this.unlink(waiter);
      waiter.detach();
      waiter.resolve();
      waiter = queue.head;
    }
    if (waiter === undefined) this.close(queue);
    else this.arm(queue);
  }

  /** @internal A waiter's caller aborted (or an outer timeout fired): leave the queue now. */
  leave(waiter: TokenWaiter, reason: unknown): void {
    if (!waiter.waiting) return;
    const queue = waiter.queue;
    const wasHead = queue.head === waiter;
    // The abort listener fired and removed itself; no `detach` needed.
    this.unlink(waiter);
    if (queue.head === undefined) this.close(queue);
    else if (wasHead) this.serve(queue);
    waiter.reject(reason);
  }

  private unlink(waiter: TokenWaiter): void {
    const queue = waiter.queue;
    waiter.waiting = false;
    queue.remove(waiter);
    queue.reserved -= waiter.tokens;
  }

  private arm(queue: WaitQueue): void {
    if (queue.timer !== undefined) this.clock.clearTimeout(queue.timer);
    const due = this.dueIn(queue.slot, queue.head!.tokens, this.raw);
    // At least 1 ms: `serve` found the head not yet servable at this very time.
    queue.timer = this.clock.setTimeout(queue.fire, due > 1 ? due : 1);
  }

  private close(queue: WaitQueue): void {
    if (queue.timer !== undefined) {
      this.clock.clearTimeout(queue.timer);
      queue.timer = undefined;
    }
    this.waits.delete(queue.slot);
  }
}
