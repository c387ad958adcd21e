import { RateLimitedError } from '../core/errors.js';
import { GRANTED, type Admission } from '../core/permit.js';
import type { Scope } from '../core/scope.js';
import type { RateLimitStore } from './store.js';
import type { TokenBuckets } from './token-bucket.js';

/** Where the in-process store finds a bucket: one fixed slot, or a slot per key. */
export interface BucketTable {
  readonly buckets: TokenBuckets;
  /** The slot of `key`'s bucket, or -1 when it has none (which means: full). */
  find(key: string): number;
  /** The slot of `key`'s bucket, created full if needed and marked recently used; -1 when no room. */
  claim(key: string, t: number): number;
}

/** The table of a plain `rateLimiter`: one bucket, whatever the key. */
export class SingleBucket implements BucketTable {
  constructor(readonly buckets: TokenBuckets) {}
  find(): number {
    return 0;
  }
  claim(): number {
    return 0;
  }
}

/**
 * The in-process store: token buckets in a few typed arrays (`TokenBuckets`), found through a
 * `BucketTable`. It decides at once, except for a caller that waits its turn.
 */
export class BucketStore implements RateLimitStore {
  constructor(readonly table: BucketTable) {
    table.buckets.giveBack = (key, tokens) => this.refund(key, tokens);
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

  get rejected(): number {
    return this.table.buckets.rejected;
  }

  acquire(key: string, tokens: number, scope: Scope | undefined): Admission {
    const buckets = this.table.buckets;
    const t = buckets.sync();
    const slot = this.table.claim(key, t);
    // A call (not `tryAcquire`) with a bucket to ask: kept this small so that the compiler inlines
    // the bucket's grant path (`request`) here instead of leaving it a call of its own.
    if (slot >= 0 && scope !== undefined) {
      const decision = buckets.request(slot, tokens, scope, t, key);
      if (decision === null) return GRANTED;
      if (decision instanceof Promise) return decision;
      buckets.rejected++;
      return decision;
    }
    return this.decideElse(slot, tokens, t);
  }

  /** `acquire` without a slot (every key of a keyed limiter has waiters) or without a scope (`tryAcquire`). */
  private decideElse(slot: number, tokens: number, t: number): Admission {
    const buckets = this.table.buckets;
    let refusal: RateLimitedError;
    if (slot < 0) {
      // No slot: every key of a keyed limiter has waiters; the retry hint is one token's time.
      refusal = RateLimitedError.fast(Math.ceil(buckets.msPerToken));
    } else {
      if (buckets.tryTake(slot, tokens, t)) return GRANTED;
      refusal = RateLimitedError.fast(buckets.retryAfter(slot, tokens));
    }
    buckets.rejected++;
    return refusal;
  }

  available(key: string): number {
    const buckets = this.table.buckets;
    const t = buckets.sync();
    const slot = this.table.find(key);
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (slot −1 reads undefined from the typed arrays, and bucketAvailable then yields floor(capacity) too); `true` was killed before this mark
    if (slot < 0) return Math.floor(buckets.capacity);
    if (buckets.hasWaiters(slot)) return 0;
    return buckets.available(slot, t);
  }

  refund(key: string, tokens: number): void {
    const slot = this.table.find(key);
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (a refund to slot −1 writes nothing, since a typed array ignores index −1, compares NaN with earliestFull and finds no queue); `false` was killed before this mark
    if (slot >= 0) this.table.buckets.refund(slot, tokens);
  }
}
