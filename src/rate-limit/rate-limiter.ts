import { systemClock, type Clock } from '../core/clock.js';
import type { ExecuteOptions } from '../core/context.js';
import { Scope, type Next } from '../core/scope.js';
import { RateLimitedError } from '../core/errors.js';
import { eventNames, type FailureEvent, type RejectedEvent, type SuccessEvent } from '../core/events.js';
import { GAUGES, type Gauge } from '../core/gauges.js';
import { Observer, UNTIMED, type StartTime } from '../core/observe.js';
import { GRANTED, Permit, runWhenGranted, type Admission } from '../core/permit.js';
import { BIND, PolicyBase, RUN, readSignalOption } from '../core/policy.js';
import { checkClock, checkName, checkNumber, checkOptionsObject, describeValue, optionNames, optionalNumber } from '../core/validate.js';
import { rejectSoon } from '../core/reject.js';
import { BucketStore, SingleBucket } from './bucket-store.js';
import type { RateLimitStore } from './store.js';
import { TokenBuckets, type BucketSettings } from './token-bucket.js';

/** Options of `rateLimiter()`: a token bucket of `capacity` tokens refilled at `refillPerSecond`. */
export interface RateLimiterOptions {
  /** Bucket size: the largest burst (a finite number ≥ 1). The bucket starts full. */
  capacity: number;
  /** Tokens added per second (> 0), continuously. */
  refillPerSecond: number;
  /**
   * How long a call may wait for its token, FIFO behind earlier waiters. Default 0: reject at
   * once. A call whose wait would exceed this is rejected at once (it never waits in vain).
   */
  maxWaitMs?: number | undefined;
  /** Time source of the refill and of the waits; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Names the limiter in its events and telemetry; default `'rate-limiter'` (`'keyed-rate-limiter'` for a keyed one). */
  name?: string | undefined;
}

const RATE_LIMITER_OPTIONS = optionNames<RateLimiterOptions>({ capacity: true, refillPerSecond: true, maxWaitMs: true, clock: true, name: true });

/** Payload of a limiter's `rejected`: a request for tokens was refused. */
export interface RateLimitedEvent extends RejectedEvent<'rate-limited'> {
  /** The key, for a limiter obtained from a `keyedRateLimiter`. */
  readonly key?: string;
}

/** The events a rate limiter emits; subscribe with `on(event, listener)`. */
export interface RateLimiterEvents {
  /** A call the limiter let through succeeded; `durationMs` counts from arrival (wait included). */
  success: SuccessEvent;
  /** A call the limiter let through failed; `durationMs` counts from arrival (wait included). */
  failure: FailureEvent;
  /** Tokens refused (by `execute`, `acquire` or `tryAcquire`); `error` is the `RateLimitedError`. */
  rejected: RateLimitedEvent;
}

export const RATE_LIMITER_EVENTS = eventNames<RateLimiterEvents>({ success: true, failure: true, rejected: true });

/** A snapshot of a limiter's counters (`limiter.stats`). */
export interface RateLimiterStats {
  /** Whole tokens a request could take now (see `available`). */
  readonly available: number;
  /** Cumulative refusals (for a keyed limiter: over all keys). */
  readonly rejected: number;
}

/** @internal Validates the options `rateLimiter` and `keyedRateLimiter` share. */
export function readBucketSettings(opts: Record<string, unknown>): BucketSettings {
  const capacity = checkNumber('capacity', opts['capacity'], { min: 1 });
  const refillPerSecond = checkNumber('refillPerSecond', opts['refillPerSecond'], { above: 0 });
  const maxWaitMs = optionalNumber('maxWaitMs', opts['maxWaitMs'], 0, { min: 0, infinite: true });
  checkClock(opts['clock']);
  return { capacity, refillPerSecond, maxWaitMs, clock: (opts['clock'] as Clock | undefined) ?? systemClock };
}

/**
 * A token bucket: `capacity` burst, `refillPerSecond` sustained; `execute` takes one token per call.
 *
 * @example
 * ```ts
 * import { rateLimiter } from 'breakwater';
 *
 * // at most 10 calls/s to a partner API, bursts of 20, wait up to 500 ms for a token
 * const partner = rateLimiter({ capacity: 20, refillPerSecond: 10, maxWaitMs: 500, name: 'partner' });
 * const answer = await partner.execute(async () => 'called the partner');
 * console.log(answer, partner.available); // called the partner 19
 * ```
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiter {
  const opts = checkOptionsObject('rateLimiter', options, true, RATE_LIMITER_OPTIONS);
  const settings = readBucketSettings(opts);
  const name = checkName(opts['name'], 'rate-limiter');
  return new RateLimiter(new BucketStore(new SingleBucket(new TokenBuckets(settings, 1, false))), settings.clock, name, undefined);
}

/** @internal Validates a number of tokens (`tryAcquire`, `acquire`); the Redis limiter's too. */
export function checkTokens(tokens: unknown): number {
  if (typeof tokens !== 'number') {
    throw new TypeError(`breakwater: tokens must be a number, received ${describeValue(tokens)}`);
  }
  if (!(tokens > 0) || !Number.isFinite(tokens)) {
    throw new RangeError(`breakwater: tokens must be a finite number > 0, received ${describeValue(tokens)}`);
  }
  return tokens;
}

/** @internal What a view of a keyed limiter has: its key, and the hub all views share. */
export interface RateLimiterView {
  readonly key: string;
  readonly observer: Observer<RateLimiterEvents>;
}

const noop = (): void => {};

/**
 * A rate limiter over a store of token buckets: the in-process one of `rateLimiter()` and
 * `keyedRateLimiter()`, or a shared one. `execute` takes one token per call.
 *
 * @example
 * ```ts
 * import { rateLimiter } from 'breakwater';
 *
 * const uploads = rateLimiter({ capacity: 1_000_000, refillPerSecond: 250_000 }); // bytes
 * const chunk = new Uint8Array(64 * 1024);
 * await uploads.acquire(chunk.byteLength); // weighted: takes 65 536 tokens (the bucket starts full)
 * if (!uploads.tryAcquire(10)) console.log('no tokens now, and no waiting');
 * ```
 */
export class RateLimiter extends PolicyBase<RateLimiterEvents> {
  readonly kind = 'rate-limiter';
  protected readonly eventNames = RATE_LIMITER_EVENTS;
  /** The key of a keyed limiter's view (undefined for a plain `rateLimiter`). */
  readonly key: string | undefined;
  private readonly storeKey: string;
  private readonly observer: Observer<RateLimiterEvents>;

  /** @internal Use `rateLimiter()` or `keyedRateLimiter().get()`. */
  constructor(
    private readonly store: RateLimitStore,
    clock: Clock,
    name: string,
    view: RateLimiterView | undefined,
  ) {
    // A keyed limiter's views share its hub: listeners see every key, and a view costs no hub.
    const observer = view?.observer ?? new Observer<RateLimiterEvents>(() => name, clock, 'rate-limited');
    super(name, observer);
    this.key = view?.key;
    this.storeKey = view === undefined ? '' : view.key;
    this.observer = observer;
  }

  /** Bucket size in tokens: the largest burst. */
  get capacity(): number {
    return this.store.capacity;
  }

  /** Tokens added per second. */
  get refillPerSecond(): number {
    return this.store.refillPerSecond;
  }

  /** Longest wait for tokens, in milliseconds (0: refuse at once). */
  get maxWaitMs(): number {
    return this.store.maxWaitMs;
  }

  /**
   * Whole tokens a request could take right now: `available >= k` exactly when
   * `tryAcquire(k)` would succeed, for whole k; 0 while callers wait (their reservations come
   * first).
   */
  get available(): number {
    return this.store.available(this.storeKey);
  }

  /** Counters now: whole tokens available, refusals so far. */
  get stats(): RateLimiterStats {
    return { available: this.available, rejected: this.store.rejected };
  }

  /**
   * Takes `tokens` (default 1, may be fractional) if they are there now and nobody waits.
   * Never waits. A request for more than `capacity` can never succeed: it returns false at
   * once and does not count as a rate-limit rejection. Needs a store that decides at once (the
   * in-process one); over a store that decides later, use `acquire`.
   */
  tryAcquire(tokens: number = 1): boolean {
    const n = checkTokens(tokens);
    if (n > this.store.capacity) return false;
    const answer = this.store.acquire(this.storeKey, n, undefined);
    if (answer instanceof Permit) return true;
    if (answer instanceof Promise) {
      // Whatever it decides later, the caller was told no: give back what it grants.
      answer.then((permit: Permit) => permit.release(), noop);
      throw new TypeError('breakwater: tryAcquire needs a store that decides at once; this limiter decides later, use acquire()');
    }
    this.observer.rejected(answer, this.key);
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
    const signal = readSignalOption('acquire', options);
    if (signal instanceof TypeError) return Promise.reject(signal);
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    const scope = Scope.root(noop, signal);
    const admission = this.admit(scope, n);
    if (admission instanceof Permit) return Promise.resolve();
    if (admission instanceof Promise) {
      return admission.then(
        (permit: Permit) => {
          if (!scope.aborted) return;
          // Granted as the caller left: the tokens go back.
          permit.release();
          throw scope.reason;
        },
        (error: unknown) => {
          this.refusedLater(scope, error);
          throw error;
        },
      );
    }
    return rejectSoon(admission);
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](scope: Scope, next: Next): Promise<unknown> {
    if (scope.aborted) return Promise.reject(scope.reason);
    const arrivedAt = this.observer.start();
    const admission = this.store.acquire(this.storeKey, 1, scope);
    // Granted at once with nothing to give back (the common case): no layer in between.
    if (admission === GRANTED && arrivedAt === UNTIMED) return next(scope);
    return this.runAdmitted(admission, scope, next, arrivedAt);
  }

  /**
   * Every other admission, out of line, so that `[RUN]` stays small: a larger one used up its
   * caller's inlining budget, and the bucket's `request` then ran as a call of its own (about 100
   * instructions more per call, bench/instructions.mjs).
   */
  private runAdmitted(admission: Admission, scope: Scope, next: Next, arrivedAt: StartTime): Promise<unknown> {
    if (admission === GRANTED) return this.observer.watch(next(scope), arrivedAt);
    if (admission instanceof Permit) return admission.run(scope, next, this.observer, arrivedAt, true);
    if (admission instanceof Promise) return runWhenGranted(admission, scope, next, this.observer, arrivedAt, this);
    this.observer.rejected(admission, this.key);
    return rejectSoon(admission);
  }

  /** @internal The gauges the metrics bridges report. */
  [GAUGES](): readonly Gauge[] {
    return [{ metric: 'rate_limiter.available', description: 'Tokens available in a rate limiter.', unit: '{token}', read: () => this.available }];
  }

  /** Asks the store; a refusal made at once is reported here. */
  private admit(scope: Scope, tokens: number): Admission {
    const admission = this.store.acquire(this.storeKey, tokens, scope);
    if (!(admission instanceof Permit) && !(admission instanceof Promise)) this.observer.rejected(admission, this.key);
    return admission;
  }

  /** @internal A store that decides later refused (not the caller's own abort): report it. */
  refusedLater(scope: Scope, error: unknown): void {
    if (!scope.aborted && error instanceof RateLimitedError) this.observer.rejected(error, this.key);
  }
}
