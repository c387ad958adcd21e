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

function brandOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<symbol, unknown>)[BRAND] : undefined;
}

/** Codes each of our classes answers `instanceof` for; undefined = any breakwater error. */
const CODES = Symbol('breakwater.codes');

export abstract class BreakwaterError extends Error {
  declare readonly code: string;

  constructor(message: string, code: string) {
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
    if (typeof brand !== 'string') return false;
    const codes = (this.prototype as unknown as Record<symbol, readonly string[] | undefined>)[CODES];
    return codes === undefined || codes.includes(brand);
  }
}

function mark(cls: abstract new (...args: never[]) => Error, code: string | undefined, codes: readonly string[] | undefined): void {
  const define = (key: PropertyKey, value: unknown): void => {
    Object.defineProperty(cls.prototype, key, { value, enumerable: false, configurable: true, writable: true });
  };
  define('name', cls.name);
  define(CODES, codes);
  if (code !== undefined) define(BRAND, code);
}

export class CircuitOpenError extends BreakwaterError {
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

export class RateLimitedError extends BreakwaterError {
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

export class TimeoutError extends BreakwaterError {
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

mark(BreakwaterError, undefined, undefined);
mark(CircuitOpenError, 'ERR_CIRCUIT_OPEN', ['ERR_CIRCUIT_OPEN', 'ERR_CIRCUIT_ISOLATED']);
mark(CircuitIsolatedError, 'ERR_CIRCUIT_ISOLATED', ['ERR_CIRCUIT_ISOLATED']);
mark(BulkheadFullError, 'ERR_BULKHEAD_FULL', ['ERR_BULKHEAD_FULL']);
mark(RateLimitedError, 'ERR_RATE_LIMITED', ['ERR_RATE_LIMITED']);
mark(TimeoutError, 'ERR_TIMEOUT', ['ERR_TIMEOUT']);

/** True for any error breakwater itself produced (as opposed to one thrown by `fn`). */
export function isBreakwaterError(value: unknown): value is BreakwaterError {
  return typeof brandOf(value) === 'string';
}

/**
 * Marks a class defined elsewhere in the library (e.g. an HTTP status error) as a breakwater
 * error with `code`, so it gets the same cross-build `instanceof` and `isBreakwaterError`.
 * @internal
 */
export function markErrorClass(cls: abstract new (...args: never[]) => Error, code: string): void {
  mark(cls, code, [code]);
}

/**
 * True for the library's fast refusals: "no call was made, do not add load" (open or isolated
 * circuit, full bulkhead or concurrency limit, rate limited, rate limiter unavailable).
 */
export function isFastRefusal(value: unknown): boolean {
  const brand = brandOf(value);
  return brand === 'ERR_CIRCUIT_OPEN' || brand === 'ERR_CIRCUIT_ISOLATED' || brand === 'ERR_BULKHEAD_FULL' ||
    brand === 'ERR_CONCURRENCY_LIMIT' || brand === 'ERR_RATE_LIMITED' || brand === 'ERR_RATE_LIMITER_UNAVAILABLE';
}
