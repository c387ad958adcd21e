import { checkNumber, describeValue } from '../core/validate.js';

/**
 * A service-time distribution, in milliseconds:
 * - `20` or `{ constant: 20 }`: always 20 ms;
 * - `{ exponential: { meanMs } }`: memoryless (M/M/c queueing theory);
 * - `{ lognormal: { p50Ms, p99Ms } }`: the usual shape of a healthy service's latency;
 * - `{ percentiles: { p50: 20, p90: 35, p99: 80 } }`: an empirical inverse CDF, linear between
 *   the given points (keys `pNN`, `NN` or `pNN.N`, 0..100). Below the lowest point it stays at
 *   that value unless `p0` is given; above the highest point, unless `p100` is given, the tail
 *   is exponential with the density the last segment had, so p99.9 is not capped at p99.
 */
export type Distribution =
  | number
  | { constant: number }
  | { exponential: { meanMs: number } }
  | { lognormal: { p50Ms: number; p99Ms: number } }
  | { percentiles: Record<string, number> };

/** Draws one value from a uniform random number u in [0, 1). */
export type Sampler = (u: number) => number;

/** z such that Φ(z) = 0.99. */
const Z99 = 2.3263478740408408;

// Acklam's coefficients, built once: array literals in the function would be allocated per sample.
const A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
const C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];

/**
 * Φ⁻¹(p), the standard normal quantile, by Acklam's rational approximation (relative error
 * below 1.2e-9 over (0, 1)): one uniform number per sample, so streams stay aligned.
 *
 * @example
 * ```ts
 * import { normalQuantile } from 'breakwater/sim';
 *
 * console.log(normalQuantile(0.5), normalQuantile(0.99).toFixed(4)); // 0 2.3263
 * ```
 */
export function normalQuantile(p: number): number {
  const low = 0.02425;
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) /
      ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1);
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) /
      ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) /
    (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1);
}

function percentileKey(option: string, key: string): number {
  const match = /^p?(\d+(?:\.\d+)?)$/.exec(key);
  const quantile = match === null ? NaN : Number(match[1]) / 100;
  if (!(quantile >= 0 && quantile <= 1)) {
    throw new RangeError(`breakwater/sim: "${option}" key ${JSON.stringify(key)} must be a percentile such as "p50" or "p99.9" (0..100)`);
  }
  return quantile;
}

function empiricalSampler(option: string, table: Record<string, number>): Sampler {
  const points = Object.entries(table)
    .map(([key, value]) => [percentileKey(option, key), checkNumber(`${option}.${key}`, value, { min: 0 })] as const)
    .sort((x, y) => x[0] - y[0]);
  if (points.length === 0) throw new RangeError(`breakwater/sim: "${option}" needs at least one percentile`);
  for (let i = 1; i < points.length; i++) {
    if (points[i]![0] === points[i - 1]![0]) {
      throw new RangeError(`breakwater/sim: "${option}" gives percentile ${points[i]![0] * 100} twice`);
    }
    if (points[i]![1] < points[i - 1]![1]) {
      throw new RangeError(
        `breakwater/sim: "${option}" values must not decrease with the percentile: p${points[i]![0] * 100} = ${points[i]![1]} < p${points[i - 1]![0] * 100} = ${points[i - 1]![1]}`,
      );
    }
  }
  const qs = Float64Array.from(points, (p) => p[0]);
  const vs = Float64Array.from(points, (p) => p[1]);
  const n = qs.length;
  const lastQ = qs[n - 1]!;
  const lastV = vs[n - 1]!;
  // Mean of the exponential tail beyond the last point: the last segment's density carried on.
  let tailMeanMs = 0;
  if (lastQ < 1 && n >= 2) {
    const dq = lastQ - qs[n - 2]!;
    const dv = lastV - vs[n - 2]!;
    tailMeanMs = dq > 0 ? (dv / dq) * (1 - lastQ) : 0;
  }
  return (u) => {
    if (u <= qs[0]!) return vs[0]!;
    if (u >= lastQ) return tailMeanMs > 0 ? lastV - tailMeanMs * Math.log((1 - u) / (1 - lastQ)) : lastV;
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (qs[mid]! <= u) lo = mid;
      else hi = mid;
    }
    const q0 = qs[lo]!;
    const v0 = vs[lo]!;
    return v0 + ((u - q0) / (qs[hi]! - q0)) * (vs[hi]! - v0);
  };
}

function only(option: string, value: object, key: string): void {
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== key) {
    throw new TypeError(`breakwater/sim: "${option}" must have exactly one key, received ${describeValue(value)}`);
  }
}

/**
 * Validates a `Distribution` and returns its sampler; `option` names it in error messages.
 *
 * @example
 * ```ts
 * import { samplerOf } from 'breakwater/sim';
 *
 * const serviceTime = samplerOf('latencyMs', { lognormal: { p50Ms: 20, p99Ms: 60 } });
 * console.log(serviceTime(0.5)); // 20 (up to rounding): the median
 * ```
 */
export function samplerOf(option: string, value: unknown): Sampler {
  if (typeof value === 'number') {
    const ms = checkNumber(option, value, { min: 0 });
    return () => ms;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `breakwater/sim: "${option}" must be a number of ms or one of { constant }, { exponential: { meanMs } }, { lognormal: { p50Ms, p99Ms } }, { percentiles: {...} }; received ${describeValue(value)}`,
    );
  }
  const spec = value as Record<string, unknown>;
  const kind = Object.keys(spec)[0];
  switch (kind) {
    case 'constant': {
      only(option, spec, kind);
      const ms = checkNumber(`${option}.constant`, spec['constant'], { min: 0 });
      return () => ms;
    }
    case 'exponential': {
      only(option, spec, kind);
      const inner = (spec['exponential'] ?? {}) as Record<string, unknown>;
      const meanMs = checkNumber(`${option}.exponential.meanMs`, inner['meanMs'], { above: 0 });
      return (u) => -meanMs * Math.log(1 - u);
    }
    case 'lognormal': {
      only(option, spec, kind);
      const inner = (spec['lognormal'] ?? {}) as Record<string, unknown>;
      const p50Ms = checkNumber(`${option}.lognormal.p50Ms`, inner['p50Ms'], { above: 0 });
      const p99Ms = checkNumber(`${option}.lognormal.p99Ms`, inner['p99Ms'], { above: 0 });
      if (p99Ms < p50Ms) {
        throw new RangeError(`breakwater/sim: "${option}.lognormal.p99Ms" (${p99Ms}) must not be below p50Ms (${p50Ms})`);
      }
      const mu = Math.log(p50Ms);
      const sigma = (Math.log(p99Ms) - mu) / Z99;
      // u = 0 would give Φ⁻¹(0) = -∞ and a latency of exactly 0: nudge it into the open interval.
      return (u) => Math.exp(mu + sigma * normalQuantile(u > 0 ? u : Number.MIN_VALUE));
    }
    case 'percentiles': {
      only(option, spec, kind);
      const table = spec['percentiles'];
      if (typeof table !== 'object' || table === null || Array.isArray(table)) {
        throw new TypeError(`breakwater/sim: "${option}.percentiles" must be an object such as { p50: 20, p99: 80 }, received ${describeValue(table)}`);
      }
      return empiricalSampler(`${option}.percentiles`, table as Record<string, number>);
    }
    default:
      throw new TypeError(
        `breakwater/sim: "${option}" must be a number of ms or one of { constant }, { exponential: { meanMs } }, { lognormal: { p50Ms, p99Ms } }, { percentiles: {...} }; received ${describeValue(value)}`,
      );
  }
}
