// Construction-time checks: no server needed. A bad option throws at once, naming itself.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisRateLimiter } from '../../src/redis/index.js';

// A real ioredis client that never connects (lazyConnect): construction must not touch it.
const client = new Redis({ lazyConnect: true, port: 1 });
afterAll(() => client.disconnect());
const base = { client, capacity: 5, refillPerSecond: 1 };

describe('redisRateLimiter options', () => {
  it.each([
    [{ capacity: 0 }, /"capacity".*received 0/],
    [{ capacity: NaN }, /"capacity".*received NaN/],
    [{ capacity: Infinity }, /"capacity".*received Infinity/],
    [{ refillPerSecond: 0 }, /"refillPerSecond".*received 0/],
    [{ refillPerSecond: -2 }, /"refillPerSecond".*received -2/],
    [{ maxWaitMs: -1 }, /"maxWaitMs".*received -1/],
    [{ redisTimeoutMs: 0 }, /"redisTimeoutMs".*received 0/],
    [{ redisTimeoutMs: -5 }, /"redisTimeoutMs".*received -5/],
    [{ redisTimeoutMs: NaN }, /"redisTimeoutMs".*received NaN/],
    [{ redisTimeoutMs: Infinity }, /"redisTimeoutMs".*received Infinity/],
    [{ onUnavailable: 'open' }, /"onUnavailable".*"local", "allow", "reject".*received "open"/],
  ])('%j → RangeError naming the option and the value', (override, message) => {
    expect(() => redisRateLimiter({ ...base, ...(override as object) })).toThrow(RangeError);
    expect(() => redisRateLimiter({ ...base, ...(override as object) })).toThrow(message);
  });

  it.each([
    [{ capacity: '5' }, /"capacity"/],
    [{ redisTimeoutMs: '100' }, /"redisTimeoutMs"/],
    [{ prefix: 7 }, /"prefix".*received 7/],
    [{ clock: Date }, /"clock"/],
    [{ name: '' }, /"name"/],
    [{ client: undefined }, /"client".*received undefined/],
    [{ client: 'redis://localhost' }, /"client".*received "redis:\/\/localhost"/],
    [{ client: {} }, /"client" needs the methods evalsha and eval.*none of them/],
    [{ client: { eval: () => {} } }, /"client" needs the methods.*received an object with eval$/],
    [{ redisTimeout: 50 }, /has no option "redisTimeout"; did you mean "redisTimeoutMs"\?/],
    [{ onUnavaliable: 'allow' }, /did you mean "onUnavailable"/],
  ])('%j → TypeError naming the option', (override, message) => {
    expect(() => redisRateLimiter({ ...base, ...(override as object) })).toThrow(TypeError);
    expect(() => redisRateLimiter({ ...base, ...(override as object) })).toThrow(message);
  });

  it('on(event) rejects an event it does not have, naming the closest one', () => {
    const limiter = redisRateLimiter(base);
    expect(() => limiter.on('rejcted' as never, () => {})).toThrow(/has no event "rejcted" \(did you mean "rejected"\?\)/);
    expect(() => limiter.get('k').on('recoverd' as never, () => {})).toThrow(/did you mean "recovered"\?/);
    const off = limiter.on('unavailable', () => {});
    off();
  });

  it('needs an options object', () => {
    expect(() => redisRateLimiter(undefined as never)).toThrow(TypeError);
  });

  it('explicit undefined means the default', () => {
    const limiter = redisRateLimiter({
      ...base,
      maxWaitMs: undefined,
      prefix: undefined,
      redisTimeoutMs: undefined,
      onUnavailable: undefined,
      clock: undefined,
      name: undefined,
    });
    expect(limiter).toMatchObject({
      maxWaitMs: 0,
      prefix: 'breakwater:',
      redisTimeoutMs: 100,
      onUnavailable: 'local',
      name: 'redis-rate-limiter',
      kind: 'redis-rate-limiter',
    });
    expect(limiter.get('k').name).toBe('redis-rate-limiter');
  });

  it('bad keys and token counts reject (execute-style: never a synchronous throw for async methods)', async () => {
    const limiter = redisRateLimiter(base);
    expect(() => limiter.get(5 as never)).toThrow(/get\(key\) needs a string, received 5/);
    await expect(limiter.tryAcquire(undefined as never)).rejects.toThrow(TypeError);
    await expect(limiter.tryAcquire('k', 0)).rejects.toThrow(RangeError);
    await expect(limiter.tryAcquire('k', '2' as never)).rejects.toThrow(TypeError);
    await expect(limiter.available(null as never)).rejects.toThrow(/available\(key\) needs a string/);
  });

  it('construction sends nothing: the client stays unconnected', () => {
    redisRateLimiter(base);
    expect(client.status).toBe('wait');
  });
});
