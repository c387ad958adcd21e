// Both clients' own types fit the structural client type, with no cast (checked by tsc).
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { redisRateLimiter } from '../../src/redis/index.js';

describe('client types', () => {
  it('ioredis and node-redis clients are accepted as they are', () => {
    const io = new Redis({ lazyConnect: true });
    const node = createClient();
    const a = redisRateLimiter({ client: io, capacity: 1, refillPerSecond: 1 });
    const b = redisRateLimiter({ client: node, capacity: 1, refillPerSecond: 1 });
    expect([a.kind, b.kind]).toEqual(['redis-rate-limiter', 'redis-rate-limiter']);
    io.disconnect();
  });
});
