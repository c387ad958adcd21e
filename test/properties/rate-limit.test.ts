import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/core/errors.js';
import { keyedRateLimiter, rateLimiter } from '../../src/rate-limit/index.js';
import { TestClock } from '../../src/testing/index.js';
import { getEventListeners, track, type Tracked } from '../helpers.js';

// TB1–TB6 (research/peer-failure-modes.md). Rates include ones whose token period is not a
// whole (or even finite binary) number of milliseconds, and clocks start at fractional times.

const rate = fc.constantFrom(1, 3, 7, 0.3, 1 / 3, 1000 / 7, 2.5, 50, 999);
const capacity = fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constantFrom(1.5, 2.75));
const start = fc.constantFrom(0, 0.1, 1234.567, 1e9 + 0.3);
const EPS = 1e-9;

/** TB1: for every window [a, b] between two grants, tokens granted in it ≤ capacity + rate·(b − a). */
function checkWindows(grants: readonly { at: number; tokens: number }[], cap: number, perSecond: number): void {
  for (let i = 0; i < grants.length; i++) {
    let sum = 0;
    for (let j = i; j < grants.length; j++) {
      sum += grants[j]!.tokens;
      const allowed = cap + (perSecond * (grants[j]!.at - grants[i]!.at)) / 1000;
      expect(sum).toBeLessThanOrEqual(allowed + EPS);
    }
  }
}

describe('rate limiter properties', () => {
  it('TB1/TB3: grants never exceed capacity + rate·t in any window; refusals take nothing', () => {
    fc.assert(
      fc.property(
        capacity,
        rate,
        start,
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 700 }), tokens: fc.constantFrom(1, 1, 1, 2, 0.5, 3) }), {
          minLength: 1,
          maxLength: 60,
        }),
        (cap, perSecond, t0, steps) => {
          const clock = new TestClock(t0);
          const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          const grants: { at: number; tokens: number }[] = [];
          for (const step of steps) {
            clock.jump(step.dt);
            const before = limiter.available;
            if (limiter.tryAcquire(step.tokens)) grants.push({ at: clock.now(), tokens: step.tokens });
            // TB3: a refused request leaves the bucket as it was.
            else expect(limiter.available).toBe(before);
            expect(limiter.available).toBeGreaterThanOrEqual(0);
            expect(limiter.available).toBeLessThanOrEqual(cap);
          }
          checkWindows(grants, cap, perSecond);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('TB5: retryAfterMs is exact — acquiring then succeeds, one millisecond earlier fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        capacity,
        rate,
        start,
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), tokens: fc.constantFrom(1, 2, 0.5) }), { maxLength: 20 }),
        fc.constantFrom(1, 2, 0.7),
        async (cap, perSecond, t0, history, wanted) => {
          fc.pre(wanted <= cap);
          // Replays the same history on a fresh clock, so "then" and "1 ms earlier" are both first tries.
          const replay = () => {
            const clock = new TestClock(t0);
            const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
            for (const step of history) {
              clock.jump(step.dt);
              limiter.tryAcquire(step.tokens);
            }
            return { clock, limiter };
          };
          const first = replay();
          const outcome = await first.limiter.acquire(wanted).then(
            () => undefined,
            (error: unknown) => error,
          );
          if (outcome === undefined) return;
          expect(outcome).toBeInstanceOf(RateLimitedError);
          const retryAfterMs = (outcome as RateLimitedError).retryAfterMs;
          expect(Number.isInteger(retryAfterMs)).toBe(true);
          expect(retryAfterMs).toBeGreaterThanOrEqual(1);
          const early = replay();
          early.clock.jump(retryAfterMs - 1);
          expect(early.limiter.tryAcquire(wanted)).toBe(false);
          const onTime = replay();
          onTime.clock.jump(retryAfterMs);
          expect(onTime.limiter.tryAcquire(wanted)).toBe(true);
          // The same holds when the retry is made through the refused limiter itself.
          first.clock.jump(retryAfterMs);
          expect(first.limiter.tryAcquire(wanted)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('TB4: waiters are served FIFO within maxWaitMs; aborted waiters take nothing; nothing is left behind', async () => {
    type Step = { dt: number; tokens: number; abortAfter: number | undefined };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        rate,
        fc.integer({ min: 0, max: 5000 }),
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 300 }),
            tokens: fc.constantFrom(1, 1, 2),
            abortAfter: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 25 },
        ),
        async (cap, perSecond, maxWaitMs, steps: Step[]) => {
          const clock = new TestClock(0.25);
          const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, maxWaitMs, clock });
          const grants: { at: number; tokens: number; id: number }[] = [];
          const requests: {
            id: number;
            arrivedAt: number;
            controller: AbortController;
            reason: Error;
            result: Tracked<void>;
            abortAt: number | undefined;
          }[] = [];
          const aborts: { at: number; id: number }[] = [];
          const pendingAborts = (): void => {
            for (const a of aborts.splice(0)) {
              const r = requests[a.id]!;
              if (!r.result.settled) r.controller.abort(r.reason);
            }
          };
          for (const step of steps) {
            await clock.advance(step.dt);
            pendingAborts();
            const id = requests.length;
            const controller = new AbortController();
            const arrivedAt = clock.now();
            const tokens = Math.min(step.tokens, cap);
            const promise = limiter.acquire(tokens, { signal: controller.signal }).then(() => {
              grants.push({ at: clock.now(), tokens, id });
            });
            requests.push({ id, arrivedAt, controller, reason: new Error(`abort ${id}`), result: track(promise), abortAt: step.abortAfter });
            if (step.abortAfter !== undefined) {
              // Abort it later, in the middle of some other step (or right away for 0).
              if (step.abortAfter === 0) controller.abort(requests[id]!.reason);
              else aborts.push({ at: arrivedAt + step.abortAfter, id });
            }
            await clock.advance(0);
            // Aborts due by now fire (in arrival order) before the next step.
            const due = aborts.filter((a) => a.at <= clock.now());
            for (const a of due) aborts.splice(aborts.indexOf(a), 1);
            for (const a of due) {
              const r = requests[a.id]!;
              if (!r.result.settled) r.controller.abort(r.reason);
            }
          }
          pendingAborts();
          await clock.runAll();
          await clock.advance(0);
          // Every request settled exactly one way.
          for (const r of requests) {
            expect(r.result.settled).toBe(true);
            if (r.result.status === 'rejected') {
              const e = r.result.error;
              expect(e === r.reason || e instanceof RateLimitedError).toBe(true);
              expect(grants.some((g) => g.id === r.id)).toBe(false);
            } else {
              // Granted within maxWaitMs of arrival.
              const g = grants.find((x) => x.id === r.id)!;
              expect(g.at - r.arrivedAt).toBeLessThanOrEqual(maxWaitMs);
            }
          }
          // FIFO: grants come in arrival order.
          for (let i = 1; i < grants.length; i++) expect(grants[i]!.id).toBeGreaterThan(grants[i - 1]!.id);
          checkWindows(grants, cap, perSecond);
          // Nothing left behind.
          expect(clock.pending).toBe(0);
          for (const r of requests) expect(getEventListeners(r.controller.signal, 'abort')).toHaveLength(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('TB2: clock jumps of ±1 h keep tokens in [0, capacity], create none, and never lock out', () => {
    const HOUR = 3_600_000;
    fc.assert(
      fc.property(
        capacity,
        rate,
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('jump' as const), ms: fc.constantFrom(-HOUR, HOUR, -1, -HOUR / 2) }),
            fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 2000 }) }),
            fc.record({ kind: fc.constant('take' as const), tokens: fc.constantFrom(1, 2, 0.5) }),
          ),
          { maxLength: 40 },
        ),
        (cap, perSecond, ops) => {
          const clock = new TestClock(5 * HOUR);
          const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          for (const op of ops) {
            const before = limiter.available;
            if (op.kind === 'jump') clock.jump(op.ms);
            else if (op.kind === 'wait') clock.jump(op.ms);
            else limiter.tryAcquire(op.tokens);
            const after = limiter.available;
            expect(after).toBeGreaterThanOrEqual(0);
            expect(after).toBeLessThanOrEqual(cap);
            if (op.kind === 'jump' && op.ms < 0) expect(after).toBe(before);
          }
          // No lock-out: after a backward jump, one refill period of real time fills the bucket.
          clock.jump(-HOUR);
          void limiter.available;
          clock.jump(Math.ceil((cap * 1000) / perSecond) + 1);
          expect(limiter.available).toBe(Math.floor(cap));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('TB6: a long greedy run admits capacity + rate·T within ±1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 20 }),
        rate,
        fc.constantFrom(0, 0.5, 123.456),
        (cap, perSecond, t0) => {
          // Steps short enough that the bucket never caps between them (nothing is lost to the cap).
          const stepMs = Math.max(1, Math.floor(((cap - 1) * 1000) / perSecond / 2));
          const steps = Math.min(3000, Math.ceil(3_600_000 / stepMs));
          const clock = new TestClock(t0);
          const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          let admitted = 0;
          for (let i = 0; i < steps; i++) {
            while (limiter.tryAcquire()) admitted++;
            clock.jump(stepMs);
          }
          const T = (steps - 1) * stepMs;
          expect(Math.abs(admitted - (cap + (perSecond * T) / 1000))).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keyed: each key behaves like its own rate limiter while no key is forced out; size ≤ maxKeys', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        rate,
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({ dt: fc.integer({ min: 0, max: 500 }), key: fc.constantFrom('a', 'b', 'c', 'd', 'e'), tokens: fc.constantFrom(1, 2) }),
          { maxLength: 60 },
        ),
        (cap, perSecond, maxKeys, steps) => {
          const clock = new TestClock(0.5);
          const keyed = keyedRateLimiter({ capacity: cap, refillPerSecond: perSecond, maxKeys, clock });
          const big = keyedRateLimiter({ capacity: cap, refillPerSecond: perSecond, maxKeys: 100, clock });
          const models = new Map(['a', 'b', 'c', 'd', 'e'].map((k) => [k, rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock })]));
          // Keys whose history in the small table diverged from their model (see below).
          const diverged = new Set<string>();
          for (const step of steps) {
            clock.jump(step.dt);
            const expected = models.get(step.key)!.tryAcquire(step.tokens);
            // With room for every key nothing is ever forgiven: identical to separate limiters.
            expect(big.get(step.key).tryAcquire(step.tokens)).toBe(expected);
            // A small table can only forgive (evicting a non-full LRU bucket refills it): until
            // a key is granted something its model refused, it is never refused more. After
            // that it may have spent more than its model (seed 250904602: cap 2, a forgiven
            // key takes 2 that the model refused, then is refused 1 the model grants).
            const granted = keyed.get(step.key).tryAcquire(step.tokens);
            if (expected && !diverged.has(step.key)) expect(granted).toBe(true);
            if (granted && !expected) diverged.add(step.key);
            expect(keyed.size).toBeLessThanOrEqual(maxKeys);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keyed: the counterexample that showed forgiveness can lead to a later refusal', () => {
    const clock = new TestClock(0.5);
    const keyed = keyedRateLimiter({ capacity: 2, refillPerSecond: 1, maxKeys: 1, clock });
    expect(keyed.get('b').tryAcquire(1)).toBe(true);
    expect(keyed.get('a').tryAcquire(1)).toBe(true); // evicts b (1 token left): b is forgiven
    expect(keyed.get('b').tryAcquire(2)).toBe(true); // a separate limiter for b would refuse this
    expect(keyed.get('b').tryAcquire(1)).toBe(false); // …and so b has spent its tokens
  });
});
