import { checkNumber, checkOptionsObject, optionalNumber, optionNames } from '../core/validate.js';
import { ExpAvgMeasurement, LimitBase, usableInflight, usableRtt, type LimitSample } from './limit.js';
import { checkLimitRange, numberOrFunction, type LimitFunction } from './options.js';

/** Options of `gradient2Limit()`; all optional, the reference's defaults. */
export interface Gradient2LimitOptions {
  /** Limit before any sample (default 20). */
  initialLimit?: number | undefined;
  /** The limit never falls below this (default 20). */
  minLimit?: number | undefined;
  /** The limit never rises above this (default 200). */
  maxConcurrency?: number | undefined;
  /** Weight of each new estimate, in (0, 1] (default 0.2). */
  smoothing?: number | undefined;
  /**
   * Headroom added to the limit while latency shows no queueing: a number of calls, or a
   * function of the current limit (default 4).
   */
  queueSize?: number | LimitFunction | undefined;
  /** Window of the long-term RTT average, in samples (default 600). */
  longWindow?: number | undefined;
  /** How much slower than the long-term RTT a sample may be before it counts as queueing, ≥ 1 (default 1.5). */
  rttTolerance?: number | undefined;
}

const GRADIENT2_LIMIT_OPTIONS = optionNames<Gradient2LimitOptions>({ initialLimit: true, minLimit: true, maxConcurrency: true, smoothing: true, queueSize: true, longWindow: true, rttTolerance: true });

const WARMUP_SAMPLES = 10;
const defaultQueueSize: LimitFunction = () => 4;

/**
 * Netflix concurrency-limits' Gradient2: compares each RTT with a long-term average of RTTs
 * and shrinks the limit by their ratio (the gradient) when latency rises, grows it by
 * `queueSize` while latency holds. Feed it averaged samples (`windowedLimit`): a single call's
 * RTT reflects the limit of one round trip ago, and per-call updates oscillate.
 *
 * One change from the reference, which grows without bound under steady overload: see
 * `Gradient2Limit.onSample`.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, gradient2Limit, windowedLimit } from 'breakwater';
 *
 * // the default estimator, with a higher floor and ceiling
 * const limiter = adaptiveConcurrency({ limit: windowedLimit(gradient2Limit({ initialLimit: 50, minLimit: 50, maxConcurrency: 500 })) });
 * ```
 */
export function gradient2Limit(options?: Gradient2LimitOptions): Gradient2Limit {
  const opts = checkOptionsObject('gradient2Limit', options, false, GRADIENT2_LIMIT_OPTIONS);
  const initialLimit = optionalNumber('initialLimit', opts['initialLimit'], 20, { min: 1, integer: true });
  const minLimit = optionalNumber('minLimit', opts['minLimit'], 20, { min: 1, integer: true });
  const maxConcurrency = optionalNumber('maxConcurrency', opts['maxConcurrency'], 200, { min: 1, integer: true });
  checkLimitRange(initialLimit, minLimit, maxConcurrency, 'maxConcurrency');
  const smoothing = optionalNumber('smoothing', opts['smoothing'], 0.2, { above: 0, max: 1 });
  const queueSize = numberOrFunction('queueSize', opts['queueSize'], defaultQueueSize, { min: 0 });
  const longWindow = optionalNumber('longWindow', opts['longWindow'], 600, { min: 1, integer: true });
  const rttTolerance =
    opts['rttTolerance'] === undefined ? 1.5 : checkNumber('rttTolerance', opts['rttTolerance'], { min: 1 });
  return new Gradient2Limit(initialLimit, minLimit, maxConcurrency, smoothing, queueSize, longWindow, rttTolerance);
}

/**
 * The Gradient2 estimator `gradient2Limit()` builds; `baselineRttMs` is the long-term RTT it compares against.
 *
 * @example
 * ```ts
 * import { gradient2Limit } from 'breakwater';
 *
 * const limit = gradient2Limit();
 * limit.onSample({ rttMs: 20, inflight: 20, dropped: false });
 * console.log(limit.limit, limit.baselineRttMs); // 20 20
 * ```
 */
export class Gradient2Limit extends LimitBase {
  private estimate: number;
  /** The reference's long-term RTT, here a baseline that our own queueing cannot raise. */
  private readonly baseline: ExpAvgMeasurement;

  /** @hidden Skips validation: build one with `gradient2Limit()`. */
  constructor(
    initialLimit: number,
    /** The floor of the limit. */
    readonly minLimit: number,
    /** The ceiling of the limit. */
    readonly maxConcurrency: number,
    private readonly smoothing: number,
    private readonly queueSize: LimitFunction,
    longWindow: number,
    private readonly rttTolerance: number,
  ) {
    super(initialLimit);
    this.estimate = initialLimit;
    this.baseline = new ExpAvgMeasurement(longWindow, WARMUP_SAMPLES);
  }

  /** The long-term RTT the gradient compares against, in milliseconds (0 before any sample). */
  get baselineRttMs(): number {
    return this.baseline.value;
  }

  /**
   * The reference, formula for formula, except where it lets the limit grow without bound.
   *
   * Under steady overload every call waits in the downstream's queue, so every RTT includes
   * queueing that this limit caused. The reference averages those RTTs into its long-term RTT
   * anyway: the baseline rises with the queue, the gradient returns to 1, and the limit grows
   * by `queueSize` per sample until the queue is long enough to push the gradient down again
   * — against a baseline that has risen meanwhile, so it never stops short of
   * `maxConcurrency` (concurrency-limits PR #134 describes the symptom at gradient ≈ 0.8).
   * Two changes bound it:
   *
   * 1. A sample teaches the baseline only when it cannot be our own queueing: while calls are
   *    app-limited (in flight < limit / 2, the reference's own test), during the warm-up, or
   *    once the limit sits at `minLimit` (it cannot back off further, so latency there is the
   *    downstream's — this is how a downstream that became slower for good is learned). When
   *    the limit is what holds calls back, the baseline can only fall, to a faster sample: a
   *    queue only ever makes a call slower, so a faster one is honest evidence.
   * 2. `queueSize` is added only when the gradient is 1 (the change PR #134 proposes): while
   *    latency shows queueing the limit can only fall.
   *
   * With the baseline pinned, a downstream whose latency grows with concurrency past its
   * capacity N holds the limit where RTT ≈ rttTolerance × baseline, about rttTolerance × N.
   */
  onSample(sample: LimitSample): void {
    const rtt = usableRtt(sample);
    const inflight = usableInflight(sample);
    if (rtt === undefined || inflight === undefined) return;
    const estimate = this.estimate;
    const appLimited = inflight < estimate / 2;

    let baseline: number;
    if (appLimited || this.baseline.warmingUp || estimate <= this.minLimit) {
      baseline = this.baseline.add(rtt);
    } else {
      baseline = this.baseline.value;
      // Stryker disable next-line EqualityOperator: `rtt <= baseline` is equivalent (setting the baseline to its own value changes nothing); `rtt >= baseline` was killed before this mark
      if (rtt < baseline) {
        this.baseline.set(rtt);
        baseline = rtt;
      }
    }
    // After a long overload the baseline can sit far above the current RTT: decay it quickly.
    if (baseline / rtt > 2) this.baseline.set(this.baseline.value * 0.95);

    // App-limited: the limit is not what holds calls back, so latency says nothing about it.
    if (appLimited) return;

    const gradient = Math.max(0.5, Math.min(1, (this.rttTolerance * baseline) / rtt));
    const queueSize = gradient === 1 ? this.queueSize(Math.floor(estimate)) : 0;
    let next = estimate * gradient + queueSize;
    next = estimate * (1 - this.smoothing) + next * this.smoothing;
    // A user's queueSize function that returns garbage leaves the limit as it was.
    if (!Number.isFinite(next)) return;
    next = Math.max(this.minLimit, Math.min(this.maxConcurrency, next));
    this.estimate = next;
    this.setLimit(Math.floor(next));
  }
}
