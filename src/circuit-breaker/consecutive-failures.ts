import type { CircuitBreakerSnapshot } from './options.js';
import type { ClosedCounts, RuleSnapshot, TripRule } from './trip-rule.js';

/**
 * Trip mode A: open after `limit` counted failures in a row. Keeps no window, only counters
 * since the breaker last closed, and never needs the time.
 */
export class ConsecutiveFailures implements TripRule {
  private streak = 0;
  private calls = 0;
  private failures = 0;

  constructor(private readonly limit: number) {}

  get windowKind(): 'none' {
    return 'none';
  }

  get needsTime(): false {
    return false;
  }

  record(_now: number, failed: boolean): boolean {
    this.calls++;
    if (!failed) {
      this.streak = 0;
      return false;
    }
    this.failures++;
    return ++this.streak >= this.limit;
  }

  counts(): ClosedCounts {
    return { calls: this.calls, failures: this.failures, slowCalls: 0, consecutiveFailures: this.streak };
  }

  reset(): void {
    this.streak = this.calls = this.failures = 0;
  }

  snapshot(): RuleSnapshot {
    return { consecutiveFailures: this.streak, runCalls: this.calls, runFailures: this.failures, windowKind: this.windowKind, window: [] };
  }

  restore(snapshot: CircuitBreakerSnapshot): void {
    this.streak = snapshot.consecutiveFailures;
    this.calls = snapshot.runCalls;
    this.failures = snapshot.runFailures;
  }
}
