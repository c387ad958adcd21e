// Property tests for the invariants of docs/failure-modes.md that had no property test of their
// own: TB4 (time to grant), TO1–TO4 (timeout) and RT1–RT4 (retry). docs/failure-modes.md maps
// every invariant to the test proving it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  constantBackoff,
  exponentialBackoff,
  rateLimiter,
  retry,
  timeout,
  TimeoutError,
  type Backoff,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { getEventListeners, track, type Tracked } from '../helpers.js';

// ---------------------------------------------------------------------------------------------

describe('TB4: a request for c ≤ capacity tokens is granted within (c − tokens)/rate; c > capacity is refused at once', () => {
  it('TB4 (llama_index#23202, bottleneck OVERWEIGHT): waiting acquire is granted at the first whole millisecond the tokens exist', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.constantFrom(1, 3, 7, 0.3, 2.5, 50, 999, 1000 / 7),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 5000 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.constantFrom(0, 0.25, 1234.5),
        async (capacity, perSecond, takenFraction, idleMs, wantedFraction, start) => {
          const clock = new TestClock(start);
          const limiter = rateLimiter({ capacity, refillPerSecond: perSecond, maxWaitMs: Infinity, clock });
          const taken = takenFraction * capacity;
          if (taken > 0) expect(limiter.tryAcquire(taken)).toBe(true);
          clock.jump(idleMs);
          const tokens = Math.min(capacity, capacity - taken + (perSecond * idleMs) / 1000);
          const wanted = wantedFraction * capacity;
          const waitMs = ((wanted - tokens) * 1000) / perSecond;
          // Skip the cases where float rounding decides which millisecond is "the" one.
          fc.pre(Math.abs(waitMs - Math.round(waitMs)) > 1e-6);
          const requestedAt = clock.now();
          let grantedAt: number | undefined;
          const call = track(limiter.acquire(wanted).then(() => (grantedAt = clock.now())));
          await clock.advance(0);
          if (waitMs <= 0) {
            expect(grantedAt).toBe(requestedAt);
          } else {
            await clock.advance(Math.ceil(waitMs) - 1);
            expect(call.status, 'one millisecond before the tokens exist').toBe('pending');
            await clock.advance(1);
            expect(grantedAt, 'granted as soon as the tokens exist').toBe(requestedAt + Math.ceil(waitMs));
          }
          expect(clock.pending).toBe(0);
          // More than capacity can never be served: refused at once, taking nothing.
          const before = limiter.available;
          expect(limiter.tryAcquire(capacity + 0.5)).toBe(false);
          const over = track(limiter.acquire(capacity + 1));
          await clock.advance(0);
          expect(over.error).toBeInstanceOf(RangeError);
          expect(limiter.available).toBe(before);
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('TO1–TO4: timeout over random schedules', () => {
  interface Plan {
    startMs: number;
    /** When fn settles (relative to its start), or undefined: never. fn ignores its signal. */
    fnMs: number | undefined;
    fnFails: boolean;
    /** When the caller aborts (relative to the call's start), or undefined: never. */
    abortMs: number | undefined;
    readsSignal: boolean;
  }
  const plan: fc.Arbitrary<Plan> = fc.record({
    startMs: fc.integer({ min: 0, max: 100 }),
    fnMs: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
    fnFails: fc.boolean(),
    abortMs: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
    readsSignal: fc.boolean(),
  });

  it('TO1–TO4 (p-timeout#43, cockatiel#72, opossum#780, cockatiel#81): settles by the deadline, aborts only for cause, no late events, nothing left', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 100 }), fc.array(plan, { minLength: 1, maxLength: 12 }), async (ms, plans) => {
        // The deadline falls between whole milliseconds, so it never ties with fn or the caller.
        const limit = ms + 0.5;
        const clock = new TestClock();
        const policy = timeout(limit, { clock });
        const events: Array<{ kind: string; at: number }> = [];
        for (const kind of ['success', 'failure', 'timeout'] as const) policy.on(kind, () => events.push({ kind, at: clock.now() }));
        const calls: Array<{
          plan: Plan;
          controller: AbortController;
          reason: Error;
          value: object;
          error: Error;
          signal?: AbortSignal;
          result?: Tracked<unknown>;
          settledAt?: number;
        }> = [];
        for (const p of plans) {
          const call = { plan: p, controller: new AbortController(), reason: new Error('caller'), value: { ok: true }, error: new Error('fn') } as (typeof calls)[number];
          calls.push(call);
          clock.setTimeout(() => {
            call.result = track(
              policy.execute(
                (ctx) => {
                  if (p.readsSignal) call.signal = ctx.signal;
                  if (p.fnMs === undefined) return new Promise(() => {});
                  return new Promise((resolve, reject) =>
                    clock.setTimeout(() => (p.fnFails ? reject(call.error) : resolve(call.value)), p.fnMs!),
                  );
                },
                { signal: call.controller.signal },
              ),
            );
            call.result.promise.then(
              () => (call.settledAt = clock.now()),
              () => (call.settledAt = clock.now()),
            );
            if (p.abortMs !== undefined) clock.setTimeout(() => call.controller.abort(call.reason), p.abortMs);
          }, p.startMs);
        }
        await clock.advance(400);
        const eventsAfterSettling = events.length;
        await clock.advance(1000);
        let expectedTimeouts = 0;
        for (const call of calls) {
          const p = call.plan;
          // What should win: the earliest of fn, caller abort, deadline (ties: fn's timer is
          // created before the abort's, both before the deadline's half millisecond).
          const fnAt = p.fnMs ?? Infinity;
          const abortAt = p.abortMs ?? Infinity;
          const winner = fnAt <= abortAt && fnAt < limit ? 'fn' : abortAt < limit ? 'abort' : 'timeout';
          const result = call.result!;
          // TO1: settled, no later than the deadline.
          expect(result.settled).toBe(true);
          const tookMs = call.settledAt! - p.startMs;
          expect(tookMs).toBeLessThanOrEqual(limit);
          if (winner === 'fn') {
            expect(tookMs).toBe(fnAt);
            if (p.fnFails) expect(result.error).toBe(call.error);
            else expect(result.value).toBe(call.value);
            // TO2: a call that ended normally never sees its signal aborted, not even later.
            if (call.signal !== undefined) expect(call.signal.aborted).toBe(false);
          } else if (winner === 'abort') {
            expect(tookMs).toBe(abortAt);
            expect(result.error).toBe(call.reason);
            if (call.signal !== undefined) expect(call.signal.reason).toBe(call.reason);
          } else {
            expectedTimeouts++;
            expect(tookMs).toBe(limit);
            expect(result.error).toBeInstanceOf(TimeoutError);
            // TO2: aborted with the very error the caller got.
            if (call.signal !== undefined) expect(call.signal.reason).toBe(result.error);
          }
          // TO4: no listener left on the caller's signal.
          expect(getEventListeners(call.controller.signal, 'abort')).toHaveLength(0);
        }
        // TO3: one event per call, none after the calls settled; exactly one timeout per timed-out call.
        expect(events).toHaveLength(calls.length);
        expect(eventsAfterSettling).toBe(events.length);
        expect(events.filter((e) => e.kind === 'timeout')).toHaveLength(expectedTimeouts);
        // TO4: no timer left (fn's own timers have all fired by now).
        expect(clock.pending).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('RT1–RT4: retry over random schedules', () => {
  const retryAfter = fc.constantFrom<unknown>(undefined, Number.NaN, -1, 0, 5, 250, 1e9, Infinity, 2 ** 53, '100');
  const backoffs: fc.Arbitrary<{ label: string; backoff: Backoff; constantMs?: number }> = fc.oneof(
    fc.integer({ min: 0, max: 50 }).map((ms) => ({ label: `constant ${ms}`, backoff: constantBackoff(ms), constantMs: ms })),
    fc
      .record({
        initialMs: fc.integer({ min: 0, max: 50 }),
        extraMs: fc.integer({ min: 0, max: 1e6 }),
        factor: fc.double({ min: 1, max: 10, noNaN: true }),
        jitter: fc.constantFrom('none' as const, 'full' as const, 'equal' as const, 'decorrelated' as const),
      })
      .map((o) => ({
        label: `exponential ${JSON.stringify(o)}`,
        backoff: exponentialBackoff({ initialMs: o.initialMs, maxMs: o.initialMs + o.extraMs, factor: o.factor, jitter: o.jitter }),
      })),
  );

  it('RT1–RT4 (p-retry#97, p-retry#14, Polly#1866, supabase-js#2634): attempts ≤ max+1, waits finite in [0, max] and ≥ Retry-After, last error itself, abort stops at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 6 }),
        backoffs,
        fc.integer({ min: 0, max: 2000 }),
        fc.array(retryAfter, { minLength: 8, maxLength: 8 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
        fc.integer(),
        async (maxRetries, { backoff, constantMs }, maxDelayMs, retryAfters, succeedAt, abortAtMs, seed) => {
          const clock = new TestClock();
          let state = seed;
          const random = (): number => ((state = (Math.imul(state, 1103515245) + 12345) | 0) >>> 0) / 2 ** 32;
          const policy = retry({ maxRetries, backoff, maxDelayMs, clock, random });
          const controller = new AbortController();
          const reason = new Error('caller left');
          if (abortAtMs !== undefined) clock.setTimeout(() => controller.abort(reason), abortAtMs);
          const attempts: Array<{ at: number; attempt: number; error: object }> = [];
          const value = { ok: true };
          let settledAt = -1;
          const call = track(
            policy.execute(
              (ctx) => {
                const n = attempts.length;
                const error = Object.freeze({ n, retryAfterMs: retryAfters[n % retryAfters.length] });
                attempts.push({ at: clock.now(), attempt: ctx.attempt, error });
                if (succeedAt !== undefined && n + 1 >= succeedAt) return value;
                throw error; // a frozen non-Error object: must come back untouched
              },
              { signal: controller.signal },
            ),
          );
          call.promise.then(
            () => (settledAt = clock.now()),
            () => (settledAt = clock.now()),
          );
          // Timers fire on the virtual clock; zero-delay retries only need event-loop turns.
          for (let turn = 0; turn < 50 && !call.settled; turn++) {
            await clock.advance(0);
            await clock.runAll(1e12);
          }
          await clock.advance(0);
          expect(call.settled).toBe(true);
          // RT1: at most maxRetries + 1 attempts, numbered 1, 2, 3, …
          expect(attempts.length).toBeGreaterThanOrEqual(1);
          expect(attempts.length).toBeLessThanOrEqual(maxRetries + 1);
          attempts.forEach((a, i) => expect(a.attempt).toBe(i + 1));
          // `waited` is a difference of virtual times that are sums of fractional delays: allow
          // for the rounding of that subtraction (1001.0000000000002 for a wait of exactly 1001).
          const EPSILON = 1e-6;
          for (let i = 1; i < attempts.length; i++) {
            const waited = attempts[i]!.at - attempts[i - 1]!.at;
            // RT1: every wait is finite and within [0, maxDelayMs].
            expect(Number.isFinite(waited)).toBe(true);
            expect(waited).toBeGreaterThanOrEqual(0);
            expect(waited).toBeLessThanOrEqual(maxDelayMs + EPSILON);
            // RT4: a valid retryAfterMs is honoured, clamped by maxDelayMs; invalid ones ignored.
            const hint = retryAfters[(i - 1) % retryAfters.length];
            const valid = typeof hint === 'number' && hint > 0 && Number.isFinite(hint) ? hint : 0;
            expect(waited).toBeGreaterThanOrEqual(Math.min(valid, maxDelayMs) - EPSILON);
            if (constantMs !== undefined) {
              expect(Math.abs(waited - Math.min(Math.max(constantMs, valid), maxDelayMs))).toBeLessThanOrEqual(EPSILON);
            }
          }
          const last = attempts[attempts.length - 1]!;
          const succeeded = succeedAt !== undefined && attempts.length >= succeedAt;
          const abortedFirst = abortAtMs !== undefined && call.status === 'rejected' && call.error === reason;
          if (abortedFirst) {
            // RT2: rejected at the very moment of the abort, and no attempt started afterwards.
            expect(settledAt).toBe(abortAtMs);
            expect(last.at).toBeLessThan(abortAtMs!);
            expect(attempts.length).toBeLessThan(maxRetries + 1);
          } else if (succeeded) {
            expect(call.value).toBe(value);
          } else {
            // RT3: exhausted → the last error itself, not a wrapper.
            expect(call.error).toBe(last.error);
            expect(attempts.length).toBe(maxRetries + 1);
            if (abortAtMs !== undefined) expect(abortAtMs).toBeGreaterThanOrEqual(settledAt);
          }
          expect(clock.pending).toBe(0);
          expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
