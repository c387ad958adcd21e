import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { pipeline } from '../../src/core/pipeline.js';
import { RateLimitedError, TimeoutError } from '../../src/core/errors.js';
import { rateLimiter } from '../../src/rate-limit/index.js';
import { timeout } from '../../src/timeout/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, getEventListeners, track } from '../helpers.js';

const HOUR = 3_600_000;

describe('rateLimiter options', () => {
  it.each([
    [{ capacity: 0, refillPerSecond: 1 }, /"capacity".*received 0/],
    [{ capacity: -3, refillPerSecond: 1 }, /"capacity".*received -3/],
    [{ capacity: NaN, refillPerSecond: 1 }, /"capacity".*received NaN/],
    [{ capacity: Infinity, refillPerSecond: 1 }, /"capacity".*received Infinity/],
    [{ capacity: 5, refillPerSecond: -1 }, /"refillPerSecond".*received -1/],
    [{ capacity: 5, refillPerSecond: 0 }, /"refillPerSecond".*received 0/],
    [{ capacity: 5, refillPerSecond: NaN }, /"refillPerSecond".*received NaN/],
    [{ capacity: 5, refillPerSecond: 1, maxWaitMs: -1 }, /"maxWaitMs".*received -1/],
    [{ capacity: 5, refillPerSecond: 1, maxWaitMs: NaN }, /"maxWaitMs".*received NaN/],
  ])('rejects %j with a RangeError naming the option and value', (options, message) => {
    expect(() => rateLimiter(options)).toThrow(RangeError);
    expect(() => rateLimiter(options)).toThrow(message);
  });

  it('rejects wrong types with a TypeError', () => {
    expect(() => rateLimiter({ capacity: '5' as never, refillPerSecond: 1 })).toThrow(TypeError);
    expect(() => rateLimiter(undefined as never)).toThrow(TypeError);
    expect(() => rateLimiter({ capacity: 5, refillPerSecond: 1, clock: Date as never })).toThrow(/"clock"/);
  });

  it('has a kind, a default name and accepts an unbounded wait', () => {
    const limiter = rateLimiter({ capacity: 5, refillPerSecond: 1, maxWaitMs: Infinity });
    expect(limiter.kind).toBe('rate-limiter');
    expect(limiter.name).toBe('rate-limiter');
    expect(limiter.maxWaitMs).toBe(Infinity);
    expect(rateLimiter({ capacity: 1, refillPerSecond: 1, name: 'api' }).name).toBe('api');
  });

  it('validates the token count of tryAcquire and acquire', async () => {
    const limiter = rateLimiter({ capacity: 5, refillPerSecond: 1 });
    expect(() => limiter.tryAcquire(0)).toThrow(/tokens.*received 0/);
    expect(() => limiter.tryAcquire(-1)).toThrow(RangeError);
    expect(() => limiter.tryAcquire(NaN)).toThrow(RangeError);
    expect(() => limiter.tryAcquire('1' as never)).toThrow(TypeError);
    await expect(limiter.acquire(Infinity)).rejects.toThrow(RangeError);
    expect(limiter.available).toBe(5);
  });
});

describe('rateLimiter', () => {
  it('starts full, refills continuously and reports whole tokens (floored)', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 5, refillPerSecond: 2, clock });
    expect(limiter.available).toBe(5);
    expect(limiter.tryAcquire(3)).toBe(true);
    expect(limiter.available).toBe(2);
    await clock.advance(400); // +0.8 token
    expect(limiter.available).toBe(2);
    expect(limiter.tryAcquire(2.8)).toBe(true); // fractional costs are fine
    expect(limiter.available).toBe(0);
    await clock.advance(100_000);
    expect(limiter.available).toBe(5); // capped
    expect(limiter.stats).toEqual({ available: 5, rejected: 0 });
  });

  it('execute takes one token per call and rejects at once with an exact retryAfterMs', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 2, refillPerSecond: 3, clock });
    const events: unknown[] = [];
    limiter.on('rejected', (e) => events.push(e));
    let calls = 0;
    await expect(limiter.execute(() => ++calls)).resolves.toBe(1);
    await expect(limiter.execute(() => ++calls)).resolves.toBe(2);
    const rejected = track(limiter.execute(() => ++calls));
    await flush();
    expect(calls).toBe(2);
    const error = rejected.error as RateLimitedError;
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.code).toBe('ERR_RATE_LIMITED');
    // One token takes 333.33… ms: the first whole millisecond with a full token is 334.
    expect(error.retryAfterMs).toBe(334);
    expect(events).toEqual([{ reason: 'rate-limited', error }]);
    expect(limiter.stats).toEqual({ available: 0, rejected: 1 });
    await clock.advance(333);
    expect(limiter.tryAcquire()).toBe(false);
    await clock.advance(1);
    expect(limiter.tryAcquire()).toBe(true);
  });

  it('a full bucket honours its burst at a fractional token period (capacity 2 and 3, rate 7, 115 ms in)', () => {
    for (const capacity of [2, 3]) {
      const clock = new TestClock();
      const limiter = rateLimiter({ capacity, refillPerSecond: 7, clock });
      clock.jump(115);
      for (let k = 1; k <= capacity; k++) {
        expect(limiter.tryAcquire(), `grant ${k} of ${capacity}`).toBe(true);
        expect(limiter.available).toBe(capacity - k);
      }
      expect(limiter.tryAcquire()).toBe(false);
    }
  });

  it('regression rlf#286: rejected requests take no tokens', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 3, refillPerSecond: 1, clock });
    expect(limiter.tryAcquire(3)).toBe(true);
    await clock.advance(500);
    for (let i = 0; i < 50; i++) {
      expect(limiter.tryAcquire()).toBe(false);
      await expect(limiter.execute(() => 'x')).rejects.toBeInstanceOf(RateLimitedError);
      await expect(limiter.acquire(2)).rejects.toBeInstanceOf(RateLimitedError);
    }
    expect(limiter.stats.rejected).toBe(150);
    // Exactly as if nobody had asked: one token at t = 1000, not later.
    await clock.advance(499);
    expect(limiter.tryAcquire()).toBe(false);
    await clock.advance(1);
    expect(limiter.tryAcquire()).toBe(true);
  });

  it('regression llama_index#23202: a request above capacity fails at once instead of hanging', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 4, refillPerSecond: 1, maxWaitMs: Infinity, clock });
    expect(limiter.tryAcquire(5)).toBe(false);
    const acquired = track(limiter.acquire(5));
    await flush();
    expect(acquired.error).toBeInstanceOf(RangeError);
    expect((acquired.error as Error).message).toMatch(/5 tokens.*capacity 4/);
    expect(clock.pending).toBe(0);
    // Nothing was taken, and it was not counted as rate limiting.
    expect(limiter.stats).toEqual({ available: 4, rejected: 0 });
    // execute always takes exactly one token, and capacity is at least 1: it can always be served.
    await expect(limiter.execute(() => 'ok')).resolves.toBe('ok');
  });

  it('regression node-rate-limiter#22: a clock jump neither creates tokens nor locks out', async () => {
    const clock = new TestClock(10 * HOUR);
    const limiter = rateLimiter({ capacity: 10, refillPerSecond: 10, clock });
    expect(limiter.tryAcquire(8)).toBe(true);
    clock.jump(-HOUR);
    expect(limiter.available).toBe(2); // no tokens from the jump
    expect(limiter.tryAcquire(2)).toBe(true);
    expect(limiter.tryAcquire()).toBe(false);
    // No lock-out: refill resumes from the jump at the normal rate.
    await clock.advance(99);
    expect(limiter.tryAcquire()).toBe(false);
    await clock.advance(1);
    expect(limiter.tryAcquire()).toBe(true);
    clock.jump(-HOUR);
    // Time between the last reading before a backward jump and the first one after it counts as 0.
    expect(limiter.available).toBe(0);
    await clock.advance(1000);
    expect(limiter.available).toBe(10);
    // Forward: at most a full bucket.
    clock.jump(HOUR);
    expect(limiter.available).toBe(10);
  });

  it('regression p-queue#163: no drift over a long run (tokens from elapsed time, not intervals)', async () => {
    const clock = new TestClock(0.123);
    const limiter = rateLimiter({ capacity: 5, refillPerSecond: 7, clock });
    let admitted = 0;
    const T = 2 * HOUR;
    for (let elapsed = 0; elapsed <= T; elapsed += 13) {
      while (limiter.tryAcquire()) admitted++;
      clock.jump(13); // sync time step: no timers involved with maxWaitMs 0
    }
    const last = Math.floor(T / 13) * 13;
    const expected = 5 + (7 * last) / 1000;
    expect(Math.abs(admitted - expected)).toBeLessThanOrEqual(1);
    expect(clock.pending).toBe(0);
  });

  it('waits FIFO up to maxWaitMs, rejecting at once a wait that would be longer', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 10, maxWaitMs: 250, clock });
    const order: string[] = [];
    expect(limiter.tryAcquire()).toBe(true);
    expect(clock.pending).toBe(0);
    const results = ['a', 'b'].map((id) => track(limiter.execute(() => order.push(id))));
    // a: 100 ms, b: 200 ms; c would need 300 ms > 250 ms: rejected now with when it would be served.
    const c = track(limiter.execute(() => order.push('c')));
    await flush();
    expect((c.error as RateLimitedError).retryAfterMs).toBe(300);
    expect(clock.pending).toBe(1); // one timer, for the head only
    // Waiters hold reservations: no overtaking by tryAcquire, nothing available.
    await clock.advance(99);
    expect(limiter.tryAcquire()).toBe(false);
    expect(limiter.available).toBe(0);
    expect(order).toEqual([]);
    await clock.advance(1);
    expect(order).toEqual(['a']);
    await clock.advance(100);
    expect(order).toEqual(['a', 'b']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(clock.pending).toBe(0); // no timer once nobody waits
    // c, and the tryAcquire that found the tokens reserved.
    expect(limiter.stats.rejected).toBe(2);
  });

  it('an aborted waiter leaves at once, takes nothing and lets the next one go earlier', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 2, refillPerSecond: 1, maxWaitMs: 10_000, clock });
    expect(limiter.tryAcquire(2)).toBe(true);
    const controller = new AbortController();
    const reason = new Error('gone');
    let ranA = false;
    const a = track(limiter.execute(() => (ranA = true), { signal: controller.signal }));
    const b = track(limiter.acquire(2));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await clock.advance(500);
    controller.abort(reason);
    await flush();
    expect(a.error).toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // b needed a's reservation (1 token) plus 2: at 3000 ms; now it is served at 2000 ms.
    await clock.advance(1499);
    expect(b.status).toBe('pending');
    await clock.advance(1);
    expect(b.status).toBe('fulfilled');
    expect(ranA).toBe(false);
    expect(limiter.available).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('gives the tokens back when a granted waiter was aborted before its fn started', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 2, refillPerSecond: 1, maxWaitMs: 5000, clock });
    expect(limiter.tryAcquire(2)).toBe(true);
    const controller = new AbortController();
    const reason = new Error('changed my mind');
    // Both waiters are served by the same timer tick; the first one's fn aborts the second.
    const first = track(limiter.execute(() => (controller.abort(reason), 'first')));
    let ranSecond = false;
    const second = track(limiter.execute(() => (ranSecond = true), { signal: controller.signal }));
    clock.jump(5000); // the head's timer is now overdue: one tick serves both
    await clock.advance(0);
    expect(first.value).toBe('first');
    expect(second.error).toBe(reason);
    expect(ranSecond).toBe(false);
    expect(limiter.available).toBe(1); // the second token came back
  });

  it('an outer timeout removes a waiter from the queue', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1, maxWaitMs: 5000, clock });
    const p = pipeline(timeout(200, { clock }), limiter);
    await expect(p.execute(() => 'first')).resolves.toBe('first');
    let ran = false;
    const second = track(p.execute(() => (ran = true)));
    await clock.advance(200);
    expect(second.error).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
    await clock.advance(800);
    expect(ran).toBe(false);
    expect(limiter.tryAcquire()).toBe(true); // the timed-out waiter took nothing
  });

  it('keeps each waiting caller’s AsyncLocalStorage store inside its own fn', async () => {
    const clock = new TestClock();
    const als = new AsyncLocalStorage<string>();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 100, maxWaitMs: 1000, clock });
    const results = ['a', 'b', 'c'].map((id) => track(als.run(id, () => limiter.execute(() => als.getStore()))));
    await clock.advance(50);
    expect(results.map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('acquire resolves when granted and rejects with the signal reason', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1, maxWaitMs: 2000, clock });
    await expect(limiter.acquire()).resolves.toBeUndefined();
    const aborted = new AbortController();
    aborted.abort('already');
    await expect(limiter.acquire(1, { signal: aborted.signal })).rejects.toBe('already');
    await expect(limiter.acquire(1, { signal: {} as never })).rejects.toThrow(TypeError);
    const waiting = track(limiter.acquire());
    await clock.advance(1000);
    expect(waiting.status).toBe('fulfilled');
  });

  it('emits success and failure for calls it let through; thrown values pass through', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 10, maxWaitMs: 1000, clock });
    const events: unknown[] = [];
    limiter.on('success', (e) => events.push(['success', e]));
    limiter.on('failure', (e) => events.push(['failure', e]));
    const frozen = Object.freeze({ no: 1 });
    await expect(limiter.execute(() => 'fine')).resolves.toBe('fine');
    const failed = track(limiter.execute(() => { throw frozen; }));
    await clock.advance(100);
    expect(failed.error).toBe(frozen);
    expect(events).toEqual([
      ['success', { durationMs: 0 }],
      ['failure', { durationMs: 100, error: frozen }],
    ]);
  });

  it('creates no timer unless a caller waits', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1, clock });
    for (let i = 0; i < 5; i++) {
      limiter.tryAcquire();
      await limiter.execute(() => 1).catch(() => {});
      void limiter.available;
    }
    expect(clock.pending).toBe(0);
  });
});
