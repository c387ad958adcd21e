// Shared test fixtures for the telemetry bridges: a real OpenTelemetry MeterProvider read on
// demand, a parser for the Prometheus text exposition, and small structural policy objects.

import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { expect } from 'vitest';
import { TimeoutError, type Policy } from '../../src/index.js';
import type { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

/** A reader that exports only when the test asks (`collect`). */
class OnDemandReader extends MetricReader {
  constructor(temporality: AggregationTemporality) {
    super({ aggregationTemporalitySelector: () => temporality });
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface OtelHarness {
  readonly provider: MeterProvider;
  readonly meter: ReturnType<MeterProvider['getMeter']>;
  /** Exported metrics by instrument name. */
  collect(): Promise<Map<string, MetricData>>;
}

export function otelHarness(options: { temporality?: 'cumulative' | 'delta' } = {}): OtelHarness {
  const reader = new OnDemandReader(
    options.temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
  );
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('breakwater-test');
  return {
    provider,
    meter,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const byName = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          expect(byName.has(metric.descriptor.name), `${metric.descriptor.name} exported once`).toBe(false);
          byName.set(metric.descriptor.name, metric);
        }
      }
      return byName;
    },
  };
}

function sameAttributes(a: Attributes, b: Attributes): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The value of the point with exactly these attributes (undefined when absent). */
export function pointValue(metrics: Map<string, MetricData>, name: string, attributes: Attributes): number | undefined {
  const metric = metrics.get(name);
  if (metric === undefined) return undefined;
  const point = (metric.dataPoints as DataPoint<unknown>[]).find((p) => sameAttributes(p.attributes, attributes));
  return point === undefined ? undefined : (point.value as number);
}

export function histogramPoint(
  metrics: Map<string, MetricData>,
  name: string,
  attributes: Attributes,
): Histogram | undefined {
  const metric = metrics.get(name);
  if (metric === undefined) return undefined;
  const point = (metric.dataPoints as DataPoint<Histogram>[]).find((p) => sameAttributes(p.attributes, attributes));
  return point?.value;
}

/** Every point of one metric as `{attributes, value}` (for exact whole-metric assertions). */
export function points(metrics: Map<string, MetricData>, name: string): { attributes: Attributes; value: unknown }[] {
  const metric = metrics.get(name);
  if (metric === undefined) return [];
  return (metric.dataPoints as DataPoint<unknown>[]).map((p) => ({ attributes: p.attributes, value: p.value }));
}

// --- Prometheus text exposition -------------------------------------------------------------

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses `registry.metrics()` output into samples (comments kept out). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    if (match[2] !== undefined && match[2] !== '') {
      for (const part of match[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[part[1]!] = part[2]!;
    }
    const raw = match[3]!;
    samples.push({ name: match[1]!, labels, value: raw === '+Inf' ? Infinity : Number(raw) });
  }
  return samples;
}

/** The value of the sample with exactly these labels (undefined when absent). */
export function sample(samples: readonly Sample[], name: string, labels: Record<string, string>): number | undefined {
  const keys = Object.keys(labels);
  const found = samples.find(
    (s) => s.name === name && Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k]),
  );
  return found?.value;
}

export function samplesOf(samples: readonly Sample[], name: string): Sample[] {
  return samples.filter((s) => s.name === name);
}

// --- Minimal structural policies ------------------------------------------------------------

type AnyListener = (event: never) => void;

/** Just enough of a policy for the bridges: name, kind, on(), and whatever getters a test sets. */
export class FakePolicy {
  private readonly listeners = new Map<string, Set<AnyListener>>();

  constructor(
    readonly kind: string,
    readonly name: string = kind,
  ) {}

  /** Runs `fn` as is: enough for a pipeline to accept the object. */
  execute<T>(fn: (ctx: { signal: AbortSignal; attempt: number }) => T | PromiseLike<T>): Promise<T> {
    return new Promise<T>((resolve) => resolve(fn({ signal: new AbortController().signal, attempt: 1 })));
  }

  on(event: string, listener: AnyListener): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(event);
    };
  }

  emit(event: string, payload: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (e: unknown) => void)(payload);
  }

  get listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}

export class FakeBreaker extends FakePolicy {
  state: string = 'closed';
  constructor(name?: string) {
    super('circuit-breaker', name);
  }
  transition(to: string): void {
    const from = this.state;
    this.state = to;
    this.emit('stateChange', { from, to });
  }
}

export class FakeBulkhead extends FakePolicy {
  active = 0;
  queued = 0;
  constructor(name?: string) {
    super('bulkhead', name);
  }
}

export class FakeLimiter extends FakePolicy {
  available = 10;
  constructor(name?: string) {
    super('rate-limiter', name);
  }
}

/** Local listener count of a built-in policy (its EventHub is protected). */
export function hasListeners(policy: object): boolean {
  return (policy as unknown as { events: { hasListeners: boolean } }).events.hasListeners;
}

/**
 * Three calls with known outcomes through pipeline(retry ×2 with 10 ms backoff, timeout 100 ms),
 * shared by the OpenTelemetry and Prometheus tests so both bridges are held to the same run.
 */
export async function runScenario(clock: TestClock, policy: Policy): Promise<void> {
  const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(() => resolve(), ms));
  // 1: succeeds after 20 ms.
  const a = track(policy.execute(() => wait(20).then(() => 'a')));
  await clock.advance(20);
  expect(a.value).toBe('a');
  // 2: fails after 30 ms, then succeeds after 40 ms (one retry).
  let second = 0;
  const b = track(
    policy.execute(() => (++second === 1 ? wait(30).then(() => Promise.reject(new Error('boom'))) : wait(40).then(() => 'b'))),
  );
  await clock.advance(30 + 10 + 40);
  expect(b.value).toBe('b');
  // 3: never settles; three timeouts, two retries, then TimeoutError.
  const c = track(policy.execute(() => new Promise(() => {})));
  await clock.advance(100 + 10 + 100 + 10 + 100);
  expect(c.error).toBeInstanceOf(TimeoutError);
}
