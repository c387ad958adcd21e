import { describe, expect, expectTypeOf, it } from 'vitest';
import { HttpStatusError } from '../../src/http/fetch.js';
import {
  BreakwaterError,
  BulkheadFullError,
  CircuitIsolatedError,
  CircuitOpenError,
  ConcurrencyLimitError,
  isBreakwaterError,
  isFastRefusal,
  RateLimitedError,
  RateLimiterUnavailableError,
  TimeoutError,
  type BreakwaterErrorCode,
} from '../../src/index.js';

describe('errors', () => {
  it.each([
    [new CircuitOpenError(1500), 'CircuitOpenError', 'ERR_CIRCUIT_OPEN'],
    [new CircuitIsolatedError(), 'CircuitIsolatedError', 'ERR_CIRCUIT_ISOLATED'],
    [new BulkheadFullError(), 'BulkheadFullError', 'ERR_BULKHEAD_FULL'],
    [new ConcurrencyLimitError(), 'ConcurrencyLimitError', 'ERR_CONCURRENCY_LIMIT'],
    [new RateLimitedError(20), 'RateLimitedError', 'ERR_RATE_LIMITED'],
    [new RateLimiterUnavailableError(), 'RateLimiterUnavailableError', 'ERR_RATE_LIMITER_UNAVAILABLE'],
    [new TimeoutError(100), 'TimeoutError', 'ERR_TIMEOUT'],
  ])('%s has its name and code and extends BreakwaterError and Error', (error, name, code) => {
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(error).toBeInstanceOf(Error);
    expect(isBreakwaterError(error)).toBe(true);
    expect(Object.prototype.toString.call(error)).toBe('[object Error]');
  });

  it('keeps the class hierarchy: isolated is open, nothing else is', () => {
    expect(new CircuitIsolatedError()).toBeInstanceOf(CircuitOpenError);
    expect(new CircuitOpenError(1)).not.toBeInstanceOf(CircuitIsolatedError);
    expect(new TimeoutError(1)).not.toBeInstanceOf(CircuitOpenError);
    expect(new ConcurrencyLimitError()).toBeInstanceOf(BulkheadFullError);
    expect(new BulkheadFullError()).not.toBeInstanceOf(ConcurrencyLimitError);
    expect(new RateLimiterUnavailableError()).not.toBeInstanceOf(RateLimitedError);
    expect(new RateLimitedError(1)).not.toBeInstanceOf(RateLimiterUnavailableError);
    expect(new Error('x')).not.toBeInstanceOf(BreakwaterError);
    expect('ERR_TIMEOUT').not.toBeInstanceOf(TimeoutError);
    expect(null).not.toBeInstanceOf(TimeoutError);
  });

  it('carries retryAfterMs and timeoutMs', () => {
    expect(new CircuitOpenError(1234).retryAfterMs).toBe(1234);
    expect(new CircuitIsolatedError().retryAfterMs).toBe(Infinity);
    expect(new RateLimitedError(7).retryAfterMs).toBe(7);
    expect(new TimeoutError(250).timeoutMs).toBe(250);
  });

  it('fast variants are the same errors, built without a stack capture', () => {
    const fast = CircuitOpenError.fast(10);
    expect(fast).toBeInstanceOf(CircuitOpenError);
    expect(fast.code).toBe('ERR_CIRCUIT_OPEN');
    expect(fast.message).toMatch(/retry after 10 ms/);
    expect(BulkheadFullError.fast()).toBeInstanceOf(BulkheadFullError);
    expect(RateLimitedError.fast(3).retryAfterMs).toBe(3);
    expect(CircuitIsolatedError.fast()).toBeInstanceOf(CircuitIsolatedError);
    expect(TimeoutError.fast(5).timeoutMs).toBe(5);
    expect(RateLimiterUnavailableError.fast()).toBeInstanceOf(RateLimiterUnavailableError);
    expect(RateLimiterUnavailableError.fast()).not.toBeInstanceOf(RateLimitedError);
    expect(ConcurrencyLimitError.fast()).toBeInstanceOf(ConcurrencyLimitError);
    expect(ConcurrencyLimitError.fast().code).toBe('ERR_CONCURRENCY_LIMIT');
    const cause = new Error('ECONNREFUSED');
    expect(RateLimiterUnavailableError.fast(cause).cause).toBe(cause);
    expect(RateLimiterUnavailableError.fast().stack).not.toMatch(/errors\.test/);
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
  });

  it('recognises an error from another copy of the library by its brand', () => {
    const foreign = new Error('from the CJS build');
    Object.defineProperty(foreign, Symbol.for('breakwater.error.code'), { value: 'ERR_RATE_LIMITED' });
    expect(foreign).toBeInstanceOf(RateLimitedError);
    expect(foreign).toBeInstanceOf(BreakwaterError);
    expect(foreign).not.toBeInstanceOf(TimeoutError);
  });

  it('lets users subclass with ordinary instanceof semantics', () => {
    class MyTimeout extends TimeoutError {}
    expect(new MyTimeout(1)).toBeInstanceOf(MyTimeout);
    expect(new MyTimeout(1)).toBeInstanceOf(TimeoutError);
    expect(new TimeoutError(1)).not.toBeInstanceOf(MyTimeout);
  });

  it('types each code as its literal and exports the union of all codes', () => {
    expectTypeOf(new TimeoutError(1).code).toEqualTypeOf<'ERR_TIMEOUT'>();
    expectTypeOf(new RateLimitedError(1).code).toEqualTypeOf<'ERR_RATE_LIMITED'>();
    expectTypeOf(new CircuitIsolatedError().code).toEqualTypeOf<'ERR_CIRCUIT_ISOLATED'>();
    expectTypeOf(new ConcurrencyLimitError().code).toEqualTypeOf<'ERR_CONCURRENCY_LIMIT'>();
    expectTypeOf(new RateLimiterUnavailableError().code).toEqualTypeOf<'ERR_RATE_LIMITER_UNAVAILABLE'>();
    // A value typed CircuitOpenError may be its isolated subclass, so its code says so.
    expectTypeOf(new CircuitOpenError(1).code).toEqualTypeOf<'ERR_CIRCUIT_OPEN' | 'ERR_CIRCUIT_ISOLATED'>();
    expectTypeOf(new BulkheadFullError().code).toEqualTypeOf<'ERR_BULKHEAD_FULL' | 'ERR_CONCURRENCY_LIMIT'>();
    expectTypeOf<BreakwaterError['code']>().toEqualTypeOf<BreakwaterErrorCode>();
    expectTypeOf<BreakwaterErrorCode>().toEqualTypeOf<
      | 'ERR_CIRCUIT_OPEN'
      | 'ERR_CIRCUIT_ISOLATED'
      | 'ERR_BULKHEAD_FULL'
      | 'ERR_CONCURRENCY_LIMIT'
      | 'ERR_RATE_LIMITED'
      | 'ERR_RATE_LIMITER_UNAVAILABLE'
      | 'ERR_TIMEOUT'
    >();
    expectTypeOf(new HttpStatusError(new Response(null, { status: 503 }), undefined).code).toEqualTypeOf<'ERR_HTTP_STATUS'>();
  });

  it('isFastRefusal is true exactly for the refusals that made no call', () => {
    const refusals = [
      CircuitOpenError.fast(1),
      CircuitIsolatedError.fast(),
      BulkheadFullError.fast(),
      ConcurrencyLimitError.fast(),
      RateLimitedError.fast(1),
      RateLimiterUnavailableError.fast(),
    ];
    for (const error of refusals) expect(isFastRefusal(error), error.name).toBe(true);
    const others = [
      new TimeoutError(1),
      new HttpStatusError(new Response(null, { status: 503 }), undefined),
      new Error('x'),
      Object.assign(new Error('look-alike'), { code: 'ERR_CIRCUIT_OPEN' }),
      'ERR_RATE_LIMITED',
      undefined,
      null,
    ];
    for (const value of others) expect(isFastRefusal(value)).toBe(false);
    // A refusal from another copy of the library (the CJS build next to the ESM one).
    const foreign = new Error('from the CJS build');
    Object.defineProperty(foreign, Symbol.for('breakwater.error.code'), { value: 'ERR_BULKHEAD_FULL' });
    expect(isFastRefusal(foreign)).toBe(true);
  });

  it('an HttpStatusError reports a downstream answer: not a BreakwaterError, still branded across builds', () => {
    const error = new HttpStatusError(new Response(null, { status: 503, statusText: 'Service Unavailable' }), 2000);
    expect(isBreakwaterError(error)).toBe(false);
    expect(error).not.toBeInstanceOf(BreakwaterError);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('HttpStatusError');
    expect(error.code).toBe('ERR_HTTP_STATUS');
    expect(error.status).toBe(503);
    expect(error.retryAfterMs).toBe(2000);
    expect(error.message).toBe('HTTP 503 Service Unavailable');
    expect(new TimeoutError(1)).not.toBeInstanceOf(HttpStatusError);
    // From another copy of breakwater/fetch: recognised by its brand alone.
    const foreign = new Error('HTTP 503');
    Object.defineProperty(foreign, Symbol.for('breakwater.http-status-error'), { value: true });
    expect(foreign).toBeInstanceOf(HttpStatusError);
    expect(isBreakwaterError(foreign)).toBe(false);
    class MyStatusError extends HttpStatusError {}
    expect(new MyStatusError(new Response(null, { status: 500 }), undefined)).toBeInstanceOf(MyStatusError);
    expect(error).not.toBeInstanceOf(MyStatusError);
  });
});
