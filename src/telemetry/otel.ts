// breakwater/otel — OpenTelemetry metrics (and optional span events) for breakwater policies.
// The user passes a Meter from @opentelemetry/api; nothing here imports an OpenTelemetry package,
// the types below are the structural subset the bridge uses.

import {
  Attachments,
  CONTRACT_GAUGES,
  DURATION_BUCKETS_S,
  OUTCOMES,
  attachTracing,
  checkOptionsObject,
  checkTraceApi,
  collectPolicies,
  combine,
  gaugeValues,
  optionNames,
  subscribeCalls,
  type GaugeShape,
  type OutcomeLabel,
  type PolicyRecord,
  type TraceApiLike,
} from './collect.js';

export type { TraceApiLike } from './collect.js';

/** OpenTelemetry attributes: what the bridge labels each measurement with (`breakwater.policy`, …). */
export type AttributesLike = Record<string, string | number | boolean>;

/** What the bridge passes when it creates an instrument. */
export interface InstrumentOptionsLike {
  /** What the instrument measures, for humans. */
  description?: string;
  /** UCUM unit: `'s'`, `'{call}'`, …. */
  unit?: string;
  /** Hints for the SDK's default aggregation. */
  advice?: {
    /** Histogram bucket boundaries, in the instrument's unit (seconds for the call duration). */
    explicitBucketBoundaries?: number[];
  };
}

/** The part of an OpenTelemetry `Counter` the bridge uses. */
export interface CounterLike {
  /** Adds `value` (≥ 0) to the series of `attributes`. */
  add(value: number, attributes?: AttributesLike): void;
}
/** The part of an OpenTelemetry `Histogram` the bridge uses. */
export interface HistogramLike {
  /** Records one measurement in the series of `attributes`. */
  record(value: number, attributes?: AttributesLike): void;
}
// An observable is only handed back to the meter: its shape does not matter here.
/** An OpenTelemetry observable gauge, as the meter created it. */
export type ObservableLike = object;
/** What a batch observable callback of the meter reports gauge values to. */
export interface BatchObservableResultLike {
  /** Reports the current `value` of `observable` for the series of `attributes`. */
  observe(observable: ObservableLike, value: number, attributes?: AttributesLike): void;
}

/** The part of an `@opentelemetry/api` `Meter` the bridge uses. */
export interface MeterLike {
  /** Creates (or returns) the counter named `name`. */
  createCounter(name: string, options?: InstrumentOptionsLike): CounterLike;
  /** Creates (or returns) the histogram named `name`. */
  createHistogram(name: string, options?: InstrumentOptionsLike): HistogramLike;
  /** Creates (or returns) the observable gauge named `name`. */
  createObservableGauge(name: string, options?: InstrumentOptionsLike): ObservableLike;
  /** Registers `callback` to report the values of `observables` at each collection. */
  addBatchObservableCallback(callback: (result: BatchObservableResultLike) => void, observables: ObservableLike[]): void;
}

/** Options of the OpenTelemetry `instrument(policy, options)`. */
export interface OtelInstrumentOptions {
  /** A `Meter` from `@opentelemetry/api` (`metrics.getMeter('my-service')`). */
  meter: MeterLike;
  /**
   * The `trace` object of `@opentelemetry/api`. When given, retries, rejections, timeouts and
   * breaker transitions are added as events to the span active at that moment.
   */
  trace?: TraceApiLike | undefined;
}

const OTEL_INSTRUMENT_OPTIONS = optionNames<OtelInstrumentOptions>({ meter: true, trace: true });

/** Attribute keys: public names, documented in docs/telemetry.md; never rename them. */
export const ATTR_POLICY = 'breakwater.policy';
/** The attribute of `breakwater.calls` and `breakwater.call.duration` naming how a call ended: `success`, `failure`, `rejected`, `timeout`. */
export const ATTR_OUTCOME = 'breakwater.outcome';
/** The attribute of `breakwater.circuit.state` naming the breaker state the value is for. */
export const ATTR_STATE = 'breakwater.state';

/**
 * Reports the calls, durations, retries and gauges of `policy` — and of every policy inside it
 * when it is a pipeline — to `meter`. The returned function detaches: its listeners are removed
 * and its gauges stop being reported.
 *
 * @example
 * ```ts
 * import { metrics, trace } from '@opentelemetry/api';
 * import { circuitBreaker, pipeline, retry, timeout } from 'breakwater';
 * import { instrument } from 'breakwater/otel';
 *
 * const checkout = pipeline(
 *   retry({ maxRetries: 2, name: 'checkout-retry' }),
 *   circuitBreaker({ halfOpenAfterMs: 5_000, name: 'checkout-breaker' }),
 *   timeout(1_000, { name: 'checkout-timeout' }),
 * );
 * const detach = instrument(checkout, { meter: metrics.getMeter('checkout'), trace });
 * // later, when the policy is discarded:
 * detach();
 * ```
 */
export function instrument(policy: object, options: OtelInstrumentOptions): () => void {
  const opts = checkOptionsObject('instrument', options, true, OTEL_INSTRUMENT_OPTIONS);
  const meter = checkMeter(opts['meter']);
  const trace = checkTraceApi(opts['trace']);
  const records = collectPolicies(policy);
  const detachMetrics = stateFor(meter).attachAll(records);
  if (trace === undefined) return detachMetrics;
  let detachTracing: () => void;
  try {
    detachTracing = attachTracing(trace, records);
  } catch (error) {
    detachMetrics();
    throw error;
  }
  return combine([detachMetrics, detachTracing]);
}

function checkMeter(value: unknown): MeterLike {
  const meter = value as Record<string, unknown> | null | undefined;
  if (
    typeof meter !== 'object' ||
    meter === null ||
    typeof meter['createCounter'] !== 'function' ||
    typeof meter['createHistogram'] !== 'function' ||
    typeof meter['createObservableGauge'] !== 'function' ||
    typeof meter['addBatchObservableCallback'] !== 'function'
  ) {
    throw new TypeError(
      `breakwater: option "meter" must be an OpenTelemetry Meter (metrics.getMeter(...)), received ${meter === null ? 'null' : typeof meter}`,
    );
  }
  return value as MeterLike;
}

// Instruments are created once per meter; every `instrument` call on that meter shares them and
// the batch callbacks read the gauges of whichever policies are attached at collection time.
const meters = new WeakMap<MeterLike, Attachments>();

function createGauge(meter: MeterLike, gauge: GaugeShape): ObservableLike {
  return meter.createObservableGauge(`breakwater.${gauge.metric}`, { description: gauge.description, unit: gauge.unit });
}

function stateFor(meter: MeterLike): Attachments {
  const existing = meters.get(meter);
  if (existing !== undefined) return existing;

  const calls = meter.createCounter('breakwater.calls', {
    description: 'Calls that went through a breakwater policy, by outcome (success, failure, rejected, timeout).',
    unit: '{call}',
  });
  const duration = meter.createHistogram('breakwater.call.duration', {
    description: 'Duration of calls through a breakwater policy, by outcome.',
    unit: 's',
    advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_S] },
  });
  const retries = meter.createCounter('breakwater.retries', {
    description: 'Retries started by a breakwater retry policy.',
    unit: '{retry}',
  });
  const hedges = meter.createCounter('breakwater.hedges', {
    description: 'Extra attempts started by a breakwater hedge policy.',
    unit: '{attempt}',
  });
  // The gauges of the metrics contract exist from the first `instrument` on, read by one batch
  // callback; a gauge that another policy declares gets its instrument, and a callback of its
  // own, when the first such policy is attached.
  const gauges = new Map<string, ObservableLike>();
  for (const gauge of CONTRACT_GAUGES) gauges.set(gauge.metric, createGauge(meter, gauge));
  let attachments: Attachments | undefined;
  const observe = (result: BatchObservableResultLike, wanted: (metric: string) => boolean): void => {
    if (attachments === undefined) return;
    for (const gauge of gaugeValues(attachments.records())) {
      const observable = gauges.get(gauge.metric);
      if (observable === undefined || !wanted(gauge.metric)) continue;
      const attributes: AttributesLike = { [ATTR_POLICY]: gauge.name };
      if (gauge.label !== undefined) attributes[`breakwater.${gauge.label.key}`] = gauge.label.value;
      result.observe(observable, gauge.value, attributes);
    }
  };
  const contract = new Set(gauges.keys());
  meter.addBatchObservableCallback((result) => observe(result, (metric) => contract.has(metric)), [...gauges.values()]);
  const addGauges = (record: PolicyRecord): void => {
    for (const gauge of record.gauges) {
      if (gauges.has(gauge.metric)) continue;
      const observable = createGauge(meter, gauge);
      gauges.set(gauge.metric, observable);
      meter.addBatchObservableCallback((result) => observe(result, (metric) => metric === gauge.metric), [observable]);
    }
  };

  const subscribe = (record: PolicyRecord): (() => void) => {
    addGauges(record);
    // Attribute objects are built once per policy, not per call.
    const attributes = {} as Record<OutcomeLabel, AttributesLike>;
    for (const outcome of OUTCOMES) attributes[outcome] = { [ATTR_POLICY]: record.name, [ATTR_OUTCOME]: outcome };
    const policyOnly: AttributesLike = { [ATTR_POLICY]: record.name };
    return subscribeCalls(record, {
      call(_record, outcome, durationS) {
        calls.add(1, attributes[outcome]);
        if (durationS !== undefined) duration.record(durationS, attributes[outcome]);
      },
      retry() {
        retries.add(1, policyOnly);
      },
      hedge() {
        hedges.add(1, policyOnly);
      },
    });
  };
  attachments = new Attachments(subscribe);
  meters.set(meter, attachments);
  return attachments;
}

