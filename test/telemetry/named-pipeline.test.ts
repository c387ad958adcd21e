// A named pipeline is reported like any policy: its calls under its own name, once each, next
// to (not instead of, not on top of) the series of the policies inside it.
import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { constantBackoff, pipeline, retry, timeout } from '../../src/index.js';
import { instrument as instrumentOtel } from '../../src/telemetry/otel.js';
import { instrument as instrumentPrometheus } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import { histogramPoint, otelHarness, parseExposition, points, runScenario, sample, samplesOf } from './harness.js';

const P = 'breakwater.policy';
const O = 'breakwater.outcome';

function checkout(clock: TestClock) {
  return pipeline(
    { name: 'checkout', clock },
    retry({ maxRetries: 2, backoff: constantBackoff(10), clock, name: 'r' }),
    timeout(100, { clock, name: 't' }),
  );
}

/** The counts of the shared scenario for the inner policies (as the bridges' own tests expect). */
const INNER = ['r/failure=1', 'r/success=2', 't/failure=1', 't/success=2', 't/timeout=3'];

describe('instrument on a named pipeline', () => {
  it('prometheus: the pipeline counts each whole call once under its name, the inner policies as before', async () => {
    const clock = new TestClock();
    const policy = checkout(clock);
    const registry = new client.Registry();
    const detach = instrumentPrometheus(policy, { client, registry });
    await runScenario(clock, policy);

    const samples = parseExposition(await registry.metrics());
    expect(
      samplesOf(samples, 'breakwater_calls_total')
        .map((s) => `${s.labels['policy']}/${s.labels['outcome']}=${s.value}`)
        .sort(),
    ).toEqual(['checkout/failure=1', 'checkout/success=2', ...INNER]);
    // Whole calls: 20 ms and 80 ms (one retry included), then 320 ms (three attempts, two waits).
    expect(sample(samples, 'breakwater_call_duration_seconds_sum', { policy: 'checkout', outcome: 'success' })).toBeCloseTo(0.1, 10);
    expect(sample(samples, 'breakwater_call_duration_seconds_sum', { policy: 'checkout', outcome: 'failure' })).toBeCloseTo(0.32, 10);
    expect(samplesOf(samples, 'breakwater_retries_total').map((s) => s.labels['policy'])).toEqual(['r']);
    detach();
  });

  it('otel: the same numbers; instrumenting the pipeline and an inner policy twice counts nothing twice', async () => {
    const clock = new TestClock();
    const policy = checkout(clock);
    const { meter, collect } = otelHarness();
    const detachPipeline = instrumentOtel(policy, { meter });
    const detachAgain = instrumentOtel(pipeline({ name: 'outer', clock }, policy), { meter });
    await runScenario(clock, policy);

    const m = await collect();
    const calls = points(m, 'breakwater.calls')
      .map((p) => `${String(p.attributes[P])}/${String(p.attributes[O])}=${String(p.value)}`)
      .sort();
    // `outer` never ran: the scenario called `checkout` directly.
    expect(calls).toEqual(['checkout/failure=1', 'checkout/success=2', ...INNER]);
    const success = histogramPoint(m, 'breakwater.call.duration', { [P]: 'checkout', [O]: 'success' })!;
    expect([success.count, success.min, success.max]).toEqual([2, 0.02, 0.08]);
    detachAgain();
    detachPipeline();
  });

  it('an anonymous pipeline adds no series of its own', async () => {
    const clock = new TestClock();
    const policy = pipeline(
      retry({ maxRetries: 2, backoff: constantBackoff(10), clock, name: 'r' }),
      timeout(100, { clock, name: 't' }),
    );
    const registry = new client.Registry();
    instrumentPrometheus(policy, { client, registry });
    await runScenario(clock, policy);
    const samples = parseExposition(await registry.metrics());
    expect(
      samplesOf(samples, 'breakwater_calls_total')
        .map((s) => `${s.labels['policy']}/${s.labels['outcome']}=${s.value}`)
        .sort(),
    ).toEqual(INNER);
  });
});
