import { describe, expect, it } from 'vitest';
import { keyedRateLimiter, rateLimiter } from '../../src/rate-limit/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, track } from '../helpers.js';
import { RateLimitedError } from '../../src/core/errors.js';

// The bucket's queue and clock handling, seen through the public limiters.

describe('token bucket queue', () => {
  it('a small request never overtakes a larger one waiting, even when its tokens are there', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 3, refillPerSecond: 1, maxWaitMs: 10_000, clock });
    const order: string[] = [];
    expect(limiter.tryAcquire(3)).toBe(true);
    const big = track(limiter.acquire(2).then(() => order.push('big')));
    await clock.advance(1000); // 1 token: enough for a small request, not for the head
    expect(limiter.available).toBe(0); // reserved for the head
    const small = track(limiter.execute(() => order.push('small')));
    await flush();
    expect(order).toEqual([]);
    await clock.advance(1000); // 2 tokens: the head goes
    expect(order).toEqual(['big']);
    await clock.advance(999);
    expect(order).toEqual(['big']);
    await clock.advance(1); // then a token for the small one
    expect(order).toEqual(['big', 'small']);
    expect([big.status, small.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(clock.pending).toBe(0);
  });

  it('when the head leaves, the next waiter whose tokens are there goes at once', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 3, refillPerSecond: 1, maxWaitMs: 10_000, clock });
    expect(limiter.tryAcquire(3)).toBe(true);
    const controller = new AbortController();
    const head = track(limiter.acquire(3, { signal: controller.signal }));
    const next = track(limiter.acquire(1)); // behind the head's 3: due at 4000 ms
    await clock.advance(1000); // 1 token, reserved for the head
    expect(next.status).toBe('pending');
    controller.abort('gone');
    await flush();
    expect(head.error).toBe('gone');
    expect(next.status).toBe('fulfilled'); // at 1000 ms, not at the head's 3000
    expect(limiter.available).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('tokens given back by a granted waiter that never started serve the next waiter at once', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 2, refillPerSecond: 1, maxWaitMs: 10_000, clock });
    expect(limiter.tryAcquire(2)).toBe(true);
    const controller = new AbortController();
    const first = track(limiter.execute(() => (controller.abort('left'), 'first')));
    let ranSecond = false;
    const second = track(limiter.execute(() => (ranSecond = true), { signal: controller.signal }));
    const third = track(limiter.acquire(1));
    clock.jump(2000); // the head's timer is overdue: one tick serves first and second
    await clock.advance(0);
    expect(first.value).toBe('first');
    expect(second.error).toBe('left');
    expect(ranSecond).toBe(false);
    expect(third.status).toBe('fulfilled'); // second's token went straight to it, no timer
    expect(clock.pending).toBe(0);
    expect(limiter.available).toBe(0);
  });

  it('a backward clock jump keeps the tokens already earned, and time resumes from there', async () => {
    const clock = new TestClock(10_000);
    const limiter = rateLimiter({ capacity: 2, refillPerSecond: 1, clock });
    expect(limiter.tryAcquire(2)).toBe(true);
    clock.jump(1000);
    expect(limiter.available).toBe(1);
    clock.jump(-5000);
    expect(limiter.available).toBe(1); // no tokens appear, none vanish
    clock.jump(1000);
    expect(limiter.available).toBe(2);
    expect(limiter.tryAcquire(2)).toBe(true);
  });

  it('after a backward jump, a refusal still says exactly when the tokens are there', async () => {
    const clock = new TestClock(50_000);
    const limiter = rateLimiter({ capacity: 3, refillPerSecond: 1, clock });
    expect(limiter.tryAcquire(3)).toBe(true);
    clock.jump(400);
    expect(limiter.available).toBe(0);
    clock.jump(-20_000); // the limiter's own time stays at 400 ms after the grant
    const refused = track(limiter.execute(() => 'x'));
    await flush();
    const { retryAfterMs } = refused.error as RateLimitedError;
    expect(retryAfterMs).toBe(600); // 1000 ms for its token, 400 of them already passed
    clock.jump(retryAfterMs - 1);
    expect(limiter.tryAcquire()).toBe(false);
    clock.jump(1);
    expect(limiter.tryAcquire()).toBe(true);
  });
});

describe('keyed buckets: one key\'s waiters', () => {
  it('hold back no other key: its requests are granted at once, its tokens read as there', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 1, maxWaitMs: 5000, clock });
    expect(keyed.get('a').tryAcquire()).toBe(true);
    const waiting = track(keyed.get('a').execute(() => 'a'));
    expect(keyed.get('a').available).toBe(0);
    expect(keyed.get('b').available).toBe(1);
    let ran = false;
    const b = track(keyed.get('b').execute(() => (ran = true)));
    expect(ran).toBe(true); // at once, not on a timer
    expect(keyed.get('c').tryAcquire()).toBe(true);
    expect(clock.pending).toBe(1); // a's waiter only
    await clock.advance(1000);
    expect([waiting.value, b.status]).toEqual(['a', 'fulfilled']);
    expect(clock.pending).toBe(0);
  });

  it('a key with no room (every key held has waiters) is refused with one token\'s time as its hint', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 4, maxWaitMs: 5000, maxKeys: 1, clock });
    expect(keyed.get('a').tryAcquire()).toBe(true);
    const waiting = track(keyed.get('a').acquire());
    expect(keyed.get('b').tryAcquire()).toBe(false);
    const refused = track(keyed.get('b').execute(() => 'b'));
    await flush();
    expect((refused.error as RateLimitedError).retryAfterMs).toBe(250);
    expect(keyed.get('b').available).toBe(1); // a key not held reads as a full bucket
    expect(keyed.stats).toEqual({ size: 1, rejected: 2 });
    await clock.advance(250);
    expect(waiting.status).toBe('fulfilled');
  });
});
