import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { hedge, pipeline, timeout } from '../../src/index.js';
import { instrument as instrumentOtel } from '../../src/telemetry/otel.js';
import { instrument as instrumentPrometheus } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';
import { otelHarness, parseExposition, pointValue, sample } from './harness.js';

describe('hedged attempts in the metrics', () => {
  it('count apart from calls, in both bridges', async () => {
    const clock = new TestClock();
    const hedged = hedge({ maxAttempts: 3, delayMs: 10, clock, name: 'search' });
    const policy = pipeline(timeout(1000, { clock }), hedged);
    const otel = otelHarness();
    const registry = new client.Registry();
    const detach = [instrumentOtel(policy, { meter: otel.meter }), instrumentPrometheus(policy, { client, registry })];
    // Two calls: one answered by its first attempt, one that needed all three.
    const fast = track(policy.execute(() => new Promise((resolve) => clock.setTimeout(() => resolve('fast'), 5))));
    await clock.advance(5);
    const slow = track(
      policy.execute((ctx) => new Promise((resolve) => clock.setTimeout(() => resolve(`attempt ${ctx.attempt}`), ctx.attempt === 3 ? 1 : 100))),
    );
    await clock.advance(25);
    expect([fast.value, slow.value]).toEqual(['fast', 'attempt 3']);
    await clock.advance(100);

    const m = await otel.collect();
    expect(pointValue(m, 'breakwater.hedges', { 'breakwater.policy': 'search' })).toBe(2);
    expect(pointValue(m, 'breakwater.calls', { 'breakwater.policy': 'search', 'breakwater.outcome': 'success' })).toBe(2);
    const s = parseExposition(await registry.metrics());
    expect(sample(s, 'breakwater_hedges_total', { policy: 'search' })).toBe(2);
    expect(sample(s, 'breakwater_calls_total', { policy: 'search', outcome: 'success' })).toBe(2);
    for (const off of detach) off();
  });
});
