import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { circuitBreaker, CIRCUIT_TRANSITIONS, type CircuitBreakerOptions, type CircuitState } from '../../src/circuit-breaker/index.js';
import { CircuitOpenError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush } from '../helpers.js';

// Invariants CB1–CB8 over random schedules (virtual time).

type Action =
  | { type: 'call'; outcome: 'ok' | 'fail' | 'hang' }
  | { type: 'settle'; pick: number; outcome: 'ok' | 'fail' | 'abort' }
  | { type: 'advance'; ms: number }
  | { type: 'read' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ type: fc.constant('call' as const), outcome: fc.constantFrom('ok', 'fail', 'fail', 'hang') }) },
  {
    weight: 2,
    arbitrary: fc.record({ type: fc.constant('settle' as const), pick: fc.nat(10), outcome: fc.constantFrom('ok', 'fail', 'abort') }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('advance' as const), ms: fc.oneof(fc.nat(60), fc.constantFrom(50, 100)) }) },
  { weight: 2, arbitrary: fc.constant({ type: 'read' as const }) },
);

const config: fc.Arbitrary<CircuitBreakerOptions> = fc.oneof(
  fc.record({
    halfOpenAfterMs: fc.constantFrom(25, 50, 100),
    consecutiveFailures: fc.integer({ min: 1, max: 3 }),
    halfOpenProbes: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    halfOpenAfterMs: fc.constantFrom(25, 50, 100),
    failureRatio: fc.constantFrom(0.3, 0.5, 1),
    windowCalls: fc.integer({ min: 1, max: 5 }),
    minimumThroughput: fc.constant(1),
    halfOpenProbes: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    halfOpenAfterMs: fc.constantFrom(25, 50, 100),
    failureRatio: fc.constantFrom(0.3, 0.5, 1),
    windowMs: fc.constantFrom(50, 120),
    windowBuckets: fc.integer({ min: 1, max: 6 }),
    minimumThroughput: fc.integer({ min: 0, max: 3 }),
    slowCallMs: fc.constant(20),
    slowCallRatio: fc.constant(1),
  }),
);

interface Trace {
  /** Per call: admitted (fn ran) or the rejection's retryAfterMs. */
  admissions: Array<true | number>;
  transitions: Array<[CircuitState, CircuitState]>;
  settledTwice: number;
  unsettled: number;
  fnCallsWhileOpen: number;
  pendingTimers: number;
}

/** Runs a script; `readState` adds no calls, only reads (to compare traces with and without). */
async function run(options: CircuitBreakerOptions, script: Action[], readState: boolean): Promise<Trace> {
  const clock = new TestClock();
  const breaker = circuitBreaker({ ...options, clock });
  const trace: Trace = { admissions: [], transitions: [], settledTwice: 0, unsettled: 0, fnCallsWhileOpen: 0, pendingTimers: 0 };
  breaker.on('stateChange', (e) => trace.transitions.push([e.from, e.to]));
  const pending: Array<{ settle: (o: 'ok' | 'fail' | 'abort') => void }> = [];
  const settledCount: number[] = [];
  const execute = (outcome: 'ok' | 'fail' | 'hang'): void => {
    const controller = new AbortController();
    // Sampled before the call: the breaker's own view, computed without side effects below.
    let ran = false;
    const promise = breaker.execute(
      () => {
        ran = true;
        if (outcome === 'ok') return 'v';
        if (outcome === 'fail') throw new Error('f');
        return new Promise((resolve, reject) => {
          pending.push({
            settle: (o) => {
              if (o === 'ok') resolve('late');
              else if (o === 'fail') reject(new Error('late'));
              else {
                controller.abort('bye');
                reject(controller.signal.reason);
              }
            },
          });
        });
      },
      { signal: controller.signal },
    );
    const index = settledCount.push(0) - 1;
    const count = (): void => {
      settledCount[index]!++;
    };
    promise.then(count, (error: unknown) => {
      count();
      if (!ran) {
        expect(error).toBeInstanceOf(CircuitOpenError);
        trace.admissions.push((error as CircuitOpenError).retryAfterMs);
      }
    });
    if (ran) trace.admissions.push(true);
  };
  for (const step of script) {
    switch (step.type) {
      case 'call':
        execute(step.outcome);
        break;
      case 'settle':
        if (pending.length > 0) pending.splice(step.pick % pending.length, 1)[0]!.settle(step.outcome);
        break;
      case 'advance':
        if (readState) void breaker.state;
        await clock.advance(step.ms);
        break;
      case 'read':
        if (readState) {
          void breaker.state;
          void breaker.stats;
          void breaker.toJSON();
        }
        break;
    }
    await flush();
    if (readState) void breaker.state;
  }
  for (const p of pending.splice(0)) p.settle('ok');
  await flush();
  trace.settledTwice = settledCount.filter((n) => n > 1).length;
  trace.unsettled = settledCount.filter((n) => n === 0).length;
  trace.pendingTimers = clock.pending;
  return trace;
}

const script = fc.array(action, { minLength: 1, maxLength: 50 });

describe('circuit breaker properties', () => {
  it('CB7: reading state (and stats, toJSON) never changes the admit/reject sequence', async () => {
    await fc.assert(
      fc.asyncProperty(config, script, async (options, actions) => {
        const plain = await run(options, actions, false);
        const read = await run(options, actions, true);
        expect(read.admissions).toEqual(plain.admissions);
        expect(read.transitions).toEqual(plain.transitions);
      }),
      { numRuns: 150 },
    );
  });

  it('CB5/CB8: only legal transitions, chained; every execute settles exactly once; no timers', async () => {
    await fc.assert(
      fc.asyncProperty(config, script, async (options, actions) => {
        const trace = await run(options, actions, false);
        let state: CircuitState = 'closed';
        for (const [from, to] of trace.transitions) {
          expect(from).toBe(state);
          expect(CIRCUIT_TRANSITIONS[from]).toContain(to);
          state = to;
        }
        expect(trace.settledTwice).toBe(0);
        expect(trace.unsettled).toBe(0);
        expect(trace.pendingTimers).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('CB1: zero calls reach fn while open, before halfOpenAfterMs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.nat(2000), { maxLength: 30 }),
        async (threshold, halfOpenAfterMs, gaps) => {
          const clock = new TestClock();
          const breaker = circuitBreaker({ halfOpenAfterMs, consecutiveFailures: threshold, clock });
          let calls = 0;
          const failing = (): never => {
            calls++;
            throw new Error('down');
          };
          for (let i = 0; i < threshold; i++) await breaker.execute(failing).catch(() => {});
          const openedAt = clock.now();
          const before = calls;
          for (const gap of gaps) {
            const wait = Math.min(gap, openedAt + halfOpenAfterMs - 1 - clock.now());
            if (wait > 0) await clock.advance(wait);
            const error = await breaker.execute(failing).catch((e: unknown) => e);
            expect(error).toBeInstanceOf(CircuitOpenError);
            expect((error as CircuitOpenError).retryAfterMs).toBe(openedAt + halfOpenAfterMs - clock.now());
          }
          expect(calls).toBe(before);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('CB2/CB3: with 50 callers at the exact boundary, at most halfOpenProbes run, again after hung probes time out', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 4 }),
        async (probes, halfOpenAfterMs, rounds) => {
          const clock = new TestClock();
          const breaker = circuitBreaker({ halfOpenAfterMs, consecutiveFailures: 1, halfOpenProbes: probes, clock });
          await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
          await clock.advance(halfOpenAfterMs);
          for (let round = 0; round < rounds; round++) {
            let inFlight = 0;
            const results = Array.from({ length: 50 }, () =>
              breaker
                .execute(() => {
                  inFlight++;
                  return new Promise(() => {}); // every probe hangs
                })
                .catch((e: unknown) => e),
            );
            expect(inFlight).toBe(probes);
            await flush();
            const settled = await Promise.race([Promise.all(results.slice(probes)), flush().then(() => 'hung')]);
            expect(settled).not.toBe('hung'); // the others were rejected at once
            await clock.advance(halfOpenAfterMs); // the hung probes time out: a new set may run
            expect(breaker.state).toBe('half-open');
          }
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a time window idle for windowMs or longer is empty', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat(300)), { maxLength: 30 }),
        fc.nat(5000),
        async (windowMs, windowBuckets, calls, extraIdle) => {
          const clock = new TestClock(1234.5);
          const breaker = circuitBreaker({
            halfOpenAfterMs: 10,
            failureRatio: 1,
            windowMs,
            windowBuckets,
            minimumThroughput: 1000,
            clock,
          });
          for (const [fails, gap] of calls) {
            await clock.advance(gap);
            await breaker.execute(() => (fails ? Promise.reject(new Error('x')) : 1)).catch(() => {});
          }
          await clock.advance(windowMs + extraIdle);
          expect(breaker.stats).toMatchObject({ calls: 0, failures: 0, slowCalls: 0, failureRatio: 0 });
          expect(breaker.toJSON().window).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
