// What every limit estimator shares: the sample it learns from, the integer limit it publishes,
// and change notification. The estimators themselves (gradient2, vegas, aimd) are pure: they
// read no clock and hold no timer, so they can be driven by hand, in a test or a simulator.

/** One settled call, as a limiter reports it to its estimator. */
export interface LimitSample {
  /** Round-trip time: from admission to settle, in milliseconds. */
  readonly rttMs: number;
  /** Calls in flight when this one was admitted, itself included. */
  readonly inflight: number;
  /** The call was dropped: it timed out or was refused for overload (a loss signal). */
  readonly dropped: boolean;
  /**
   * When the call was admitted, in milliseconds on the limiter's clock. Optional; only a
   * time-windowed estimator (`windowedLimit`) uses it.
   */
  readonly startMs?: number | undefined;
}

/** A concurrency limit estimated from samples (a pure estimator, usable alone). */
export interface Limit {
  /** The current limit: an integer ≥ 1. */
  readonly limit: number;
  /**
   * Learns from one settled call. Never throws for an odd sample: it ignores it. The sample
   * object is only valid during the call (a limiter may reuse it for the next one): copy
   * what you keep.
   */
  onSample(sample: LimitSample): void;
  /**
   * Calls `listener(limit)` after each change of `limit`; the result unsubscribes. Optional: a
   * limiter polls `limit` after each sample it reports when a Limit cannot be subscribed to.
   */
  subscribe?(listener: (limit: number) => void): () => void;
}

/** What `Limit.subscribe` calls with the new integer limit, on each change. */
export type LimitListener = (limit: number) => void;

/**
 * A base for estimators: the integer limit, published to subscribers on change only (`setLimit`).
 *
 * Extend it for an estimator of your own: implement `onSample`, call `setLimit` to move the limit.
 *
 * @example
 * ```ts
 * import { LimitBase, adaptiveConcurrency, type LimitSample } from 'breakwater';
 *
 * // halves on a drop, +1 per success, within [1, 64]
 * class HalvingLimit extends LimitBase {
 *   constructor() {
 *     super(8);
 *   }
 *   onSample(sample: LimitSample): void {
 *     this.setLimit(sample.dropped ? Math.max(1, Math.floor(this.limit / 2)) : Math.min(64, this.limit + 1));
 *   }
 * }
 * const limiter = adaptiveConcurrency({ limit: new HalvingLimit() });
 * ```
 */
export abstract class LimitBase implements Limit {
  private current: number;
  // Stryker disable next-line ArrayDeclaration: a non-function in the list throws when called, and setLimit swallows what a listener throws
  private listeners: readonly LimitListener[] = [];

  /** `initialLimit`: the limit before any sample, an integer ≥ 1. */
  protected constructor(initialLimit: number) {
    this.current = initialLimit;
  }

  get limit(): number {
    return this.current;
  }

  abstract onSample(sample: LimitSample): void;

  subscribe(listener: LimitListener): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`breakwater: subscribe(listener) needs a function, received ${typeof listener}`);
    }
    // Copy-on-write: a notification in progress keeps iterating the list it started with.
    this.listeners = [...this.listeners, listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      // Always found: a subscription removes only itself, and only once (the flag above).
      const index = this.listeners.indexOf(listener);
      this.listeners = this.listeners.filter((_, i) => i !== index);
    };
  }

  /** Moves the limit to `next` (an integer ≥ 1) and tells the subscribers, if it changed. */
  protected setLimit(next: number): void {
    if (next === this.current) return;
    this.current = next;
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch {
        // A listener that throws must not stop the estimator nor the other listeners.
      }
    }
  }
}

/** Largest RTT taken at face value (about 285 000 years): sums of a few stay finite. */
const MAX_RTT_MS = Number.MAX_SAFE_INTEGER;

/**
 * The sample's RTT when it carries latency information, else undefined: not a number, not
 * positive (a call that took no measurable time says nothing about queueing), or infinite.
 * Huge finite values are capped so that the estimators' sums stay finite.
 */
export function usableRtt(sample: LimitSample): number | undefined {
  const rtt = sample.rttMs;
  if (typeof rtt !== 'number' || !(rtt > 0) || rtt === Infinity) return undefined;
  // Stryker disable next-line EqualityOperator: at rtt = MAX_RTT_MS both branches give MAX_RTT_MS
  return rtt > MAX_RTT_MS ? MAX_RTT_MS : rtt;
}

/** The sample's in-flight count, or undefined when it is not a finite number ≥ 0. */
export function usableInflight(sample: LimitSample): number | undefined {
  const inflight = sample.inflight;
  return typeof inflight === 'number' && inflight >= 0 && inflight !== Infinity ? inflight : undefined;
}

/**
 * An exponential moving average with a warm-up: the first `warmup` samples give their
 * arithmetic mean, later ones move the average by `2 / (window + 1)` of the difference
 * (concurrency-limits ExpAvgMeasurement).
 */
export class ExpAvgMeasurement {
  private current = 0;
  private sum = 0;
  private count = 0;
  private readonly factor: number;

  constructor(
    window: number,
    private readonly warmup: number,
  ) {
    this.factor = 2 / (window + 1);
  }

  get value(): number {
    return this.current;
  }

  /** True while the first `warmup` samples are being averaged. */
  get warmingUp(): boolean {
    return this.count < this.warmup;
  }

  add(sample: number): number {
    if (this.count < this.warmup) {
      this.count++;
      this.sum += sample;
      this.current = this.sum / this.count;
    } else {
      this.current = this.current * (1 - this.factor) + sample * this.factor;
    }
    return this.current;
  }

  /** Replaces the average (during warm-up, the next sample recomputes the mean anyway). */
  set(value: number): void {
    this.current = value;
  }
}

/**
 * max(1, floor(log10(limit))): the step of Vegas' default thresholds and increments
 * (concurrency-limits Log10RootIntFunction, a lookup table below 1000 in the reference).
 */
export function log10Root(limit: number): number {
  // Counted, not computed: Math.log10 rounds up just below some powers of ten (10^15 − 1).
  let digits = 0;
  for (let power = 10; power <= limit && digits < 308; power *= 10) digits++;
  // Stryker disable next-line EqualityOperator: at digits = 1 both branches give 1
  return digits > 1 ? digits : 1;
}
