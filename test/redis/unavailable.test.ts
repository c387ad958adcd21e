// Redis slow (DEBUG SLEEP), stopped, restarted, or answering with errors: every call is still
// decided within redisTimeoutMs by onUnavailable, late answers are dropped, and the limiter
// returns to Redis as soon as Redis answers in time. Virtual time where the limiter's own timer
// decides; real time (with generous bounds) only where a real server must stop or start.
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitedError, RateLimiterUnavailableError } from '../../src/core/errors.js';
import { redisRateLimiter, type RedisClientLike } from '../../src/redis/index.js';
import { guard } from '../../src/http/express.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';
import { listen, request } from '../http/servers.js';
import { clientKinds, connectIoredis, countingClient, type TestClient } from './clients.js';
import { describeRedis, RedisServer } from './server.js';

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls (real time) until `predicate` holds; fails after `withinMs`. */
async function until(predicate: () => boolean | Promise<boolean>, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await pause(10);
  }
}

function clientReady(client: RedisClientLike): boolean {
  const flags = client as { status?: string; isReady?: boolean };
  return flags.status !== undefined ? flags.status === 'ready' : flags.isReady === true;
}

type Mode = 'local' | 'allow' | 'reject';
const modes: Mode[] = ['local', 'allow', 'reject'];

/** What a call came to, in a form that compares across modes. */
function settledAs(call: { status: string; value?: unknown; error?: unknown }): unknown {
  if (call.status === 'pending') return 'pending';
  if (call.status === 'fulfilled') return call.value;
  if (call.error instanceof RateLimitedError) return { rateLimited: call.error.retryAfterMs };
  if (call.error instanceof RateLimiterUnavailableError) return 'unavailable';
  return call.error;
}

describeRedis('redisRateLimiter when Redis is slow or down', () => {
  let server: RedisServer;
  let run = 0;
  const prefix = (): string => `u:${run++}:`;
  beforeAll(async () => {
    server = await RedisServer.start();
  }, 30_000);
  afterEach(async () => {
    if (!server.running) await server.restart();
  });
  afterAll(async () => {
    await server?.close();
  });

  describe.each(clientKinds)('with %s', (kind, connect) => {
    let connection: TestClient;
    beforeAll(async () => {
      connection = await connect(server);
    });
    afterAll(async () => {
      await connection?.close();
    });
    afterEach(async () => {
      await until(() => clientReady(connection.client));
    });

    it.each(modes)(
      "slowed by DEBUG SLEEP, onUnavailable '%s' decides at exactly redisTimeoutMs (virtual time); one probe at a time; back on the first timely answer",
      async (mode) => {
        const clock = new TestClock(0);
        const client = countingClient(connection.client);
        const p = prefix();
        const limiter = redisRateLimiter({ client, capacity: 2, refillPerSecond: 1, clock, redisTimeoutMs: 100, onUnavailable: mode, prefix: p });
        const events: unknown[] = [];
        limiter.on('unavailable', (event) => events.push(['unavailable', event]));
        limiter.on('recovered', (event) => events.push(['recovered', event]));
        expect(await limiter.tryAcquire('warm-up')).toBe(true);

        const slow = await server.slow(400);
        const first = track(limiter.get('k').execute(() => 'ran'));
        await pause(30);
        // Redis is blocked and virtual time stands still: nothing decides it yet.
        expect(first.status).toBe('pending');
        await clock.advance(99);
        expect(first.status).toBe('pending');
        await clock.advance(1);
        expect(first.status).not.toBe('pending');
        expect(events).toEqual([['unavailable', { reason: 'timeout', error: undefined }]]);

        // While Redis is out, one call probes it (and waits at most redisTimeoutMs); the
        // calls behind the probe do not wait at all.
        const probe = track(limiter.get('k').execute(() => 'ran'));
        const behind = track(limiter.get('k').execute(() => 'ran'));
        await clock.advance(0);
        expect(probe.status).toBe('pending');
        expect(behind.status).not.toBe('pending');
        await clock.advance(100);
        expect(probe.status).not.toBe('pending');

        const expected = {
          local: ['ran', 'ran', { rateLimited: 900 }],
          allow: ['ran', 'ran', 'ran'],
          reject: ['unavailable', 'unavailable', 'unavailable'],
        }[mode];
        expect([first, behind, probe].map(settledAs)).toEqual(expected);
        expect(limiter.stats).toMatchObject({ fallbacks: 3, unavailable: true });

        // The server wakes up and answers the two late calls; those answers are dropped.
        await slow.done;
        await client.idle();
        expect([first, behind, probe].map(settledAs)).toEqual(expected);
        expect(events).toHaveLength(1);

        // The next call asks Redis, Redis answers in time: back to Redis.
        expect(await limiter.tryAcquire('fresh')).toBe(true);
        expect(events[1]).toEqual(['recovered', { unavailableMs: 100 }]);
        expect(limiter.stats).toMatchObject({ fallbacks: 3, unavailable: false });
        expect(await server.command('EXISTS', `${p}fresh`)).toBe(1);
        expect(clock.pending).toBe(0);
      },
    );

    it.each(modes)("stopped and restarted mid-run, onUnavailable '%s': no call waits beyond redisTimeoutMs, none hangs, Redis decides again after", async (mode) => {
      const p = prefix();
      const limiter = redisRateLimiter({ client: connection.client, capacity: 1e6, refillPerSecond: 1, redisTimeoutMs: 100, onUnavailable: mode, prefix: p });
      const events: string[] = [];
      limiter.on('unavailable', () => events.push('unavailable'));
      limiter.on('recovered', () => events.push('recovered'));
      let stop = false;
      let slowest = 0;
      let decided = 0;
      const outcomes = new Map<unknown, number>();
      // Eight callers, back to back, through the whole outage.
      const callers = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const startedAt = performance.now();
          const outcome = await limiter.get('k').execute(() => 'ran').then(
            (value) => value,
            (error: unknown) => (error instanceof RateLimiterUnavailableError ? 'unavailable' : error),
          );
          slowest = Math.max(slowest, performance.now() - startedAt);
          decided++;
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          // Yield a real turn: a decision by the fallback is synchronous-fast.
          await pause(1);
        }
      });
      await pause(100);
      await server.stop();
      await pause(300);
      const duringOutage = decided;
      await server.restart();
      await until(() => events.includes('recovered'));
      await pause(100);
      stop = true;
      await Promise.all(callers);
      expect(events).toEqual(['unavailable', 'recovered']);
      expect(decided).toBeGreaterThan(duringOutage);
      // Generous real-time bound: redisTimeoutMs plus scheduling noise on a busy machine.
      expect(slowest).toBeLessThan(100 + 250);
      const fallbackOutcome = { local: 'ran', allow: 'ran', reject: 'unavailable' }[mode];
      expect([...outcomes.keys()].sort()).toEqual([...new Set(['ran', fallbackOutcome])].sort());
      expect(limiter.stats.fallbacks).toBeGreaterThan(0);
      // After the restart (an empty server, an empty script cache) Redis holds the bucket again.
      expect(await server.command('EXISTS', `${p}k`)).toBe(1);
      expect(await limiter.available('k')).toBeLessThan(1e6);
    }, 30_000);
  });

  it.each(modes)("real time, no clock given: onUnavailable '%s' decides within redisTimeoutMs of a slowed server", async (mode) => {
    const connection = await connectIoredis(server);
    try {
      const limiter = redisRateLimiter({ client: connection.client, capacity: 5, refillPerSecond: 1, redisTimeoutMs: 100, onUnavailable: mode, prefix: prefix() });
      await limiter.tryAcquire('k');
      const slow = await server.slow(600);
      const startedAt = performance.now();
      const outcome = await limiter.tryAcquire('k');
      const elapsed = performance.now() - startedAt;
      expect(outcome).toBe(mode !== 'reject');
      expect(elapsed).toBeGreaterThanOrEqual(99);
      expect(elapsed).toBeLessThan(100 + 250);
      // Behind the probe (none in flight now: the first call timed out), the next call probes
      // again; the one after it does not wait at all.
      const probe = limiter.tryAcquire('k');
      const behindStartedAt = performance.now();
      await limiter.tryAcquire('k');
      expect(performance.now() - behindStartedAt).toBeLessThan(50);
      await probe;
      await slow.done;
    } finally {
      await connection.close();
    }
  });

  it("a client with an offline queue and no readiness flag cannot hold a call: the timeout decides, the late answer is dropped", async () => {
    // ioredis queues commands while disconnected (enableOfflineQueue, the default). Hide its
    // `status` so the limiter cannot tell it is disconnected, and only the timeout is left.
    const connection = await connectIoredis(server);
    const inner = connection.client;
    const hidden = {
      evalsha: inner.evalsha.bind(inner),
      eval: inner.eval.bind(inner),
    } as unknown as RedisClientLike;
    const client = countingClient(hidden);
    try {
      const clock = new TestClock(0);
      const limiter = redisRateLimiter({ client, capacity: 5, refillPerSecond: 1, clock, redisTimeoutMs: 100, prefix: prefix() });
      expect(await limiter.tryAcquire('k')).toBe(true);
      await server.stop();
      await until(() => inner.status !== 'ready');
      const queued = track(limiter.tryAcquire('k'));
      await pause(50);
      expect(queued.status).toBe('pending');
      await clock.advance(100);
      expect(queued.status).toBe('fulfilled');
      expect(queued.value).toBe(true);
      await server.restart();
      // ioredis reconnects and sends what it queued; that answer is dropped.
      await client.idle();
      expect(await limiter.tryAcquire('k')).toBe(true);
      expect(limiter.stats).toMatchObject({ fallbacks: 1, unavailable: false });
      expect(clock.pending).toBe(0);
    } finally {
      await connection.close();
    }
  }, 30_000);

  it('an error reply (WRONGTYPE on a key another program owns) is decided like an outage', async () => {
    const connection = await connectIoredis(server);
    try {
      const p = prefix();
      await server.command('SET', `${p}taken`, 'value');
      const limiter = redisRateLimiter({ client: connection.client, capacity: 1, refillPerSecond: 1, onUnavailable: 'reject', prefix: p });
      const events: Array<{ reason: string; error: unknown }> = [];
      limiter.on('unavailable', (event) => events.push(event));
      const refused = await limiter.get('taken').execute(() => 'ran').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RateLimiterUnavailableError);
      expect(events).toHaveLength(1);
      expect(events[0]!.reason).toBe('error');
      expect(String((events[0]!.error as Error).message)).toMatch(/WRONGTYPE/);
      // The refusal carries the client's error as its cause.
      expect((refused as RateLimiterUnavailableError).cause).toBe(events[0]!.error);
      // Other keys still work, and the first timely answer ends the outage.
      await expect(limiter.get('free').execute(() => 'ran')).resolves.toBe('ran');
      expect(limiter.stats.unavailable).toBe(false);
    } finally {
      await connection.close();
    }
  });
});

describe('redisRateLimiter behind guard while Redis is unavailable', () => {
  it("onUnavailable 'reject': the guard answers 503 with Retry-After, and the handler never runs", async () => {
    // A client that is disconnected (ioredis status 'end'): no command is sent at all.
    const calls: unknown[] = [];
    const send = (...args: unknown[]) => {
      calls.push(args);
      return Promise.resolve([1, 0, 1]);
    };
    const client = { status: 'end', evalsha: send, eval: send } as unknown as RedisClientLike;
    const limiter = redisRateLimiter({ client, capacity: 2, refillPerSecond: 1, onUnavailable: 'reject', name: 'api' });
    let handled = 0;
    const app = express();
    app.use(guard((req) => limiter.get(req.ip ?? 'unknown')));
    app.get('/', (_req, res) => {
      handled++;
      res.send('ok');
    });
    const running = await listen(app);
    try {
      const answer = await request(running.url);
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('1');
      expect(JSON.parse(answer.body)).toEqual({ error: 'ERR_RATE_LIMITER_UNAVAILABLE', message: 'Service unavailable' });
      expect(handled).toBe(0);
      expect(calls).toEqual([]);
      expect(limiter.stats).toMatchObject({ fallbacks: 1, unavailable: true });
    } finally {
      await running.close();
    }
  });
});
