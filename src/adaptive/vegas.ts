import { checkOptionsObject, optionalFunction, optionalNumber, optionNames } from '../core/validate.js';
import { LimitBase, log10Root, usableInflight, usableRtt, type LimitSample } from './limit.js';
import { checkLimitRange, numberOrFunction, type LimitFunction } from './options.js';

/** Options of `vegasLimit()`; all optional, the reference's defaults. */
export interface VegasLimitOptions {
  /** Limit before any sample (default 20). */
  initialLimit?: number | undefined;
  /** The limit never rises above this (default 1000). */
  maxConcurrency?: number | undefined;
  /** The limit never falls below this (default 1, the reference's fixed floor). */
  minLimit?: number | undefined;
  /** Weight of each new estimate, in (0, 1] (default 1: no smoothing). */
  smoothing?: number | undefined;
  /** Estimated queue below which the limit grows: calls, or a function of the limit (default 3 × log10(limit)). */
  alpha?: number | LimitFunction | undefined;
  /** Estimated queue above which the limit shrinks (default 6 × log10(limit)). */
  beta?: number | LimitFunction | undefined;
  /** Estimated queue at or below which the limit grows by `beta` at once (default log10(limit)). */
  threshold?: number | LimitFunction | undefined;
  /** The grown limit (default limit + log10(limit)). */
  increase?: LimitFunction | undefined;
  /** The shrunk limit (default limit − log10(limit)). */
  decrease?: LimitFunction | undefined;
  /** The no-load RTT is measured afresh every probeMultiplier × limit samples, jittered by 0.5–1 (default 30). */
  probeMultiplier?: number | undefined;
  /** Source of the probe jitter, in [0, 1) (default Math.random). */
  random?: (() => number) | undefined;
}

const VEGAS_LIMIT_OPTIONS = optionNames<VegasLimitOptions>({ initialLimit: true, maxConcurrency: true, minLimit: true, smoothing: true, alpha: true, beta: true, threshold: true, increase: true, decrease: true, probeMultiplier: true, random: true });

const alphaDefault: LimitFunction = (limit) => 3 * log10Root(limit);
const betaDefault: LimitFunction = (limit) => 6 * log10Root(limit);
const thresholdDefault: LimitFunction = log10Root;
const increaseDefault: LimitFunction = (limit) => limit + log10Root(Math.floor(limit));
const decreaseDefault: LimitFunction = (limit) => limit - log10Root(Math.floor(limit));

/**
 * Netflix concurrency-limits' VegasLimit (TCP Vegas): estimates the downstream's queue as
 * `limit × (1 − noLoadRtt / rtt)` from the lowest RTT seen, grows the limit while that queue is
 * short and shrinks it when it is long or a call was dropped. The default of the reference's
 * limiters. Like Gradient2 it wants averaged samples (`windowedLimit`).
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, vegasLimit, windowedLimit } from 'breakwater';
 *
 * const limiter = adaptiveConcurrency({ limit: windowedLimit(vegasLimit({ maxConcurrency: 200 })) });
 * ```
 */
export function vegasLimit(options?: VegasLimitOptions): VegasLimit {
  const opts = checkOptionsObject('vegasLimit', options, false, VEGAS_LIMIT_OPTIONS);
  const initialLimit = optionalNumber('initialLimit', opts['initialLimit'], 20, { min: 1, integer: true });
  const maxConcurrency = optionalNumber('maxConcurrency', opts['maxConcurrency'], 1000, { min: 1, integer: true });
  const minLimit = optionalNumber('minLimit', opts['minLimit'], 1, { min: 1, integer: true });
  checkLimitRange(initialLimit, minLimit, maxConcurrency, 'maxConcurrency');
  const smoothing = optionalNumber('smoothing', opts['smoothing'], 1, { above: 0, max: 1 });
  const rule = { min: 0 };
  const settings: VegasSettings = {
    minLimit,
    maxConcurrency,
    smoothing,
    alpha: numberOrFunction('alpha', opts['alpha'], alphaDefault, rule),
    beta: numberOrFunction('beta', opts['beta'], betaDefault, rule),
    threshold: numberOrFunction('threshold', opts['threshold'], thresholdDefault, rule),
    increase: optionalFunction<LimitFunction>('increase', opts['increase']) ?? increaseDefault,
    decrease: optionalFunction<LimitFunction>('decrease', opts['decrease']) ?? decreaseDefault,
    probeMultiplier: optionalNumber('probeMultiplier', opts['probeMultiplier'], 30, { min: 1, integer: true }),
    random: optionalFunction<() => number>('random', opts['random']) ?? Math.random,
  };
  return new VegasLimit(initialLimit, settings);
}

interface VegasSettings {
  readonly minLimit: number;
  readonly maxConcurrency: number;
  readonly smoothing: number;
  readonly alpha: LimitFunction;
  readonly beta: LimitFunction;
  readonly threshold: LimitFunction;
  readonly increase: LimitFunction;
  readonly decrease: LimitFunction;
  readonly probeMultiplier: number;
  readonly random: () => number;
}

/**
 * The Vegas estimator `vegasLimit()` builds.
 *
 * @example
 * ```ts
 * import { vegasLimit } from 'breakwater';
 *
 * const limit = vegasLimit({ initialLimit: 10, maxConcurrency: 20, alpha: 3, beta: 6 });
 * limit.onSample({ rttMs: 10, inflight: 10, dropped: false }); // the first RTT is the no-load RTT
 * limit.onSample({ rttMs: 10, inflight: 11, dropped: false }); // no queue: grow by beta
 * console.log(limit.limit); // 16
 * ```
 */
export class VegasLimit extends LimitBase {
  private estimate: number;
  /** Lowest RTT since the last probe; 0 = none yet. */
  private noLoadRtt = 0;
  private probeCount = 0;
  private probeJitter: number;

  /** @hidden Skips validation: build one with `vegasLimit()`. */
  constructor(
    initialLimit: number,
    private readonly settings: VegasSettings,
  ) {
    super(initialLimit);
    this.estimate = initialLimit;
    this.probeJitter = this.nextJitter();
  }

  /** The floor of the limit. */
  get minLimit(): number {
    return this.settings.minLimit;
  }

  /** The ceiling of the limit. */
  get maxConcurrency(): number {
    return this.settings.maxConcurrency;
  }

  /** The RTT the queue estimate is relative to, in milliseconds (0 before any sample). */
  get noLoadRttMs(): number {
    return this.noLoadRtt;
  }

  /** The reference, formula for formula; it throws on an RTT ≤ 0, this ignores the sample. */
  onSample(sample: LimitSample): void {
    const rtt = usableRtt(sample);
    const inflight = usableInflight(sample);
    if (rtt === undefined || inflight === undefined) return;
    const s = this.settings;

    // Every probeMultiplier × limit samples (jittered), forget the minimum: the downstream
    // may have become slower for good, and a minimum never rises by itself.
    this.probeCount++;
    if (this.probeJitter * s.probeMultiplier * this.estimate <= this.probeCount) {
      this.probeJitter = this.nextJitter();
      this.probeCount = 0;
      this.noLoadRtt = rtt;
      return;
    }
    if (this.noLoadRtt === 0 || rtt < this.noLoadRtt) {
      this.noLoadRtt = rtt;
      return;
    }

    const estimate = this.estimate;
    const current = Math.floor(estimate);
    const queue = Math.ceil(estimate * (1 - this.noLoadRtt / rtt));
    // One-line branches: a no-change branch emptied by a mutant would leave next undefined, which
    // the finite check below turns into the same return (no test could tell them apart).
    let next: number;
    if (sample.dropped === true) next = s.decrease(estimate);
    // App-limited: not near the limit, so latency says nothing about it.
    else if (inflight * 2 < estimate) return;
    // No queue to speak of: grow fast.
    else if (queue <= s.threshold(current)) next = estimate + s.beta(current);
    else if (queue < s.alpha(current)) next = s.increase(estimate);
    else if (queue > s.beta(current)) next = s.decrease(estimate);
    // Between alpha and beta: the queue is where it should be.
    else return;
    next = Math.max(s.minLimit, Math.min(s.maxConcurrency, next));
    next = (1 - s.smoothing) * estimate + s.smoothing * next;
    // A user's function that returns garbage leaves the limit as it was.
    if (!Number.isFinite(next)) return;
    // Mathematically a no-op; in floating point 0.7 × 96 + 0.3 × 96 is 95.999…, below the floor.
    next = Math.max(s.minLimit, Math.min(s.maxConcurrency, next));
    this.estimate = next;
    this.setLimit(Math.floor(next));
  }

  private nextJitter(): number {
    const r = this.settings.random();
    // ThreadLocalRandom.nextDouble(0.5, 1); a source outside [0, 1) (or NaN) counts as 0.
    if (!(r < 1)) return 0.5;
    // Stryker disable next-line EqualityOperator: r > 0 instead is the same function, as r = 0 adds 0 either way
    return r >= 0 ? 0.5 + 0.5 * r : 0.5;
  }
}
