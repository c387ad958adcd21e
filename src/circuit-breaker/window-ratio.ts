import type { Clock } from '../core/clock.js';
import type { CircuitBreakerSettings, CircuitBreakerSnapshot } from './options.js';
import type { ClosedCounts, RuleSnapshot, TripRule } from './trip-rule.js';
import type { OutcomeWindow } from './window.js';

/**
 * Trip mode B: open when failures, or slow calls, reach a ratio of the calls in a window (the
 * last N calls, or the last `windowMs`), once the window holds `minimumThroughput` calls.
 * With a slow-call ratio, failures may still trip it by count (`consecutiveFailures`).
 */
export class WindowRatio implements TripRule {
  private readonly failureRatio: number;
  private readonly slowCallRatio: number;
  private readonly minimumThroughput: number;
  /** 0 when failures trip by ratio only. */
  private readonly consecutiveLimit: number;
  /** Counted even when it cannot trip this rule: `stats` and snapshots report it. */
  private streak = 0;
  /**
   * Trip mode A's counters from a restored snapshot (the options changed between deploys):
   * this rule does not count them, it hands them on until the breaker closes.
   */
  private carriedRunCalls = 0;
  private carriedRunFailures = 0;

  constructor(
    private readonly window: OutcomeWindow,
    settings: CircuitBreakerSettings,
  ) {
    this.failureRatio = settings.failureRatio ?? Infinity;
    this.slowCallRatio = settings.slowCallRatio ?? Infinity;
    this.minimumThroughput = settings.minimumThroughput;
    this.consecutiveLimit = settings.consecutiveFailures;
  }

  get windowKind(): 'calls' | 'time' {
    return this.window.kind;
  }

  get needsTime(): boolean {
    return this.window.kind === 'time';
  }

  record(now: number, failed: boolean, slow: boolean): boolean {
    this.streak = failed ? this.streak + 1 : 0;
    const window = this.window;
    window.record(now, failed, slow);
    if (this.consecutiveLimit !== 0 && this.streak >= this.consecutiveLimit) return true;
    const calls = window.calls;
    return (
      calls >= this.minimumThroughput &&
      // Stryker disable next-line ConditionalExpression: `true` is equivalent (with no call, 0 / 0 is NaN and NaN >= any ratio is false: the guard only skips the divisions); `false` was killed before this mark
      calls !== 0 &&
      (window.failures / calls >= this.failureRatio || window.slowCalls / calls >= this.slowCallRatio)
    );
  }

  counts(clock: Clock): ClosedCounts {
    const totals = this.window.view(this.needsTime ? clock.now() : 0);
    return { calls: totals.calls, failures: totals.failures, slowCalls: totals.slowCalls, consecutiveFailures: this.streak };
  }

  reset(): void {
    this.streak = this.carriedRunCalls = this.carriedRunFailures = 0;
    this.window.reset();
  }

  snapshot(now: number): RuleSnapshot {
    return {
      consecutiveFailures: this.streak,
      runCalls: this.carriedRunCalls,
      runFailures: this.carriedRunFailures,
      windowKind: this.windowKind,
      window: this.window.snapshot(now),
    };
  }

  restore(snapshot: CircuitBreakerSnapshot, now: number): void {
    this.streak = snapshot.consecutiveFailures;
    this.carriedRunCalls = snapshot.runCalls;
    this.carriedRunFailures = snapshot.runFailures;
    // A window of another kind (the options changed between deploys) starts fresh.
    if (snapshot.windowKind === this.windowKind) this.window.restore(snapshot.window, now);
  }
}
