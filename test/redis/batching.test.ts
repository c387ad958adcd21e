// With ioredis, the script calls made in one turn go to Redis as one pipeline (one socket
// write). Each call keeps its own decision, error and NOSCRIPT reload; a call alone in its
// turn, and a client that pipelines by itself, send plain EVALSHA.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRateLimiter } from '../../src/redis/index.js';
import { connectIoredis } from './clients.js';
import { describeRedis, RedisServer } from './server.js';

/** Counts the client's pipeline() calls (the batches sent) and its own evalsha calls (sent alone). */
function countPipelines(client: Redis): { readonly count: number; readonly alone: number } {
  const counter = { count: 0, alone: 0 };
  const pipeline = client.pipeline.bind(client);
  client.pipeline = (commands?: unknown[][]) => {
    counter.count++;
    return pipeline(commands);
  };
  const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> }).evalsha = (...args: unknown[]) => {
    counter.alone++;
    return evalsha(...args);
  };
  return counter;
}

describeRedis('redisRateLimiter batches the script calls of one turn (ioredis)', () => {
  let server: RedisServer;
  let run = 0;
  const prefix = (): string => `b:${run++}:`;
  beforeAll(async () => {
    server = await RedisServer.start();
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  it('calls made in one turn are one pipeline, decided one by one in the order they were made', async () => {
    const connection = await connectIoredis(server);
    try {
      const pipelines = countPipelines(connection.client);
      const limiter = redisRateLimiter({ client: connection.client, capacity: 5, refillPerSecond: 0.001, prefix: prefix() });
      await server.command('CONFIG', 'RESETSTAT');
      const decisions = await Promise.all(Array.from({ length: 8 }, () => limiter.tryAcquire('k')));
      expect(decisions).toEqual([true, true, true, true, true, false, false, false]);
      expect(pipelines).toEqual({ count: 1, alone: 0 });
      expect((await server.commandCalls())['evalsha']).toBe(8);
      expect(await limiter.available('k')).toBe(0);
      expect(limiter.stats).toMatchObject({ rejected: 3, fallbacks: 0 });
    } finally {
      await connection.close();
    }
  });

  it('a call alone in its turn is a plain EVALSHA', async () => {
    const connection = await connectIoredis(server);
    try {
      const pipelines = countPipelines(connection.client);
      const limiter = redisRateLimiter({ client: connection.client, capacity: 3, refillPerSecond: 0.001, prefix: prefix() });
      const decisions: boolean[] = [];
      for (let i = 0; i < 4; i++) decisions.push(await limiter.tryAcquire('k'));
      expect(decisions).toEqual([true, true, true, false]);
      expect(pipelines).toEqual({ count: 0, alone: 4 });
    } finally {
      await connection.close();
    }
  });

  it('after SCRIPT FLUSH every call of a batch reloads the script with one EVAL and is decided by Redis', async () => {
    const connection = await connectIoredis(server);
    try {
      const limiter = redisRateLimiter({ client: connection.client, capacity: 2, refillPerSecond: 0.001, prefix: prefix() });
      await limiter.tryAcquire('warm');
      await server.command('SCRIPT', 'FLUSH');
      await server.command('CONFIG', 'RESETSTAT');
      const decisions = await Promise.all(['a', 'a', 'a', 'b'].map((key) => limiter.tryAcquire(key)));
      expect(decisions).toEqual([true, true, false, true]);
      const calls = await server.commandCalls();
      expect(calls['evalsha']).toBe(4);
      expect(calls['eval']).toBe(4);
      expect(limiter.stats.fallbacks).toBe(0);
    } finally {
      await connection.close();
    }
  });

  it('an error reply fails its own call only: the others of the batch are decided by Redis', async () => {
    const connection = await connectIoredis(server);
    try {
      const p = prefix();
      await server.command('SET', `${p}taken`, 'value');
      const limiter = redisRateLimiter({ client: connection.client, capacity: 1, refillPerSecond: 0.001, onUnavailable: 'reject', prefix: p });
      const events: string[] = [];
      limiter.on('unavailable', (event) => events.push(`unavailable ${event.reason}`));
      limiter.on('recovered', () => events.push('recovered'));
      const decisions = await Promise.all(['free', 'taken', 'free', 'other'].map((key) => limiter.tryAcquire(key)));
      // 'taken' is decided by onUnavailable ('reject': false); the second 'free' by the bucket.
      expect(decisions).toEqual([true, false, false, true]);
      expect(limiter.stats).toMatchObject({ fallbacks: 1, rejected: 1, unavailable: false });
      expect(events).toEqual(['unavailable error', 'recovered']);
    } finally {
      await connection.close();
    }
  });

  it('a client that pipelines by itself (enableAutoPipelining) is not batched again', async () => {
    const connection = await connectIoredis(server, { enableAutoPipelining: true });
    try {
      const pipelines = countPipelines(connection.client);
      const limiter = redisRateLimiter({ client: connection.client, capacity: 2, refillPerSecond: 0.001, prefix: prefix() });
      await server.command('CONFIG', 'RESETSTAT');
      const decisions = await Promise.all(Array.from({ length: 3 }, () => limiter.tryAcquire('k')));
      expect(decisions).toEqual([true, true, false]);
      // Each call goes to the client on its own (ioredis then pipelines them itself).
      expect(pipelines.alone).toBe(3);
      expect((await server.commandCalls())['evalsha']).toBe(3);
    } finally {
      await connection.close();
    }
  });
});

describe('batching needs a connected server only for the calls it sends', () => {
  it('a client whose pipeline() throws fails those calls only, decided by onUnavailable', async () => {
    const client = {
      status: 'ready',
      evalsha: () => Promise.reject(new Error('unused')),
      eval: () => Promise.reject(new Error('unused')),
      pipeline: () => {
        throw new Error('no pipeline today');
      },
    };
    const limiter = redisRateLimiter({ client, capacity: 1, refillPerSecond: 1, onUnavailable: 'allow', redisTimeoutMs: 50 });
    const causes: unknown[] = [];
    limiter.on('unavailable', (event) => causes.push((event.error as Error).message));
    await expect(Promise.all([limiter.tryAcquire('a'), limiter.tryAcquire('b')])).resolves.toEqual([true, true]);
    expect(causes).toEqual(['no pipeline today']);
    expect(limiter.stats.fallbacks).toBe(2);
  });
});
