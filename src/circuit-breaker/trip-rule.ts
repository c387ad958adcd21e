import type { Clock } from '../core/clock.js';
import { ConsecutiveFailures } from './consecutive-failures.js';
import type { CircuitBreakerSettings, CircuitBreakerSnapshot } from './options.js';
import { CountWindow, TimeWindow } from './window.js';
import { WindowRatio } from './window-ratio.js';

/** What the closed breaker has counted, as `stats` reports it. */
export interface ClosedCounts {
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  readonly consecutiveFailures: number;
}

/** The trip rule's part of a `toJSON()` snapshot. */
export type RuleSnapshot = Pick<CircuitBreakerSnapshot, 'consecutiveFailures' | 'runCalls' | 'runFailures' | 'windowKind' | 'window'>;

/**
 * When a closed breaker opens. A rule counts the calls of closed periods only (probes are the
 * half-open state's business) and starts over each time the breaker closes.
 */
export interface TripRule {
  readonly windowKind: CircuitBreakerSnapshot['windowKind'];
  /** Counting a call needs the time it completed (a time window). */
  readonly needsTime: boolean;
  /**
   * Counts one settled call and answers whether the breaker must open. `now` is the
   * completion time when `needsTime`; otherwise the rule must not rely on it.
   */
  record(now: number, failed: boolean, slow: boolean): boolean;
  /** A pure read; only a rule that `needsTime` reads the clock. */
  counts(clock: Clock): ClosedCounts;
  /** Forgets everything: the breaker closed again. */
  reset(): void;
  snapshot(now: number): RuleSnapshot;
  restore(snapshot: CircuitBreakerSnapshot, now: number): void;
}

/**
 * Trip mode A (consecutive failures, no window) or B (a ratio over a count or a time window,
 * with failures optionally still tripping by count), as the validated options say.
 */
export function tripRuleFor(settings: CircuitBreakerSettings): TripRule {
  if (settings.windowCalls !== undefined) return new WindowRatio(new CountWindow(settings.windowCalls), settings);
  if (settings.windowMs !== undefined) return new WindowRatio(new TimeWindow(settings.windowMs, settings.windowBuckets), settings);
  return new ConsecutiveFailures(settings.consecutiveFailures);
}
