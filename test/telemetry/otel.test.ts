import { DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it, vi } from 'vitest';
import { constantBackoff, fallback, pipeline, retry, timeout, type Policy } from '../../src/index.js';
import { DURATION_BUCKETS_S } from '../../src/telemetry/collect.js';
import { instrument, type MeterLike } from '../../src/telemetry/otel.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';
import {
  FakeBreaker,
  FakeBulkhead,
  FakeLimiter,
  FakePolicy,
  hasListeners,
  runScenario,
  histogramPoint,
  otelHarness,
  pointValue,
  points,
} from './harness.js';

const P = 'breakwater.policy';
const O = 'breakwater.outcome';
const S = 'breakwater.state';

describe('breakwater/otel instrument', () => {
  it('counts calls by outcome, durations in seconds and retries, per inner policy of a pipeline', async () => {
    const clock = new TestClock();
    const r = retry({ maxRetries: 2, backoff: constantBackoff(10), clock, name: 'r' });
    const t = timeout(100, { clock, name: 't' });
    const policy = pipeline(r, t);
    const { meter, collect } = otelHarness();
    instrument(policy, { meter });
    await runScenario(clock, policy);

    const m = await collect();
    expect(points(m, 'breakwater.calls').sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual(
      [
        { attributes: { [P]: 'r', [O]: 'failure' }, value: 1 },
        { attributes: { [P]: 'r', [O]: 'success' }, value: 2 },
        { attributes: { [P]: 't', [O]: 'failure' }, value: 1 },
        { attributes: { [P]: 't', [O]: 'success' }, value: 2 },
        { attributes: { [P]: 't', [O]: 'timeout' }, value: 3 },
      ],
    );
    expect(points(m, 'breakwater.retries')).toEqual([{ attributes: { [P]: 'r' }, value: 3 }]);

    const calls = m.get('breakwater.calls')!;
    expect(calls.dataPointType).toBe(DataPointType.SUM);
    expect(calls.descriptor.unit).toBe('{call}');
    expect(m.get('breakwater.retries')!.descriptor.unit).toBe('{retry}');

    const duration = m.get('breakwater.call.duration')!;
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(duration.descriptor.unit).toBe('s');
    const tSuccess = histogramPoint(m, 'breakwater.call.duration', { [P]: 't', [O]: 'success' })!;
    expect(tSuccess.count).toBe(2);
    expect(tSuccess.sum).toBeCloseTo(0.06, 10);
    expect(tSuccess.buckets.boundaries).toEqual(DURATION_BUCKETS_S);
    // 0.02 s falls in (0.01, 0.025], 0.04 s in (0.025, 0.05].
    const expectedCounts = new Array(DURATION_BUCKETS_S.length + 1).fill(0);
    expectedCounts[2] = 1;
    expectedCounts[3] = 1;
    expect(tSuccess.buckets.counts).toEqual(expectedCounts);
    const tTimeout = histogramPoint(m, 'breakwater.call.duration', { [P]: 't', [O]: 'timeout' })!;
    expect([tTimeout.count, tTimeout.min, tTimeout.max]).toEqual([3, 0.1, 0.1]);
    const rFailure = histogramPoint(m, 'breakwater.call.duration', { [P]: 'r', [O]: 'failure' })!;
    expect(rFailure.count).toBe(1);
    expect(rFailure.sum).toBeCloseTo(0.32, 10);
    const rSuccess = histogramPoint(m, 'breakwater.call.duration', { [P]: 'r', [O]: 'success' })!;
    expect([rSuccess.count, rSuccess.min, rSuccess.max]).toEqual([2, 0.02, 0.08]);
    // The pipeline itself emits nothing: no series carries its name.
    for (const name of ['breakwater.calls', 'breakwater.call.duration']) {
      expect(points(m, name).some((p) => p.attributes[P] === 'pipeline')).toBe(false);
    }
  });

  it('detaching removes every listener and stops counting; detaching twice is harmless', async () => {
    const clock = new TestClock();
    const r = retry({ maxRetries: 1, backoff: constantBackoff(1), clock, name: 'r' });
    const t = timeout(50, { clock, name: 't' });
    const policy = pipeline(r, t);
    const { meter, collect } = otelHarness();
    const detach = instrument(policy, { meter });
    expect(hasListeners(r) && hasListeners(t)).toBe(true);
    await policy.execute(() => 1);
    detach();
    detach();
    expect(hasListeners(r)).toBe(false);
    expect(hasListeners(t)).toBe(false);
    expect(hasListeners(policy)).toBe(false);
    await policy.execute(() => 2);
    const failed = track(policy.execute(() => Promise.reject(new Error('x'))));
    await clock.advance(1);
    expect(failed.error).toEqual(new Error('x'));
    const m = await collect();
    expect(pointValue(m, 'breakwater.calls', { [P]: 't', [O]: 'success' })).toBe(1);
    expect(pointValue(m, 'breakwater.calls', { [P]: 't', [O]: 'failure' })).toBeUndefined();
    expect(pointValue(m, 'breakwater.retries', { [P]: 'r' })).toBeUndefined();
  });

  it('reports gauges from the moment of instrumenting, follows them, and stops after detach', async () => {
    // Delta temporality: the JS SDK keeps exporting the last value of an attribute set that a
    // callback stopped observing under cumulative temporality (see the next test).
    const { meter, collect } = otelHarness({ temporality: 'delta' });
    const breaker = new FakeBreaker('cb');
    const bulkhead = new FakeBulkhead('bh');
    const limiter = new FakeLimiter('rl');
    const detachBreaker = instrument(breaker, { meter });
    const detachRest = instrument(pipeline(bulkhead as unknown as Policy, limiter as unknown as Policy), { meter });

    let m = await collect();
    expect(points(m, 'breakwater.circuit.state')).toEqual([
      { attributes: { [P]: 'cb', [S]: 'closed' }, value: 1 },
      { attributes: { [P]: 'cb', [S]: 'open' }, value: 0 },
      { attributes: { [P]: 'cb', [S]: 'half-open' }, value: 0 },
      { attributes: { [P]: 'cb', [S]: 'isolated' }, value: 0 },
    ]);
    expect(points(m, 'breakwater.bulkhead.active')).toEqual([{ attributes: { [P]: 'bh' }, value: 0 }]);
    expect(points(m, 'breakwater.bulkhead.queued')).toEqual([{ attributes: { [P]: 'bh' }, value: 0 }]);
    expect(points(m, 'breakwater.rate_limiter.available')).toEqual([{ attributes: { [P]: 'rl' }, value: 10 }]);
    expect(m.get('breakwater.circuit.state')!.dataPointType).toBe(DataPointType.GAUGE);
    expect(m.get('breakwater.circuit.state')!.descriptor.unit).toBe('1');
    expect(m.get('breakwater.bulkhead.active')!.descriptor.unit).toBe('{call}');
    expect(m.get('breakwater.rate_limiter.available')!.descriptor.unit).toBe('{token}');

    breaker.transition('open');
    bulkhead.active = 4;
    bulkhead.queued = 2;
    limiter.available = 3.5;
    m = await collect();
    expect(pointValue(m, 'breakwater.circuit.state', { [P]: 'cb', [S]: 'open' })).toBe(1);
    expect(pointValue(m, 'breakwater.circuit.state', { [P]: 'cb', [S]: 'closed' })).toBe(0);
    expect(pointValue(m, 'breakwater.bulkhead.active', { [P]: 'bh' })).toBe(4);
    expect(pointValue(m, 'breakwater.bulkhead.queued', { [P]: 'bh' })).toBe(2);
    expect(pointValue(m, 'breakwater.rate_limiter.available', { [P]: 'rl' })).toBe(3.5);

    detachBreaker();
    m = await collect();
    expect(points(m, 'breakwater.circuit.state')).toEqual([]);
    expect(pointValue(m, 'breakwater.bulkhead.active', { [P]: 'bh' })).toBe(4);
    detachRest();
    m = await collect();
    expect(points(m, 'breakwater.bulkhead.active')).toEqual([]);
    expect(points(m, 'breakwater.rate_limiter.available')).toEqual([]);
    expect(breaker.listenerCount + bulkhead.listenerCount + limiter.listenerCount).toBe(0);
  });

  it('stops observing a detached policy (cumulative temporality: the SDK freezes its last value)', async () => {
    const { meter, collect } = otelHarness();
    const breaker = new FakeBreaker('cb');
    const detach = instrument(breaker, { meter });
    expect(pointValue(await collect(), 'breakwater.circuit.state', { [P]: 'cb', [S]: 'closed' })).toBe(1);
    detach();
    breaker.transition('open');
    const m = await collect();
    expect(pointValue(m, 'breakwater.circuit.state', { [P]: 'cb', [S]: 'open' })).toBe(0);
    expect(pointValue(m, 'breakwater.circuit.state', { [P]: 'cb', [S]: 'closed' })).toBe(1);
  });

  it('counts rejections from any policy emitting `rejected`, with no duration', async () => {
    const { meter, collect } = otelHarness();
    const bulkhead = new FakeBulkhead('bh');
    instrument(bulkhead, { meter });
    bulkhead.emit('rejected', { reason: 'bulkhead-full', error: new Error('full') });
    bulkhead.emit('rejected', { reason: 'bulkhead-full', error: new Error('full') });
    bulkhead.emit('success', { durationMs: 1500 });
    const m = await collect();
    expect(pointValue(m, 'breakwater.calls', { [P]: 'bh', [O]: 'rejected' })).toBe(2);
    expect(histogramPoint(m, 'breakwater.call.duration', { [P]: 'bh', [O]: 'rejected' })).toBeUndefined();
    const success = histogramPoint(m, 'breakwater.call.duration', { [P]: 'bh', [O]: 'success' })!;
    expect([success.count, success.sum]).toEqual([1, 1.5]);
  });

  it('shares instruments between instrument calls on one meter and counts a shared policy once', async () => {
    const { meter, collect } = otelHarness();
    const created: string[] = [];
    const counting = new Proxy(meter, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof key === 'string' && key.startsWith('create') && typeof value === 'function') {
          return (name: string, ...rest: unknown[]) => {
            created.push(name);
            return (value as (...args: unknown[]) => unknown).call(target, name, ...rest);
          };
        }
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    }) as MeterLike;
    const shared = timeout(100, { name: 'shared' });
    const a = timeout(100, { name: 'a' });
    const detach1 = instrument(pipeline(shared, a), { meter: counting });
    const detach2 = instrument(pipeline(fallback(0), shared), { meter: counting });
    expect(created.sort()).toEqual(
      [
        'breakwater.bulkhead.active',
        'breakwater.bulkhead.queued',
        'breakwater.call.duration',
        'breakwater.calls',
        'breakwater.circuit.state',
        'breakwater.concurrency.active',
        'breakwater.concurrency.limit',
        'breakwater.concurrency.queued',
        'breakwater.rate_limiter.available',
        'breakwater.retries',
        'breakwater.hedges',
      ].sort(),
    );
    await shared.execute(() => 1);
    detach1();
    await shared.execute(() => 2); // still attached through the second pipeline
    detach2();
    await shared.execute(() => 3);
    expect(created).toHaveLength(11);
    const m = await collect();
    expect(pointValue(m, 'breakwater.calls', { [P]: 'shared', [O]: 'success' })).toBe(2);
    expect(hasListeners(shared)).toBe(false);
  });

  it('attaching and detaching 10,000 times leaks no listener, instrument or gauge', async () => {
    const { meter, collect } = otelHarness();
    const createSpy = vi.spyOn(meter, 'createCounter');
    const clock = new TestClock();
    const t = timeout(10, { clock, name: 't' });
    const breaker = new FakeBreaker('cb');
    const policy = pipeline(t, breaker as unknown as Policy);
    for (let i = 0; i < 10_000; i++) instrument(policy, { meter })();
    expect(hasListeners(t)).toBe(false);
    expect(breaker.listenerCount).toBe(0);
    expect(createSpy).toHaveBeenCalledTimes(3); // calls + retries + hedges, once
    await t.execute(() => 1);
    const m = await collect();
    expect(points(m, 'breakwater.calls')).toEqual([]);
    expect(points(m, 'breakwater.circuit.state')).toEqual([]);
  });

  it('never lets an odd getter break an export', async () => {
    const { meter, collect } = otelHarness();
    const weird = new FakeBreaker('weird');
    Object.defineProperty(weird, 'state', {
      get() {
        throw new Error('getter');
      },
    });
    const limiter = new FakeLimiter('nan');
    limiter.available = Number.NaN;
    const custom = new FakeBreaker('custom');
    custom.state = 'forced-open';
    instrument(pipeline(weird as unknown as Policy, limiter as unknown as Policy, custom as unknown as Policy), { meter });
    const m = await collect();
    expect(points(m, 'breakwater.circuit.state').filter((p) => p.attributes[P] === 'weird')).toEqual([]);
    expect(points(m, 'breakwater.rate_limiter.available')).toEqual([]);
    // A state outside the four known ones is still reported as the current one.
    expect(pointValue(m, 'breakwater.circuit.state', { [P]: 'custom', [S]: 'forced-open' })).toBe(1);
    expect(pointValue(m, 'breakwater.circuit.state', { [P]: 'custom', [S]: 'closed' })).toBe(0);
  });

  it('sums gauges of policies sharing a name', async () => {
    const { meter, collect } = otelHarness();
    const a = new FakeBulkhead('pool');
    const b = new FakeBulkhead('pool');
    a.active = 2;
    b.active = 3;
    instrument(pipeline(a as unknown as Policy, b as unknown as Policy), { meter });
    const m = await collect();
    expect(points(m, 'breakwater.bulkhead.active')).toEqual([{ attributes: { [P]: 'pool' }, value: 5 }]);
  });

  it('validates its arguments', () => {
    const { meter } = otelHarness();
    expect(() => instrument(timeout(1), undefined as never)).toThrow(TypeError);
    expect(() => instrument(timeout(1), { meter: {} as never })).toThrow(/option "meter"/);
    expect(() => instrument({} as never, { meter })).toThrow(/instrument\(policy\)/);
    expect(() => instrument(null as never, { meter })).toThrow(TypeError);
    expect(() => instrument(timeout(1), { meter, trace: {} as never })).toThrow(/option "trace"/);
    // A policy without events inside a pipeline is skipped, not an error.
    const foreign = { name: 'foreign', execute: <T>(fn: () => T) => Promise.resolve(fn()) };
    expect(() => instrument(pipeline(foreign as unknown as Policy, timeout(1)), { meter })()).not.toThrow();
  });

  it('subscribes only: a policy that refuses an event still gets the others', async () => {
    const { meter, collect } = otelHarness();
    const picky = new FakePolicy('custom', 'picky');
    const on = picky.on.bind(picky);
    picky.on = (event, listener) => {
      if (event !== 'success') throw new Error(`unknown event ${event}`);
      return on(event, listener);
    };
    const detach = instrument(picky, { meter });
    picky.emit('success', { durationMs: 5 });
    const m = await collect();
    expect(pointValue(m, 'breakwater.calls', { [P]: 'picky', [O]: 'success' })).toBe(1);
    detach();
    expect(picky.listenerCount).toBe(0);
  });
});

