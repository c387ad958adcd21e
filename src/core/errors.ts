// Errors the library itself rejects with. Each carries a stable `code` (undici style) and a
// brand under a registered symbol, so `instanceof` works when the ESM and the CJS builds are
// both loaded (two copies of every class exist then).
//
// Fast-fail rejections (open breaker, full bulkhead, empty bucket) are hot paths: capturing a
// stack trace costs microseconds on Node 20 and says nothing useful (it would point into the
// library), so `fast()` builds these errors without one. Name and brand live on the
// prototypes and fields are plain assignments, so an instance costs little more than its
// message string.

const BRAND = Symbol.for('breakwater.error.code');

/**
 * How a server answers a client whose request one of these errors refused: an HTTP status and a
 * fixed, client-safe text (never the error's message, which names internals). Each error class
 * declares its own on its prototype, under a registered symbol, and the HTTP guard reads it from
 * the error: adding an error edits no list there.
 */
export interface HttpAnswer {
  /** The HTTP status of the answer (503, 429). */
  readonly status: number;
  /** The body text of the answer, safe to show a client. */
  readonly message: string;
  /**
   * True when the error means a call was made (a timeout): no retry time is known, so the answer
   * carries no `Retry-After`. Otherwise the error is a fast refusal ("no call was made") and the
   * answer always carries one: the error's own `retryAfterMs`, else the guard's fallback.
   */
  readonly callMade?: boolean;
}

/** Where an error class declares its `HttpAnswer`. */
export const HTTP_ANSWER: unique symbol = Symbol.for('breakwater.http.answer.v1') as never;

/** The `code` of every error breakwater itself rejects with. */
export type BreakwaterErrorCode =
  | 'ERR_CIRCUIT_OPEN'
  | 'ERR_CIRCUIT_ISOLATED'
  | 'ERR_BULKHEAD_FULL'
  | 'ERR_CONCURRENCY_LIMIT'
  | 'ERR_RATE_LIMITED'
  | 'ERR_RATE_LIMITER_UNAVAILABLE'
  | 'ERR_TIMEOUT';

const LIBRARY_CODES: ReadonlySet<unknown> = new Set<BreakwaterErrorCode>([
  'ERR_CIRCUIT_OPEN',
  'ERR_CIRCUIT_ISOLATED',
  'ERR_BULKHEAD_FULL',
  'ERR_CONCURRENCY_LIMIT',
  'ERR_RATE_LIMITED',
  'ERR_RATE_LIMITER_UNAVAILABLE',
  'ERR_TIMEOUT',
]);

/** The refusals that mean "no call was made": everything but a timeout. */
const FAST_REFUSAL_CODES: ReadonlySet<unknown> = new Set<BreakwaterErrorCode>([
  'ERR_CIRCUIT_OPEN',
  'ERR_CIRCUIT_ISOLATED',
  'ERR_BULKHEAD_FULL',
  'ERR_CONCURRENCY_LIMIT',
  'ERR_RATE_LIMITED',
  'ERR_RATE_LIMITER_UNAVAILABLE',
]);

function brandOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<symbol, unknown>)[BRAND] : undefined;
}

/** Codes each of our classes answers `instanceof` for; undefined = any breakwater error. */
const CODES = Symbol('breakwater.codes');

/**
 * The base class of every error breakwater itself rejects with: a refusal (open circuit, full
 * bulkhead, rate limit, …) or a timeout, each with a stable `code`. `instanceof` holds across the
 * ESM and the CJS build of the library; what `fn` throws is never wrapped in one.
 *
 * @example
 * ```ts
 * import { BreakwaterError, timeout } from 'breakwater';
 *
 * try {
 *   await timeout(50).execute(() => new Promise(() => {}));
 * } catch (error) {
 *   if (error instanceof BreakwaterError) console.log(error.code); // ERR_TIMEOUT
 * }
 * ```
 */
export abstract class BreakwaterError extends Error {
  /** Stable identifier of the error (`'ERR_TIMEOUT'`, `'ERR_CIRCUIT_OPEN'`, …): compare this, not the message. */
  declare readonly code: BreakwaterErrorCode;

  /** For a subclass of your own: `message` as for `Error`, `code` one of `BreakwaterErrorCode`. */
  constructor(message: string, code: BreakwaterErrorCode) {
    super(message);
    this.code = code;
    // A user's subclass gets its own name; ours carry theirs on the prototype.
    if (!Object.prototype.hasOwnProperty.call(new.target.prototype, CODES)) {
      Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
    }
  }

  /**
   * `instanceof` by the error's `code`, so an error from the other build of the library (ESM
   * beside CJS) still matches its class; a subclass of your own matches by prototype chain.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (!Object.prototype.hasOwnProperty.call(this.prototype, CODES)) {
      // A user's subclass of ours: ordinary prototype-chain semantics.
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    const brand = brandOf(value);
    if (!LIBRARY_CODES.has(brand)) return false;
    const codes = (this.prototype as unknown as Record<symbol, readonly unknown[] | undefined>)[CODES];
    return codes === undefined || codes.includes(brand);
  }
}

function mark(
  cls: abstract new (...args: never[]) => Error,
  code: string | undefined,
  codes: readonly string[] | undefined,
  answer?: HttpAnswer,
): void {
  const define = (key: PropertyKey, value: unknown): void => {
    Object.defineProperty(cls.prototype, key, { value, enumerable: false, configurable: true, writable: true });
  };
  define('name', cls.name);
  define(CODES, codes);
  if (code !== undefined) define(BRAND, code);
  if (answer !== undefined) define(HTTP_ANSWER, Object.freeze(answer));
}

/**
 * Builds an error with no stack trace: a refusal under load is made thousands of times a second,
 * and capturing a stack is most of what an `Error` costs. Nothing here throws, but the limit is
 * restored whatever happens.
 * @internal
 */
export function withoutStack<E>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A circuit breaker is open (or isolated) and refused the call without running `fn`.
 * `retryAfterMs` says when it admits a probe again.
 *
 * @example
 * ```ts
 * import { CircuitOpenError, circuitBreaker } from 'breakwater';
 *
 * const breaker = circuitBreaker({ consecutiveFailures: 1, halfOpenAfterMs: 5_000 });
 * await breaker.execute(() => Promise.reject(new Error('503'))).catch(() => {});
 * await breaker.execute(() => 'never runs').catch((error) => {
 *   if (error instanceof CircuitOpenError) console.log(error.code, Math.round(error.retryAfterMs)); // ERR_CIRCUIT_OPEN 5000
 * });
 * ```
 */
export class CircuitOpenError extends BreakwaterError {
  /** `ERR_CIRCUIT_ISOLATED` when it is the `CircuitIsolatedError` subclass. */
  declare readonly code: 'ERR_CIRCUIT_OPEN' | 'ERR_CIRCUIT_ISOLATED';
  /** Milliseconds until the breaker admits a probe again (Infinity while isolated). */
  declare readonly retryAfterMs: number;

  /** `retryAfterMs`: milliseconds until the breaker admits a probe; `message` has a default naming it. */
  constructor(retryAfterMs: number, message = `Circuit is open; retry after ${Math.ceil(retryAfterMs)} ms`) {
    super(message, 'ERR_CIRCUIT_OPEN');
    this.retryAfterMs = retryAfterMs;
  }

  /** Built without a stack trace: this is the hot rejection path of an open breaker. */
  static fast(retryAfterMs: number): CircuitOpenError {
    return withoutStack(() => new CircuitOpenError(retryAfterMs));
  }
}

/**
 * A circuit breaker held open by `isolate()` refused the call; `retryAfterMs` is Infinity until
 * the function `isolate()` returned is called. It is also a `CircuitOpenError`.
 *
 * @example
 * ```ts
 * import { CircuitIsolatedError, circuitBreaker } from 'breakwater';
 *
 * const breaker = circuitBreaker({ halfOpenAfterMs: 5_000 });
 * const release = breaker.isolate(); // maintenance: refuse every call
 * await breaker.execute(() => 'never runs').catch((error) => {
 *   console.log(error instanceof CircuitIsolatedError, error.code); // true ERR_CIRCUIT_ISOLATED
 * });
 * release();
 * ```
 */
export class CircuitIsolatedError extends CircuitOpenError {
  /** Always `'ERR_CIRCUIT_ISOLATED'`. */
  declare readonly code: 'ERR_CIRCUIT_ISOLATED';

  /** `message` defaults to "Circuit is isolated". */
  constructor(message = 'Circuit is isolated') {
    super(Infinity, message);
    (this as { code: string }).code = 'ERR_CIRCUIT_ISOLATED';
  }

  /** Built without a stack trace: the rejection path of an isolated breaker. */
  static override fast(): CircuitIsolatedError {
    return withoutStack(() => new CircuitIsolatedError());
  }
}

/**
 * A bulkhead had no free slot and no room in its queue (or the call waited past `queueTimeoutMs`),
 * so it refused the call without running `fn`.
 *
 * @example
 * ```ts
 * import { BulkheadFullError, bulkhead } from 'breakwater';
 *
 * const pool = bulkhead({ maxConcurrent: 1, maxQueue: 0 });
 * const first = pool.execute(() => new Promise((resolve) => setTimeout(resolve, 10)));
 * await pool.execute(() => 'refused').catch((error) => {
 *   if (error instanceof BulkheadFullError) console.log(error.code); // ERR_BULKHEAD_FULL
 * });
 * await first;
 * ```
 */
export class BulkheadFullError extends BreakwaterError {
  /** `ERR_CONCURRENCY_LIMIT` when it is the `ConcurrencyLimitError` subclass. */
  declare readonly code: 'ERR_BULKHEAD_FULL' | 'ERR_CONCURRENCY_LIMIT';

  /** `message` defaults to "Bulkhead is full". */
  constructor(message = 'Bulkhead is full') {
    super(message, 'ERR_BULKHEAD_FULL');
  }

  /** Built without a stack trace: this is the hot rejection path of a full bulkhead. */
  static fast(): BulkheadFullError {
    return withoutStack(() => new BulkheadFullError());
  }
}

/**
 * An adaptive concurrency limiter is at its limit (and its queue, if any, is full).
 *
 * It is also a `BulkheadFullError`, so code that handles a full bulkhead handles this too.
 *
 * @example
 * ```ts
 * import { ConcurrencyLimitError, adaptiveConcurrency, aimdLimit } from 'breakwater';
 *
 * const limiter = adaptiveConcurrency({ limit: aimdLimit({ initialLimit: 1, minLimit: 1 }) });
 * const first = limiter.execute(() => new Promise((resolve) => setTimeout(resolve, 10)));
 * await limiter.execute(() => 'refused').catch((error) => {
 *   if (error instanceof ConcurrencyLimitError) console.log(error.code); // ERR_CONCURRENCY_LIMIT
 * });
 * await first;
 * ```
 */
export class ConcurrencyLimitError extends BulkheadFullError {
  /** Always `'ERR_CONCURRENCY_LIMIT'`. */
  declare readonly code: 'ERR_CONCURRENCY_LIMIT';

  /** `message` defaults to "Concurrency limit reached". */
  constructor(message = 'Concurrency limit reached') {
    super(message);
    (this as { code: string }).code = 'ERR_CONCURRENCY_LIMIT';
  }

  /** Built without a stack trace: this is the hot rejection path of a limiter at its limit. */
  static override fast(): ConcurrencyLimitError {
    return withoutStack(() => new ConcurrencyLimitError());
  }
}

/**
 * A rate limiter had no token for the call and refused it without running `fn`; `retryAfterMs`
 * says when the same request would be granted.
 *
 * @example
 * ```ts
 * import { RateLimitedError, rateLimiter } from 'breakwater';
 *
 * const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1 });
 * await limiter.execute(() => 'granted');
 * await limiter.execute(() => 'refused').catch((error) => {
 *   if (error instanceof RateLimitedError) console.log(error.code, Math.ceil(error.retryAfterMs)); // ERR_RATE_LIMITED 1000
 * });
 * ```
 */
export class RateLimitedError extends BreakwaterError {
  /** Always `'ERR_RATE_LIMITED'`. */
  declare readonly code: 'ERR_RATE_LIMITED';
  /** Milliseconds after which the same request would be granted. */
  declare readonly retryAfterMs: number;

  /** `retryAfterMs`: milliseconds until the request would be granted; `message` has a default naming it. */
  constructor(retryAfterMs: number, message = `Rate limited; retry after ${Math.ceil(retryAfterMs)} ms`) {
    super(message, 'ERR_RATE_LIMITED');
    this.retryAfterMs = retryAfterMs;
  }

  /** Built without a stack trace: this is the hot rejection path of an empty bucket. */
  static fast(retryAfterMs: number): RateLimitedError {
    return withoutStack(() => new RateLimitedError(retryAfterMs));
  }
}

/**
 * A limiter could not reach the store that holds its buckets (e.g. Redis), so it refused the
 * call rather than let it through uncounted. `cause` is the store's error.
 *
 * @example
 * ```ts
 * import { RateLimiterUnavailableError } from 'breakwater';
 *
 * // what a Redis-backed limiter rejects with when Redis does not answer (unavailable: 'reject')
 * const error = new RateLimiterUnavailableError(new Error('ECONNREFUSED'));
 * console.log(error.code, (error.cause as Error).message); // ERR_RATE_LIMITER_UNAVAILABLE ECONNREFUSED
 * ```
 */
export class RateLimiterUnavailableError extends BreakwaterError {
  /** Always `'ERR_RATE_LIMITER_UNAVAILABLE'`. */
  declare readonly code: 'ERR_RATE_LIMITER_UNAVAILABLE';

  /** `cause`: the store's error, kept as `error.cause`; `message` defaults to "Rate limiter unavailable". */
  constructor(cause?: unknown, message = 'Rate limiter unavailable') {
    super(message, 'ERR_RATE_LIMITER_UNAVAILABLE');
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, configurable: true, writable: true });
  }

  /** Built without a stack trace: every call is refused this way while the store is down. */
  static fast(cause?: unknown): RateLimiterUnavailableError {
    return withoutStack(() => new RateLimiterUnavailableError(cause));
  }
}

/**
 * A timeout gave up waiting for `fn` after `timeoutMs` (or at the ambient deadline) and aborted
 * the attempt's signal with this error. Unlike the refusals, a call was made.
 *
 * @example
 * ```ts
 * import { TimeoutError, timeout } from 'breakwater';
 *
 * await timeout(50).execute(() => new Promise(() => {})).catch((error) => {
 *   if (error instanceof TimeoutError) console.log(error.code, error.timeoutMs); // ERR_TIMEOUT 50
 * });
 * ```
 */
export class TimeoutError extends BreakwaterError {
  /** Always `'ERR_TIMEOUT'`. */
  declare readonly code: 'ERR_TIMEOUT';
  /** The limit that was reached, in milliseconds. */
  declare readonly timeoutMs: number;

  /** `timeoutMs`: the limit reached; `message` has a default naming it. */
  constructor(timeoutMs: number, message = `Timed out after ${timeoutMs} ms`) {
    super(message, 'ERR_TIMEOUT');
    this.timeoutMs = timeoutMs;
  }

  /** Built without a stack trace: a timeout under load rejects many calls at once. */
  static fast(timeoutMs: number): TimeoutError {
    return withoutStack(() => new TimeoutError(timeoutMs));
  }
}

// Subclasses inherit their parent's answer (an isolated circuit answers as an open one).
mark(BreakwaterError, undefined, undefined);
mark(CircuitOpenError, 'ERR_CIRCUIT_OPEN', ['ERR_CIRCUIT_OPEN', 'ERR_CIRCUIT_ISOLATED'], { status: 503, message: 'Service unavailable' });
mark(CircuitIsolatedError, 'ERR_CIRCUIT_ISOLATED', ['ERR_CIRCUIT_ISOLATED']);
mark(BulkheadFullError, 'ERR_BULKHEAD_FULL', ['ERR_BULKHEAD_FULL', 'ERR_CONCURRENCY_LIMIT'], { status: 503, message: 'Server is at capacity' });
mark(ConcurrencyLimitError, 'ERR_CONCURRENCY_LIMIT', ['ERR_CONCURRENCY_LIMIT']);
mark(RateLimitedError, 'ERR_RATE_LIMITED', ['ERR_RATE_LIMITED'], { status: 429, message: 'Too many requests' });
mark(RateLimiterUnavailableError, 'ERR_RATE_LIMITER_UNAVAILABLE', ['ERR_RATE_LIMITER_UNAVAILABLE'], { status: 503, message: 'Service unavailable' });
mark(TimeoutError, 'ERR_TIMEOUT', ['ERR_TIMEOUT'], { status: 503, message: 'Request timed out', callMade: true });

/**
 * True for the errors breakwater itself rejects with: a refusal (open circuit, full bulkhead,
 * concurrency limit, rate limit, limiter unavailable) or a timeout. False for whatever `fn`
 * threw, and for errors that report a downstream's answer (`HttpStatusError` of
 * `breakwater/fetch`), so `handle: (e) => !isBreakwaterError(e)` still retries a 503.
 *
 * @example
 * ```ts
 * import { isBreakwaterError, retry } from 'breakwater';
 *
 * // retry what the downstream threw, never the library's own refusals and timeouts
 * const retrying = retry({ maxRetries: 2, handle: (error) => !isBreakwaterError(error) });
 * ```
 */
export function isBreakwaterError(value: unknown): value is BreakwaterError {
  return LIBRARY_CODES.has(brandOf(value));
}

/**
 * True for the refusals that mean "no call was made, do not add load": `CircuitOpenError`
 * (and `CircuitIsolatedError`), `BulkheadFullError` (and `ConcurrencyLimitError`),
 * `RateLimitedError`, `RateLimiterUnavailableError`. A `TimeoutError` is not one: a call was
 * made and took too long. The default `retry` does not retry these.
 *
 * @example
 * ```ts
 * import { circuitBreaker, isFastRefusal } from 'breakwater';
 *
 * const breaker = circuitBreaker({ halfOpenAfterMs: 5_000 });
 * const answer = await breaker.execute(() => fetch('https://example.com')).catch((error) => {
 *   if (isFastRefusal(error)) return new Response(null, { status: 503 }); // no call was made: shed
 *   throw error;
 * });
 * ```
 */
export function isFastRefusal(
  value: unknown,
): value is CircuitOpenError | BulkheadFullError | RateLimitedError | RateLimiterUnavailableError {
  return FAST_REFUSAL_CODES.has(brandOf(value));
}
