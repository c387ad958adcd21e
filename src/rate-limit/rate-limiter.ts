import { isAbortSignal } from '../core/abort.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { ExecuteOptions } from '../core/context.js';
import { Scope, type Next } from '../core/scope.js';
import { RateLimitedError } from '../core/errors.js';
import type { EventHub, FailureEvent, RejectedEvent, SuccessEvent } from '../core/events.js';
import { PolicyBase, RUN } from '../core/policy.js';
import { checkClock, checkName, checkNumber, checkOptionsObject, describeValue, optionalNumber } from '../core/validate.js';
import { rejectSoon } from '../core/reject.js';
import { TokenBuckets, type BucketSettings, type Outcome } from './token-bucket.js';

export interface RateLimiterOptions {
  /** Bucket size: the largest burst (a finite number ≥ 1). The bucket starts full. */
  capacity: number;
  /** Tokens added per second (> 0), continuously. */
  refillPerSecond: number;
  /**
   * How long a call may wait for its token, FIFO behind earlier waiters. Default 0: reject at
   * once. A call whose wait would exceed this is rejected at once (it never waits in vain).
   */
  maxWaitMs?: number;
  clock?: Clock;
  name?: string;
}

export interface RateLimitedEvent extends RejectedEvent {
  readonly reason: 'rate-limited';
  /** The key, for a limiter obtained from a `keyedRateLimiter`. */
  readonly key?: string;
}

export interface RateLimiterEvents {
  /** A call the limiter let through succeeded; `durationMs` counts from arrival (wait included). */
  success: SuccessEvent;
  /** A call the limiter let through failed; `durationMs` counts from arrival (wait included). */
  failure: FailureEvent;
  /** Tokens refused (by `execute`, `acquire` or `tryAcquire`); `error` is the `RateLimitedError`. */
  rejected: RateLimitedEvent;
}

export interface RateLimiterStats {
  /** Whole tokens a request could take now (see `available`). */
  readonly available: number;
  /** Cumulative refusals (for a keyed limiter: over all keys). */
  readonly rejected: number;
}

/** @internal Where a limiter finds its bucket: one fixed slot, or a slot per key. */
export interface BucketTable {
  readonly buckets: TokenBuckets;
  /** The slot of `key`'s bucket, or -1 when it has none (which means: full). */
  find(key: string): number;
  /** The slot of `key`'s bucket, created full if needed and marked recently used; -1 when no room. */
  claim(key: string, t: number): number;
}

/** @internal Validates the options `rateLimiter` and `keyedRateLimiter` share. */
export function readBucketSettings(opts: Record<string, unknown>): BucketSettings {
  const capacity = checkNumber('capacity', opts['capacity'], { min: 1 });
  const refillPerSecond = checkNumber('refillPerSecond', opts['refillPerSecond'], { above: 0 });
  const maxWaitMs = optionalNumber('maxWaitMs', opts['maxWaitMs'], 0, { min: 0, infinite: true });
  checkClock(opts['clock']);
  return { capacity, refillPerSecond, maxWaitMs, clock: (opts['clock'] as Clock | undefined) ?? systemClock };
}

/** A token bucket: `capacity` burst, `refillPerSecond` sustained; `execute` takes one token per call. */
export function rateLimiter(options: RateLimiterOptions): RateLimiter {
  const opts = checkOptionsObject('rateLimiter', options, true);
  const settings = readBucketSettings(opts);
  const name = checkName(opts['name'], 'rate-limiter');
  return new RateLimiter(new SingleBucket(new TokenBuckets(settings, 1)), '', name, undefined);
}

class SingleBucket implements BucketTable {
  constructor(readonly buckets: TokenBuckets) {}
  find(): number {
    return 0;
  }
  claim(): number {
    return 0;
  }
}

function checkTokens(tokens: unknown): number {
  if (typeof tokens !== 'number') {
    throw new TypeError(`breakwater: tokens must be a number, received ${describeValue(tokens)}`);
  }
  if (!(tokens > 0) || !Number.isFinite(tokens)) {
    throw new RangeError(`breakwater: tokens must be a finite number > 0, received ${describeValue(tokens)}`);
  }
  return tokens;
}

const noop = (): void => {};

export class RateLimiter extends PolicyBase<RateLimiterEvents> {
  readonly kind = 'rate-limiter';
  /** The key of a keyed limiter's view (undefined for a plain `rateLimiter`). */
  readonly key: string | undefined;

  /** @internal Use `rateLimiter()` or `keyedRateLimiter().get()`. */
  constructor(
    private readonly table: BucketTable,
    key: string,
    name: string,
    shared: EventHub<RateLimiterEvents> | undefined,
  ) {
    // A keyed limiter's views share its hub: listeners see every key, and a view costs no hub.
    super(name, shared);
    this.key = shared === undefined ? undefined : key;
  }

  get capacity(): number {
    return this.table.buckets.capacity;
  }

  get refillPerSecond(): number {
    return this.table.buckets.refillPerSecond;
  }

  get maxWaitMs(): number {
    return this.table.buckets.maxWaitMs;
  }

  /**
   * Whole tokens a request could take right now: the bucket's tokens rounded down (so
   * `available >= k` exactly when `tryAcquire(k)` would succeed, for whole k), and 0 while
   * callers wait (their reservations come first).
   */
  get available(): number {
    const buckets = this.table.buckets;
    const t = buckets.sync();
    const slot = this.table.find(this.key ?? '');
    if (slot < 0) return Math.floor(buckets.capacity);
    if (buckets.hasWaiters(slot)) return 0;
    return Math.floor(buckets.tokens(slot, t));
  }

  get stats(): RateLimiterStats {
    return { available: this.available, rejected: this.table.buckets.rejected };
  }

  /**
   * Takes `tokens` (default 1, may be fractional) if they are there now and nobody waits.
   * Never waits. A request for more than `capacity` can never succeed: it returns false at
   * once and does not count as a rate-limit rejection.
   */
  tryAcquire(tokens: number = 1): boolean {
    const n = checkTokens(tokens);
    const buckets = this.table.buckets;
    if (n > buckets.capacity) return false;
    const t = buckets.sync();
    const slot = this.table.claim(this.key ?? '', t);
    if (slot >= 0 && buckets.tryTake(slot, n, t)) return true;
    buckets.rejected++;
    if (this.events.wants('rejected')) {
      this.emitRejected(RateLimitedError.fast(slot < 0 ? Math.ceil(buckets.msPerToken) : buckets.retryAfter(slot, n)));
    }
    return false;
  }

  /**
   * Waits (FIFO, up to `maxWaitMs`) for `tokens` and takes them; rejects with
   * `RateLimitedError` when the wait would be longer, with `signal.reason` when `signal`
   * aborts (the reservation goes back). More than `capacity` tokens rejects at once with a
   * RangeError: such a request could never be served.
   */
  acquire(tokens: number = 1, options?: ExecuteOptions): Promise<void> {
    let n: number;
    try {
      n = checkTokens(tokens);
    } catch (error) {
      return Promise.reject(error);
    }
    if (n > this.capacity) {
      return Promise.reject(
        new RangeError(`breakwater: cannot acquire ${n} tokens from a bucket of capacity ${this.capacity}`),
      );
    }
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!isAbortSignal(signal)) {
        return Promise.reject(new TypeError('breakwater: acquire option "signal" must be an AbortSignal'));
      }
      if (signal.aborted) return Promise.reject(signal.reason);
    }
    const ctx = Scope.root(noop, signal);
    const outcome = this.request(ctx, n);
    if (outcome === null) return Promise.resolve();
    if (outcome instanceof Promise) return outcome.then(() => this.afterWait(ctx, n));
    return rejectSoon(outcome);
  }

  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    if (ctx.aborted) return Promise.reject(ctx.reason);
    const watching = this.events.wantsOutcome();
    const startedAt = watching ? this.table.buckets.sync() : 0;
    const outcome = this.request(ctx, 1);
    if (outcome === null) return this.run(ctx, next, watching, startedAt);
    if (outcome instanceof Promise) {
      // Chained in the caller's own promise chain: `fn` runs in the caller's async context.
      return outcome.then(() => {
        this.afterWait(ctx, 1);
        return this.run(ctx, next, watching, startedAt);
      });
    }
    return rejectSoon(outcome);
  }

  private request(ctx: Scope, tokens: number): Outcome {
    const buckets = this.table.buckets;
    const t = buckets.sync();
    const slot = this.table.claim(this.key ?? '', t);
    // No slot: every key of a keyed limiter has waiters; the retry hint is one token's time.
    const outcome = slot < 0 ? RateLimitedError.fast(Math.ceil(buckets.msPerToken)) : buckets.request(slot, tokens, ctx, t);
    if (outcome !== null && !(outcome instanceof Promise)) {
      buckets.rejected++;
      if (this.events.wants('rejected')) this.emitRejected(outcome);
    }
    return outcome;
  }

  /** The tokens were granted; if the caller aborted in the meantime, give them back. */
  private afterWait(ctx: Scope, tokens: number): void {
    if (!ctx.aborted) return;
    const slot = this.table.find(this.key ?? '');
    if (slot >= 0) this.table.buckets.refund(slot, tokens);
    throw ctx.reason;
  }

  private run(ctx: Scope, next: Next, watching: boolean, startedAt: number): Promise<unknown> {
    // `next` never throws (core/policy.ts `invoke`, core/pipeline.ts `adapt`).
    const running = next(ctx);
    if (!watching) return running;
    return running.then(
      (value) => {
        if (this.events.wants('success')) this.events.emit('success', { durationMs: this.elapsed(startedAt) });
        return value;
      },
      (error: unknown) => {
        if (this.events.wants('failure')) this.events.emit('failure', { durationMs: this.elapsed(startedAt), error });
        throw error;
      },
    );
  }

  private elapsed(startedAt: number): number {
    return this.table.buckets.sync() - startedAt;
  }

  private emitRejected(error: RateLimitedError): void {
    this.events.emit(
      'rejected',
      this.key === undefined ? { reason: 'rate-limited', error } : { reason: 'rate-limited', error, key: this.key },
    );
  }
}
