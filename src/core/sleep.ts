import type { Clock } from './clock.js';
import type { Scope } from './scope.js';

/**
 * Waits `ms` on `clock`, or rejects with the abort reason as soon as `ctx` aborts (caller
 * abort or an outer timeout). The timer and the abort subscription never outlive the wait.
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

/**
 * Yields one turn of the event loop (no time passes, so no clock is involved), then rejects
 * with the abort reason if `ctx` aborted meanwhile.
 */
export function nextTurn(ctx: Scope): Promise<void> {
  if (ctx.aborted) return Promise.reject(ctx.reason);
  return new Promise<void>((resolve, reject) => {
    setImmediate(() => (ctx.aborted ? reject(ctx.reason) : resolve()));
  });
}
