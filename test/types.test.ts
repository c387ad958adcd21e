// Compile-time checks of the public types: `npm run typecheck` (tsc over test/) fails if they
// regress; at run time expectTypeOf is a no-op and the few value checks below run.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  bulkhead,
  circuitBreaker,
  fallback,
  pipeline,
  rateLimiter,
  retry,
  timeout,
  type CircuitState,
  type ExecutionContext,
  type Policy,
} from '../src/index.js';

describe('public types', () => {
  it('execute infers the result type from fn, sync or async', async () => {
    const p = pipeline(retry({ maxRetries: 1 }), timeout(100));
    expectTypeOf(p.execute(async () => 5)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(p.execute(() => 'sync')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(p.execute((ctx) => ctx)).toEqualTypeOf<Promise<ExecutionContext>>();
    expect(await p.execute(async () => 5)).toBe(5);
  });

  it('fn receives signal and attempt', () => {
    expectTypeOf<ExecutionContext['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<ExecutionContext['attempt']>().toEqualTypeOf<number>();
  });

  it('every policy is a Policy, and exposes its own members', () => {
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000 });
    expectTypeOf(breaker).toMatchTypeOf<Policy>();
    expectTypeOf(breaker.state).toEqualTypeOf<CircuitState>();
    expectTypeOf<ReturnType<typeof breaker.isolate>>().toEqualTypeOf<() => void>();
    expectTypeOf(bulkhead({ maxConcurrent: 1 }).active).toEqualTypeOf<number>();
    expectTypeOf(rateLimiter({ capacity: 1, refillPerSecond: 1 }).tryAcquire()).toEqualTypeOf<boolean>();
    expectTypeOf(fallback(0)).toMatchTypeOf<Policy>();
    expect(breaker.state).toBe('closed');
  });

  it('listeners are typed by event', () => {
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000 });
    const off = breaker.on('stateChange', (e) => {
      expectTypeOf(e.from).toEqualTypeOf<CircuitState>();
    });
    expectTypeOf(off).toEqualTypeOf<() => void>();
    const r = retry({ maxRetries: 1 });
    r.on('retry', (e) => expectTypeOf(e.attempt).toEqualTypeOf<number>());
    // @ts-expect-error: not an event of a retry policy
    r.on('stateChange', () => {});
    off();
  });

  it('options are checked by the compiler too', () => {
    // @ts-expect-error: maxRetries is required
    expect(() => retry({})).toThrow(/maxRetries/);
    // @ts-expect-error: halfOpenAfterMs is required
    expect(() => circuitBreaker({})).toThrow(/halfOpenAfterMs/);
  });
});
