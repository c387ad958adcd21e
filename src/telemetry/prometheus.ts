// breakwater/prometheus — prom-client metrics for breakwater policies. The user passes the
// prom-client module (and optionally a Registry); nothing here imports prom-client, the types
// below are the structural subset the bridge uses.

import {
  Attachments,
  CONTRACT_GAUGES,
  DURATION_BUCKETS_S,
  OUTCOMES,
  TIMED_OUTCOMES,
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

/** Prometheus label values by label name (`policy`, `outcome`, `state`). */
export type PromLabels = Record<string, string>;

/** The part of a prom-client `Counter` the bridge uses. */
export interface PromCounterLike {
  /** Adds `value` (default 1) to the series of `labels`. */
  inc(labels: PromLabels, value?: number): void;
  /** Drops the series of `labels` (a detached policy's). */
  remove(labels: PromLabels): void;
}
/** The part of a prom-client `Histogram` the bridge uses. */
export interface PromHistogramLike {
  /** Records one measurement (seconds, for the call duration) in the series of `labels`. */
  observe(labels: PromLabels, value: number): void;
  /** Drops the series of `labels` (a detached policy's). */
  remove(labels: PromLabels): void;
}
/** The part of a prom-client `Gauge` the bridge uses. */
export interface PromGaugeLike {
  /** Sets the series of `labels` to `value`. */
  set(labels: PromLabels, value: number): void;
  /** Drops every series: each scrape sets the gauges of the attached policies afresh. */
  reset(): void;
}

/** The part of a prom-client `Registry` the bridge uses. */
export interface PromRegistryLike {
  /** The metric registered under `name`, if any: the bridge reuses its own and refuses a stranger's. */
  getSingleMetric(name: string): unknown;
}

interface MetricConfig {
  name: string;
  help: string;
  labelNames: string[];
  registers: PromRegistryLike[];
  buckets?: number[];
  collect?(this: PromGaugeLike): void;
}

/** Type-checks a configuration here, then hands it to a constructor typed `never` (see below). */
function config(value: MetricConfig): never {
  return value as never;
}

/**
 * The part of the prom-client module the bridge uses (`import * as client from 'prom-client'`).
 * Constructor parameters are typed `never` so that prom-client's own (generic, version-specific)
 * configuration types fit; the bridge builds its configurations as `MetricConfig` below.
 */
export interface PromClientLike {
  /** prom-client's `Counter` class. */
  Counter: new (config: never) => PromCounterLike;
  /** prom-client's `Histogram` class. */
  Histogram: new (config: never) => PromHistogramLike;
  /** prom-client's `Gauge` class. */
  Gauge: new (config: never) => PromGaugeLike;
  /** prom-client's default registry, used when no `registry` is given. */
  register: PromRegistryLike;
}

/** Options of the Prometheus `instrument(policy, options)`. */
export interface PrometheusInstrumentOptions {
  /** The prom-client module. */
  client: PromClientLike;
  /** Where the metrics are registered; default `client.register`. */
  registry?: PromRegistryLike | undefined;
  /** The `trace` object of `@opentelemetry/api`, to add span events (see breakwater/otel). */
  trace?: TraceApiLike | undefined;
}

const PROMETHEUS_INSTRUMENT_OPTIONS = optionNames<PrometheusInstrumentOptions>({ client: true, registry: true, trace: true });

/** Metric names: public names, documented in docs/telemetry.md; never rename them. */
export const METRIC_NAMES = {
  /** Counter of calls, by `policy` and `outcome`. */
  calls: 'breakwater_calls_total',
  /** Histogram of call durations in seconds, by `policy` and `outcome`. */
  duration: 'breakwater_call_duration_seconds',
  /** Counter of retries started, by `policy`. */
  retries: 'breakwater_retries_total',
  /** Counter of extra hedge attempts started, by `policy`. */
  hedges: 'breakwater_hedges_total',
  /** Gauge per breaker and `state`: 1 for the current state, 0 for the others. */
  circuitState: 'breakwater_circuit_state',
  /** Gauge of calls running inside a bulkhead. */
  bulkheadActive: 'breakwater_bulkhead_active',
  /** Gauge of calls waiting in a bulkhead's queue. */
  bulkheadQueued: 'breakwater_bulkhead_queued',
  /** Gauge of whole tokens a rate limiter has now. */
  rateLimiterAvailable: 'breakwater_rate_limiter_available',
  /** Gauge of an adaptive limiter's current limit. */
  concurrencyLimit: 'breakwater_concurrency_limit',
  /** Gauge of calls running inside an adaptive limiter. */
  concurrencyActive: 'breakwater_concurrency_active',
  /** Gauge of calls waiting in an adaptive limiter's queue. */
  concurrencyQueued: 'breakwater_concurrency_queued',
} as const;

/**
 * Reports the calls, durations, retries and gauges of `policy` — and of every policy inside it
 * when it is a pipeline — to a prom-client registry. The returned function detaches: listeners
 * are removed, the policy's gauges disappear, and its series are removed unless another attached
 * policy reports under the same name.
 *
 * @example
 * ```ts
 * import * as client from 'prom-client';
 * import { bulkhead, circuitBreaker } from 'breakwater';
 * import { instrument } from 'breakwater/prometheus';
 *
 * const detach = instrument(circuitBreaker({ halfOpenAfterMs: 5_000, name: 'payments' }), { client }); // client.register
 * const registry = new client.Registry();
 * instrument(bulkhead({ maxConcurrent: 10, name: 'db' }), { client, registry }); // or your own Registry
 * console.log(await registry.metrics()); // breakwater_bulkhead_active{policy="db"} 0, …
 * ```
 */
export function instrument(policy: object, options: PrometheusInstrumentOptions): () => void {
  const opts = checkOptionsObject('instrument', options, true, PROMETHEUS_INSTRUMENT_OPTIONS);
  const client = checkClient(opts['client']);
  const registry = opts['registry'] === undefined ? client.register : checkRegistry(opts['registry']);
  const trace = checkTraceApi(opts['trace']);
  const records = collectPolicies(policy);
  const detachMetrics = stateFor(client, registry).attachAll(records);
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

function checkClient(value: unknown): PromClientLike {
  const client = value as Record<string, unknown> | null | undefined;
  if (
    (typeof client !== 'object' && typeof client !== 'function') ||
    client === null ||
    typeof client['Counter'] !== 'function' ||
    typeof client['Histogram'] !== 'function' ||
    typeof client['Gauge'] !== 'function'
  ) {
    throw new TypeError(
      `breakwater: option "client" must be the prom-client module (import * as client from 'prom-client'), received ${client === null ? 'null' : typeof client}`,
    );
  }
  checkRegistry(client['register'], 'client.register');
  return value as PromClientLike;
}

function checkRegistry(value: unknown, option = 'registry'): PromRegistryLike {
  const registry = value as Record<string, unknown> | null | undefined;
  if (typeof registry !== 'object' || registry === null || typeof registry['getSingleMetric'] !== 'function') {
    throw new TypeError(
      `breakwater: option "${option}" must be a prom-client Registry, received ${registry === null ? 'null' : typeof registry}`,
    );
  }
  return value as PromRegistryLike;
}

// The shared state of a registry lives on the metric objects themselves (under a registered
// symbol) rather than in a module-level map, so that the ESM and the CJS build loaded side by
// side — or two copies of breakwater — find and share the same metrics instead of colliding on
// prom-client's "already registered" check.
const STATE = Symbol.for('breakwater.prometheus.state.v1');
/** Marks the gauges the bridge registered (any copy of it). */
const GAUGE = Symbol.for('breakwater.prometheus.gauge.v1');

/** `'bulkhead.active'` → `breakwater_bulkhead_active`. */
function prometheusName(metric: string): string {
  return `breakwater_${metric.replaceAll('.', '_')}`;
}

interface RegistryState {
  readonly attachments: Attachments;
}

function stateFor(client: PromClientLike, registry: PromRegistryLike): Attachments {
  const existing = registry.getSingleMetric(METRIC_NAMES.calls) as { [STATE]?: RegistryState } | undefined;
  if (existing !== undefined) {
    const state = existing[STATE];
    if (state === undefined) throw clash(METRIC_NAMES.calls);
    return state.attachments;
  }
  for (const name of Object.values(METRIC_NAMES)) {
    if (registry.getSingleMetric(name) !== undefined) throw clash(name);
  }

  const registers = [registry];
  const calls = new client.Counter(config({
    name: METRIC_NAMES.calls,
    help: 'Calls that went through a breakwater policy, by outcome (success, failure, rejected, timeout).',
    labelNames: ['policy', 'outcome'],
    registers,
  }));
  const duration = new client.Histogram(config({
    name: METRIC_NAMES.duration,
    help: 'Duration of calls through a breakwater policy in seconds, by outcome.',
    labelNames: ['policy', 'outcome'],
    buckets: [...DURATION_BUCKETS_S],
    registers,
  }));
  const retries = new client.Counter(config({
    name: METRIC_NAMES.retries,
    help: 'Retries started by a breakwater retry policy.',
    labelNames: ['policy'],
    registers,
  }));

  const hedges = new client.Counter(config({
    name: METRIC_NAMES.hedges,
    help: 'Extra attempts started by a breakwater hedge policy.',
    labelNames: ['policy'],
    registers,
  }));

  let attachments: Attachments | undefined;
  // Each gauge refreshes itself from the attached policies when the registry is scraped. The
  // gauges of the metrics contract exist from the first `instrument` on; a gauge that another
  // policy declares is registered when the first such policy is attached.
  const gauges = new Set<string>();
  const addGauge = (gauge: GaugeShape): void => {
    const name = prometheusName(gauge.metric);
    const existing = registry.getSingleMetric(name) as { [GAUGE]?: true } | undefined;
    if (existing !== undefined && existing[GAUGE] !== true) throw clash(name);
    gauges.add(gauge.metric);
    // Registered by another copy of the bridge, on these same attachments: it reads them already.
    if (existing !== undefined) return;
    const metric = gauge.metric;
    const created = new client.Gauge(config({
      name,
      help: gauge.description,
      labelNames: gauge.label === undefined ? ['policy'] : ['policy', gauge.label],
      registers,
      collect(this: PromGaugeLike) {
        this.reset();
        if (attachments === undefined) return;
        for (const value of gaugeValues(attachments.records())) {
          if (value.metric !== metric) continue;
          this.set(value.label === undefined ? { policy: value.name } : { policy: value.name, [value.label.key]: value.label.value }, value.value);
        }
      },
    }));
    Object.defineProperty(created, GAUGE, { value: true });
  };
  for (const gauge of CONTRACT_GAUGES) addGauge(gauge);

  const subscribe = (record: PolicyRecord): (() => void) => {
    for (const gauge of record.gauges) if (!gauges.has(gauge.metric)) addGauge(gauge);
    // Label objects are built once per policy, not per call.
    const labels = {} as Record<OutcomeLabel, PromLabels>;
    for (const outcome of OUTCOMES) labels[outcome] = { policy: record.name, outcome };
    const policyOnly: PromLabels = { policy: record.name };
    return subscribeCalls(record, {
      call(_record, outcome, durationS) {
        calls.inc(labels[outcome]);
        if (durationS !== undefined) duration.observe(labels[outcome], durationS);
      },
      retry() {
        retries.inc(policyOnly);
      },
      hedge() {
        hedges.inc(policyOnly);
      },
    });
  };
  // A detached policy's series go away with it (policies created per key or per tenant would
  // otherwise grow the registry forever), unless another attached policy shares its name.
  const removed = (record: PolicyRecord): void => {
    if (attachments!.hasName(record.name)) return;
    for (const outcome of OUTCOMES) calls.remove({ policy: record.name, outcome });
    for (const outcome of TIMED_OUTCOMES) duration.remove({ policy: record.name, outcome });
    retries.remove({ policy: record.name });
    hedges.remove({ policy: record.name });
  };
  attachments = new Attachments(subscribe, removed);
  const state: RegistryState = { attachments };
  Object.defineProperty(calls, STATE, { value: state });
  return attachments;
}

function clash(name: string): Error {
  return new Error(
    `breakwater: the registry already holds a metric "${name}" that breakwater/prometheus did not create; use another registry or remove it`,
  );
}
