import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { adaptiveConcurrency, aimdLimit } from '../../src/adaptive/index.js';
import { bulkhead } from '../../src/bulkhead/index.js';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import { RateLimitedError, pipeline } from '../../src/index.js';
import { rateLimiter } from '../../src/rate-limit/rate-limiter.js';
import { instrument as instrumentOtel } from '../../src/telemetry/otel.js';
import { instrument as instrumentPrometheus } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, track } from '../helpers.js';
import { hasListeners, otelHarness, parseExposition, pointValue, sample, samplesOf } from './harness.js';

const STATES = ['closed', 'open', 'half-open', 'isolated'];

/** Reads every gauge of both bridges in one go. */
async function gauges(otel: ReturnType<typeof otelHarness>, registry: client.Registry) {
  const m = await otel.collect();
  const s = parseExposition(await registry.metrics());
  const state = (policy: string) => ({
    otel: STATES.filter((st) => pointValue(m, 'breakwater.circuit.state', { 'breakwater.policy': policy, 'breakwater.state': st }) === 1),
    prom: STATES.filter((st) => sample(s, 'breakwater_circuit_state', { policy, state: st }) === 1),
  });
  const value = (otelName: string, promName: string, policy: string) => ({
    otel: pointValue(m, otelName, { 'breakwater.policy': policy }),
    prom: sample(s, promName, { policy }),
  });
  return { m, s, state, value };
}

describe('gauges of the real circuit breaker, bulkhead and rate limiter', () => {
  it('a new breaker reports closed, then follows open, half-open, closed and isolated', async () => {
    const clock = new TestClock();
    const cb = circuitBreaker({ consecutiveFailures: 1, halfOpenAfterMs: 100, clock, name: 'cb' });
    // Delta temporality, so that a detached breaker's gauges vanish from the export (see otel.test.ts).
    const otel = otelHarness({ temporality: 'delta' });
    const registry = new client.Registry();
    const detach = [instrumentOtel(cb, { meter: otel.meter }), instrumentPrometheus(cb, { client, registry })];

    let g = await gauges(otel, registry);
    expect(g.state('cb')).toEqual({ otel: ['closed'], prom: ['closed'] });
    expect(samplesOf(g.s, 'breakwater_circuit_state')).toHaveLength(4);

    await expect(cb.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    g = await gauges(otel, registry);
    expect(g.state('cb')).toEqual({ otel: ['open'], prom: ['open'] });
    expect(sample(g.s, 'breakwater_calls_total', { policy: 'cb', outcome: 'failure' })).toBe(1);

    await expect(cb.execute(() => 1)).rejects.toThrow();
    await clock.advance(100);
    const gate = deferred<string>();
    const probeCall = track(cb.execute(() => gate.promise));
    g = await gauges(otel, registry);
    expect(g.state('cb')).toEqual({ otel: ['half-open'], prom: ['half-open'] });
    gate.resolve('ok');
    await probeCall.promise;
    g = await gauges(otel, registry);
    expect(g.state('cb')).toEqual({ otel: ['closed'], prom: ['closed'] });

    const release = cb.isolate();
    g = await gauges(otel, registry);
    expect(g.state('cb')).toEqual({ otel: ['isolated'], prom: ['isolated'] });
    release();
    g = await gauges(otel, registry);
    expect(g.state('cb')).toEqual({ otel: ['closed'], prom: ['closed'] });
    // One rejection while open (the isolated period saw no calls).
    expect(sample(g.s, 'breakwater_calls_total', { policy: 'cb', outcome: 'rejected' })).toBe(1);

    for (const d of detach) d();
    expect(hasListeners(cb)).toBe(false);
    g = await gauges(otel, registry);
    expect(g.state('cb')).toEqual({ otel: [], prom: [] });
  });

  it('bulkhead active and queued, and rate limiter tokens, as they are at collection time', async () => {
    const clock = new TestClock();
    const bh = bulkhead({ maxConcurrent: 2, maxQueue: 2, clock, name: 'bh' });
    const rl = rateLimiter({ capacity: 5, refillPerSecond: 1, clock, name: 'rl' });
    const policy = pipeline(rl, bh);
    const otel = otelHarness();
    const registry = new client.Registry();
    instrumentOtel(policy, { meter: otel.meter });
    instrumentPrometheus(policy, { client, registry });

    let g = await gauges(otel, registry);
    expect(g.value('breakwater.bulkhead.active', 'breakwater_bulkhead_active', 'bh')).toEqual({ otel: 0, prom: 0 });
    expect(g.value('breakwater.bulkhead.queued', 'breakwater_bulkhead_queued', 'bh')).toEqual({ otel: 0, prom: 0 });
    expect(g.value('breakwater.rate_limiter.available', 'breakwater_rate_limiter_available', 'rl')).toEqual({ otel: 5, prom: 5 });

    const gate = deferred<void>();
    const running = [1, 2, 3, 4].map(() => track(policy.execute(() => gate.promise)));
    const full = track(policy.execute(() => gate.promise)); // 5th token, but the bulkhead is full
    const limited = track(policy.execute(() => 1)); // no token left
    await new Promise((resolve) => setImmediate(resolve));
    g = await gauges(otel, registry);
    expect(g.value('breakwater.bulkhead.active', 'breakwater_bulkhead_active', 'bh')).toEqual({ otel: 2, prom: 2 });
    expect(g.value('breakwater.bulkhead.queued', 'breakwater_bulkhead_queued', 'bh')).toEqual({ otel: 2, prom: 2 });
    expect(g.value('breakwater.rate_limiter.available', 'breakwater_rate_limiter_available', 'rl')).toEqual({ otel: 0, prom: 0 });
    expect(limited.error).toBeInstanceOf(RateLimitedError);
    expect(full.status).toBe('rejected');
    expect(sample(g.s, 'breakwater_calls_total', { policy: 'rl', outcome: 'rejected' })).toBe(1);
    expect(sample(g.s, 'breakwater_calls_total', { policy: 'bh', outcome: 'rejected' })).toBe(1);

    gate.resolve();
    await Promise.all(running.map((r) => r.promise));
    await clock.advance(3000);
    g = await gauges(otel, registry);
    expect(g.value('breakwater.bulkhead.active', 'breakwater_bulkhead_active', 'bh')).toEqual({ otel: 0, prom: 0 });
    expect(g.value('breakwater.bulkhead.queued', 'breakwater_bulkhead_queued', 'bh')).toEqual({ otel: 0, prom: 0 });
    expect(g.value('breakwater.rate_limiter.available', 'breakwater_rate_limiter_available', 'rl')).toEqual({ otel: 3, prom: 3 });
    expect(sample(g.s, 'breakwater_calls_total', { policy: 'bh', outcome: 'success' })).toBe(4);
    expect(pointValue(g.m, 'breakwater.calls', { 'breakwater.policy': 'rl', 'breakwater.outcome': 'success' })).toBe(4);
  });

  it('adaptive concurrency limit, active and queued follow the limit as it moves', async () => {
    const estimator = aimdLimit({ initialLimit: 2, minLimit: 1, maxLimit: 4 });
    const ac = adaptiveConcurrency({ limit: estimator, maxQueue: 5, name: 'ac' });
    const otel = otelHarness();
    const registry = new client.Registry();
    instrumentOtel(ac, { meter: otel.meter });
    instrumentPrometheus(ac, { client, registry });
    const names = (k: string) => [`breakwater.concurrency.${k}`, `breakwater_concurrency_${k}`] as const;

    let g = await gauges(otel, registry);
    expect(g.value(...names('limit'), 'ac')).toEqual({ otel: 2, prom: 2 });
    expect(g.value(...names('active'), 'ac')).toEqual({ otel: 0, prom: 0 });

    const gates = [0, 1, 2, 3].map(() => deferred<void>());
    const calls = gates.map((gate) => track(ac.execute(() => gate.promise)));
    await new Promise((resolve) => setImmediate(resolve));
    g = await gauges(otel, registry);
    expect(g.value(...names('active'), 'ac')).toEqual({ otel: 2, prom: 2 });
    expect(g.value(...names('queued'), 'ac')).toEqual({ otel: 2, prom: 2 });

    gates[1]!.resolve(); // admitted with 2 in flight: 2 × 2 >= 2 → the limit grows to 3, one more runs
    await new Promise((resolve) => setImmediate(resolve));
    g = await gauges(otel, registry);
    expect(g.value(...names('limit'), 'ac')).toEqual({ otel: 3, prom: 3 });
    expect(g.value(...names('active'), 'ac')).toEqual({ otel: 3, prom: 3 });
    expect(g.value(...names('queued'), 'ac')).toEqual({ otel: 0, prom: 0 });
    for (const gate of gates) gate.resolve();
    await Promise.all(calls.map((c) => c.promise));
    expect(sample((await gauges(otel, registry)).s, 'breakwater_calls_total', { policy: 'ac', outcome: 'success' })).toBe(4);
  });
});
