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

/** `actual`, with a refusal's retryAfterMs replaced by the expected one when they are ≤ 1 ms apart. */
function withinOneMs(actual: unknown, expected: unknown): unknown {
  const a = actual as { granted?: boolean; retryAfterMs?: number };
  const e = expected as { granted?: boolean; retryAfterMs?: number } | undefined;
  if (a.granted === false && e?.granted === false && Math.abs(a.retryAfterMs! - e.retryAfterMs!) <= 1) return e;
  return actual;
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
              const before = await server.command('GET', `${prefix}k`);
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
                expect(await server.command('GET', `${prefix}k`), 'a refusal writes nothing').toBe(before);
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

    it('same waits (FIFO, across calls) and the same refusals when maxWaitMs > 0', async () => {
      let waited = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 2, max: 6 }),
          fc.constantFrom(1, 3, 7, 0.3, 1 / 3, 2.5, 50, 999),
          start,
          fc.constantFrom(10, 50, 400, 2000),
          fc.array(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 300 })), { minLength: 8, maxLength: 25 }),
          async (cap, perSecond, t0, maxWaitMs, gaps) => {
            const clock = new TestClock(t0);
            const client = countingClient(connection.client);
            const settings = { capacity: cap, refillPerSecond: perSecond, maxWaitMs, clock };
            const local = rateLimiter(settings);
            const remote = redisRateLimiter({ ...settings, client, prefix: `waits:${kind}:${run++}:`, redisTimeoutMs: NEVER_MS }).get('k');
            const record = (into: unknown[], index: number, promise: Promise<unknown>): Promise<void> =>
              outcomeOf(promise).then((outcome) => {
                into[index] = 'granted' in outcome && outcome.granted ? { grantedAt: clock.now() } : outcome;
              });
            const expected: unknown[] = [];
            const actual: unknown[] = [];
            const settled: Promise<void>[] = [];
            const requestedAt: number[] = [];
            for (const [index, gap] of gaps.entries()) {
              await clock.advance(gap);
              requestedAt.push(clock.now());
              settled.push(record(expected, index, local.execute(() => clock.now())));
              settled.push(record(actual, index, remote.execute(() => clock.now())));
              // Redis has decided (and the wait is armed) before virtual time moves on.
              await client.idle();
            }
            await clock.advance(maxWaitMs + 1);
            await client.idle();
            await Promise.all(settled);
            // Grants and their times are identical. A refusal behind waiters may differ by 1 ms
            // for now: the local limiter estimates it as (reserved + 1) tokens against the
            // unreserved bucket, Redis (which holds no waiter list) from the bucket with the
            // reservations in it. Equal in exact arithmetic; where the exact answer is a whole
            // millisecond, float round-off in `has` tips one of them to the next one.
            expect(actual.map((o, i) => withinOneMs(o, expected[i]))).toEqual(expected);
            waited += expected.filter((o, i) => ((o as { grantedAt?: number }).grantedAt ?? -Infinity) > requestedAt[i]!).length;
            expect(clock.pending).toBe(0);
          },
        ),
        { numRuns: 100 },
      );
      expect(waited).toBeGreaterThan(100);
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
        const stored = await server.command('GET', `${prefix}foo`);
        expect(stored === null ? 0 : Number(stored) - clock.now()).toBe(resetAfterMs);
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
