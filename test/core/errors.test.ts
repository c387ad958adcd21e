import { describe, expect, it } from 'vitest';
import {
  BreakwaterError,
  BulkheadFullError,
  CircuitIsolatedError,
  CircuitOpenError,
  isBreakwaterError,
  RateLimitedError,
  RateLimiterUnavailableError,
  TimeoutError,
} from '../../src/index.js';

describe('errors', () => {
  it.each([
    [new CircuitOpenError(1500), 'CircuitOpenError', 'ERR_CIRCUIT_OPEN'],
    [new CircuitIsolatedError(), 'CircuitIsolatedError', 'ERR_CIRCUIT_ISOLATED'],
    [new BulkheadFullError(), 'BulkheadFullError', 'ERR_BULKHEAD_FULL'],
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
});
