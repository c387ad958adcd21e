import { describe, expect, it } from 'vitest';
import {
  BulkheadFullError,
  circuitBreaker,
  CircuitIsolatedError,
  CircuitOpenError,
  ConcurrencyLimitError,
  constantBackoff,
  exponentialBackoff,
  pipeline,
  RateLimitedError,
  RateLimiterUnavailableError,
  retry,
  retryBudget,
  TimeoutError,
  type RetryEvent,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, getEventListeners, track } from '../helpers.js';

describe('retry', () => {
  it('retries exactly maxRetries times and rejects with the last error itself', async () => {
    const clock = new TestClock();
    const errors = [new Error('1'), new Error('2'), new Error('3'), new Error('4')];
    let calls = 0;
    const call = track(
      retry({ maxRetries: 3, backoff: constantBackoff(10), clock }).execute(() => {
        throw errors[calls++];
      }),
    );
    await clock.advance(30);
    expect(calls).toBe(4);
    expect(call.error).toBe(errors[3]);
    expect(clock.pending).toBe(0);
  });

  it('numbers attempts 1, 2, 3 in ctx.attempt', async () => {
    const clock = new TestClock();
    const attempts: number[] = [];
    const call = track(
      retry({ maxRetries: 2, backoff: constantBackoff(0), clock }).execute((ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new Error('again');
        return 'third time';
      }),
    );
    // A zero delay takes no time but yields through a 0 ms timer of the clock.
    await clock.advance(0);
    expect(call.value).toBe('third time');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('waits exactly the constant delay between attempts', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    const call = track(
      retry({ maxRetries: 3, backoff: constantBackoff(250), clock }).execute(() => {
        at.push(clock.now());
        throw new Error('x');
      }),
    );
    await clock.advance(1000);
    expect(call.status).toBe('rejected');
    expect(at).toEqual([0, 250, 500, 750]);
  });

  it('waits exactly initialMs·factor^n without jitter, capped at maxMs', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    const policy = retry({
      maxRetries: 5,
      backoff: exponentialBackoff({ initialMs: 100, factor: 3, maxMs: 2000, jitter: 'none' }),
      clock,
    });
    const call = track(
      policy.execute(() => {
        at.push(clock.now());
        throw new Error('x');
      }),
    );
    await clock.advance(10_000);
    expect(call.status).toBe('rejected');
    // delays 100, 300, 900, 2000 (capped from 2700), 2000
    expect(at).toEqual([0, 100, 400, 1300, 3300, 5300]);
  });

  it('uses exponentialBackoff() with full jitter by default', async () => {
    const clock = new TestClock();
    const delays: number[] = [];
    const policy = retry({ maxRetries: 3, clock, random: () => 0.5 });
    policy.on('retry', (e) => delays.push(e.delayMs));
    const call = track(policy.execute(() => Promise.reject(new Error('x'))));
    await clock.advance(1000);
    expect(call.status).toBe('rejected');
    expect(delays).toEqual([50, 100, 200]);
  });

  it('reports retries with the attempt about to start (2 for the first retry)', async () => {
    const clock = new TestClock();
    const events: RetryEvent[] = [];
    const boom = new Error('boom');
    const policy = retry({ maxRetries: 2, backoff: constantBackoff(5), clock });
    policy.on('retry', (e) => events.push(e));
    const call = track(policy.execute(() => Promise.reject(boom)));
    await clock.advance(10);
    expect(call.error).toBe(boom);
    expect(events).toEqual([
      { attempt: 2, delayMs: 5, error: boom },
      { attempt: 3, delayMs: 5, error: boom },
    ]);
  });

  it('does not retry errors that handle() rejects', async () => {
    const clock = new TestClock();
    let calls = 0;
    const fatal = new TypeError('fatal');
    const call = track(
      retry({ maxRetries: 5, backoff: constantBackoff(1), handle: (e) => !(e instanceof TypeError), clock }).execute(
        () => {
          calls++;
          throw fatal;
        },
      ),
    );
    await clock.advance(10);
    expect(call.error).toBe(fatal);
    expect(calls).toBe(1);
  });

  it('retries results that handleResult() marks as failures and returns the last one when exhausted', async () => {
    const clock = new TestClock();
    let calls = 0;
    const call = track(
      retry({
        maxRetries: 2,
        backoff: constantBackoff(1),
        handleResult: (v) => (v as { status: number }).status >= 500,
        clock,
      }).execute(() => ({ status: 500 + calls++ })),
    );
    await clock.advance(10);
    expect(call.value).toEqual({ status: 502 });
    expect(calls).toBe(3);
  });

  it('stops when a handled result turns good', async () => {
    const clock = new TestClock();
    let calls = 0;
    const call = track(
      retry({ maxRetries: 5, backoff: constantBackoff(1), handleResult: (v) => v === 'busy', clock }).execute(() =>
        ++calls < 3 ? 'busy' : 'ok',
      ),
    );
    await clock.advance(10);
    expect(call.value).toBe('ok');
    expect(calls).toBe(3);
  });

  it('waits at least an error\'s retryAfterMs, capped by maxDelayMs', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    const call = track(
      retry({ maxRetries: 2, backoff: constantBackoff(10), maxDelayMs: 5000, clock }).execute(() => {
        at.push(clock.now());
        throw Object.assign(new Error('busy'), { retryAfterMs: at.length === 1 ? 1000 : 1e9 });
      }),
    );
    await clock.advance(10_000);
    expect(call.status).toBe('rejected');
    expect(at).toEqual([0, 1000, 6000]);
  });

  it.each([Number.NaN, -5, Infinity, '100'])('ignores a retryAfterMs of %s', async (retryAfterMs) => {
    const clock = new TestClock();
    const at: number[] = [];
    const call = track(
      retry({ maxRetries: 1, backoff: constantBackoff(10), clock }).execute(() => {
        at.push(clock.now());
        throw Object.assign(new Error('x'), { retryAfterMs });
      }),
    );
    await clock.advance(100);
    expect(call.status).toBe('rejected');
    expect(at).toEqual([0, 10]);
  });

  it('rejects promptly with the caller reason when aborted during a backoff sleep (p-retry#97)', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    let calls = 0;
    const call = track(
      retry({ maxRetries: 3, backoff: constantBackoff(10_000), clock }).execute(
        () => {
          calls++;
          throw new Error('down');
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(100);
    const reason = new Error('user left');
    controller.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(calls).toBe(1);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await clock.advance(100_000);
    expect(calls).toBe(1);
  });

  it('does not retry once the caller aborted, and passes fn\'s own error through', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    let calls = 0;
    const fnError = new Error('fn saw the abort');
    const call = track(
      retry({ maxRetries: 3, backoff: constantBackoff(0), clock }).execute(
        () => {
          calls++;
          controller.abort();
          throw fnError;
        },
        { signal: controller.signal },
      ),
    );
    await flush();
    expect(call.error).toBe(fnError);
    expect(calls).toBe(1);
  });

  it('keeps no listener on the caller signal after 10,000 calls', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const policy = retry({ maxRetries: 1, backoff: constantBackoff(0), clock });
    let n = 0;
    for (let i = 0; i < 10_000; i++) {
      const call = policy.execute(() => (n++ % 2 === 0 ? Promise.reject(new Error('odd')) : 'ok'), { signal: controller.signal });
      await clock.advance(0);
      await call;
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it.each([
    [{ maxRetries: -1 }, /"maxRetries"/],
    [{ maxRetries: 1.5 }, /"maxRetries"/],
    [{ maxRetries: Number.NaN }, /"maxRetries"/],
    [{ maxRetries: '3' }, /"maxRetries"/],
    [{}, /"maxRetries"/],
    [{ maxRetries: 1, maxDelayMs: -1 }, /"maxDelayMs"/],
    [{ maxRetries: 1, backoff: 5 }, /"backoff"/],
    [{ maxRetries: 1, handle: 'all' }, /"handle"/],
    [{ maxRetries: 1, random: 0.5 }, /"random"/],
  ])('rejects bad options %j', (options, message) => {
    expect(() => retry(options as never)).toThrow(message);
  });

  it('throws a TypeError when options are missing', () => {
    expect(() => retry(undefined as never)).toThrow(TypeError);
    expect(() => retry(undefined as never)).toThrow(/retry options must be an object/);
  });

  it('rejects a clock that is not one, naming the option', () => {
    expect(() => retry({ maxRetries: 1, clock: {} as never })).toThrow(/"clock"/);
  });
});

describe('zero delays go through the clock', () => {
  it('runs 10,000 zero-delay attempts when the test only drives the clock, all before a 1 ms timer', async () => {
    const clock = new TestClock();
    const errors: Error[] = [];
    const call = track(
      retry({ maxRetries: 9_999, backoff: constantBackoff(0), clock }).execute(() => {
        const error = new Error(`attempt ${errors.length + 1}`);
        errors.push(error);
        throw error;
      }),
    );
    let attemptsBy1Ms = -1;
    clock.setTimeout(() => (attemptsBy1Ms = errors.length), 1);
    await clock.advance(1);
    // Every attempt is a 0 ms timer: all are due before the 1 ms one, and none escapes the clock.
    expect(attemptsBy1Ms).toBe(10_000);
    expect(call.error).toBe(errors[9_999]);
    expect(clock.pending).toBe(0);
  });

  it('interleaves two zero-delay retries in the clock\'s order (ties in creation order)', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    const policy = retry({ maxRetries: 3, backoff: constantBackoff(0), clock });
    const a = track(policy.execute((ctx) => Promise.reject(new Error(`a${ctx.attempt}`)).catch((e: Error) => { log.push(e.message); throw e; })));
    const b = track(policy.execute((ctx) => Promise.reject(new Error(`b${ctx.attempt}`)).catch((e: Error) => { log.push(e.message); throw e; })));
    await clock.advance(0);
    expect(log).toEqual(['a1', 'b1', 'a2', 'b2', 'a3', 'b3', 'a4', 'b4']);
    expect([a.status, b.status]).toEqual(['rejected', 'rejected']);
  });

  it('an abort during a zero-delay wait stops an endless retry and removes its timer', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const reason = new Error('caller left');
    let calls = 0;
    const call = track(
      retry({ maxRetries: Infinity, backoff: constantBackoff(0), clock }).execute(
        () => {
          // Created before the retry's own 0 ms timer: it fires while the retry waits.
          if (++calls === 5_000) clock.setTimeout(() => controller.abort(reason), 0);
          throw new Error('down');
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(0);
    expect(call.error).toBe(reason);
    expect(calls).toBe(5_000);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('default handle', () => {
  it('an open breaker inside a retry fails fast: CircuitOpenError at once, no sleep', async () => {
    const clock = new TestClock();
    const openBreaker = circuitBreaker({ halfOpenAfterMs: 3000, consecutiveFailures: 1, clock });
    await openBreaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    expect(openBreaker.state).toBe('open');
    let calls = 0;
    const call = track(
      pipeline(retry({ maxRetries: 2, clock }), openBreaker).execute(() => {
        calls++;
        return 'never';
      }),
    );
    await flush();
    expect(call.error).toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(0);
    expect(clock.pending).toBe(0);
    expect(clock.now()).toBe(0);
  });

  it.each([
    ['CircuitOpenError', () => CircuitOpenError.fast(10)],
    ['CircuitIsolatedError', () => CircuitIsolatedError.fast()],
    ['BulkheadFullError', () => BulkheadFullError.fast()],
    ['ConcurrencyLimitError', () => ConcurrencyLimitError.fast()],
    ['RateLimitedError', () => RateLimitedError.fast(10)],
    ['RateLimiterUnavailableError', () => RateLimiterUnavailableError.fast()],
  ])('does not retry a %s', async (_name, make) => {
    const clock = new TestClock();
    const refusal = make();
    let calls = 0;
    const call = track(
      retry({ maxRetries: 2, backoff: constantBackoff(1), clock }).execute(() => {
        calls++;
        throw refusal;
      }),
    );
    await clock.advance(100);
    expect(call.error).toBe(refusal);
    expect(calls).toBe(1);
  });

  it.each([
    ['TimeoutError', () => new TimeoutError(5)],
    ['a user error', () => new Error('boom')],
    ['a thrown string', () => 'boom'],
    ['undefined', () => undefined],
    ['an object with a foreign code', () => ({ code: 'ERR_CIRCUIT_OPEN' })],
  ])('retries %s', async (_name, make) => {
    const clock = new TestClock();
    const error = make();
    let calls = 0;
    const call = track(
      retry({ maxRetries: 2, backoff: constantBackoff(1), clock }).execute(() => {
        calls++;
        throw error;
      }),
    );
    await clock.advance(100);
    expect(call.status).toBe('rejected');
    expect(call.error).toBe(error);
    expect(calls).toBe(3);
  });

  it('handle opts back in: waiting out an open breaker sleeps its retryAfterMs', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 3000, consecutiveFailures: 1, clock });
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    const call = track(
      pipeline(retry({ maxRetries: 1, backoff: constantBackoff(0), handle: () => true, clock }), breaker).execute(() => 'recovered'),
    );
    await clock.advance(2999);
    expect(call.status).toBe('pending');
    await clock.advance(1);
    expect(call.value).toBe('recovered');
  });
});

describe('backoffs', () => {
  it.each([
    [{ initialMs: -1 }, /"initialMs"/],
    [{ maxMs: Number.NaN }, /"maxMs"/],
    [{ factor: 0.5 }, /"factor"/],
    [{ jitter: 'some' }, /"jitter"/],
    [{ initialMs: 500, maxMs: 100 }, /"initialMs"/],
  ])('exponentialBackoff rejects %j', (options, message) => {
    expect(() => exponentialBackoff(options as never)).toThrow(message);
  });

  it('constantBackoff rejects negative or non-finite delays', () => {
    expect(() => constantBackoff(-1)).toThrow(RangeError);
    expect(() => constantBackoff(Infinity)).toThrow(RangeError);
  });

  it('equal jitter stays in [d/2, d]; decorrelated grows from initialMs up to 3x the previous', () => {
    const equal = exponentialBackoff({ initialMs: 100, jitter: 'equal' });
    expect(equal.delayMs({ retry: 1, previousDelayMs: 0, random: () => 0 })).toBe(50);
    expect(equal.delayMs({ retry: 1, previousDelayMs: 0, random: () => 0.999999 })).toBeCloseTo(100, 3);
    const decorrelated = exponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 'decorrelated' });
    expect(decorrelated.delayMs({ retry: 1, previousDelayMs: 0, random: () => 0 })).toBe(100);
    expect(decorrelated.delayMs({ retry: 2, previousDelayMs: 200, random: () => 0.5 })).toBe(350);
    expect(decorrelated.delayMs({ retry: 9, previousDelayMs: 900, random: () => 0.999 })).toBeLessThanOrEqual(1000);
  });
});

describe('retry outcomes and their events', () => {
  it('retries a thrown null and rejects with it untouched', async () => {
    const clock = new TestClock();
    let calls = 0;
    const call = track(
      retry({ maxRetries: 1, backoff: constantBackoff(5), clock }).execute(() => {
        calls++;
        return Promise.reject(null);
      }),
    );
    await clock.advance(5);
    expect(call.status).toBe('rejected');
    expect(call.error).toBe(null);
    expect(calls).toBe(2);
  });

  it('returns a result handleResult accepts after one call, without a retry', async () => {
    const clock = new TestClock();
    const policy = retry({ maxRetries: 3, backoff: constantBackoff(1), handleResult: (v) => v === 'busy', clock });
    const retries: RetryEvent[] = [];
    policy.on('retry', (e) => retries.push(e));
    let calls = 0;
    const call = track(policy.execute(() => (calls++, 'ok')));
    await clock.advance(10);
    expect(call.value).toBe('ok');
    expect(calls).toBe(1);
    expect(retries).toEqual([]);
  });

  it('returns a handled result that may not be retried (maxRetries 0, or a handle refusing every error) instead of throwing', async () => {
    const clock = new TestClock();
    for (const options of [{ maxRetries: 0 }, { maxRetries: 2, handle: () => false }]) {
      let calls = 0;
      const call = track(
        retry({ ...options, backoff: constantBackoff(1), handleResult: (v) => v === 'busy', clock }).execute(() => (calls++, 'busy')),
      );
      await clock.advance(10);
      // A handled result is retried whatever handle says (handle judges errors); maxRetries still caps it.
      expect(call.status).toBe('fulfilled');
      expect(call.value).toBe('busy');
      expect(calls).toBe(options.maxRetries + 1);
    }
  });

  it('reports a result retry with the result, and the last handled result returned as a success', async () => {
    const clock = new TestClock();
    const policy = retry({ maxRetries: 1, backoff: constantBackoff(3), handleResult: (v) => v === 'busy', clock });
    const retries: RetryEvent[] = [];
    const outcomes: string[] = [];
    policy.on('retry', (e) => retries.push(e));
    policy.on('success', () => outcomes.push('success'));
    policy.on('failure', () => outcomes.push('failure'));
    const call = track(policy.execute(() => 'busy'));
    await clock.advance(10);
    expect(call.value).toBe('busy');
    expect(retries).toEqual([{ attempt: 2, delayMs: 3, error: undefined, result: 'busy' }]);
    expect(outcomes).toEqual(['success']);
  });

  it('tells budgetExhausted the attempt that would have started and what failed (the error, or the handled result)', async () => {
    const clock = new TestClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 0, clock });
    const down = new Error('down');
    for (const [fn, cause] of [
      [() => Promise.reject(down), down],
      [() => 'busy', 'busy'],
    ] as const) {
      const policy = retry({ maxRetries: 3, backoff: constantBackoff(1), handleResult: (v) => v === 'busy', budget, clock });
      const exhausted: unknown[] = [];
      policy.on('budgetExhausted', (e) => exhausted.push(e));
      const call = track(policy.execute(fn));
      await clock.advance(10);
      expect(call.status).toBe(cause === down ? 'rejected' : 'fulfilled');
      expect(exhausted).toEqual([{ attempt: 2, error: cause }]);
    }
  });

  it('emits failure with the caller\'s reason, and no success, when aborted during a wait', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const policy = retry({ maxRetries: 3, backoff: constantBackoff(1_000), clock });
    const outcomes: unknown[] = [];
    policy.on('success', () => outcomes.push('success'));
    policy.on('failure', (e) => outcomes.push(e.error));
    const call = track(policy.execute(() => Promise.reject(new Error('down')), { signal: controller.signal }));
    await clock.advance(10);
    const reason = new Error('user left');
    controller.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(outcomes).toEqual([reason]);
  });
});
