import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/core/errors.js';
import { keyedRateLimiter, rateLimiter } from '../../src/rate-limit/index.js';
import { TokenBuckets } from '../../src/rate-limit/token-bucket.js';
import { TestClock } from '../../src/testing/index.js';
import { getEventListeners, track, type Tracked } from '../helpers.js';

// TB1–TB6 (research/peer-failure-modes.md). Rates include ones whose token period is not a
// whole (or even finite binary) number of milliseconds, and clocks start at fractional times.

/** Rates whose token period is no whole (or finite binary) number of ms, down to 1e-3 and up to 1e4. */
const awkwardRate = fc.constantFrom(1, 3, 7, 3.3, 0.7, 7.069, 7.069000000000001, 0.3, 1 / 3, 1000 / 7, 2.5, 50, 999, 1e-3, 1e4);
const rate = fc.oneof(
  { weight: 4, arbitrary: awkwardRate },
  { weight: 1, arbitrary: fc.double({ min: 1e-3, max: 1e4, noNaN: true, noDefaultInfinity: true }) },
);
const capacity = fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constantFrom(1.5, 2.75, 64, 1000));
/** Clock readings at creation, fractional ones included, up to Date.now() magnitudes. */
const start = fc.oneof(
  fc.constantFrom(0, 0.1, 115, 1234.567, 1e9 + 0.3, 1.7e12 + 0.25),
  fc.double({ min: -1e6, max: 1e10, noNaN: true, noDefaultInfinity: true }),
);
/** Time between two requests: whole or fractional milliseconds. */
const gap = (max: number) =>
  fc.oneof(fc.integer({ min: 0, max }), fc.double({ min: 0, max, noNaN: true, noDefaultInfinity: true }));
const EPS = 1e-9;

/**
 * TB1: for every window [a, b] between two grants, tokens granted in it ≤ capacity + rate·(b − a),
 * up to the limiter's documented slack (2^-36 of capacity) and this check's own roundings.
 */
function checkWindows(grants: readonly { at: number; tokens: number }[], cap: number, perSecond: number): void {
  for (let i = 0; i < grants.length; i++) {
    let sum = 0;
    for (let j = i; j < grants.length; j++) {
      sum += grants[j]!.tokens;
      const allowed = cap + (perSecond * (grants[j]!.at - grants[i]!.at)) / 1000;
      expect(sum).toBeLessThanOrEqual(allowed + cap * 2 ** -36 + EPS);
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
        fc.array(fc.record({ dt: gap(700), tokens: fc.constantFrom(1, 1, 1, 2, 0.5, 3) }), {
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
        fc.array(fc.record({ dt: gap(400), tokens: fc.constantFrom(1, 2, 0.5) }), { maxLength: 20 }),
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

  it('a full bucket grants exactly capacity immediate requests, and holds capacity − k after k (plain and keyed)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(1.5, 2.75, 1000)),
        rate,
        start,
        gap(5000),
        fc.boolean(),
        (cap, perSecond, t0, offset, refilled) => {
          const clock = new TestClock(t0);
          const plain = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          const keyed = keyedRateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          clock.jump(offset);
          if (refilled) {
            // Full again the long way: emptied, then a whole refill period (and 1 ms) later.
            while (plain.tryAcquire());
            while (keyed.get('k').tryAcquire());
            clock.jump(Math.ceil((cap * 1000) / perSecond) + 1);
          }
          const whole = Math.floor(cap);
          expect(plain.available).toBe(whole);
          const view = keyed.get('k');
          for (let k = 1; k <= whole; k++) {
            const seen = [plain.tryAcquire(), view.tryAcquire(), plain.available, view.available];
            // (Compared only on a mismatch: expect() per grant would dominate the run time.)
            if (!seen.every((x, i) => x === (i < 2 ? true : whole - k))) expect({ k, seen }).toEqual({ k, seen: [true, true, whole - k, whole - k] });
          }
          expect(plain.tryAcquire()).toBe(false);
          expect(keyed.get('k').tryAcquire()).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('requests of several sizes at one instant leave exactly capacity − their sum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        rate,
        start,
        gap(5000),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 30 }),
        (cap, perSecond, t0, offset, sizes) => {
          const clock = new TestClock(t0);
          const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          clock.jump(offset);
          let left = cap;
          for (const size of sizes) {
            expect(limiter.tryAcquire(size)).toBe(size <= left);
            if (size <= left) left -= size;
            expect(limiter.available).toBe(left);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a drained bucket holds exactly the tokens decimal arithmetic promises (capacity 3, rate 0.3, 10 s: 3)', () => {
    fc.assert(
      fc.property(
        // rate = digits / 10^decimals, and a whole number of tokens earned in a whole number of ms.
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 60 }),
        // Quarter milliseconds up to 2^38 ms, so `t0 + waitMs` is exact and the wait is exactly waitMs.
        fc.integer({ min: 0, max: 2 ** 40 }).map((quarters) => quarters / 4),
        (digits, decimals, tokens, t0) => {
          const scale = 10 ** decimals;
          const numerator = tokens * 1000 * scale;
          fc.pre(numerator % digits === 0);
          const waitMs = numerator / digits;
          const perSecond = digits / scale;
          const clock = new TestClock(t0);
          const limiter = rateLimiter({ capacity: tokens, refillPerSecond: perSecond, clock });
          expect(limiter.tryAcquire(tokens)).toBe(true);
          clock.jump(waitMs - 1);
          expect(limiter.available).toBeLessThan(tokens);
          clock.jump(1);
          expect(limiter.available).toBe(tokens);
          expect(limiter.tryAcquire(tokens)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decides as exact rational arithmetic does, except within rounding distance of a threshold', () => {
    // The oracle: the same bucket over exact fractions (every double is one), with the true
    // rate/1000 rather than its rounded double. A request that fits exactly must be granted;
    // one that misses by more than 1e-9 refused; in between (the limiter's tolerance) either
    // answer is right, and the oracle follows the limiter's so both go on from the same state.
    fc.assert(
      fc.property(
        capacity,
        rate,
        start,
        fc.array(fc.record({ dt: gap(3000), tokens: fc.constantFrom(1, 1, 2, 0.5, 3) }), { minLength: 1, maxLength: 60 }),
        (cap, perSecond, t0, steps) => {
          const clock = new TestClock(t0);
          const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          const exact = new ExactBucket(cap, perSecond);
          for (const step of steps) {
            clock.jump(step.dt);
            const granted = limiter.tryAcquire(step.tokens);
            const margin = exact.margin(clock.now(), step.tokens);
            // What exact arithmetic grants is granted, the exact threshold included.
            if (margin >= 0) expect(granted).toBe(true);
            if (margin < -1e-9) expect(granted).toBe(false);
            if (granted) exact.take(clock.now(), step.tokens);
            // `available` is the exact tokens, floored (a rounding can only matter at a whole number).
            const tokens = exact.tokensAt(clock.now());
            if (Math.abs(tokens - Math.round(tokens)) > 1e-9) expect(limiter.available).toBe(Math.max(0, Math.floor(tokens)));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keyed: the bound on when a bucket is full again never lies, and is tight', () => {
    fc.assert(
      fc.property(
        capacity,
        rate,
        start,
        fc.array(fc.record({ dt: gap(2000), tokens: fc.constantFrom(1, 2, 0.5, 0.001) }), { minLength: 1, maxLength: 20 }),
        (cap, perSecond, t0, steps) => {
          const clock = new TestClock(t0);
          const buckets = new TokenBuckets({ capacity: cap, refillPerSecond: perSecond, maxWaitMs: 0, clock }, 1, true);
          buckets.reset(0, buckets.sync());
          for (const step of steps) {
            clock.jump(step.dt);
            if (!buckets.tryTake(0, Math.min(step.tokens, cap), buckets.sync())) continue;
            const bound = buckets.fullBound(0);
            expect(buckets.earliestFull).toBeLessThanOrEqual(bound);
            // The first time at which the bucket reads full (isFull is monotone): bisect for it.
            let notYet = clock.now();
            let full = Math.max(bound, notYet) + 1;
            while (!buckets.isFull(0, full)) full = notYet + 2 * (full - notYet);
            for (let i = 0; i < 200 && full - notYet > 0; i++) {
              const mid = notYet + (full - notYet) / 2;
              if (mid === notYet || mid === full) break;
              if (buckets.isFull(0, mid)) full = mid;
              else notYet = mid;
            }
            expect(full).toBeGreaterThanOrEqual(bound);
            // Tight: a microsecond at most, for any clock below 2^40 ms, so a scan it lets through finds the bucket full.
            expect(full - bound).toBeLessThan(Math.max(1e-3, Math.abs(bound) * 2 ** -36));
          }
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
          // Steps short enough that the bucket never caps between them (nothing is lost to the
          // cap): whole milliseconds where that suffices, fractions of one at high rates.
          const halfRefillMs = ((cap - 1) * 1000) / perSecond / 2;
          const stepMs = halfRefillMs >= 1 ? Math.floor(halfRefillMs) : halfRefillMs;
          const steps = Math.min(3000, Math.ceil(3_600_000 / stepMs));
          const clock = new TestClock(t0);
          const limiter = rateLimiter({ capacity: cap, refillPerSecond: perSecond, clock });
          let admitted = 0;
          let lastAt: number = t0;
          for (let i = 0; i < steps; i++) {
            lastAt = clock.now();
            while (limiter.tryAcquire()) admitted++;
            clock.jump(stepMs);
          }
          const T = lastAt - t0;
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
        start,
        fc.array(
          fc.record({ dt: gap(500), key: fc.constantFrom('a', 'b', 'c', 'd', 'e'), tokens: fc.constantFrom(1, 2) }),
          { maxLength: 60 },
        ),
        (cap, perSecond, maxKeys, t0, steps) => {
          const clock = new TestClock(t0);
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
            expect(big.get(step.key).available).toBe(models.get(step.key)!.available);
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

/** A fraction n/d of bigints, d > 0. */
interface Fraction {
  readonly n: bigint;
  readonly d: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function fraction(n: bigint, d: bigint): Fraction {
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

/** A finite double as the exact fraction it is. */
function exactly(x: number): Fraction {
  let scaled = x;
  let d = 1n;
  while (!Number.isInteger(scaled)) {
    scaled *= 2; // exact: only the exponent changes
    d *= 2n;
  }
  return fraction(BigInt(scaled), d);
}

const add = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d + b.n * a.d, a.d * b.d);
const sub = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d - b.n * a.d, a.d * b.d);
const mul = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.n, a.d * b.d);
const less = (a: Fraction, b: Fraction): boolean => a.n * b.d < b.n * a.d;
const toNumber = (a: Fraction): number => Number(a.n) / Number(a.d);

/** The token bucket over exact fractions: the reference the double arithmetic must agree with. */
class ExactBucket {
  private readonly capacity: Fraction;
  private readonly perMs: Fraction;
  private level: Fraction;
  private at: Fraction | undefined = undefined;

  constructor(capacity: number, refillPerSecond: number) {
    this.capacity = exactly(capacity);
    this.perMs = mul(exactly(refillPerSecond), fraction(1n, 1000n));
    this.level = this.capacity;
  }

  private tokens(t: number): Fraction {
    if (this.at === undefined) return this.capacity;
    const elapsed = sub(exactly(t), this.at);
    const tokens = elapsed.n > 0n ? add(this.level, mul(elapsed, this.perMs)) : this.level;
    return less(tokens, this.capacity) ? tokens : this.capacity;
  }

  tokensAt(t: number): number {
    return toNumber(this.tokens(t));
  }

  /** Exact tokens at `t` minus `wanted`: ≥ 0 means the request fits. */
  margin(t: number, wanted: number): number {
    return toNumber(sub(this.tokens(t), exactly(wanted)));
  }

  take(t: number, taken: number): void {
    this.level = sub(this.tokens(t), exactly(taken));
    this.at = exactly(t);
  }
}
