// redisRateLimiter against a real redis-server, with both clients: the policy in a pipeline,
// refusals, waits and aborts, the script cache (NOSCRIPT), the key layout and key expiry.
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../../src/core/pipeline.js';
import { RateLimitedError } from '../../src/core/errors.js';
import { guard } from '../../src/http/express.js';
import { bucketFull } from '../../src/rate-limit/bucket-rule.js';
import { redisRateLimiter } from '../../src/redis/index.js';
import { TestClock } from '../../src/testing/index.js';
import { timeout } from '../../src/timeout/index.js';
import { getEventListeners, track } from '../helpers.js';
import { listen, request } from '../http/servers.js';
import { clientKinds, countingClient, type TestClient } from './clients.js';
import { describeRedis, RedisServer } from './server.js';

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A hash as an object (HGETALL answers field, value, field, value…). */
async function hashOf(server: RedisServer, key: string): Promise<Record<string, string>> {
  const flat = (await server.command('HGETALL', key)) as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

/** Redis's own clock, in ms (the time base of the keys when no clock is given). */
async function serverNowMs(server: RedisServer): Promise<number> {
  const [seconds, micros] = (await server.command('TIME')) as [string, string];
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

describeRedis('redisRateLimiter on a real server', () => {
  let server: RedisServer;
  let run = 0;
  beforeAll(async () => {
    server = await RedisServer.start();
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  describe.each(clientKinds)('with %s', (kind, connect) => {
    let connection: TestClient;
    const prefix = (): string => `t:${kind}:${run++}:`;
    beforeAll(async () => {
      connection = await connect(server);
    });
    afterAll(async () => {
      await connection?.close();
    });

    it('is a Policy: composes in a pipeline, passes results and thrown values through unchanged', async () => {
      const limiter = redisRateLimiter({ client: connection.client, capacity: 2, refillPerSecond: 0.001, prefix: prefix() });
      const policy = pipeline(timeout(5_000), limiter.get('user-1'));
      const thrown = Object.freeze({ mine: true });
      await expect(policy.execute((ctx) => ctx.attempt)).resolves.toBe(1);
      await expect(policy.execute(() => Promise.reject(thrown))).rejects.toBe(thrown);
      const refused = await policy.execute(() => 'ran').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RateLimitedError);
      // 1 token per 1000 s, the bucket emptied moments ago: the next token is ~1000 s away.
      expect((refused as RateLimitedError).retryAfterMs).toBeGreaterThan(999_000);
      expect((refused as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(1_000_000);
      // Another key is another bucket.
      await expect(limiter.get('user-2').execute(() => 'ok')).resolves.toBe('ok');
    });

    it('retryAfterMs is when the token is there: acquiring then succeeds (Redis TIME)', async () => {
      const limiter = redisRateLimiter({ client: connection.client, capacity: 1, refillPerSecond: 50, prefix: prefix() });
      expect(await limiter.tryAcquire('k')).toBe(true);
      const refusal = await limiter.get('k').execute(() => 'ran').catch((error: RateLimitedError) => error);
      expect(refusal).toBeInstanceOf(RateLimitedError);
      const { retryAfterMs } = refusal as RateLimitedError;
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(20);
      await pause(retryAfterMs + 1);
      await expect(limiter.get('k').execute(() => 'ran')).resolves.toBe('ran');
    });

    it("reports refusals as 'rejected' events with the key; tryAcquire beyond capacity is false without asking Redis", async () => {
      const client = countingClient(connection.client);
      const limiter = redisRateLimiter({ client, capacity: 2, refillPerSecond: 0.001, prefix: prefix(), name: 'api' });
      const events: unknown[] = [];
      limiter.on('rejected', (event) => events.push(event));
      expect(await limiter.tryAcquire('a', 2)).toBe(true);
      expect(await limiter.tryAcquire('a')).toBe(false);
      await limiter.get('a').execute(() => 'ran').catch(() => {});
      expect(events).toEqual([
        { reason: 'rate-limited', key: 'a', error: expect.any(RateLimitedError) },
        { reason: 'rate-limited', key: 'a', error: expect.any(RateLimitedError) },
      ]);
      const calls = client.calls;
      expect(await limiter.tryAcquire('a', 3)).toBe(false);
      expect(client.calls).toBe(calls);
      expect(events).toHaveLength(2);
      expect(limiter.stats).toEqual({ rejected: 2, fallbacks: 0, unavailable: false });
    });

    it('keys: one string per bucket at prefix + key (the level after the latest grant and its time), a hash while callers wait', async () => {
      const p = prefix();
      const clock = new TestClock(5_000);
      const client = countingClient(connection.client);
      const limiter = redisRateLimiter({ client, capacity: 4, refillPerSecond: 2, maxWaitMs: 1_000, prefix: p, clock });
      await limiter.tryAcquire('tenant:42', 3);
      expect(await server.command('TYPE', `${p}tenant:42`)).toBe('string');
      expect(await server.command('STRLEN', `${p}tenant:42`)).toBe(16);
      expect(await server.bucket(`${p}tenant:42`)).toEqual({ l: '1', a: '5000' });
      // 3 tokens at 2 per second: full again 1500 ms from now, plus the grace for a caller's clock.
      expect(Number(await server.command('PTTL', `${p}tenant:42`))).toBeGreaterThan(2_400);
      expect(await server.command('KEYS', `${p}*`)).toEqual([`${p}tenant:42`]);
      expect(await limiter.available('tenant:42')).toBe(1);
      // One waiter: due at 5500 ms (the second token), when the bucket is left with 0.
      await limiter.tryAcquire('tenant:42');
      const waiting = track(limiter.get('tenant:42').execute(() => clock.now()));
      await client.idle();
      expect(await server.command('TYPE', `${p}tenant:42`)).toBe('hash');
      expect(await hashOf(server, `${p}tenant:42`)).toEqual({ l: '0', a: '5000', h: '0', n: '1', '0': '0 5500' });
      // Full again 4 tokens after that: 7500 ms, 2500 from now.
      expect(Number(await server.command('PTTL', `${p}tenant:42`))).toBeGreaterThan(3_400);
      await clock.advance(500);
      expect(waiting.value).toBe(5_500);
      // The next call moves the bucket along the waiters it served; a look writes nothing.
      expect(await limiter.available('tenant:42')).toBe(0);
      expect(await server.command('HLEN', `${p}tenant:42`)).toBe(5);
      expect(await limiter.tryAcquire('tenant:42', 0.5)).toBe(false);
      clock.jump(250);
      expect(await limiter.tryAcquire('tenant:42', 0.5)).toBe(true);
      // Every waiter served: a string again.
      expect(await server.command('TYPE', `${p}tenant:42`)).toBe('string');
      expect(await server.bucket(`${p}tenant:42`)).toEqual({ l: '0', a: '5750' });
    });

    it('a key expires when its bucket is full again (Redis TIME: PEXPIREAT at the full time itself)', async () => {
      const p = prefix();
      const limiter = redisRateLimiter({ client: connection.client, capacity: 5, refillPerSecond: 100, prefix: p });
      const before = await serverNowMs(server);
      expect(await limiter.tryAcquire('k', 4)).toBe(true);
      const after = await serverNowMs(server);
      const stored = await server.bucket(`${p}k`);
      const [level, at] = [Number(stored['l']), Number(stored['a'])];
      // Taken at some instant between `before` and `after`, leaving 1 token.
      expect(level).toBe(1);
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(after);
      // The expiry is the first whole millisecond at which the rule calls the bucket full.
      let fullAt = Math.ceil(at + (5 - level) * 10);
      while (!bucketFull(level, at, fullAt, 5, 100 / 1000)) fullAt++;
      expect(bucketFull(level, at, fullAt - 1, 5, 100 / 1000)).toBe(false);
      expect(Number(await server.command('PEXPIRETIME', `${p}k`))).toBe(fullAt);
      await pause(Math.ceil(fullAt - (await serverNowMs(server))) + 5);
      expect(await server.command('EXISTS', `${p}k`)).toBe(0);
      // A missing key is a full bucket.
      expect(await limiter.available('k')).toBe(5);
    });

    it('with a clock of its own, a key lives its time-to-full plus 1 s of grace', async () => {
      const p = prefix();
      const clock = new TestClock(100.25);
      const limiter = redisRateLimiter({ client: connection.client, capacity: 5, refillPerSecond: 4, prefix: p, clock });
      expect(await limiter.tryAcquire('k', 3)).toBe(true);
      // 3 tokens at 4/s: full at 850.25, so from the whole millisecond 851: ceil(750.75) + 1000.
      const pttl = Number(await server.command('PTTL', `${p}k`));
      expect(pttl).toBeLessThanOrEqual(1751);
      expect(pttl).toBeGreaterThan(1650);
      clock.jump(200);
      expect(await limiter.tryAcquire('k')).toBe(true);
      // 2.8 tokens at 300.25, 1.8 left: full at 1100.25 (a hair above), from 1101: ceil(800.75) + 1000.
      const later = Number(await server.command('PTTL', `${p}k`));
      expect(later).toBeLessThanOrEqual(1801);
      expect(later).toBeGreaterThan(1700);
    });

    it('a clock that jumps back creates no tokens and locks a key out for at most one refill', async () => {
      const clock = new TestClock(1_000_000);
      const limiter = redisRateLimiter({ client: connection.client, capacity: 2, refillPerSecond: 1, clock, prefix: prefix() });
      const retries: number[] = [];
      limiter.on('rejected', (event) => retries.push((event.error as RateLimitedError).retryAfterMs));
      expect(await limiter.tryAcquire('k', 2)).toBe(true);
      // 1000 s back: the stored full time now lies 1002 s ahead of the clock.
      clock.jump(-1_000_000);
      expect(await limiter.available('k')).toBe(0);
      expect(await limiter.tryAcquire('k')).toBe(false);
      // Counted as an empty bucket: one token's time, not the 1000 s of the jump.
      expect(retries).toEqual([1000]);
      clock.jump(1000);
      expect(await limiter.tryAcquire('k')).toBe(true);
      expect(await limiter.tryAcquire('k')).toBe(false);
    });

    it('a refusal writes nothing: value and expiry stay as they were', async () => {
      const p = prefix();
      const limiter = redisRateLimiter({ client: connection.client, capacity: 1, refillPerSecond: 0.01, prefix: p });
      expect(await limiter.tryAcquire('k')).toBe(true);
      const value = await server.command('GET', `${p}k`);
      const expiry = await server.command('PEXPIRETIME', `${p}k`);
      await server.command('CONFIG', 'RESETSTAT');
      expect(await limiter.tryAcquire('k')).toBe(false);
      await expect(limiter.get('k').execute(() => 'ran')).rejects.toBeInstanceOf(RateLimitedError);
      expect(await server.command('GET', `${p}k`)).toEqual(value);
      expect(await server.command('PEXPIRETIME', `${p}k`)).toBe(expiry);
      const calls = await server.commandCalls();
      expect(calls['evalsha']).toBe(2);
      for (const write of ['set', 'hset', 'hdel', 'del', 'pexpireat', 'pexpire']) expect(calls[write] ?? 0, write).toBe(0);
    });

    it('one round trip per decision; after SCRIPT FLUSH (NOSCRIPT) one EVAL reloads it', async () => {
      const p = prefix();
      const limiter = redisRateLimiter({ client: connection.client, capacity: 100, refillPerSecond: 100, prefix: p });
      await limiter.tryAcquire('k');
      await server.command('SCRIPT', 'FLUSH');
      await server.command('CONFIG', 'RESETSTAT');
      await expect(limiter.get('k').execute(() => 'after flush')).resolves.toBe('after flush');
      let calls = await server.commandCalls();
      expect(calls['evalsha']).toBe(1);
      expect(calls['eval']).toBe(1);
      await server.command('CONFIG', 'RESETSTAT');
      for (let i = 0; i < 10; i++) await limiter.tryAcquire('k');
      calls = await server.commandCalls();
      expect(calls['evalsha']).toBe(10);
      expect(calls['eval'] ?? 0).toBe(0);
      expect(limiter.stats.fallbacks).toBe(0);
    });

    it('waits up to maxWaitMs for a reserved token, FIFO; longer waits are refused at once', async () => {
      const clock = new TestClock(0);
      const client = countingClient(connection.client);
      const limiter = redisRateLimiter({ client, capacity: 1, refillPerSecond: 10, maxWaitMs: 250, clock, prefix: prefix() });
      const ranAt: number[] = [];
      const calls = [0, 1, 2, 3].map(() => track(limiter.get('k').execute(() => ranAt.push(clock.now()))));
      await client.idle();
      await clock.advance(0);
      // The 4th would have waited 300 ms > 250 ms: refused at once, exactly.
      expect(calls[3]!.status).toBe('rejected');
      expect((calls[3]!.error as RateLimitedError).retryAfterMs).toBe(300);
      expect(ranAt).toEqual([0]);
      await clock.advance(99);
      expect(ranAt).toEqual([0]);
      await clock.advance(1);
      expect(ranAt).toEqual([0, 100]);
      await clock.advance(100);
      expect(ranAt).toEqual([0, 100, 200]);
      expect(clock.pending).toBe(0);
    });

    it('a caller that aborts while waiting rejects at once with its reason and gives the token back', async () => {
      const clock = new TestClock(0);
      const client = countingClient(connection.client);
      const limiter = redisRateLimiter({ client, capacity: 1, refillPerSecond: 1, maxWaitMs: 5_000, clock, prefix: prefix() });
      expect(await limiter.tryAcquire('k')).toBe(true);
      const controller = new AbortController();
      let ran = false;
      const waiting = track(limiter.get('k').execute(() => (ran = true), { signal: controller.signal }));
      await client.idle();
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      const reason = new Error('client left');
      controller.abort(reason);
      await clock.advance(0);
      expect(waiting.status).toBe('rejected');
      expect(waiting.error).toBe(reason);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      await client.idle();
      // Its reservation went back: the next caller waits 1000 ms (the first token), not 2000.
      const next = track(limiter.get('k').execute(() => clock.now()));
      await client.idle();
      await clock.advance(1000);
      expect(next.value).toBe(1000);
      expect(ran).toBe(false);
      expect(clock.pending).toBe(0);
    });

    it('a waiter behind others aborts: the newest reservation goes back, the callers behind keep their times', async () => {
      const clock = new TestClock(0);
      const client = countingClient(connection.client);
      const limiter = redisRateLimiter({ client, capacity: 1, refillPerSecond: 10, maxWaitMs: 1_000, clock, prefix: prefix() });
      expect(await limiter.tryAcquire('k')).toBe(true);
      const ranAt: Array<[string, number]> = [];
      const controller = new AbortController();
      const waiter = (name: string, signal?: AbortSignal) =>
        track(limiter.get('k').execute(() => ranAt.push([name, clock.now()]), signal === undefined ? undefined : { signal }));
      const first = waiter('first');
      await client.idle();
      const middle = waiter('middle', controller.signal);
      await client.idle();
      const last = waiter('last');
      await client.idle();
      // Reserved at 100, 200 and 300 ms. The middle one leaves: Redis cannot know who sleeps
      // behind it, so the last reservation (300) goes back and `last` keeps its time; the next
      // caller gets the 300 ms slot. No grant comes earlier than a token: 4 in 300 ms at 1 + 10/s.
      controller.abort('gone');
      await clock.advance(0);
      await client.idle();
      const next = waiter('next');
      await client.idle();
      await clock.advance(300);
      await client.idle();
      expect(middle.error).toBe('gone');
      expect([first.status, last.status, next.status]).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect(ranAt).toEqual([['first', 100], ['last', 300], ['next', 300]]);
      expect(await limiter.available('k')).toBe(0);
      expect(clock.pending).toBe(0);
    });

    it('a caller that aborts while Redis decides rejects at once; a token granted after that goes back', async () => {
      const client = countingClient(connection.client);
      const p = prefix();
      const limiter = redisRateLimiter({ client, capacity: 3, refillPerSecond: 0.001, prefix: p });
      const controller = new AbortController();
      let ran = false;
      const call = track(limiter.get('k').execute(() => (ran = true), { signal: controller.signal }));
      controller.abort('gone');
      await Promise.resolve();
      await Promise.resolve();
      expect(call.status).toBe('rejected');
      expect(call.error).toBe('gone');
      await client.idle();
      await client.idle();
      expect(ran).toBe(false);
      expect(await limiter.available('k')).toBe(3);
    });

    it('an already-aborted signal rejects with its reason without asking Redis', async () => {
      const client = countingClient(connection.client);
      const limiter = redisRateLimiter({ client, capacity: 3, refillPerSecond: 1, prefix: prefix() });
      const reason = new Error('already');
      await expect(limiter.get('k').execute(() => 'ran', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(client.calls).toBe(0);
    });

    it('guard sends RateLimit fields from the Redis bucket, and 429 with Retry-After when it refuses', async () => {
      const limiter = redisRateLimiter({ client: connection.client, capacity: 2, refillPerSecond: 0.5, prefix: prefix(), name: 'api' });
      const app = express();
      app.use(guard((req) => limiter.get(req.ip ?? 'unknown')));
      app.get('/', (_req, res) => res.send('ok'));
      const running = await listen(app);
      try {
        const first = await request(running.url);
        expect(first.status).toBe(200);
        expect(first.headers['ratelimit-policy']).toBe('"api";q=2;w=4');
        expect(first.headers['ratelimit']).toBe('"api";r=1;t=2');
        await request(running.url);
        const refused = await request(running.url);
        expect(refused.status).toBe(429);
        expect(refused.headers['retry-after']).toBe('2');
        expect(refused.headers['ratelimit']).toBe('"api";r=0;t=4');
      } finally {
        await running.close();
      }
    });
  });
});
