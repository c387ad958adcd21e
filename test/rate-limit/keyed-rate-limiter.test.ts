import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/core/errors.js';
import { keyedRateLimiter, RateLimiter } from '../../src/rate-limit/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, track } from '../helpers.js';

describe('keyedRateLimiter options', () => {
  it.each([
    [{ capacity: 1, refillPerSecond: 1, maxKeys: 1.5 }, /"maxKeys".*integer.*received 1.5/],
    [{ capacity: 1, refillPerSecond: 1, maxKeys: 0 }, /"maxKeys".*received 0/],
    [{ capacity: 1, refillPerSecond: 1, maxKeys: NaN }, /"maxKeys".*received NaN/],
    [{ capacity: 0, refillPerSecond: 1 }, /"capacity".*received 0/],
    [{ capacity: 1, refillPerSecond: -2 }, /"refillPerSecond".*received -2/],
  ])('rejects %j with a RangeError naming the option and value', (options, message) => {
    expect(() => keyedRateLimiter(options)).toThrow(RangeError);
    expect(() => keyedRateLimiter(options)).toThrow(message);
  });

  it('has defaults and rejects a non-string key', () => {
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 1 });
    expect(keyed.maxKeys).toBe(10_000);
    expect(keyed.name).toBe('keyed-rate-limiter');
    expect(() => keyed.get(42 as never)).toThrow(TypeError);
  });
});

describe('keyedRateLimiter', () => {
  it('keeps an independent bucket per key; views of one key share it', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 2, refillPerSecond: 1, clock });
    const a = keyed.get('a');
    expect(a).toBeInstanceOf(RateLimiter);
    expect(a.kind).toBe('rate-limiter');
    expect(a.key).toBe('a');
    expect(a.tryAcquire(2)).toBe(true);
    expect(keyed.get('a').tryAcquire()).toBe(false);
    expect(keyed.get('b').tryAcquire(2)).toBe(true);
    expect(keyed.get('a').available).toBe(0);
    expect(keyed.get('c').available).toBe(2); // reading does not create a key
    expect(keyed.size).toBe(2);
    const rejected = track(keyed.get('a').execute(() => 'x'));
    await flush();
    expect((rejected.error as RateLimitedError).retryAfterMs).toBe(1000);
    await clock.advance(1000);
    await expect(keyed.get('a').execute(() => 'y')).resolves.toBe('y');
  });

  it('reports rejections of every key on the keyed limiter, with the key', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 1, clock });
    const events: unknown[] = [];
    keyed.on('rejected', (e) => events.push(e));
    keyed.get('ip-1').tryAcquire();
    expect(keyed.get('ip-1').tryAcquire()).toBe(false);
    const second = track(keyed.get('ip-1').execute(() => 1));
    await flush();
    expect(events).toEqual([
      { reason: 'rate-limited', error: expect.any(RateLimitedError), key: 'ip-1' },
      { reason: 'rate-limited', error: second.error, key: 'ip-1' },
    ]);
    expect(keyed.stats).toEqual({ size: 1, rejected: 2 });
  });

  it('never holds more than maxKeys keys', () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 5, refillPerSecond: 1, maxKeys: 100, clock });
    for (let i = 0; i < 1000; i++) {
      expect(keyed.get(`k${i}`).tryAcquire()).toBe(true);
      expect(keyed.size).toBeLessThanOrEqual(100);
    }
    expect(keyed.size).toBe(100);
  });

  it('makes room by dropping a bucket that is full again before the least recently used one', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 2, refillPerSecond: 1, maxKeys: 2, clock });
    expect(keyed.get('a').tryAcquire(2)).toBe(true); // a: full again at 2000
    await clock.advance(500);
    expect(keyed.get('b').tryAcquire(1)).toBe(true); // b: full again at 1500
    await clock.advance(1100); // t = 1600: b is full, a (least recently used) is not
    expect(keyed.get('c').tryAcquire()).toBe(true);
    expect(keyed.size).toBe(2);
    // a kept its debt: 1.6 tokens, not a fresh 2.
    expect(keyed.get('a').available).toBe(1);
    expect(keyed.get('a').tryAcquire(2)).toBe(false);
  });

  it('when no bucket is full, forgets the least recently used key (which forgives it)', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: 2, clock });
    keyed.get('a').tryAcquire();
    await clock.advance(10);
    keyed.get('b').tryAcquire();
    await clock.advance(10);
    // A rejected attempt still counts as use: a abusive key stays remembered.
    expect(keyed.get('a').tryAcquire()).toBe(false);
    keyed.get('c').tryAcquire(); // evicts b, the least recently used
    expect(keyed.get('a').tryAcquire()).toBe(false);
    expect(keyed.get('b').tryAcquire()).toBe(true); // forgiven: a fresh bucket
  });

  it('reclaims idle keys as new ones arrive, so idle keys cost nothing', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 1, clock });
    for (let i = 0; i < 100; i++) keyed.get(`old${i}`).tryAcquire();
    expect(keyed.size).toBe(100);
    await clock.advance(1000); // every old bucket is full again
    for (let i = 0; i < 50; i++) keyed.get(`new${i}`).tryAcquire();
    expect(keyed.size).toBe(50);
    // A forgotten key behaves exactly like a new one.
    expect(keyed.get('old0').available).toBe(1);
  });

  it('makes room in O(1) under key churn: no scan for full buckets when none can be full', () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 10, refillPerSecond: 1, maxKeys: 10_000, clock });
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}`);
    // Count the slot inspections the table makes (a test of internals: `isIdle` is its scan step).
    const table = (keyed as unknown as { table: { isIdle: (...args: unknown[]) => boolean } }).table;
    const isIdle = table.isIdle.bind(table);
    let inspections = 0;
    table.isIdle = (...args: unknown[]) => {
      inspections++;
      return isIdle(...args);
    };
    let granted = 0;
    for (let i = 0; i < 100_000; i++) {
      clock.jump(0.01);
      if (keyed.get(keys[i % keys.length]!).tryAcquire()) granted++;
    }
    // A scan per new key would inspect 10 000 slots for each of ~90 000 new keys (~10^9);
    // O(1) amortised stays within a small multiple of the number of calls.
    expect(inspections).toBeLessThan(10 * 100_000);
    expect(granted).toBe(100_000); // every key is new (or forgiven) when it comes back
    expect(keyed.size).toBe(10_000);
  });

  it('serves the waiters of each key FIFO and never evicts a key somebody waits on', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 10, maxWaitMs: 500, maxKeys: 1, clock });
    const order: string[] = [];
    keyed.get('a').tryAcquire();
    const a1 = track(keyed.get('a').execute(() => order.push('a1')));
    const a2 = track(keyed.get('a').execute(() => order.push('a2')));
    // The only key has waiters: no room for b, refused rather than dropping a's queue.
    const b = track(keyed.get('b').execute(() => order.push('b')));
    await flush();
    expect(b.error).toBeInstanceOf(RateLimitedError);
    expect(keyed.size).toBe(1);
    await clock.advance(200);
    expect(order).toEqual(['a1', 'a2']);
    expect([a1.status, a2.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(clock.pending).toBe(0);
    await clock.advance(100);
    await expect(keyed.get('b').execute(() => 'b')).resolves.toBe('b');
  });

  it('a view stays valid after its key was forgotten', async () => {
    const clock = new TestClock();
    const keyed = keyedRateLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: 1, clock });
    const a = keyed.get('a');
    expect(a.tryAcquire()).toBe(true);
    keyed.get('b').tryAcquire(); // forgets a
    expect(a.available).toBe(1);
    expect(a.tryAcquire()).toBe(true);
    expect(a.tryAcquire()).toBe(false);
  });
});
