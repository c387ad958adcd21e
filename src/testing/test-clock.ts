import type { Clock } from '../core/clock.js';
import { checkNumber } from '../core/validate.js';

interface VirtualTimer {
  readonly deadline: number;
  readonly sequence: number;
  readonly callback: () => void;
}

/** Lets every promise reaction queued so far (and those they queue) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Virtual time for tests. Nothing happens until `advance` is awaited: it fires due timers in
 * deadline order (ties in creation order), setting `now()` to each deadline first and letting
 * promise callbacks settle after each, so code awaiting a timer runs before the next fires.
 *
 * @example
 * ```ts
 * import { timeout } from 'breakwater';
 * import { TestClock } from 'breakwater/testing';
 *
 * const clock = new TestClock();
 * const policy = timeout(30_000, { clock });
 * const call = policy.execute(() => new Promise(() => {})).catch((error) => error.code);
 * await clock.advance(30_000); // fires due timers in order, letting promises settle after each
 * console.log(await call, clock.now()); // ERR_TIMEOUT 30000
 * ```
 */
export class TestClock implements Clock {
  private current: number;
  private sequence = 0;
  /** Sorted by (deadline, sequence). Few timers are alive at once in tests: an array is fine. */
  private readonly timers: VirtualTimer[] = [];

  /** `start`: what `now()` returns before any `advance` or `jump`, in milliseconds (default 0). */
  constructor(start = 0) {
    this.current = checkNumber('start', start);
  }

  now(): number {
    return this.current;
  }

  /** Timers not yet fired nor cleared. */
  get pending(): number {
    return this.timers.length;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: VirtualTimer = { deadline: this.current + delay, sequence: this.sequence++, callback };
    let index = this.timers.length;
    while (index > 0 && this.timers[index - 1]!.deadline > timer.deadline) index--;
    this.timers.splice(index, 0, timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const index = this.timers.indexOf(handle as VirtualTimer);
    if (index !== -1) this.timers.splice(index, 1);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    checkNumber('ms', ms, { min: 0 });
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.deadline > target) break;
      this.timers.shift();
      if (next.deadline > this.current) this.current = next.deadline;
      next.callback();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /**
   * Adds `ms` to `now()` without firing timers (a negative `ms` moves it back): simulates a clock
   * that jumps, for testing that policies survive it. Real monotonic clocks never do this.
   */
  jump(ms: number): void {
    this.current += checkNumber('ms', ms);
  }

  /** Fires every pending timer (including ones they schedule) up to `limitMs` ahead. */
  async runAll(limitMs = 24 * 3600 * 1000): Promise<void> {
    const stop = this.current + limitMs;
    while (this.timers.length > 0 && this.timers[0]!.deadline <= stop) {
      await this.advance(this.timers[0]!.deadline - this.current);
    }
  }
}
