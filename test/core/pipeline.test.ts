import { describe, expect, it } from 'vitest';
import { constantBackoff, fallback, pipeline, retry, timeout, TimeoutError, type Policy } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

/** A policy from outside the library: only the public interface. */
function recorder(name: string, log: string[]): Policy {
  return {
    name,
    async execute(fn, options) {
      log.push(`${name}:enter`);
      try {
        return await fn({ signal: options?.signal ?? new AbortController().signal, attempt: 1 });
      } finally {
        log.push(`${name}:exit`);
      }
    },
  };
}

describe('pipeline', () => {
  it('runs the first argument outermost', async () => {
    const log: string[] = [];
    const p = pipeline(recorder('a', log), recorder('b', log), recorder('c', log));
    await expect(p.execute(() => log.push('fn'))).resolves.toBe(4);
    expect(log).toEqual(['a:enter', 'b:enter', 'c:enter', 'fn', 'c:exit', 'b:exit', 'a:exit']);
  });

  it('puts an outer timeout around all retries, an inner one around each attempt', async () => {
    const clock = new TestClock();
    let outerCalls = 0;
    const overall = track(
      pipeline(timeout(100, { clock }), retry({ maxRetries: 5, backoff: constantBackoff(10), clock })).execute(() => {
        outerCalls++;
        return new Promise(() => {});
      }),
    );
    await clock.advance(100);
    expect(overall.error).toBeInstanceOf(TimeoutError);
    expect(outerCalls).toBe(1);

    let innerCalls = 0;
    const perAttempt = track(
      pipeline(retry({ maxRetries: 2, backoff: constantBackoff(10), clock }), timeout(100, { clock })).execute(() => {
        innerCalls++;
        return new Promise(() => {});
      }),
    );
    await clock.advance(100 + 10 + 100 + 10 + 100);
    expect(perAttempt.error).toBeInstanceOf(TimeoutError);
    expect(innerCalls).toBe(3);
    expect(clock.pending).toBe(0);
  });

  it('gives each attempt under a per-attempt timeout its own signal', async () => {
    const clock = new TestClock();
    const signals: AbortSignal[] = [];
    const call = track(
      pipeline(retry({ maxRetries: 1, backoff: constantBackoff(0), clock }), timeout(10, { clock })).execute((ctx) => {
        signals.push(ctx.signal);
        return ctx.attempt === 1 ? new Promise(() => {}) : 'second';
      }),
    );
    await clock.advance(10);
    await clock.advance(0);
    expect(call.value).toBe('second');
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
  });

  it('flattens nested pipelines and exposes the policies outermost first', () => {
    const a = timeout(1);
    const b = retry({ maxRetries: 1 });
    const c = fallback(0);
    const p = pipeline(a, pipeline(b, c));
    expect(p.policies).toEqual([a, b, c]);
  });

  it('stops a retry sleeping inside an outer timeout when the timeout fires', async () => {
    const clock = new TestClock();
    let calls = 0;
    const call = track(
      pipeline(timeout(50, { clock }), retry({ maxRetries: 3, backoff: constantBackoff(1000), clock })).execute(() => {
        calls++;
        throw new Error('down');
      }),
    );
    await clock.advance(50);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
    await clock.advance(5000);
    expect(calls).toBe(1);
  });

  it('rejects non-policies at construction', () => {
    expect(() => pipeline(timeout(1), {} as Policy)).toThrow(/argument 1/);
    expect(() => pipeline(null as never)).toThrow(TypeError);
  });

  it('with no policies runs fn directly', async () => {
    await expect(pipeline().execute(() => 'bare')).resolves.toBe('bare');
  });
});

describe('pipeline with a misbehaving foreign policy', () => {
  it('turns a synchronous throw from its execute into a rejection, and inner layers still settle', async () => {
    const { bulkhead } = await import('../../src/index.js');
    const boom = new Error('foreign execute threw');
    const broken: Policy = {
      name: 'broken',
      execute: () => {
        throw boom;
      },
    };
    const b = bulkhead({ maxConcurrent: 1 });
    const p = pipeline(b, broken);
    await expect(p.execute(() => 'never')).rejects.toBe(boom);
    expect(b.active).toBe(0);
    await expect(pipeline(b, timeout(10)).execute(() => 'free again')).resolves.toBe('free again');
  });
});
