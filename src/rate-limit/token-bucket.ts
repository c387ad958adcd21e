import type { Clock } from '../core/clock.js';
import type { Scope } from '../core/scope.js';
import { RateLimitedError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import { SpentPermit } from '../core/permit.js';
import { bucketAvailable, bucketFull, bucketHas, bucketRetryAfterMs, levelAfterTake } from './bucket-rule.js';

// The token buckets and their FIFO wait queues, shared by `rateLimiter` (one bucket) and
// `keyedRateLimiter` (one bucket per key, stored compactly). Every decision goes through the
// pure rule in bucket-rule.ts; this file stores the state and runs the queues.
//
// A bucket is two numbers per slot: `level` (tokens right after its last grant) and `at` (the
// effective time of that grant). Tokens are computed from elapsed time (no interval timer, no
// drift), a bucket holding `capacity` tokens is indistinguishable from a new one, and a refused
// request writes nothing.
//
// Clock going backwards: the bucket runs on an effective time that never decreases. When the
// clock reads earlier than before, `offset` absorbs the difference: elapsed time counts as 0
// (no tokens appear) and time resumes from there (no lock-out).

/**
 * A caller waiting for tokens. It holds a reservation only in its queue's `reserved` sum. Once
 * its tokens are taken it is the caller's permit: `release` gives them back to `key`'s bucket
 * (wherever that bucket is by then) if the call never starts.
 */
class TokenWaiter extends SpentPermit {
  prev: TokenWaiter | undefined = undefined;
  next: TokenWaiter | undefined = undefined;
  waiting = true;
  resolve: (permit: TokenWaiter) => void = noop;
  reject: (reason: unknown) => void = noop;
  detach: () => void = noop;

  constructor(
    private readonly buckets: TokenBuckets,
    readonly queue: WaitQueue,
    readonly tokens: number,
    readonly key: string,
  ) {
    super();
  }

  readonly onAbort = (reason: unknown): void => {
    this.buckets.leave(this, reason);
  };

  override release(): void {
    this.buckets.giveBack(this.key, this.tokens);
  }
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

export interface BucketSettings {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxWaitMs: number;
  readonly clock: Clock;
}

/** What a request for tokens came to: granted now (`null`), a wait for a permit, or a refusal. */
export type BucketDecision = null | Promise<SpentPermit> | RateLimitedError;

export class TokenBuckets {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxWaitMs: number;
  /** Milliseconds to earn one token. */
  readonly msPerToken: number;
  /** Tokens earned per millisecond. */
  private readonly perMs: number;
  private readonly clock: Clock;
  /** Per slot: tokens right after the last grant. */
  private level: Float64Array;
  /** Per slot: effective time of the last grant (−∞: never granted from, i.e. full). */
  private at: Float64Array;
  /**
   * A lower bound on the time any live slot is full again: before it, none is. Kept only for
   * tables that forget full buckets (`tracksFull`); a single bucket has no use for it.
   */
  earliestFull = Infinity;
  private readonly tracksFull: boolean;
  /** Cumulative refusals (shared by every view of these buckets). */
  rejected = 0;
  /** The raw clock reading of the last `sync()`. */
  raw = 0;
  private offset = 0;
  private last = -Infinity;
  private readonly waits = new Map<number, WaitQueue>();
  /**
   * Gives back the tokens of a waiter that was granted but never started. Set by whoever maps
   * keys to slots: by then the key's bucket may sit in another slot, or in none.
   */
  giveBack: (key: string, tokens: number) => void = noop;

  constructor(settings: BucketSettings, slots: number, tracksFull: boolean) {
    this.tracksFull = tracksFull;
    this.capacity = settings.capacity;
    this.refillPerSecond = settings.refillPerSecond;
    this.maxWaitMs = settings.maxWaitMs;
    this.clock = settings.clock;
    this.msPerToken = 1000 / settings.refillPerSecond;
    this.perMs = settings.refillPerSecond / 1000;
    this.level = new Float64Array(slots).fill(settings.capacity);
    // Stryker disable next-line UnaryOperator: `+Infinity` is equivalent (a slot that never granted reads `level`, which is capacity, either way: elapsed −∞ is not > 0 and +∞ is capped at capacity; keyed slots get a real `at` from reset() before any use)
    this.at = new Float64Array(slots).fill(-Infinity);
  }

  /** Slots allocated so far. */
  get slots(): number {
    return this.at.length;
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
    const level = new Float64Array(slots).fill(this.capacity);
    level.set(this.level);
    this.level = level;
    // Stryker disable next-line UnaryOperator: `+Infinity` is equivalent (as in the constructor: a never-granted slot reads capacity either way, and reset() gives it a real `at` before use)
    const at = new Float64Array(slots).fill(-Infinity);
    at.set(this.at);
    this.at = at;
  }

  /** Makes `slot` a full bucket as of `t` (a new key, about to take its first tokens). */
  reset(slot: number, t: number): void {
    // `earliestFull` is updated by the take that follows at once, not here: lowering it to t
    // would make the keyed table scan for full buckets on every new key.
    this.level[slot] = this.capacity;
    this.at[slot] = t;
  }

  /** Are there `needed` tokens in `slot` at effective time `t`? */
  private has(slot: number, t: number, needed: number): boolean {
    return bucketHas(this.level[slot]!, this.at[slot]!, t, needed, this.perMs);
  }

  /** The largest whole number of tokens `slot` would grant at effective time `t` (0 when empty). */
  available(slot: number, t: number): number {
    return bucketAvailable(this.level[slot]!, this.at[slot]!, t, this.capacity, this.perMs);
  }

  isFull(slot: number, t: number): boolean {
    return bucketFull(this.level[slot]!, this.at[slot]!, t, this.capacity, this.perMs);
  }

  /**
   * A time before which `slot` is certainly not full: the estimate `at + (capacity − level) ·
   * msPerToken`, less a margin of 2^-44 of the magnitudes involved. The estimate and `isFull`
   * each round a handful of times, every rounding below 2^-53 of those magnitudes, so the
   * margin (2^9 times one rounding) covers them and the bound never lies. It stays small —
   * nanoseconds at `performance.now()` magnitudes, 0.1 ms at `Date.now()` ones — so a scan it
   * lets through almost always finds a full bucket.
   */
  fullBound(slot: number): number {
    const at = this.at[slot]!;
    const span = (this.capacity - this.level[slot]!) * this.msPerToken;
    const full = at + span;
    return full - ((full < 0 ? -full : full) + span + this.capacity * this.msPerToken) * 2 ** -44;
  }

  hasWaiters(slot: number): boolean {
    // Stryker disable next-line ConditionalExpression: `true` for `this.waits.size !== 0` is equivalent (Map.has on an empty map is false; the size test only saves the lookup); the other ConditionalExpression mutants of this line were killed before this mark
    return this.waits.size !== 0 && this.waits.has(slot);
  }

  private take(slot: number, tokens: number, t: number): void {
    this.level[slot] = levelAfterTake(this.level[slot]!, this.at[slot]!, t, tokens, this.capacity, this.perMs);
    this.at[slot] = t;
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (a single bucket never reads earliestFull; only the keyed table does); `false` was killed before this mark
    if (this.tracksFull) this.lowerEarliestFull(slot);
  }

  private lowerEarliestFull(slot: number): void {
    const full = this.fullBound(slot);
    if (full < this.earliestFull) this.earliestFull = full;
  }

  /** Gives back tokens taken for a caller that aborted before it could use them. */
  refund(slot: number, tokens: number): void {
    const level = this.level[slot]! + tokens;
    this.level[slot] = level < this.capacity ? level : this.capacity;
    if (this.tracksFull) this.lowerEarliestFull(slot);
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (Map.get on an empty map is undefined; the size test only saves the lookup); `true` (no queue served after a refund) is killed by the refund test in test/rate-limit/token-bucket.test.ts, checked by hand
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
    return bucketRetryAfterMs(this.level[slot]!, this.at[slot]!, needed, raw, this.offset, this.perMs, this.msPerToken);
  }

  /** Takes `tokens` now if nobody waits and they are there; changes nothing otherwise. */
  tryTake(slot: number, tokens: number, t: number): boolean {
    // Stryker disable next-line ConditionalExpression: `true` for `this.waits.size !== 0` is equivalent (Map.has on an empty map is false); the other ConditionalExpression mutants of this line were killed before this mark
    if (this.waits.size !== 0 && this.waits.has(slot)) return false;
    if (!this.has(slot, t, tokens)) return false;
    this.take(slot, tokens, t);
    return true;
  }

  /** Milliseconds until `tokens` could be taken from `slot`, queue included (for refusals). */
  retryAfter(slot: number, tokens: number): number {
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (Map.get on an empty map is undefined; the size test only saves the lookup); `true` was killed before this mark
    const queue = this.waits.size === 0 ? undefined : this.waits.get(slot);
    return this.dueIn(slot, queue === undefined ? tokens : queue.reserved + tokens, this.raw);
  }

  /**
   * Asks for `tokens` (≤ capacity) at effective time `t` (from the latest `sync`): granted at
   * once, queued FIFO behind earlier waiters when the wait fits in `maxWaitMs` (the promise
   * resolves with the waiter's permit once its tokens are taken), refused otherwise. A refusal
   * takes nothing; a waiter that aborts gives its reservation back.
   */
  request(slot: number, tokens: number, scope: Scope, t: number, key: string): BucketDecision {
    // Kept small, so that the compiler inlines it into every policy's call: nobody waits and
    // the tokens are there. Everything else is in `queueOrRefuse`.
    // Stryker disable next-line ConditionalExpression,BlockStatement: `false` and the empty block are equivalent (this fast path is repeated by queueOrRefuse, which grants the same request the same way when no queue is in its way); `true` (overtaking a waiter) was killed before this mark
    if (this.waits.size === 0 && this.has(slot, t, tokens)) {
      this.take(slot, tokens, t);
      return null;
    }
    return this.queueOrRefuse(slot, tokens, scope, t, key);
  }

  private queueOrRefuse(slot: number, tokens: number, scope: Scope, t: number, key: string): BucketDecision {
    let queue = this.waits.get(slot);
    if (queue === undefined && this.has(slot, t, tokens)) {
      this.take(slot, tokens, t);
      return null;
    }
    const wait = this.dueIn(slot, queue === undefined ? tokens : queue.reserved + tokens, this.raw);
    if (wait > this.maxWaitMs) return RateLimitedError.fast(wait);
    if (queue === undefined) {
      queue = new WaitQueue(this, slot);
      this.waits.set(slot, queue);
    }
    const waiter = new TokenWaiter(this, queue, tokens, key);
    const granted = new Promise<TokenWaiter>((resolve, reject) => {
      waiter.resolve = resolve;
      waiter.reject = reject;
    });
    queue.push(waiter);
    queue.reserved += tokens;
    waiter.detach = scope.onAbort(waiter.onAbort);
    if (queue.head === waiter) this.arm(queue);
    return granted;
  }

  /** Hands tokens to the waiters at the head that can be served now; re-arms for the next one. */
  serve(queue: WaitQueue): void {
    const t = this.sync();
    const slot = queue.slot;
    let waiter = queue.head;
    while (waiter !== undefined && this.has(slot, t, waiter.tokens)) {
      this.take(slot, waiter.tokens, t);
      this.unlink(waiter);
      waiter.detach();
      waiter.resolve(waiter);
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
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (a queue left empty had the leaving waiter as its head, so serve() runs, finds no head and closes it); `true` was killed before this mark
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
    // Stryker disable next-line ConditionalExpression,EqualityOperator: `due >= 1` and `true` are equivalent (arm() runs only for a head that is not servable at this.raw, and dueIn() is exact, so due is at least 1 already; at due = 1 both branches give 1); the clamp guards against a zero-delay timer loop; `false` and `due <= 1` were killed before this mark
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
