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
  readonly status: number;
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

export abstract class BreakwaterError extends Error {
  declare readonly code: BreakwaterErrorCode;

  constructor(message: string, code: BreakwaterErrorCode) {
    super(message);
    this.code = code;
    // A user's subclass gets its own name; ours carry theirs on the prototype.
    if (!Object.prototype.hasOwnProperty.call(new.target.prototype, CODES)) {
      Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
    }
  }

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

export class CircuitOpenError extends BreakwaterError {
  /** `ERR_CIRCUIT_ISOLATED` when it is the `CircuitIsolatedError` subclass. */
  declare readonly code: 'ERR_CIRCUIT_OPEN' | 'ERR_CIRCUIT_ISOLATED';
  /** Milliseconds until the breaker admits a probe again (Infinity while isolated). */
  declare readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message = `Circuit is open; retry after ${Math.ceil(retryAfterMs)} ms`) {
    super(message, 'ERR_CIRCUIT_OPEN');
    this.retryAfterMs = retryAfterMs;
  }

  /** Built without a stack trace: this is the hot rejection path of an open breaker. */
  static fast(retryAfterMs: number): CircuitOpenError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new CircuitOpenError(retryAfterMs);
    Error.stackTraceLimit = limit;
    return error;
  }
}

export class CircuitIsolatedError extends CircuitOpenError {
  declare readonly code: 'ERR_CIRCUIT_ISOLATED';

  constructor(message = 'Circuit is isolated') {
    super(Infinity, message);
    (this as { code: string }).code = 'ERR_CIRCUIT_ISOLATED';
  }

  static override fast(): CircuitIsolatedError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new CircuitIsolatedError();
    Error.stackTraceLimit = limit;
    return error;
  }
}

export class BulkheadFullError extends BreakwaterError {
  /** `ERR_CONCURRENCY_LIMIT` when it is the `ConcurrencyLimitError` subclass. */
  declare readonly code: 'ERR_BULKHEAD_FULL' | 'ERR_CONCURRENCY_LIMIT';

  constructor(message = 'Bulkhead is full') {
    super(message, 'ERR_BULKHEAD_FULL');
  }

  static fast(): BulkheadFullError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new BulkheadFullError();
    Error.stackTraceLimit = limit;
    return error;
  }
}

/** An adaptive concurrency limiter is at its limit (and its queue, if any, is full). */
export class ConcurrencyLimitError extends BulkheadFullError {
  declare readonly code: 'ERR_CONCURRENCY_LIMIT';

  constructor(message = 'Concurrency limit reached') {
    super(message);
    (this as { code: string }).code = 'ERR_CONCURRENCY_LIMIT';
  }

  static override fast(): ConcurrencyLimitError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new ConcurrencyLimitError();
    Error.stackTraceLimit = limit;
    return error;
  }
}

export class RateLimitedError extends BreakwaterError {
  declare readonly code: 'ERR_RATE_LIMITED';
  /** Milliseconds after which the same request would be granted. */
  declare readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message = `Rate limited; retry after ${Math.ceil(retryAfterMs)} ms`) {
    super(message, 'ERR_RATE_LIMITED');
    this.retryAfterMs = retryAfterMs;
  }

  static fast(retryAfterMs: number): RateLimitedError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new RateLimitedError(retryAfterMs);
    Error.stackTraceLimit = limit;
    return error;
  }
}

/**
 * A limiter could not reach the store that holds its buckets (e.g. Redis), so it refused the
 * call rather than let it through uncounted. `cause` is the store's error.
 */
export class RateLimiterUnavailableError extends BreakwaterError {
  declare readonly code: 'ERR_RATE_LIMITER_UNAVAILABLE';

  constructor(cause?: unknown, message = 'Rate limiter unavailable') {
    super(message, 'ERR_RATE_LIMITER_UNAVAILABLE');
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, configurable: true, writable: true });
  }

  static fast(cause?: unknown): RateLimiterUnavailableError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new RateLimiterUnavailableError(cause);
    Error.stackTraceLimit = limit;
    return error;
  }
}

export class TimeoutError extends BreakwaterError {
  declare readonly code: 'ERR_TIMEOUT';
  declare readonly timeoutMs: number;

  constructor(timeoutMs: number, message = `Timed out after ${timeoutMs} ms`) {
    super(message, 'ERR_TIMEOUT');
    this.timeoutMs = timeoutMs;
  }

  static fast(timeoutMs: number): TimeoutError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new TimeoutError(timeoutMs);
    Error.stackTraceLimit = limit;
    return error;
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
 */
export function isBreakwaterError(value: unknown): value is BreakwaterError {
  return LIBRARY_CODES.has(brandOf(value));
}

/**
 * True for the refusals that mean "no call was made, do not add load": `CircuitOpenError`
 * (and `CircuitIsolatedError`), `BulkheadFullError` (and `ConcurrencyLimitError`),
 * `RateLimitedError`, `RateLimiterUnavailableError`. A `TimeoutError` is not one: a call was
 * made and took too long. The default `retry` does not retry these.
 */
export function isFastRefusal(
  value: unknown,
): value is CircuitOpenError | BulkheadFullError | RateLimitedError | RateLimiterUnavailableError {
  return FAST_REFUSAL_CODES.has(brandOf(value));
}
