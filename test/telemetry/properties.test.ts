import fc from 'fast-check';
import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { bulkhead } from '../../src/bulkhead/index.js';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import {
  BulkheadFullError,
  CircuitOpenError,
  TimeoutError,
  constantBackoff,
  pipeline,
  retry,
  timeout,
  type ExecuteOptions,
  type ExecutionContext,
  type Policy,
} from '../../src/index.js';
import { instrument as instrumentOtel } from '../../src/telemetry/otel.js';
import { instrument as instrumentPrometheus } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import { track, type Tracked } from '../helpers.js';
import { hasListeners, histogramPoint, otelHarness, parseExposition, pointValue, sample } from './harness.js';

type Outcome = 'success' | 'failure' | 'rejected' | 'timeout';
type Tally = Record<Outcome, number>;
const zero = (): Tally => ({ success: 0, failure: 0, rejected: 0, timeout: 0 });

/**
 * A foreign policy (plain `execute`) placed between two layers: it sees exactly what the layer
 * below returned, so the test learns each layer's real outcomes without using its events.
 */
function probe(classify: (settled: { ok: boolean; error?: unknown }) => Outcome, tally: Tally, onEnter?: () => void): Policy {
  return {
    name: 'probe',
    execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, _options?: ExecuteOptions): Promise<T> {
      onEnter?.();
      return Promise.resolve(fn({ signal: new AbortController().signal, attempt: 1 })).then(
        (value) => {
          tally[classify({ ok: true })]++;
          return value;
        },
        (error: unknown) => {
          tally[classify({ ok: false, error })]++;
          throw error;
        },
      );
    },
  };
}

// Delays never equal the 20 ms timeout, so "settled before the deadline" is never a tie.
const attemptPlan = fc.record({ fails: fc.boolean(), delayMs: fc.constantFrom(0, 1, 5, 12, 19, 21, 35) });
const callPlan = fc.record({
  startMs: fc.integer({ min: 0, max: 80 }),
  attempts: fc.array(attemptPlan, { minLength: 3, maxLength: 3 }),
});

describe('telemetry counters match actual outcomes (random schedules, virtual time)', () => {
  it('bulkhead → retry → breaker → timeout, both bridges at once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(callPlan, { minLength: 1, maxLength: 12 }), async (calls) => {
        const clock = new TestClock();
        const bh = bulkhead({ maxConcurrent: 2, maxQueue: 1, clock, name: 'bh' });
        const rt = retry({ maxRetries: 2, backoff: constantBackoff(5), maxDelayMs: 10, clock, name: 'rt' });
        const cb = circuitBreaker({ consecutiveFailures: 2, halfOpenAfterMs: 30, clock, name: 'cb' });
        const to = timeout(20, { clock, name: 'to' });

        const actual = { bh: zero(), rt: zero(), cb: zero(), to: zero() };
        let attempts = 0;
        const policy = pipeline(
          probe((s) => (s.ok ? 'success' : s.error instanceof BulkheadFullError ? 'rejected' : 'failure'), actual.bh),
          bh,
          probe((s) => (s.ok ? 'success' : 'failure'), actual.rt),
          rt,
          probe((s) => (s.ok ? 'success' : s.error instanceof CircuitOpenError ? 'rejected' : 'failure'), actual.cb, () => attempts++),
          cb,
          probe((s) => (s.ok ? 'success' : s.error instanceof TimeoutError ? 'timeout' : 'failure'), actual.to),
          to,
        );

        const otel = otelHarness();
        const registry = new client.Registry();
        const detachOtel = instrumentOtel(policy, { meter: otel.meter });
        const detachProm = instrumentPrometheus(policy, { client, registry });

        const results: Tracked<unknown>[] = [];
        let timedOutSumMs = 0;
        for (const call of calls) {
          clock.setTimeout(() => {
            let attempt = 0;
            results.push(
              track(
                policy.execute(() => {
                  const plan = call.attempts[Math.min(attempt++, call.attempts.length - 1)]!;
                  if (plan.delayMs > 20) timedOutSumMs += 20;
                  return new Promise((resolve, reject) =>
                    clock.setTimeout(() => (plan.fails ? reject(new Error('planned')) : resolve('ok')), plan.delayMs),
                  );
                }),
              ),
            );
          }, call.startMs);
        }
        await clock.advance(2_000);
        expect(results).toHaveLength(calls.length);
        expect(results.every((r) => r.settled)).toBe(true);
        expect(actual.rt.success + actual.rt.failure + actual.bh.rejected).toBe(calls.length);

        const m = await otel.collect();
        const samples = parseExposition(await registry.metrics());
        for (const [name, tally] of Object.entries(actual)) {
          // The probe layers above the breaker see its rejections; everything else is 1:1.
          for (const outcome of ['success', 'failure', 'rejected', 'timeout'] as const) {
            const expected = tally[outcome];
            const otelValue = pointValue(m, 'breakwater.calls', { 'breakwater.policy': name, 'breakwater.outcome': outcome }) ?? 0;
            const promValue = sample(samples, 'breakwater_calls_total', { policy: name, outcome }) ?? 0;
            expect({ name, outcome, otel: otelValue, prom: promValue }).toEqual({ name, outcome, otel: expected, prom: expected });
            if (outcome !== 'rejected') {
              const histogram = histogramPoint(m, 'breakwater.call.duration', { 'breakwater.policy': name, 'breakwater.outcome': outcome });
              expect(histogram?.count ?? 0).toBe(expected);
              expect(sample(samples, 'breakwater_call_duration_seconds_count', { policy: name, outcome }) ?? 0).toBe(expected);
            }
          }
        }
        const retriesExpected = attempts - (actual.rt.success + actual.rt.failure);
        expect(pointValue(m, 'breakwater.retries', { 'breakwater.policy': 'rt' }) ?? 0).toBe(retriesExpected);
        expect(sample(samples, 'breakwater_retries_total', { policy: 'rt' }) ?? 0).toBe(retriesExpected);
        const timedOut = histogramPoint(m, 'breakwater.call.duration', { 'breakwater.policy': 'to', 'breakwater.outcome': 'timeout' });
        expect(timedOut?.sum ?? 0).toBeCloseTo(timedOutSumMs / 1000, 9);

        // Gauges after the storm: nothing in flight, and the breaker's real state.
        expect(pointValue(m, 'breakwater.bulkhead.active', { 'breakwater.policy': 'bh' })).toBe(0);
        expect(sample(samples, 'breakwater_bulkhead_queued', { policy: 'bh' })).toBe(0);
        expect(pointValue(m, 'breakwater.circuit.state', { 'breakwater.policy': 'cb', 'breakwater.state': cb.state })).toBe(1);
        expect(sample(samples, 'breakwater_circuit_state', { policy: 'cb', state: cb.state })).toBe(1);

        detachOtel();
        detachProm();
        for (const p of [bh, rt, cb, to]) expect(hasListeners(p)).toBe(false);
        expect(clock.pending).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});
