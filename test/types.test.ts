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
  constantBackoff,
  timeout,
  type CircuitState,
  type ExecutionContext,
  type FallbackPolicy,
  type Pipeline,
  type Policy,
  type PolicyResult,
  type CallEvents,
  type DiagnosticsMessage,
  type RetryEvent,
} from '../src/index.js';
import type { HookDone } from '../src/http/fastify.js';
import { guard as expressGuard, type GuardOptions } from '../src/http/express.js';
import type { FastifyGuardOptions } from '../src/http/fastify.js';
import { resilientFetch } from '../src/http/fetch.js';
import { TestClock } from '../src/testing/index.js';

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

describe('public types: what execute resolves to', () => {
  it('a fallback widens the result: Promise<T | F>, through a pipeline too', async () => {
    const clock = new TestClock();
    const strings = pipeline(fallback(() => [] as string[]), timeout(20, { clock }));
    const call = strings.execute(async () => 1);
    expectTypeOf(call).toEqualTypeOf<Promise<number | string[]>>();
    expect(await call).toBe(1);

    const recommendations = pipeline(fallback(() => ({ recommendations: [] })), timeout(20, { clock }));
    const failed = recommendations.execute(async (): Promise<number> => {
      throw new Error('down');
    });
    expectTypeOf(failed).toEqualTypeOf<Promise<number | { recommendations: never[] }>>();
    expect(await failed).toEqual({ recommendations: [] });

    expectTypeOf(fallback(0).execute(() => 'x')).toEqualTypeOf<Promise<string | number>>();
    expectTypeOf(fallback(async () => 5)).toEqualTypeOf<FallbackPolicy<number>>();
    expectTypeOf(fallback(null).execute(() => 1)).toEqualTypeOf<Promise<number | null>>();
    expectTypeOf<PolicyResult<typeof strings>>().toEqualTypeOf<string[]>();
  });

  it('plain policies add nothing, nested and named pipelines carry the union', () => {
    const clock = new TestClock();
    expectTypeOf<PolicyResult<ReturnType<typeof timeout>>>().toBeNever();
    expectTypeOf(pipeline(timeout(1), bulkhead({ maxConcurrent: 1 })).execute(() => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pipeline().execute(() => 1)).toEqualTypeOf<Promise<number>>();
    const nested = pipeline({ name: 'checkout', clock }, pipeline(fallback(null)), timeout(1), fallback('none' as const));
    expectTypeOf(nested).toEqualTypeOf<Pipeline<'none' | null>>();
    expectTypeOf(nested.execute(() => true)).toEqualTypeOf<Promise<boolean | 'none' | null>>();
  });

  it('user-written Policy objects compose; a Policy<R> of yours widens like a fallback', async () => {
    const mine: Policy = { name: 'mine', execute: (fn) => Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 })) };
    expectTypeOf(pipeline(mine, timeout(10)).execute(() => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pipeline(mine, fallback('x')).execute(() => 1)).toEqualTypeOf<Promise<number | string>>();
    class Cached implements Policy<'cached'> {
      readonly name = 'cached';
      execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>): Promise<T | 'cached'> {
        return Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 }));
      }
    }
    class Plain implements Policy {
      readonly name = 'plain';
      execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>): Promise<T> {
        return Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 }));
      }
    }
    const declared: Policy<'cached'> = new Cached();
    expectTypeOf(pipeline(declared, timeout(10)).execute(() => 1)).toEqualTypeOf<Promise<number | 'cached'>>();
    expectTypeOf(pipeline(new Plain()).execute(() => 1)).toEqualTypeOf<Promise<number>>();
    // A widening policy is no plain Policy: the compiler refuses to forget what it adds.
    // @ts-expect-error: Promise<T | 'cached'> is not Promise<T>
    const forgotten: Policy = declared;
    expect(forgotten.name).toBe('cached');
    expect(await pipeline(mine, new Plain()).execute(() => 3)).toBe(3);
  });

  it('built-in policies still go wherever a Policy is accepted', () => {
    const asPolicy: Policy = pipeline(fallback(0), timeout(1));
    expectTypeOf(expressGuard).toBeCallableWith(pipeline(fallback(0), timeout(1)));
    expectTypeOf(resilientFetch).toBeCallableWith(asPolicy);
    expect(asPolicy.name).toBe('pipeline');
  });

  it('handleResult predicates see the result type you give them', () => {
    retry({ maxRetries: 1, handleResult: (r: Response) => !r.ok });
    circuitBreaker({ halfOpenAfterMs: 10, handleResult: (r: { ok: boolean }) => !r.ok });
    fallback(null, { handleResult: (n: number) => n < 0 });
    retry({
      maxRetries: 1,
      handleResult: (value) => {
        expectTypeOf(value).toBeUnknown();
        return value === null;
      },
    });
  });

  it('an AbortSignal where the options belong and unknown option names do not compile', async () => {
    const signal = new AbortController().signal;
    // @ts-expect-error: pass { signal }
    await expect(timeout(10).execute(() => 1, signal)).rejects.toThrow(TypeError);
    await expect(timeout(10).execute(() => 1, { signal: null })).resolves.toBe(1);
    // @ts-expect-error: not an option of pipeline
    expect(() => pipeline({ nmae: 'x' })).toThrow(/did you mean "name"/);
    // @ts-expect-error: misspelled event
    expect(() => circuitBreaker({ halfOpenAfterMs: 1 }).on('stateChnage', () => {})).toThrow(TypeError);
    type GuardKeys = 'onRejected' | 'rateLimitHeaders' | 'retryAfterSeconds' | 'deadlineHeader' | 'deadlineMs' | 'clock';
    expectTypeOf<keyof GuardOptions>().toEqualTypeOf<GuardKeys>();
    expectTypeOf<keyof FastifyGuardOptions>().toEqualTypeOf<GuardKeys>();
  });
  it('names every type a public signature uses: DiagnosticsMessage, CallEvents, HookDone', async () => {
    const clock = new TestClock();
    const seen: DiagnosticsMessage<RetryEvent>[] = [];
    const { default: diagnosticsChannel } = await import('node:diagnostics_channel');
    const onMessage = (message: unknown): void => {
      seen.push(message as DiagnosticsMessage<RetryEvent>);
    };
    diagnosticsChannel.subscribe('breakwater:retry', onMessage);
    try {
      const policy = retry({ name: 'typed', maxRetries: 1, backoff: constantBackoff(0), clock });
      let calls = 0;
      const done = policy.execute(async () => {
        if (calls++ === 0) throw new Error('once');
        return 'ok';
      });
      await clock.advance(0);
      expect(await done).toBe('ok');
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:retry', onMessage);
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]!.policy).toBe('typed');
    expect(seen[0]!.event).toBe('retry');
    expect(seen[0]!.attempt).toBe(2); // the attempt about to run, as documented
    expectTypeOf(seen[0]!.attempt).toEqualTypeOf<number>();
    expectTypeOf<keyof CallEvents>().toEqualTypeOf<'success' | 'failure'>();
    expectTypeOf<HookDone>().toEqualTypeOf<(error?: Error) => void>();
  });
});
