import type { Admission } from '../core/permit.js';
import type { Scope } from '../core/scope.js';

/**
 * Where a rate limiter keeps its buckets and decides: the in-process table (`BucketStore`), or a
 * shared one (Redis). The `rateLimiter` policy and the views of a keyed limiter run over any
 * store, whether it decides at once or later.
 *
 * A store decides every request for tokens with the token-bucket rule of bucket-rule.ts:
 * `capacity` burst, `refillPerSecond` sustained, FIFO waits up to `maxWaitMs`, a refused request
 * takes nothing.
 */
export interface RateLimitStore {
  readonly capacity: number;
  readonly refillPerSecond: number;
  /** Longest a request may wait for its tokens (0: never). */
  readonly maxWaitMs: number;
  /** Refusals so far, over every key: the store counts those it makes. */
  readonly rejected: number;
  /**
   * Asks for `tokens` of `key`'s bucket for a call running in `scope`. Answers
   * - a `Permit` when they are granted now (spent at the grant: `release` gives them back);
   * - a native `Promise` of a `Permit` when the store decides later or the call must wait its turn
   *   (FIFO behind earlier waiters, at most `maxWaitMs`): it rejects with the refusal
   *   (`RateLimitedError`, or `RateLimiterUnavailableError` when the store cannot decide), and with
   *   the scope's abort reason as soon as the scope aborts (the store then takes nothing, or gives
   *   back what it granted);
   * - the refusal itself (`RateLimitedError` with an exact `retryAfterMs`).
   * Without a scope (`tryAcquire`), the request may not wait: granted now or refused.
   */
  acquire(key: string, tokens: number, scope: Scope | undefined): Admission;
  /**
   * Whole tokens a request of `key` could take now without waiting (0 while callers wait), as
   * far as the store knows at once (a remote store: its latest answer).
   */
  available(key: string): number;
  /** Gives back `tokens` granted to a call that never used them. */
  refund(key: string, tokens: number): void;
}
