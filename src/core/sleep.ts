import type { Clock } from './clock.js';
import type { Scope } from './scope.js';

/**
 * Waits `ms` on `clock`, or rejects with the abort reason as soon as `ctx` aborts (caller
 * abort or an outer timeout). The timer and the abort subscription never outlive the wait.
 * `ms` 0 still yields, through `clock.setTimeout(…, 0)` and never `setImmediate`: under a
 * virtual clock the wait then takes its turn in the clock's order, like every other event.
 */
export function sleep(clock: Clock, ms: number, ctx: Scope): Promise<void> {
  if (ctx.aborted) return Promise.reject(ctx.reason);
  return new Promise<void>((resolve, reject) => {
    let detach: () => void = () => {};
    const timer = clock.setTimeout(() => {
      detach();
      resolve();
    }, ms);
    detach = ctx.onAbort((reason) => {
      clock.clearTimeout(timer);
      reject(reason);
    });
  });
}
