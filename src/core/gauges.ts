// How a policy declares the gauges the metrics bridges report for it: a method under a
// registered symbol, read structurally, so the bridges need no list of policy kinds and work
// across the ESM and the CJS build.

/** The method a policy declares its gauges with: `[GAUGES](): readonly Gauge[]`. */
export const GAUGES: unique symbol = Symbol.for('breakwater.gauges.v1') as never;

/** One gauge of a policy, read when the metrics are collected. */
export interface Gauge {
  /**
   * Dotted lower-case words after the `breakwater` prefix: `'bulkhead.active'` is
   * `breakwater.bulkhead.active` in OpenTelemetry and `breakwater_bulkhead_active` in Prometheus.
   */
  readonly metric: string;
  /** What it measures (OpenTelemetry description, Prometheus help). */
  readonly description: string;
  /** OpenTelemetry unit: `'{call}'`, `'{token}'`, `'1'`. */
  readonly unit: string;
  /**
   * A label the gauge is split by (`'state'`: `breakwater.state` in OpenTelemetry, `state` in
   * Prometheus). With one, `read` returns a value per label value.
   */
  readonly label?: string;
  /** The current value, or (with `label`) a value per label value; undefined to report nothing now. */
  read(): number | Readonly<Record<string, number>> | undefined;
}
