// Shared machinery of the metrics bridges: find every policy under a pipeline, subscribe to
// their events once per sink (meter or registry), and read the gauges' current values.
// Everything is structural (duck-typed on `kind`, `on` and getters) so the bridges work for any
// policy object shaped like the built-in ones, from the ESM or the CJS build alike.

import { GAUGES, type Gauge } from '../core/gauges.js';
import { checkOptionsObject, optionNames } from '../core/validate.js';

/** The `outcome` label of the call metrics. */
export type OutcomeLabel = 'success' | 'failure' | 'rejected' | 'timeout';
export const OUTCOMES: readonly OutcomeLabel[] = ['success', 'failure', 'rejected', 'timeout'];
/** Outcomes that carry a duration (a rejection happens before anything ran). */
export const TIMED_OUTCOMES: readonly OutcomeLabel[] = ['success', 'failure', 'timeout'];

/**
 * Boundaries for the call-duration histogram, in seconds: from 5 ms (a healthy downstream) to
 * 10 s (a stuck one), as the OpenTelemetry HTTP semantic conventions recommend.
 */
export const DURATION_BUCKETS_S: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

type Unsubscribe = () => void;

/** What the bridges need from a policy; every member is optional and checked at run time. */
export interface InstrumentablePolicy {
  readonly name?: unknown;
  readonly kind?: unknown;
  on?(event: string, listener: (event: never) => void): Unsubscribe;
  readonly policies?: readonly unknown[];
}

/** A policy found under the instrumented one, with the facts read once at attach time. */
export interface PolicyRecord {
  readonly policy: InstrumentablePolicy;
  readonly name: string;
  readonly gauges: readonly Gauge[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object without on() or policies' : typeof value;
}

/**
 * The policy itself and every policy nested in it (pipelines are walked, outermost first),
 * each once. Objects without `on` (a foreign `Policy`) have no events and are skipped, but
 * `instrument` on such an object alone is a mistake and throws.
 */
export function collectPolicies(root: unknown): PolicyRecord[] {
  if (!isObject(root) || (typeof root['on'] !== 'function' && !Array.isArray(root['policies']))) {
    throw new TypeError(`breakwater: instrument(policy) needs a breakwater policy or pipeline, received ${describe(root)}`);
  }
  const found: PolicyRecord[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown): void => {
    if (!isObject(value) || seen.has(value)) return;
    seen.add(value);
    // An anonymous pipeline (default name) reports nothing of its own: its calls are those of
    // its outermost policy, and every such pipeline would share the one series "pipeline".
    const anonymousPipeline = value['kind'] === 'pipeline' && value['name'] === 'pipeline';
    if (typeof value['on'] === 'function' && !anonymousPipeline) {
      const name = typeof value['name'] === 'string' ? value['name'] : String(value['kind'] ?? 'policy');
      found.push({ policy: value as InstrumentablePolicy, name, gauges: gaugesOf(value) });
    }
    const inner = value['policies'];
    if (Array.isArray(inner)) for (const child of inner) visit(child);
  };
  visit(root);
  return found;
}

/** Subscribes to each event that the policy accepts; the result removes them all. */
export function subscribeAll(
  policy: InstrumentablePolicy,
  listeners: Readonly<Record<string, (event: never) => void>>,
): Unsubscribe {
  const removers: Unsubscribe[] = [];
  for (const event of Object.keys(listeners)) {
    try {
      const remove = policy.on!(event, listeners[event]!);
      if (typeof remove === 'function') removers.push(remove);
    } catch {
      // A policy may refuse events it never emits; those would have counted nothing anyway.
    }
  }
  return () => {
    for (const remove of removers) remove();
  };
}

interface Entry {
  refs: number;
  readonly record: PolicyRecord;
  readonly unsubscribe: Unsubscribe;
}

/**
 * The policies attached to one sink, reference-counted so that instrumenting a policy twice
 * on the same meter or registry (say, one shared by two pipelines) counts its calls once, and
 * detaching one of the two keeps the other reporting.
 */
export class Attachments {
  private readonly entries = new Map<InstrumentablePolicy, Entry>();

  constructor(
    private readonly subscribe: (record: PolicyRecord) => Unsubscribe,
    private readonly onRemoved: (record: PolicyRecord) => void = () => {},
  ) {}

  /** Attaches every record; the result detaches them, once, whatever happens. */
  attachAll(records: readonly PolicyRecord[]): Unsubscribe {
    const held: PolicyRecord[] = [];
    try {
      for (const record of records) {
        this.attach(record);
        held.push(record);
      }
    } catch (error) {
      for (const record of held) this.release(record);
      throw error;
    }
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      for (const record of held) this.release(record);
    };
  }

  /** Number of distinct policies attached (for tests and leak checks). */
  get size(): number {
    return this.entries.size;
  }

  /** True when another attached policy reports under this name. */
  hasName(name: string): boolean {
    for (const entry of this.entries.values()) if (entry.record.name === name) return true;
    return false;
  }

  *records(): IterableIterator<PolicyRecord> {
    for (const entry of this.entries.values()) yield entry.record;
  }

  private attach(record: PolicyRecord): void {
    const entry = this.entries.get(record.policy);
    if (entry !== undefined) {
      entry.refs++;
      return;
    }
    this.entries.set(record.policy, { refs: 1, record, unsubscribe: this.subscribe(record) });
  }

  private release(record: PolicyRecord): void {
    const entry = this.entries.get(record.policy);
    if (entry === undefined || --entry.refs > 0) return;
    this.entries.delete(record.policy);
    entry.unsubscribe();
    this.onRemoved(entry.record);
  }
}

/** Event handlers a metrics sink implements; `durationS` is already in seconds. */
export interface CallSink {
  call(record: PolicyRecord, outcome: OutcomeLabel, durationS: number | undefined): void;
  retry(record: PolicyRecord): void;
  /** An extra attempt of a hedge started. */
  hedge(record: PolicyRecord): void;
}

interface DurationPayload {
  readonly durationMs?: unknown;
}

function seconds(payload: DurationPayload | undefined): number | undefined {
  const ms = payload?.durationMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/** Subscribes a sink to the call events of one policy (see docs/telemetry.md). */
export function subscribeCalls(record: PolicyRecord, sink: CallSink): Unsubscribe {
  return subscribeAll(record.policy, {
    success: (e: DurationPayload) => sink.call(record, 'success', seconds(e)),
    failure: (e: DurationPayload) => sink.call(record, 'failure', seconds(e)),
    rejected: () => sink.call(record, 'rejected', undefined),
    timeout: (e: DurationPayload) => sink.call(record, 'timeout', seconds(e)),
    retry: () => sink.retry(record),
    hedge: () => sink.hedge(record),
  });
}

// Gauges. A policy declares its own (`[GAUGES]()`, src/core/gauges.ts): the bridges know no
// list of policy kinds. They are read at collection time; a reading that throws or is not a
// number skips that value: an export must never fail because of one odd policy.

const METRIC_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const LABEL_NAME = /^[a-z][a-z0-9_]*$/;

function isGauge(value: unknown): value is Gauge {
  if (!isObject(value)) return false;
  const { metric, description, unit, label, read } = value as Partial<Record<keyof Gauge, unknown>>;
  return (
    typeof metric === 'string' &&
    METRIC_NAME.test(metric) &&
    typeof description === 'string' &&
    typeof unit === 'string' &&
    (label === undefined || (typeof label === 'string' && LABEL_NAME.test(label) && label !== 'policy')) &&
    typeof read === 'function'
  );
}

/** The gauges a policy declares, or those of the look-alike it is shaped as. */
function gaugesOf(policy: Record<PropertyKey, unknown>): readonly Gauge[] {
  const declared = policy[GAUGES];
  if (typeof declared !== 'function') return lookAlikeGauges(policy);
  try {
    const gauges: unknown = declared.call(policy);
    return Array.isArray(gauges) ? gauges.filter(isGauge) : [];
  } catch {
    return [];
  }
}

function read(policy: Record<PropertyKey, unknown>, key: string): unknown {
  try {
    return policy[key];
  } catch {
    return undefined;
  }
}

/** Reads a getter for a gauge; `gaugeValues` skips whatever is not a number. */
const getter =
  (policy: Record<PropertyKey, unknown>, key: string): Gauge['read'] =>
  () =>
    read(policy, key) as number | undefined;

/** The states of a circuit breaker: each reported, 1 for the current one and 0 for the others. */
const CIRCUIT_STATES: readonly string[] = ['closed', 'open', 'half-open', 'isolated'];

/** 1 for `current` and 0 for every other of `states` (a state outside them is reported too). */
function oneHot(current: unknown, states: readonly string[]): Readonly<Record<string, number>> | undefined {
  if (typeof current !== 'string') return undefined;
  const values: Record<string, number> = {};
  for (const state of states) values[state] = state === current ? 1 : 0;
  values[current] = 1;
  return values;
}

/** What a bridge needs to create a gauge's instrument. */
export type GaugeShape = Omit<Gauge, 'read'>;

const circuitState = { metric: 'circuit.state', description: 'Circuit breaker state: 1 for the current state, 0 for the others.', unit: '1', label: 'state' } as const;
const bulkheadActive = { metric: 'bulkhead.active', description: 'Calls running inside a bulkhead.', unit: '{call}' } as const;
const bulkheadQueued = { metric: 'bulkhead.queued', description: 'Calls waiting in a bulkhead queue.', unit: '{call}' } as const;
const rateLimiterAvailable = { metric: 'rate_limiter.available', description: 'Tokens available in a rate limiter.', unit: '{token}' } as const;
const concurrencyLimit = { metric: 'concurrency.limit', description: 'Current limit of an adaptive concurrency limiter.', unit: '{call}' } as const;
const concurrencyActive = { metric: 'concurrency.active', description: 'Calls running inside an adaptive concurrency limiter.', unit: '{call}' } as const;
const concurrencyQueued = { metric: 'concurrency.queued', description: 'Calls waiting in an adaptive concurrency limiter queue.', unit: '{call}' } as const;

/**
 * The gauges of the metrics contract (docs/telemetry.md): the bridges create them up front, so
 * they exist from the first `instrument`; any other gauge a policy declares is created when the
 * first policy with it is attached.
 */
export const CONTRACT_GAUGES: readonly GaugeShape[] = [
  circuitState,
  bulkheadActive,
  bulkheadQueued,
  rateLimiterAvailable,
  concurrencyLimit,
  concurrencyActive,
  concurrencyQueued,
];

/**
 * Objects without declared gauges that have the shape of a policy of the metrics contract: a
 * `kind` and the getters (docs/telemetry.md), such as a user's look-alike or a test double.
 * Every policy of the library declares its own; a new policy declares `[GAUGES]()` instead of
 * growing this table.
 */
const LOOK_ALIKES: Readonly<Record<string, (policy: Record<PropertyKey, unknown>) => Gauge[]>> = {
  'circuit-breaker': (policy) => [{ ...circuitState, read: () => oneHot(read(policy, 'state'), CIRCUIT_STATES) }],
  bulkhead: (policy) => [
    { ...bulkheadActive, read: getter(policy, 'active') },
    { ...bulkheadQueued, read: getter(policy, 'queued') },
  ],
  'rate-limiter': (policy) => [{ ...rateLimiterAvailable, read: getter(policy, 'available') }],
  'adaptive-concurrency': (policy) => [
    { ...concurrencyLimit, read: getter(policy, 'limit') },
    { ...concurrencyActive, read: getter(policy, 'active') },
    { ...concurrencyQueued, read: getter(policy, 'queued') },
  ],
};

function lookAlikeGauges(policy: Record<PropertyKey, unknown>): readonly Gauge[] {
  const kind = policy['kind'];
  return typeof kind === 'string' && Object.hasOwn(LOOK_ALIKES, kind) ? LOOK_ALIKES[kind]!(policy) : [];
}

export interface GaugeValue {
  /** The gauge's `metric` (`'bulkhead.active'`). */
  readonly metric: string;
  /** The policy's name. */
  readonly name: string;
  /** The gauge's split label and its value here (`state` = `'open'`), when it has one. */
  readonly label?: { readonly key: string; readonly value: string };
  readonly value: number;
}

/**
 * Current gauge values of the attached policies. Policies sharing a name are summed, so the
 * result is the same whatever their order (give each policy its own name to tell them apart).
 */
export function gaugeValues(records: Iterable<PolicyRecord>): GaugeValue[] {
  const sums = new Map<string, { metric: string; name: string; label?: { key: string; value: string }; value: number }>();
  const add = (metric: string, name: string, value: number, label?: { key: string; value: string }): void => {
    const key = `${metric}\u0000${name}\u0000${label?.value ?? ''}`;
    const existing = sums.get(key);
    if (existing !== undefined) existing.value += value;
    else sums.set(key, label === undefined ? { metric, name, value } : { metric, name, label, value });
  };
  for (const record of records) {
    for (const gauge of record.gauges) {
      let reading: unknown;
      try {
        reading = gauge.read();
      } catch {
        continue;
      }
      if (typeof reading === 'number') {
        if (!Number.isNaN(reading)) add(gauge.metric, record.name, reading);
      } else if (gauge.label !== undefined && isObject(reading)) {
        for (const [labelValue, value] of Object.entries(reading)) {
          if (typeof value === 'number' && !Number.isNaN(value)) add(gauge.metric, record.name, value, { key: gauge.label, value: labelValue });
        }
      }
    }
  }
  return [...sums.values()];
}

// ---------------------------------------------------------------------------------------------
// Optional tracing: retries, rejections, timeouts and breaker transitions become span events on
// whatever span is active when the policy emits them (the caller's, through async context).

/** The part of `trace` from `@opentelemetry/api` the bridge uses. */
export interface TraceApiLike {
  /** The span active in the current async context, if any. */
  getActiveSpan():
    | {
        /** Adds a named event with attributes to the span. */
        addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
      }
    | undefined;
}

function errorType(error: unknown): string | undefined {
  if (isObject(error) && typeof error['name'] === 'string') return error['name'];
  return error === undefined ? undefined : typeof error;
}

function spanSubscriber(trace: TraceApiLike): (record: PolicyRecord) => Unsubscribe {
  const addEvent = (name: string, attributes: Record<string, string | number | boolean>): void => {
    trace.getActiveSpan()?.addEvent(name, attributes);
  };
  return (record) => {
    const policy = record.name;
    return subscribeAll(record.policy, {
      retry: (e: { attempt?: unknown; delayMs?: unknown; error?: unknown }) => {
        const attributes: Record<string, string | number | boolean> = { 'breakwater.policy': policy };
        if (typeof e.attempt === 'number') attributes['breakwater.attempt'] = e.attempt;
        if (typeof e.delayMs === 'number') attributes['breakwater.delay_ms'] = e.delayMs;
        const type = errorType(e.error);
        if (type !== undefined) attributes['error.type'] = type;
        addEvent('breakwater.retry', attributes);
      },
      rejected: (e: { reason?: unknown }) => {
        const attributes: Record<string, string | number | boolean> = { 'breakwater.policy': policy };
        if (typeof e.reason === 'string') attributes['breakwater.reason'] = e.reason;
        addEvent('breakwater.rejected', attributes);
      },
      timeout: (e: { timeoutMs?: unknown; durationMs?: unknown }) => {
        const attributes: Record<string, string | number | boolean> = { 'breakwater.policy': policy };
        if (typeof e.timeoutMs === 'number') attributes['breakwater.timeout_ms'] = e.timeoutMs;
        if (typeof e.durationMs === 'number') attributes['breakwater.duration_ms'] = e.durationMs;
        addEvent('breakwater.timeout', attributes);
      },
      stateChange: (e: { from?: unknown; to?: unknown }) => {
        addEvent('breakwater.state_change', {
          'breakwater.policy': policy,
          'breakwater.from': String(e.from),
          'breakwater.to': String(e.to),
        });
      },
    });
  };
}

const tracers = new WeakMap<object, Attachments>();

/** Span events for these policies on `trace`'s active span, once per (trace, policy). */
export function attachTracing(trace: TraceApiLike, records: readonly PolicyRecord[]): Unsubscribe {
  let attachments = tracers.get(trace);
  if (attachments === undefined) {
    attachments = new Attachments(spanSubscriber(trace));
    tracers.set(trace, attachments);
  }
  return attachments.attachAll(records);
}

export function checkTraceApi(value: unknown): TraceApiLike | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || typeof value['getActiveSpan'] !== 'function') {
    throw new TypeError(
      `breakwater: option "trace" must be the trace API of @opentelemetry/api (with getActiveSpan()), received ${value === null ? 'null' : typeof value}`,
    );
  }
  return value as unknown as TraceApiLike;
}

export { checkOptionsObject, optionNames };

/** Runs every detacher, only once. */
export function combine(detachers: readonly Unsubscribe[]): Unsubscribe {
  let attached = true;
  return () => {
    if (!attached) return;
    attached = false;
    for (const detach of detachers) detach();
  };
}
