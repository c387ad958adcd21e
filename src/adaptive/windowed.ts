import { systemClock, type Clock } from '../core/clock.js';
import { checkClock, checkNumber, checkOptionsObject, describeValue, optionalNumber, optionNames } from '../core/validate.js';
import type { Limit, LimitListener, LimitSample } from './limit.js';

/** Options of `windowedLimit()`; all optional. Durations in milliseconds. */
export interface WindowedLimitOptions {
  /** Shortest window, ≥ 100 (default 1000). */
  minWindowMs?: number | undefined;
  /** Longest window, ≥ 100 (default 1000). */
  maxWindowMs?: number | undefined;
  /** Samples a window needs before it closes; a thinner one stays open (default 10, at least 10). */
  windowSize?: number | undefined;
  /** Samples faster than this are ignored (default 0.1: a tenth of a millisecond). */
  minRttThresholdMs?: number | undefined;
  /** Read for a sample's end time only when the sample carries no `startMs`. */
  clock?: Clock | undefined;
}

const WINDOWED_LIMIT_OPTIONS = optionNames<WindowedLimitOptions>({ minWindowMs: true, maxWindowMs: true, windowSize: true, minRttThresholdMs: true, clock: true });

/**
 * Netflix concurrency-limits' WindowedLimit: collects samples over a window of
 * 2 × (the window's lowest RTT), clamped to [minWindowMs, maxWindowMs] and holding at least
 * `windowSize` samples, and gives `limit` one sample per window — the average RTT, the highest
 * in-flight count, and whether any call was dropped. A call's RTT reflects the limit of one
 * round trip ago; updating once per window of at least a round trip keeps the estimator from
 * chasing its own echo, and averaging keeps one slow call from moving the limit.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, vegasLimit, windowedLimit } from 'breakwater';
 *
 * // one averaged sample per window of 0.5–2 s holding at least 20 calls
 * const limit = windowedLimit(vegasLimit(), { minWindowMs: 500, maxWindowMs: 2_000, windowSize: 20 });
 * const limiter = adaptiveConcurrency({ limit });
 * ```
 */
export function windowedLimit(limit: Limit, options?: WindowedLimitOptions): WindowedLimit {
  if (typeof limit !== 'object' || limit === null || typeof limit.onSample !== 'function' || !('limit' in limit)) {
    throw new TypeError(`breakwater: windowedLimit(limit) needs a Limit (with limit and onSample), received ${describeValue(limit)}`);
  }
  const opts = checkOptionsObject('windowedLimit', options, false, WINDOWED_LIMIT_OPTIONS);
  const minWindowMs = optionalNumber('minWindowMs', opts['minWindowMs'], 1000, { min: 100 });
  const maxWindowMs = optionalNumber('maxWindowMs', opts['maxWindowMs'], 1000, { min: 100 });
  if (minWindowMs > maxWindowMs) {
    throw new RangeError(`breakwater: option "minWindowMs" (${minWindowMs}) must be <= "maxWindowMs" (${maxWindowMs})`);
  }
  const windowSize = optionalNumber('windowSize', opts['windowSize'], 10, { min: 10, integer: true });
  const minRttThresholdMs =
    opts['minRttThresholdMs'] === undefined ? 0.1 : checkNumber('minRttThresholdMs', opts['minRttThresholdMs'], { min: 0 });
  checkClock(opts['clock']);
  const clock = (opts['clock'] as Clock | undefined) ?? systemClock;
  return new WindowedLimit(limit, minWindowMs, maxWindowMs, windowSize, minRttThresholdMs, clock);
}

/**
 * The windowing wrapper `windowedLimit()` builds: it averages samples over a window and feeds
 * `delegate` one sample per window. Its `limit` is the delegate's.
 *
 * @example
 * ```ts
 * import { gradient2Limit, windowedLimit } from 'breakwater';
 *
 * const limit = windowedLimit(gradient2Limit());
 * limit.subscribe((value) => console.log(`limit → ${value}`));
 * console.log(limit.limit === limit.delegate.limit); // true
 * ```
 */
export class WindowedLimit implements Limit {
  private nextUpdateMs = -Infinity;
  // The current window, kept as plain fields: a sample allocates nothing.
  private count = 0;
  private sumRttMs = 0;
  private minRttMs = Infinity;
  private maxInflight = 0;
  private dropped = false;
  // Stryker disable next-line ArrayDeclaration: `["Stryker was here"]` is equivalent (a non-function watcher throws when called, and onSample swallows what a watcher throws)
  private watchers: readonly LimitListener[] = [];

  /** @hidden Skips validation: build one with `windowedLimit()`. */
  constructor(
    /** The estimator fed one sample per window. */
    readonly delegate: Limit,
    private readonly minWindowMs: number,
    private readonly maxWindowMs: number,
    private readonly windowSize: number,
    private readonly minRttThresholdMs: number,
    private readonly clock: Clock,
  ) {}

  get limit(): number {
    return this.delegate.limit;
  }

  subscribe(listener: LimitListener): () => void {
    if (typeof this.delegate.subscribe === 'function') return this.delegate.subscribe(listener);
    // A delegate without subscribe: watch it after each sample we forward (its only input).
    if (typeof listener !== 'function') {
      throw new TypeError(`breakwater: subscribe(listener) needs a function, received ${typeof listener}`);
    }
    this.watchers = [...this.watchers, listener];
    return () => {
      this.watchers = this.watchers.filter((w) => w !== listener);
    };
  }

  onSample(sample: LimitSample): void {
    const rtt = sample.rttMs;
    if (typeof rtt !== 'number' || !(rtt >= this.minRttThresholdMs) || rtt === Infinity) return;
    const inflight = sample.inflight;
    if (typeof inflight !== 'number' || !(inflight >= 0) || inflight === Infinity) return;
    const startMs = sample.startMs;
    // Number.isFinite is false for anything but a finite number (it does not convert).
    const endMs = Number.isFinite(startMs) ? (startMs as number) + rtt : this.clock.now();

    if (this.nextUpdateMs === -Infinity) {
      // The first sample only starts the clock, as in the reference: the calls that finish
      // first after a start are the fastest of their cohort, and would bias the first window.
      this.nextUpdateMs = endMs + Math.min(Math.max(rtt * 2, this.minWindowMs), this.maxWindowMs);
      return;
    }
    this.count++;
    this.sumRttMs += rtt;
    this.minRttMs = Math.min(this.minRttMs, rtt);
    this.maxInflight = Math.max(this.maxInflight, inflight);
    if (sample.dropped === true) this.dropped = true;
    // A window closes once its time is up and it holds windowSize samples. The reference
    // discards a window that is short of samples instead (concurrency-limits #125); when a
    // bad deploy cuts throughput below windowSize per window, that freezes the limit exactly
    // when it should fall. Here the window stretches until it has enough.
    if (!(endMs > this.nextUpdateMs) || this.count < this.windowSize) return;

    const { count, sumRttMs, minRttMs, maxInflight, dropped } = this;
    this.count = 0;
    this.sumRttMs = 0;
    this.minRttMs = Infinity;
    this.maxInflight = 0;
    this.dropped = false;
    this.nextUpdateMs = endMs + Math.min(Math.max(minRttMs * 2, this.minWindowMs), this.maxWindowMs);
    const before = this.delegate.limit;
    this.delegate.onSample({ rttMs: sumRttMs / count, inflight: maxInflight, dropped, startMs });
    const after = this.delegate.limit;
    if (after !== before) {
      for (const watcher of this.watchers) {
        try {
          watcher(after);
        } catch {
          // A listener that throws must not stop the others.
        }
      }
    }
  }
}
