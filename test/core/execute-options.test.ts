// execute(fn, options): an AbortSignal where the options belong is a mistake, refused without
// calling fn; `{ signal: null }` (legal in RequestInit) and `{ signal: undefined }` mean none.
import { describe, expect, it } from 'vitest';
import * as bw from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { getEventListeners } from '../helpers.js';

type Executable = { execute(fn: () => unknown, options?: unknown): Promise<unknown> };

const policies: Record<string, (clock: TestClock) => Executable> = {
  timeout: (clock) => bw.timeout(100, { clock }),
  retry: (clock) => bw.retry({ maxRetries: 1, clock }),
  fallback: () => bw.fallback(0),
  circuitBreaker: (clock) => bw.circuitBreaker({ halfOpenAfterMs: 100, clock }),
  bulkhead: (clock) => bw.bulkhead({ maxConcurrent: 1, clock }),
  rateLimiter: (clock) => bw.rateLimiter({ capacity: 10, refillPerSecond: 1, clock }),
  keyedRateLimiter: (clock) => bw.keyedRateLimiter({ capacity: 10, refillPerSecond: 1, clock }).get('k'),
  pipeline: (clock) => bw.pipeline({ name: 'p', clock }, bw.retry({ maxRetries: 1, clock }), bw.timeout(100, { clock })),
};

describe.each(Object.entries(policies))('%s.execute options', (_name, make) => {
  it('an AbortSignal passed as the options rejects with a TypeError, without calling fn', async () => {
    const policy = make(new TestClock());
    let calls = 0;
    for (const signal of [new AbortController().signal, AbortSignal.abort('gone')]) {
      let result: Promise<unknown> | undefined;
      expect(() => {
        result = policy.execute(() => calls++, signal);
      }).not.toThrow();
      await expect(result).rejects.toThrow(TypeError);
      await expect(result).rejects.toThrow(/AbortSignal where the options belong; pass \{ signal \}/);
    }
    expect(calls).toBe(0);
  });

  it('options that are not an object reject with a TypeError', async () => {
    const policy = make(new TestClock());
    await expect(policy.execute(() => 1, 5)).rejects.toThrow(TypeError);
    await expect(policy.execute(() => 1, 'fast')).rejects.toThrow(TypeError);
  });

  it('{ signal: null } and { signal: undefined } mean no signal', async () => {
    const policy = make(new TestClock());
    await expect(policy.execute(() => 'a', { signal: null })).resolves.toBe('a');
    await expect(policy.execute(() => 'b', { signal: undefined })).resolves.toBe('b');
    await expect(policy.execute(() => 'c', {})).resolves.toBe('c');
  });

  it('a real signal still works: an aborted one rejects with its reason, a live one leaves no listener', async () => {
    const policy = make(new TestClock());
    await expect(policy.execute(() => 1, { signal: AbortSignal.abort('reason') })).rejects.toBe('reason');
    const controller = new AbortController();
    await expect(policy.execute(() => 2, { signal: controller.signal })).resolves.toBe(2);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('rateLimiter.acquire options', () => {
  it('refuses a bare AbortSignal and accepts { signal: null }', async () => {
    const limiter = bw.rateLimiter({ capacity: 2, refillPerSecond: 1, clock: new TestClock() });
    await expect(limiter.acquire(1, new AbortController().signal as never)).rejects.toThrow(/acquire\(…, options\) received an AbortSignal/);
    expect(limiter.available).toBe(2);
    await expect(limiter.acquire(1, { signal: null })).resolves.toBeUndefined();
    expect(limiter.available).toBe(1);
  });
});
