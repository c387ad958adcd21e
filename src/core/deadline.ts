import { AsyncLocalStorage } from 'node:async_hooks';
import type { Clock } from './clock.js';

/**
 * The time by which a whole piece of work (an inbound request, say) must be answered, on the
 * clock of whoever set it. Policies read the remaining budget through that same clock, so a
 * deadline set on the system clock and one set on a test clock each stay consistent.
 */
export interface Deadline {
  /** `clock.now()` at which the budget is spent. */
  readonly atMs: number;
  /** The clock `atMs` is read on; policies compute what is left through it. */
  readonly clock: Clock;
}

/**
 * Milliseconds left before `deadline` (negative once it passed).
 *
 * @example
 * ```ts
 * import { remainingMs, systemClock } from 'breakwater';
 *
 * const deadline = { atMs: systemClock.now() + 200, clock: systemClock };
 * console.log(remainingMs(deadline)); // about 200
 * ```
 */
export function remainingMs(deadline: Deadline): number {
  return deadline.atMs - deadline.clock.now();
}

// Created on first use: a program that never sets a deadline never pays for async context
// tracking, and reading the ambient deadline costs one comparison.
let storage: AsyncLocalStorage<Deadline> | undefined;

/**
 * Runs `fn` with `deadline` as the ambient deadline of everything it starts (its awaits, its
 * callbacks): a `timeout` inside never waits past it, `resilientFetch` forwards what is left.
 * A tighter deadline already in force wins.
 *
 * @example
 * ```ts
 * import { currentDeadline, remainingMs, runWithDeadline, systemClock, timeout } from 'breakwater';
 *
 * const limit = timeout(1_000);
 * await runWithDeadline({ atMs: systemClock.now() + 200, clock: systemClock }, async () => {
 *   // the timeout gives up after 200 ms, not 1000: the deadline is tighter
 *   await limit.execute(({ signal }) => fetch('https://example.com', { signal }));
 *   console.log(remainingMs(currentDeadline()!)); // what is left of the 200 ms
 * });
 * ```
 */
export function runWithDeadline<T>(deadline: Deadline, fn: () => T): T {
  storage ??= new AsyncLocalStorage<Deadline>();
  const outer = storage.getStore();
  const effective = outer !== undefined && remainingMs(outer) < remainingMs(deadline) ? outer : deadline;
  return storage.run(effective, fn);
}

/**
 * The deadline in force for the current async context, if any.
 *
 * @example
 * ```ts
 * import { currentDeadline, remainingMs } from 'breakwater';
 *
 * const deadline = currentDeadline();
 * const budgetMs = deadline === undefined ? Infinity : remainingMs(deadline);
 * ```
 */
export function currentDeadline(): Deadline | undefined {
  return storage === undefined ? undefined : storage.getStore();
}
