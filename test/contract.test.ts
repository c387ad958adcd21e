// DESIGN §2: the rules every policy keeps, checked against each policy (and a pipeline of all).
import { describe, expect, it } from 'vitest';
import * as bw from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { flush, getEventListeners, track } from './helpers.js';

type Factory = (clock: TestClock) => bw.Policy;

const factories: Record<string, Factory> = {
  timeout: (clock) => bw.timeout(1000, { clock }),
  retry: (clock) => bw.retry({ maxRetries: 2, backoff: bw.constantBackoff(10), clock, handle: () => false }),
  fallback: () => bw.fallback('fallback', { handle: () => false }),
  circuitBreaker: (clock) => bw.circuitBreaker({ halfOpenAfterMs: 1000, clock, handle: () => false }),
  bulkhead: (clock) => bw.bulkhead({ maxConcurrent: 5, maxQueue: 5, clock }),
  adaptiveConcurrency: (clock) => bw.adaptiveConcurrency({ maxQueue: 5, clock }),
  rateLimiter: (clock) => bw.rateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }),
  keyedRateLimiter: (clock) => bw.keyedRateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }).get('key'),
  pipeline: (clock) =>
    bw.pipeline(
      bw.fallback('fallback', { handle: () => false }),
      bw.retry({ maxRetries: 1, backoff: bw.constantBackoff(1), clock, handle: () => false }),
      bw.circuitBreaker({ halfOpenAfterMs: 1000, clock, handle: () => false }),
      bw.bulkhead({ maxConcurrent: 5, maxQueue: 5, clock }),
      bw.rateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }),
      bw.timeout(1000, { clock }),
    ),
};

const frozen = Object.freeze({ frozen: true });
const thrownValues: Array<[string, unknown]> = [
  ['an Error', new Error('boom')],
  ['a string', 'boom'],
  ['undefined', undefined],
  ['null', null],
  ['a frozen object', frozen],
  ['a symbol', Symbol('boom')],
  ['a number', 42],
];

describe.each(Object.entries(factories))('%s keeps the rules of DESIGN §2', (_name, make) => {
  it('never throws synchronously, even for a bad fn', async () => {
    const policy = make(new TestClock());
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = policy.execute(undefined as never);
    }).not.toThrow();
    await expect(result).rejects.toBeInstanceOf(TypeError);
  });

  it.each(thrownValues)('passes %s thrown synchronously through unchanged', async (_label, value) => {
    const policy = make(new TestClock());
    const call = track(
      policy.execute(() => {
        throw value;
      }),
    );
    await flush();
    expect(call.status).toBe('rejected');
    expect(call.error).toBe(value);
  });

  it.each(thrownValues)('passes %s rejected asynchronously through unchanged', async (_label, value) => {
    const policy = make(new TestClock());
    const call = track(policy.execute(() => Promise.reject(value)));
    await flush();
    expect(call.error).toBe(value);
  });

  it('accepts non-promise return values and thenables', async () => {
    const policy = make(new TestClock());
    await expect(policy.execute(() => 7)).resolves.toBe(7);
    await expect(policy.execute(() => undefined)).resolves.toBeUndefined();
    const thenable = { then: (ok: (v: string) => void) => ok('then') };
    await expect(policy.execute(() => thenable as PromiseLike<string>)).resolves.toBe('then');
    const rejecting = { then: (_ok: unknown, fail: (e: unknown) => void) => fail('nope') };
    await expect(policy.execute(() => rejecting as PromiseLike<string>)).rejects.toBe('nope');
  });

  it('rejects with signal.reason and never calls fn when the signal is already aborted', async () => {
    const policy = make(new TestClock());
    const controller = new AbortController();
    const reason = Symbol('gone');
    controller.abort(reason);
    let calls = 0;
    await expect(policy.execute(() => calls++, { signal: controller.signal })).rejects.toBe(reason);
    expect(calls).toBe(0);
  });

  it('hands the caller abort to fn through ctx.signal', async () => {
    const clock = new TestClock();
    const policy = make(clock);
    const controller = new AbortController();
    const call = track(
      policy.execute(
        (ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
          }),
        { signal: controller.signal },
      ),
    );
    await flush();
    const reason = new Error('stop');
    controller.abort(reason);
    await flush();
    await clock.advance(0);
    expect(call.error).toBe(reason);
  });

  it('leaves no listener on the caller signal and no timer after 10,000 calls', async () => {
    const clock = new TestClock();
    const policy = make(clock);
    const controller = new AbortController();
    const baseline = getEventListeners(controller.signal, 'abort').length;
    for (let i = 0; i < 10_000; i++) {
      const read = i % 3 === 0;
      await policy
        .execute((ctx) => (read ? ctx.signal.aborted : i % 3 === 1 ? Promise.reject(new Error('x')) : i), {
          signal: controller.signal,
        })
        .catch(() => undefined);
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(baseline);
    expect(clock.pending).toBe(0);
  });

  it('a throwing listener changes no outcome', async () => {
    const policy = make(new TestClock()) as bw.Policy & { on?: (event: string, l: () => void) => () => void };
    for (const event of ['success', 'failure', 'retry', 'timeout', 'rejected', 'stateChange', 'fallback']) {
      policy.on?.(event, () => {
        throw new Error(`listener for ${event}`);
      });
    }
    await expect(policy.execute(() => 'fine')).resolves.toBe('fine');
    await expect(policy.execute(() => Promise.reject('bad'))).rejects.toBe('bad');
  });

  it('has a name', () => {
    const policy = make(new TestClock());
    expect(typeof policy.name).toBe('string');
    expect(policy.name.length).toBeGreaterThan(0);
  });
});
