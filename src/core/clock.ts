/** A monotonic time source and the timers that go with it. Every time-based policy takes one. */
export interface Clock {
  /** Monotonic milliseconds. Only differences between readings mean anything. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer `setTimeout` returned; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: unknown): void;
}

/** Node's timers fire after 1 ms when asked for more than this (they overflow a 32-bit int). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

interface LongTimer {
  handle: ReturnType<typeof globalThis.setTimeout>;
}

function isLongTimer(handle: unknown): handle is LongTimer {
  return typeof handle === 'object' && handle !== null && 'handle' in handle && !('ref' in handle);
}

function setLongTimeout(callback: () => void, ms: number): LongTimer {
  const timer: LongTimer = { handle: undefined as never };
  const deadline = performance.now() + ms;
  const arm = (): void => {
    const left = deadline - performance.now();
    if (left > MAX_TIMER_MS) timer.handle = globalThis.setTimeout(arm, MAX_TIMER_MS);
    else timer.handle = globalThis.setTimeout(callback, Math.max(0, left));
  };
  arm();
  return timer;
}

/**
 * `performance.now()` and the global timers. Waits longer than 2^31−1 ms are split into
 * several timers so they never fire early. Timers are ref'd like any awaited timer: a
 * policy only holds one while a call waits on it.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout(callback: () => void, ms: number): unknown {
    return ms > MAX_TIMER_MS ? setLongTimeout(callback, ms) : globalThis.setTimeout(callback, ms);
  },
  clearTimeout(handle: unknown): void {
    if (isLongTimer(handle)) globalThis.clearTimeout(handle.handle);
    else globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  },
});
