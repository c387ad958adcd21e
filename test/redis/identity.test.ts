// The Redis limiter is the local token bucket, decided on the server: for the same schedule on
// the same TestClock, every answer (granted or not, retryAfterMs, tokens left, wait length)
// must be the same, on both clients, against a real redis-server.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/core/errors.js';
import { rateLimiter } from '../../src/rate-limit/index.js';
import { redisRateLimiter } from '../../src/redis/index.js';
import { TestClock } from '../../src/testing/index.js';
import { clientKinds, countingClient, type TestClient } from './clients.js';
import { describeRedis, RedisServer } from './server.js';

// The same awkward values as the local limiter's properties: token periods that are not whole
// (or finite binary) milliseconds, clocks starting at fractional times.
const rate = fc.constantFrom(1, 3, 7, 0.3, 1 / 3, 1000 / 7, 2.5, 50, 999);
const capacity = fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constantFrom(1.5, 2.75));
const start = fc.constantFrom(0, 0.1, 115, 1234.567, 1e9 + 0.3);
/** Virtual time stands still while Redis answers: no decision may fall back. */
const NEVER_MS = 1e9;

type Outcome = { granted: true } | { granted: false; retryAfterMs: number } | { threw: unknown };

function outcomeOf(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    () => ({ granted: true }) as const,
    (error: unknown) =>
      error instanceof RateLimitedError ? ({ granted: false, retryAfterMs: error.retryAfterMs } as const) : { threw: error },
  );
}


describeRedis('redisRateLimiter decides exactly like rateLimiter', () => {
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
    beforeAll(async () => {
      connection = await connect(server);
    });
    afterAll(async () => {
      await connection?.close();
    });

    it('same grants, refusals, retryAfterMs and available over random schedules; a refusal writes nothing', async () => {
      const seen = { granted: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(
          capacity,
          rate,
          start,
          fc.array(
            fc.record({
              dt: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 700 })),
              op: fc.constantFrom('tryAcquire', 'tryAcquire', 'execute', 'available'),
              tokens: fc.constantFrom(1, 1, 1, 2, 0.5, 3),
            }),
            { minLength: 10, maxLength: 40 },
          ),
          async (cap, perSecond, t0, steps) => {
            const clock = new TestClock(t0);
            const prefix = `identity:${kind}:${run++}:`;
            const local = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
            const shared = redisRateLimiter({
              client: connection.client,
              capacity: cap,
              refillPerSecond: perSecond,
              clock,
              prefix,
              redisTimeoutMs: NEVER_MS,
            });
            const remote = shared.get('k');
            for (const step of steps) {
              clock.jump(step.dt);
              const before = await server.bucket(`${prefix}k`);
              let refused = false;
              if (step.op === 'tryAcquire') {
                const expected = local.tryAcquire(step.tokens);
                expect(await shared.tryAcquire('k', step.tokens)).toBe(expected);
                refused = !expected;
              } else if (step.op === 'execute') {
                const expected = await outcomeOf(local.execute(() => 'ran'));
                expect(await outcomeOf(remote.execute(() => 'ran'))).toEqual(expected);
                refused = 'granted' in expected && !expected.granted;
                expect(remote.available).toBe(local.available);
              } else {
                expect(await shared.available('k')).toBe(local.available);
              }
              if (refused) {
                seen.refused++;
                expect(await server.bucket(`${prefix}k`), 'a refusal writes nothing').toEqual(before);
              } else if (step.op !== 'available') seen.granted++;
            }
            expect(shared.stats.fallbacks).toBe(0);
          },
        ),
        { numRuns: 100 },
      );
      // The schedules exercised both answers, many times.
      expect(seen.granted).toBeGreaterThan(300);
      expect(seen.refused).toBeGreaterThan(300);
    });

    it('same waits (FIFO, across calls), the same refusals behind waiters, the same tryAcquire and available while they wait', async () => {
      const seen = { waited: 0, queuedBehind: 0, refusedBehind: 0, tryWhileWaiting: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(2.75)),
          // 2500/s earns more than a token per millisecond: a request can be due at once behind waiters.
          fc.constantFrom(1, 3, 7, 0.3, 1 / 3, 2.5, 50, 999, 2500),
          start,
          fc.constantFrom(10, 50, 400, 2000),
          fc.array(
            fc.record({
              gap: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 300 })),
              op: fc.constantFrom('execute', 'execute', 'execute', 'tryAcquire', 'available'),
              tokens: fc.constantFrom(1, 1, 0.5, 2),
            }),
            { minLength: 8, maxLength: 30 },
          ),
          async (cap, perSecond, t0, maxWaitMs, steps) => {
            const clock = new TestClock(t0);
            const client = countingClient(connection.client);
            const settings = { capacity: cap, refillPerSecond: perSecond, maxWaitMs, clock };
            const local = rateLimiter(settings);
            const shared = redisRateLimiter({ ...settings, client, prefix: `waits:${kind}:${run++}:`, redisTimeoutMs: NEVER_MS });
            const remote = shared.get('k');
            const refusals: number[] = [];
            local.on('rejected', (event) => refusals.push((event.error as RateLimitedError).retryAfterMs));
            const remoteRefusals: number[] = [];
            shared.on('rejected', (event) => remoteRefusals.push((event.error as RateLimitedError).retryAfterMs));
            let localWaiting = 0;
            const record = (into: unknown[], index: number, promise: Promise<unknown>): Promise<void> =>
              outcomeOf(promise).then((outcome) => {
                into[index] = 'granted' in outcome && outcome.granted ? { grantedAt: clock.now() } : outcome;
              });
            const expected: unknown[] = [];
            const actual: unknown[] = [];
            const settled: Promise<void>[] = [];
            for (const [index, step] of steps.entries()) {
              await clock.advance(step.gap);
              // Callers the local limiter holds in its queue right now.
              const behind = localWaiting;
              if (step.op === 'execute') {
                const refusedBefore = refusals.length;
                localWaiting++;
                const done = local.execute(() => clock.now()).finally(() => localWaiting--);
                settled.push(record(expected, index, done));
                settled.push(record(actual, index, remote.execute(() => clock.now())));
                // Redis has decided (and the wait is armed) before virtual time moves on.
                await client.idle();
                await clock.advance(0);
                const refused = refusals.length > refusedBefore;
                if (!refused && localWaiting > 0) seen.waited++;
                if (behind > 0) {
                  if (refused) seen.refusedBehind++;
                  else seen.queuedBehind++;
                }
              } else if (step.op === 'tryAcquire') {
                const granted = local.tryAcquire(step.tokens);
                expect(await shared.tryAcquire('k', step.tokens)).toBe(granted);
                expected[index] = actual[index] = granted;
                if (behind > 0) seen.tryWhileWaiting++;
              } else {
                expected[index] = actual[index] = local.available;
                expect(await shared.available('k')).toBe(local.available);
              }
            }
            await clock.advance(maxWaitMs + 1);
            await client.idle();
            await Promise.all(settled);
            // Grants, the times they run at, refusals and their retryAfterMs: all identical.
            expect(actual).toEqual(expected);
            expect(remoteRefusals).toEqual(refusals);
            expect(shared.stats.fallbacks).toBe(0);
            expect(clock.pending).toBe(0);
          },
        ),
        { numRuns: 150 },
      );
      // Each case happened many times: callers that waited, that queued behind other waiters,
      // that were refused behind them (the retryAfterMs counts the queue), tryAcquire while they wait.
      expect(seen.waited).toBeGreaterThan(80);
      expect(seen.queuedBehind).toBeGreaterThan(15);
      expect(seen.refusedBehind).toBeGreaterThan(40);
      expect(seen.tryWhileWaiting).toBeGreaterThan(20);
    });
  });

  it('agrees with redis-cell\'s GCRA oracle (burst 4 = capacity 5, 1 per second)', async () => {
    // redis-cell src/cell/mod.rs, test `it_rate_limits`: (offset ms, quantity, remaining,
    // reset_after ms, retry_after ms or -1, limited). Quantity 0 only looks.
    const cases: Array<[number, number, number, number, number, boolean]> = [
      [0, 6, 5, 0, -1, true],
      [0, 1, 4, 1000, -1, false],
      [0, 1, 3, 2000, -1, false],
      [0, 1, 2, 3000, -1, false],
      [0, 1, 1, 4000, -1, false],
      [0, 1, 0, 5000, -1, false],
      [0, 1, 0, 5000, 1000, true],
      [3000, 1, 2, 3000, -1, false],
      [3100, 1, 1, 3900, -1, false],
      [4000, 1, 1, 4000, -1, false],
      [8000, 1, 4, 1000, -1, false],
      [9500, 1, 4, 1000, -1, false],
      [9500, 0, 4, 1000, -1, false],
      [9500, 2, 2, 3000, -1, false],
      [9500, 5, 2, 3000, 3000, true],
    ];
    const { connectIoredis } = await import('./clients.js');
    const connection = await connectIoredis(server);
    try {
      const t0 = 1_700_000_000_000;
      const clock = new TestClock(t0);
      const prefix = `cell:${run++}:`;
      const shared = redisRateLimiter({ client: connection.client, capacity: 5, refillPerSecond: 1, clock, prefix });
      const retries: number[] = [];
      shared.on('rejected', (event) => retries.push((event.error as RateLimitedError).retryAfterMs));
      for (const [offset, quantity, remaining, resetAfterMs, retryAfterMs, limited] of cases) {
        clock.jump(t0 + offset - clock.now());
        const refusalsBefore = retries.length;
        if (quantity > 0) expect(await shared.tryAcquire('foo', quantity)).toBe(!limited);
        expect(await shared.available('foo')).toBe(remaining);
        // reset_after: the time until the bucket is full again (no key: full now).
        const stored = await server.bucket(`${prefix}foo`);
        const [level, at] = [stored['l'] ?? null, stored['a'] ?? null];
        const resetAfter = level === null ? 0 : Number(at) + (5 - Number(level)) * 1000 - clock.now();
        expect(Math.abs(resetAfter - resetAfterMs)).toBeLessThan(1e-6);
        // A request larger than the bucket can never succeed: redis-cell says -1, we refuse at once.
        if (retryAfterMs > 0) expect(retries.slice(refusalsBefore)).toEqual([retryAfterMs]);
        else expect(retries.length).toBe(refusalsBefore);
      }
    } finally {
      await connection.close();
    }
  });

  it('agrees on the round-off case: capacity 2, rate 7, the clock at 115 ms', async () => {
    const { connectIoredis } = await import('./clients.js');
    const connection = await connectIoredis(server);
    try {
      const clock = new TestClock(115);
      const local = rateLimiter({ capacity: 2, refillPerSecond: 7, clock });
      const shared = redisRateLimiter({ client: connection.client, capacity: 2, refillPerSecond: 7, clock, prefix: `roundoff:${run++}:` });
      const answers = [];
      for (let i = 0; i < 3; i++) {
        const expected = local.tryAcquire();
        expect(await shared.tryAcquire('k')).toBe(expected);
        answers.push(expected);
      }
      expect(answers[0]).toBe(true);
    } finally {
      await connection.close();
    }
  });
});
