import { checkNumber, checkOneOf, checkOptionsObject, optionNames } from '../core/validate.js';

/** What a backoff needs to choose the next delay. */
export interface BackoffInput {
  /** 1 for the wait before the first retry, 2 before the second, … */
  readonly retry: number;
  /** The previous delay (0 before the first retry). */
  readonly previousDelayMs: number;
  /** Returns a number in [0, 1). */
  readonly random: () => number;
}

/**
 * A stateless delay schedule: one instance can serve any number of policies and calls.
 * `delayMs` returns a finite number in `[0, maxMs]` for every input.
 */
export interface Backoff {
  /** The longest delay `delayMs` returns, in milliseconds. */
  readonly maxMs: number;
  /** Milliseconds to wait before retry number `input.retry`, in `[0, maxMs]`. */
  delayMs(input: BackoffInput): number;
}

/**
 * How `exponentialBackoff` randomizes its delays so that callers that failed together do not
 * retry together: `'none'` (exact), `'full'` (uniform in [0, d]), `'equal'` (uniform in
 * [d/2, d]), `'decorrelated'` (uniform in [initialMs, 3 · previous delay]).
 */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

/** Options of `exponentialBackoff()`. */
export interface ExponentialBackoffOptions {
  /** Delay before the first retry, in milliseconds (before jitter); default 100. */
  initialMs?: number | undefined;
  /** Cap on any delay, in milliseconds; default 30 000 (or `initialMs` when larger). */
  maxMs?: number | undefined;
  /** Growth of the delay per retry (≥ 1); default 2. */
  factor?: number | undefined;
  /** Randomization of each delay; default `'full'`. */
  jitter?: Jitter | undefined;
}

const EXPONENTIAL_BACKOFF_OPTIONS = optionNames<ExponentialBackoffOptions>({ initialMs: true, maxMs: true, factor: true, jitter: true });

function unit(random: () => number): number {
  const r = random();
  // A random source outside [0, 1) (or NaN) must not push a delay out of bounds.
  // Stryker disable next-line EqualityOperator: `r > 0` and `r <= 1` are equivalent (at r = 0 the fallback yields 0 too, at r = 1 it yields 1 too; only a random of -0 would come back +0, a delay no timer tells apart); `r < 0` (of `r >= 0`), `r >= 1` (of `r < 1`), `r > 1` and `r < 1` (of the last `r >= 1`) were killed before this mark
  return r >= 0 && r < 1 ? r : r >= 1 ? 1 : 0;
}

function clamp(value: number, maxMs: number): number {
  // Stryker disable next-line EqualityOperator: `value > 0` and `value < maxMs` are equivalent (at 0 the fallback is 0 too, at maxMs it is maxMs too; only -0 would come back +0); `value < 0` and `value > maxMs` were killed before this mark
  return value >= 0 ? (value <= maxMs ? value : maxMs) : 0;
}

/**
 * The same delay, `ms` milliseconds (≥ 0), before every retry.
 *
 * @example
 * ```ts
 * import { constantBackoff, retry } from 'breakwater';
 *
 * const retrying = retry({ maxRetries: 3, backoff: constantBackoff(250) });
 * ```
 */
export function constantBackoff(ms: number): Backoff {
  checkNumber('ms', ms, { min: 0 });
  return Object.freeze({ maxMs: ms, delayMs: () => ms });
}

/**
 * `initialMs · factor^(retry−1)`, capped at `maxMs`, with jitter:
 * - `none`: exactly that; `full`: uniform in [0, d]; `equal`: uniform in [d/2, d];
 * - `decorrelated`: uniform in [initialMs, 3 · previous] (AWS "decorrelated jitter"), capped.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, retry } from 'breakwater';
 *
 * // waits 5–10, 10–20, 20–40 ms before retries 1, 2, 3 (equal jitter: uniform in [d/2, d])
 * const retrying = retry({ maxRetries: 3, backoff: exponentialBackoff({ initialMs: 10, jitter: 'equal' }) });
 * ```
 */
export function exponentialBackoff(options?: ExponentialBackoffOptions): Backoff {
  const opts = checkOptionsObject('exponentialBackoff', options, false, EXPONENTIAL_BACKOFF_OPTIONS);
  const initialMs = opts['initialMs'] === undefined ? 100 : checkNumber('initialMs', opts['initialMs'], { min: 0 });
  const maxMs = opts['maxMs'] === undefined ? Math.max(30_000, initialMs) : checkNumber('maxMs', opts['maxMs'], { min: 0 });
  const factor = opts['factor'] === undefined ? 2 : checkNumber('factor', opts['factor'], { min: 1 });
  const jitter = opts['jitter'] === undefined ? 'full' : checkOneOf<Jitter>('jitter', opts['jitter'], ['none', 'full', 'equal', 'decorrelated']);
  if (initialMs > maxMs) {
    throw new RangeError(`breakwater: option "initialMs" (${initialMs}) must not exceed "maxMs" (${maxMs})`);
  }

  const ceiling = (retry: number): number => {
    if (initialMs === 0) return 0;
    // factor^(retry-1) overflows to Infinity for large retries; min() then yields maxMs.
    const exact = initialMs * factor ** Math.max(0, retry - 1);
    // Stryker disable next-line EqualityOperator: `exact <= maxMs` is equivalent (when they are equal both branches give maxMs); `exact >= maxMs` was killed before this mark
    return exact < maxMs ? exact : maxMs;
  };

  const delayMs = (input: BackoffInput): number => {
    switch (jitter) {
      case 'none':
        return ceiling(input.retry);
      case 'full':
        return clamp(unit(input.random) * ceiling(input.retry), maxMs);
      case 'equal': {
        const d = ceiling(input.retry);
        return clamp(d / 2 + (unit(input.random) * d) / 2, maxMs);
      }
      case 'decorrelated': {
        // Stryker disable next-line EqualityOperator: `>=` is equivalent (when they are equal both branches give initialMs); `<=` was killed before this mark
        const previous = input.previousDelayMs > initialMs ? input.previousDelayMs : initialMs;
        // Stryker disable next-line EqualityOperator: `<=` is equivalent (when they are equal both branches give maxMs); `>=` was killed before this mark
        const upper = previous * 3 < maxMs ? previous * 3 : maxMs;
        return clamp(initialMs + unit(input.random) * (upper - initialMs), maxMs);
      }
    }
  };
  return Object.freeze({ maxMs, delayMs });
}

export function isBackoff(value: unknown): value is Backoff {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Backoff).delayMs === 'function' &&
    typeof (value as Backoff).maxMs === 'number'
  );
}
