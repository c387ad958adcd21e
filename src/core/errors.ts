// Errors the library itself rejects with. Each carries a stable `code` (undici style) and a
// brand under a registered symbol, so `instanceof` works when the ESM and the CJS builds are
// both loaded (two copies of every class exist then).
//
// Fast-fail rejections (open breaker, full bulkhead, empty bucket) are hot paths: capturing a
// stack trace costs microseconds on Node 20 and says nothing useful (it would point into the
// library), so these errors are built without one.

const BRAND = Symbol.for('breakwater.error.code');

function captureless<T>(build: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function brandOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<symbol, unknown>)[BRAND] : undefined;
}

export abstract class BreakwaterError extends Error {
  /** Codes whose errors count as instances of this class (see `Symbol.hasInstance`). */
  protected static readonly codes: readonly string[] | undefined = undefined;
  abstract readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    Object.defineProperty(this, BRAND, { value: code, enumerable: false, configurable: true });
    Object.defineProperty(this, 'name', {
      value: new.target.name,
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // A user's subclass of ours gets ordinary prototype-chain semantics.
    if (!Object.prototype.hasOwnProperty.call(this, 'codes')) {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    const brand = brandOf(value);
    if (typeof brand !== 'string') return false;
    const codes = (this as unknown as { codes: readonly string[] | undefined }).codes;
    return codes === undefined || codes.includes(brand);
  }
}

export class CircuitOpenError extends BreakwaterError {
  protected static override readonly codes: readonly string[] = ['ERR_CIRCUIT_OPEN', 'ERR_CIRCUIT_ISOLATED'];
  readonly code: string = 'ERR_CIRCUIT_OPEN';
  /** Milliseconds until the breaker admits a probe again (Infinity while isolated). */
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message = `Circuit is open; retry after ${Math.ceil(retryAfterMs)} ms`) {
    super(message, 'ERR_CIRCUIT_OPEN');
    this.retryAfterMs = retryAfterMs;
  }

  /** Built without a stack trace: this is the hot rejection path of an open breaker. */
  static fast(retryAfterMs: number): CircuitOpenError {
    return captureless(() => new CircuitOpenError(retryAfterMs));
  }
}

export class CircuitIsolatedError extends CircuitOpenError {
  protected static override readonly codes: readonly string[] = ['ERR_CIRCUIT_ISOLATED'];
  override readonly code: string = 'ERR_CIRCUIT_ISOLATED';

  constructor(message = 'Circuit is isolated') {
    super(Infinity, message);
    Object.defineProperty(this, BRAND, { value: 'ERR_CIRCUIT_ISOLATED' });
  }

  static override fast(): CircuitIsolatedError {
    return captureless(() => new CircuitIsolatedError());
  }
}

export class BulkheadFullError extends BreakwaterError {
  protected static override readonly codes: readonly string[] = ['ERR_BULKHEAD_FULL'];
  readonly code = 'ERR_BULKHEAD_FULL';

  constructor(message = 'Bulkhead is full') {
    super(message, 'ERR_BULKHEAD_FULL');
  }

  static fast(): BulkheadFullError {
    return captureless(() => new BulkheadFullError());
  }
}

export class RateLimitedError extends BreakwaterError {
  protected static override readonly codes: readonly string[] = ['ERR_RATE_LIMITED'];
  readonly code = 'ERR_RATE_LIMITED';
  /** Milliseconds after which the same request would be granted. */
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message = `Rate limited; retry after ${Math.ceil(retryAfterMs)} ms`) {
    super(message, 'ERR_RATE_LIMITED');
    this.retryAfterMs = retryAfterMs;
  }

  static fast(retryAfterMs: number): RateLimitedError {
    return captureless(() => new RateLimitedError(retryAfterMs));
  }
}

export class TimeoutError extends BreakwaterError {
  protected static override readonly codes: readonly string[] = ['ERR_TIMEOUT'];
  readonly code = 'ERR_TIMEOUT';
  readonly timeoutMs: number;

  constructor(timeoutMs: number, message = `Timed out after ${timeoutMs} ms`) {
    super(message, 'ERR_TIMEOUT');
    this.timeoutMs = timeoutMs;
  }

  static fast(timeoutMs: number): TimeoutError {
    return captureless(() => new TimeoutError(timeoutMs));
  }
}

/** True for any error breakwater itself produced (as opposed to one thrown by `fn`). */
export function isBreakwaterError(value: unknown): value is BreakwaterError {
  return typeof brandOf(value) === 'string';
}
