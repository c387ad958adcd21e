import * as client from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { constantBackoff, pipeline, retry, timeout } from '../../src/index.js';
import { DURATION_BUCKETS_S } from '../../src/telemetry/collect.js';
import { instrument, METRIC_NAMES } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import {
  FakeBreaker,
  FakeBulkhead,
  FakeLimiter,
  hasListeners,
  runScenario,
  parseExposition,
  sample,
  samplesOf,
  type Sample,
} from './harness.js';

async function scrape(registry: client.Registry): Promise<Sample[]> {
  return parseExposition(await registry.metrics());
}

describe('breakwater/prometheus instrument', () => {
  afterEach(() => {
    for (const name of Object.values(METRIC_NAMES)) client.register.removeSingleMetric(name);
  });

  it('exposes calls by outcome, a seconds histogram and retries, per inner policy of a pipeline', async () => {
    const clock = new TestClock();
    const policy = pipeline(
      retry({ maxRetries: 2, backoff: constantBackoff(10), clock, name: 'r' }),
      timeout(100, { clock, name: 't' }),
    );
    const registry = new client.Registry();
    instrument(policy, { client, registry });
    await runScenario(clock, policy);

    const text = await registry.metrics();
    expect(text).toContain('# TYPE breakwater_calls_total counter');
    expect(text).toContain('# TYPE breakwater_call_duration_seconds histogram');
    expect(text).toContain('# TYPE breakwater_retries_total counter');
    expect(text).toContain('breakwater_calls_total{policy="t",outcome="timeout"} 3');
    expect(text).toContain('breakwater_retries_total{policy="r"} 3');

    const samples = parseExposition(text);
    expect(
      samplesOf(samples, 'breakwater_calls_total')
        .map((s) => `${s.labels['policy']}/${s.labels['outcome']}=${s.value}`)
        .sort(),
    ).toEqual(['r/failure=1', 'r/success=2', 't/failure=1', 't/success=2', 't/timeout=3']);

    // 0.02 s and 0.04 s for the timeout policy's successes: cumulative buckets.
    const buckets = samplesOf(samples, 'breakwater_call_duration_seconds_bucket').filter(
      (s) => s.labels['policy'] === 't' && s.labels['outcome'] === 'success',
    );
    expect(buckets.map((s) => s.labels['le'])).toEqual([...DURATION_BUCKETS_S.map(String), '+Inf']);
    expect(buckets.map((s) => s.value)).toEqual([0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    const tSuccess = { policy: 't', outcome: 'success' };
    expect(sample(samples, 'breakwater_call_duration_seconds_count', tSuccess)).toBe(2);
    expect(sample(samples, 'breakwater_call_duration_seconds_sum', tSuccess)).toBeCloseTo(0.06, 10);
    expect(sample(samples, 'breakwater_call_duration_seconds_sum', { policy: 't', outcome: 'timeout' })).toBeCloseTo(0.3, 10);
    expect(sample(samples, 'breakwater_call_duration_seconds_sum', { policy: 'r', outcome: 'failure' })).toBeCloseTo(0.32, 10);
    expect(sample(samples, 'breakwater_call_duration_seconds_count', { policy: 'r', outcome: 'success' })).toBe(2);
    expect(samples.some((s) => s.labels['policy'] === 'pipeline')).toBe(false);
  });

  it('reads gauges at scrape time from the moment of instrumenting, and drops them on detach', async () => {
    const registry = new client.Registry();
    const breaker = new FakeBreaker('cb');
    const bulkhead = new FakeBulkhead('bh');
    const limiter = new FakeLimiter('rl');
    const detachBreaker = instrument(breaker, { client, registry });
    const detachRest = instrument(pipeline(bulkhead, limiter), { client, registry });

    let samples = await scrape(registry);
    expect(samplesOf(samples, 'breakwater_circuit_state')).toEqual([
      { name: 'breakwater_circuit_state', labels: { policy: 'cb', state: 'closed' }, value: 1 },
      { name: 'breakwater_circuit_state', labels: { policy: 'cb', state: 'open' }, value: 0 },
      { name: 'breakwater_circuit_state', labels: { policy: 'cb', state: 'half-open' }, value: 0 },
      { name: 'breakwater_circuit_state', labels: { policy: 'cb', state: 'isolated' }, value: 0 },
    ]);
    expect(sample(samples, 'breakwater_bulkhead_active', { policy: 'bh' })).toBe(0);
    expect(sample(samples, 'breakwater_bulkhead_queued', { policy: 'bh' })).toBe(0);
    expect(sample(samples, 'breakwater_rate_limiter_available', { policy: 'rl' })).toBe(10);

    breaker.transition('half-open');
    bulkhead.active = 3;
    bulkhead.queued = 7;
    limiter.available = 0.25;
    samples = await scrape(registry);
    expect(sample(samples, 'breakwater_circuit_state', { policy: 'cb', state: 'half-open' })).toBe(1);
    expect(sample(samples, 'breakwater_circuit_state', { policy: 'cb', state: 'closed' })).toBe(0);
    expect(sample(samples, 'breakwater_bulkhead_active', { policy: 'bh' })).toBe(3);
    expect(sample(samples, 'breakwater_bulkhead_queued', { policy: 'bh' })).toBe(7);
    expect(sample(samples, 'breakwater_rate_limiter_available', { policy: 'rl' })).toBe(0.25);

    detachBreaker();
    samples = await scrape(registry);
    expect(samplesOf(samples, 'breakwater_circuit_state')).toEqual([]);
    expect(sample(samples, 'breakwater_bulkhead_active', { policy: 'bh' })).toBe(3);
    detachRest();
    samples = await scrape(registry);
    expect(samples).toEqual([]);
    expect(breaker.listenerCount + bulkhead.listenerCount + limiter.listenerCount).toBe(0);
  });

  it('counts rejections with no duration sample', async () => {
    const registry = new client.Registry();
    const bulkhead = new FakeBulkhead('bh');
    instrument(bulkhead, { client, registry });
    bulkhead.emit('rejected', { reason: 'bulkhead-full', error: new Error('full') });
    const samples = await scrape(registry);
    expect(sample(samples, 'breakwater_calls_total', { policy: 'bh', outcome: 'rejected' })).toBe(1);
    expect(samplesOf(samples, 'breakwater_call_duration_seconds_count')).toEqual([]);
  });

  it('detach removes listeners and the policy series; a shared name keeps its series', async () => {
    const registry = new client.Registry();
    const a = timeout(100, { name: 'same' });
    const b = timeout(100, { name: 'same' });
    const detachA = instrument(a, { client, registry });
    const detachB = instrument(b, { client, registry });
    await a.execute(() => 1);
    await b.execute(() => 1);
    expect(sample(await scrape(registry), 'breakwater_calls_total', { policy: 'same', outcome: 'success' })).toBe(2);
    detachA();
    expect(hasListeners(a)).toBe(false);
    await a.execute(() => 1);
    await b.execute(() => 1);
    expect(sample(await scrape(registry), 'breakwater_calls_total', { policy: 'same', outcome: 'success' })).toBe(3);
    detachB();
    detachB();
    expect(hasListeners(b)).toBe(false);
    await b.execute(() => 1);
    expect(await scrape(registry)).toEqual([]);
  });

  it('shares one set of metrics per registry and counts a policy in two pipelines once', async () => {
    const registry = new client.Registry();
    const shared = timeout(100, { name: 'shared' });
    const detach1 = instrument(pipeline(shared, timeout(5, { name: 'x' })), { client, registry });
    const detach2 = instrument(pipeline(retry({ maxRetries: 0 }), shared), { client, registry });
    expect(registry.getMetricsAsArray().map((m) => m.name).sort()).toEqual(Object.values(METRIC_NAMES).sort());
    await shared.execute(() => 1);
    detach1();
    await shared.execute(() => 1);
    expect(sample(await scrape(registry), 'breakwater_calls_total', { policy: 'shared', outcome: 'success' })).toBe(2);
    detach2();
    expect(hasListeners(shared)).toBe(false);
  });

  it('uses client.register by default', async () => {
    const t = timeout(100, { name: 'default-registry' });
    const detach = instrument(t, { client });
    await t.execute(() => 1);
    expect(await client.register.metrics()).toContain('breakwater_calls_total{policy="default-registry",outcome="success"} 1');
    detach();
  });

  it('attaching and detaching 10,000 times leaks no listener, metric or series', async () => {
    const registry = new client.Registry();
    const t = timeout(10, { name: 't' });
    const breaker = new FakeBreaker('cb');
    const policy = pipeline(t, breaker);
    for (let i = 0; i < 10_000; i++) {
      const detach = instrument(policy, { client, registry });
      if (i % 1000 === 0) await t.execute(() => i); // leaves a series that detach must remove
      detach();
    }
    expect(hasListeners(t)).toBe(false);
    expect(breaker.listenerCount).toBe(0);
    expect(registry.getMetricsAsArray()).toHaveLength(Object.keys(METRIC_NAMES).length);
    expect(await scrape(registry)).toEqual([]);
  });

  it('shares a registry with a second copy of the bridge (ESM and CJS builds loaded together)', async () => {
    const registry = new client.Registry();
    vi.resetModules();
    const copy = await import('../../src/telemetry/prometheus.js');
    expect(copy.instrument).not.toBe(instrument);
    const a = timeout(100, { name: 'a' });
    const b = new FakeBulkhead('b');
    b.active = 2;
    const detachA = instrument(a, { client, registry });
    const detachB = copy.instrument(pipeline(a, b), { client, registry });
    await a.execute(() => 1);
    const samples = await scrape(registry);
    // `a` is counted once although both copies attached it; the copy's gauge is read too.
    expect(sample(samples, 'breakwater_calls_total', { policy: 'a', outcome: 'success' })).toBe(1);
    expect(sample(samples, 'breakwater_bulkhead_active', { policy: 'b' })).toBe(2);
    detachA();
    detachB();
    expect(hasListeners(a)).toBe(false);
    expect(await scrape(registry)).toEqual([]);
  });

  it('refuses a registry whose breakwater metric names are taken by someone else', () => {
    const registry = new client.Registry();
    new client.Gauge({ name: 'breakwater_circuit_state', help: 'not ours', registers: [registry] });
    expect(() => instrument(timeout(1), { client, registry })).toThrow(/breakwater_circuit_state/);
    const registry2 = new client.Registry();
    new client.Counter({ name: 'breakwater_calls_total', help: 'not ours', registers: [registry2] });
    expect(() => instrument(timeout(1), { client, registry: registry2 })).toThrow(/breakwater_calls_total/);
  });

  it('validates its arguments', () => {
    const registry = new client.Registry();
    expect(() => instrument(timeout(1), undefined as never)).toThrow(TypeError);
    expect(() => instrument(timeout(1), { client: {} as never })).toThrow(/option "client"/);
    expect(() => instrument(timeout(1), { client, registry: {} as never })).toThrow(/option "registry"/);
    expect(() => instrument({} as never, { client, registry })).toThrow(/instrument\(policy\)/);
    expect(() => instrument(timeout(1), { client, registry, trace: 1 as never })).toThrow(/option "trace"/);
  });
});
