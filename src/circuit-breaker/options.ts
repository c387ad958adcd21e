import { systemClock, type Clock } from '../core/clock.js';
import { readHandleOptions, type ErrorFilter, type ResultFilter } from '../core/handle.js';
import {
  checkClock,
  checkName,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionNames,
  optionalFunction,
} from '../core/validate.js';
import { isBackoff, type Backoff } from '../retry/backoff.js';

/**
 * A breaker's state: `'closed'` (calls run), `'open'` (calls refused), `'half-open'` (a few
 * probes run), `'isolated'` (held open by `isolate()`).
 */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** `R`: the type of the results `handleResult` judges, when you know it (default `unknown`). */
export interface CircuitBreakerOptions<R = unknown> {
  /**
   * How long the breaker stays open before admitting a probe. A `Backoff` makes repeated
   * openings wait longer: opening n (since the breaker was last closed) waits
   * `backoff.delayMs({ retry: n, previousDelayMs, random })`.
   */
  halfOpenAfterMs: number | Backoff;
  /** Trip mode A: open after this many failures in a row. Default 5 when `failureRatio` is unset. */
  consecutiveFailures?: number | undefined;
  /** Trip mode B: open when failures / calls in the window reaches this ratio (0 < r ≤ 1). */
  failureRatio?: number | undefined;
  /** Time window: calls that completed in the last `windowMs` (a ring of `windowBuckets` buckets). */
  windowMs?: number | undefined;
  /** Buckets of a time window (default 10): the window forgets in steps of `windowMs / windowBuckets`. */
  windowBuckets?: number | undefined;
  /** Count window: the last `windowCalls` calls. */
  windowCalls?: number | undefined;
  /**
   * Calls the window must hold before a ratio can trip it. Default 100 (resilience4j's
   * `minimumNumberOfCalls`), capped at `windowCalls` for a count window.
   */
  minimumThroughput?: number | undefined;
  /** A call (success or failure) that takes longer than this is slow. Needs `slowCallRatio`. */
  slowCallMs?: number | undefined;
  /** Open when slow calls / calls in the window reaches this ratio (0 < r ≤ 1). Needs a window. */
  slowCallRatio?: number | undefined;
  /** Probes admitted at once while half-open (default 1); all must succeed to close. */
  halfOpenProbes?: number | undefined;
  /**
   * A probe still running after this long stops holding its slot, so a hung probe cannot wedge
   * the breaker. Default: `halfOpenAfterMs`, or `backoff.maxMs` when that is a Backoff.
   */
  probeTimeoutMs?: number | undefined;
  /** Which errors count as failures. Default: all (a caller abort never does). */
  handle?: ErrorFilter | undefined;
  /** Results that count as failures. */
  handleResult?: ResultFilter<R> | undefined;
  /** A snapshot from `toJSON()`, to resume a breaker in another process or invocation. */
  initialState?: CircuitBreakerSnapshot | undefined;
  /** Time source of the window, the open period and slow-call timing; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Used only by a Backoff `halfOpenAfterMs`. Default Math.random. */
  random?: (() => number) | undefined;
  /** Names the breaker in its events and telemetry; default `'circuit-breaker'`. */
  name?: string | undefined;
}

const CIRCUIT_BREAKER_OPTIONS = optionNames<CircuitBreakerOptions>({
  halfOpenAfterMs: true, consecutiveFailures: true, failureRatio: true, windowMs: true, windowBuckets: true,
  windowCalls: true, minimumThroughput: true, slowCallMs: true, slowCallRatio: true, halfOpenProbes: true,
  probeTimeoutMs: true, handle: true, handleResult: true, initialState: true, clock: true, random: true, name: true,
});

/**
 * Serializable state of a breaker (`toJSON()`). Times are relative (remaining open time, ages
 * of window buckets): monotonic clocks of two processes share no origin.
 */
export interface CircuitBreakerSnapshot {
  /** Format of the snapshot; a breaker refuses any other. */
  readonly version: 1;
  /** Isolation is never persisted: it belongs to whoever holds the release function. */
  readonly state: 'closed' | 'open' | 'half-open';
  /** Open only: milliseconds left before a probe is admitted (0 when one already may be). */
  readonly openRemainingMs: number;
  /** Length of the latest open period (the previous delay for a Backoff). */
  readonly openMs: number;
  /** Openings since the breaker last closed (the Backoff's `retry` count). */
  readonly openings: number;
  /** Consecutive counted failures (trip mode A). */
  readonly consecutiveFailures: number;
  /** Counted calls and failures since the breaker last closed (trip mode A only, for `stats`). */
  readonly runCalls: number;
  /** Counted failures among `runCalls`. */
  readonly runFailures: number;
  /** `'calls'` / `'time'` window the entries belong to, or `'none'`. */
  readonly windowKind: 'calls' | 'time' | 'none';
  /** Oldest first: `[ageMs, calls, failures, slowCalls]`; one entry per call for a count window. */
  readonly window: ReadonlyArray<readonly [number, number, number, number]>;
}

/** Everything the breaker needs, validated and defaulted. */
export interface CircuitBreakerSettings {
  readonly halfOpenAfterMs: number | Backoff;
  /** 0 when trip mode A is off. */
  readonly consecutiveFailures: number;
  readonly failureRatio: number | undefined;
  readonly windowMs: number | undefined;
  readonly windowBuckets: number;
  readonly windowCalls: number | undefined;
  readonly minimumThroughput: number;
  readonly slowCallMs: number | undefined;
  readonly slowCallRatio: number | undefined;
  readonly halfOpenProbes: number;
  readonly probeTimeoutMs: number;
  readonly handle: ErrorFilter;
  readonly handleResult: ResultFilter | undefined;
  readonly initialState: CircuitBreakerSnapshot | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly name: string;
}

const RATIO = { above: 0, max: 1 } as const;

function conflict(message: string): never {
  throw new TypeError(`breakwater: circuitBreaker ${message}`);
}

export function readCircuitBreakerOptions(options: unknown): CircuitBreakerSettings {
  const opts = checkOptionsObject('circuitBreaker', options, true, CIRCUIT_BREAKER_OPTIONS);
  const given = (key: string): boolean => opts[key] !== undefined;

  const rawHalfOpen = opts['halfOpenAfterMs'];
  let halfOpenAfterMs: number | Backoff;
  if (typeof rawHalfOpen === 'object' && rawHalfOpen !== null) {
    if (!isBackoff(rawHalfOpen)) {
      throw new TypeError(
        `breakwater: option "halfOpenAfterMs" must be a number or a Backoff, received ${describeValue(rawHalfOpen)}`,
      );
    }
    checkNumber('halfOpenAfterMs.maxMs', rawHalfOpen.maxMs, { above: 0 });
    halfOpenAfterMs = rawHalfOpen;
  } else {
    // 0 would let every caller through as a probe: a breaker that never holds anything back.
    halfOpenAfterMs = checkNumber('halfOpenAfterMs', rawHalfOpen, { above: 0 });
  }

  const failureRatio = given('failureRatio') ? checkNumber('failureRatio', opts['failureRatio'], RATIO) : undefined;
  const explicitConsecutive = given('consecutiveFailures')
    ? checkNumber('consecutiveFailures', opts['consecutiveFailures'], { min: 1, integer: true })
    : undefined;
  const windowMs = given('windowMs') ? checkNumber('windowMs', opts['windowMs'], { above: 0 }) : undefined;
  const windowCalls = given('windowCalls')
    ? checkNumber('windowCalls', opts['windowCalls'], { min: 1, integer: true, max: 1_000_000 })
    : undefined;
  const windowBuckets = given('windowBuckets')
    ? checkNumber('windowBuckets', opts['windowBuckets'], { min: 1, integer: true, max: 10_000 })
    : 10;
  const slowCallMs = given('slowCallMs') ? checkNumber('slowCallMs', opts['slowCallMs'], { min: 0 }) : undefined;
  const slowCallRatio = given('slowCallRatio') ? checkNumber('slowCallRatio', opts['slowCallRatio'], RATIO) : undefined;
  const halfOpenProbes = given('halfOpenProbes')
    ? checkNumber('halfOpenProbes', opts['halfOpenProbes'], { min: 1, integer: true })
    : 1;
  const probeTimeoutMs = given('probeTimeoutMs')
    ? checkNumber('probeTimeoutMs', opts['probeTimeoutMs'], { above: 0 })
    : typeof halfOpenAfterMs === 'number'
      ? halfOpenAfterMs
      : halfOpenAfterMs.maxMs;

  if (explicitConsecutive !== undefined && failureRatio !== undefined) {
    conflict(
      `options "consecutiveFailures" (${explicitConsecutive}) and "failureRatio" (${failureRatio}) are two trip modes; choose one`,
    );
  }
  if (windowMs !== undefined && windowCalls !== undefined) {
    conflict(`options "windowMs" (${windowMs}) and "windowCalls" (${windowCalls}) are exclusive; choose one window`);
  }
  const hasWindow = windowMs !== undefined || windowCalls !== undefined;
  if (failureRatio !== undefined && !hasWindow) {
    conflict(`option "failureRatio" (${failureRatio}) needs a window: set "windowMs" or "windowCalls"`);
  }
  if ((slowCallMs === undefined) !== (slowCallRatio === undefined)) {
    conflict(
      slowCallMs === undefined
        ? `option "slowCallRatio" (${slowCallRatio}) needs "slowCallMs"`
        : `option "slowCallMs" (${slowCallMs}) needs "slowCallRatio"`,
    );
  }
  if (slowCallRatio !== undefined && !hasWindow) {
    conflict(`option "slowCallRatio" (${slowCallRatio}) needs a window: set "windowMs" or "windowCalls"`);
  }
  if (hasWindow && failureRatio === undefined && slowCallRatio === undefined) {
    conflict(
      `option "${windowMs !== undefined ? 'windowMs' : 'windowCalls'}" (${windowMs ?? windowCalls}) needs "failureRatio" or "slowCallRatio"`,
    );
  }
  if (given('windowBuckets') && windowMs === undefined) {
    conflict(`option "windowBuckets" (${windowBuckets}) needs "windowMs"`);
  }
  let minimumThroughput: number;
  if (given('minimumThroughput')) {
    minimumThroughput = checkNumber('minimumThroughput', opts['minimumThroughput'], { min: 0, integer: true });
    if (!hasWindow) conflict(`option "minimumThroughput" (${minimumThroughput}) needs a window: set "windowMs" or "windowCalls"`);
    if (windowCalls !== undefined && minimumThroughput > windowCalls) {
      throw new RangeError(
        `breakwater: option "minimumThroughput" (${minimumThroughput}) must not exceed "windowCalls" (${windowCalls}): the breaker could never trip`,
      );
    }
  } else {
    minimumThroughput = windowCalls !== undefined ? Math.min(100, windowCalls) : 100;
  }

  checkClock(opts['clock']);
  const { handle, handleResult } = readHandleOptions(opts);
  const initialState = given('initialState') ? readSnapshot(opts['initialState']) : undefined;

  return {
    halfOpenAfterMs,
    consecutiveFailures: explicitConsecutive ?? (failureRatio === undefined ? 5 : 0),
    failureRatio,
    windowMs,
    windowBuckets,
    windowCalls,
    minimumThroughput,
    slowCallMs,
    slowCallRatio,
    halfOpenProbes,
    probeTimeoutMs,
    handle,
    handleResult,
    initialState,
    clock: (opts['clock'] as Clock | undefined) ?? systemClock,
    random: optionalFunction<() => number>('random', opts['random']) ?? Math.random,
    name: checkName(opts['name'], 'circuit-breaker'),
  };
}

const COUNT = { min: 0, integer: true } as const;

/** Validates a snapshot and copies it, so the restored breaker shares nothing with its source. */
export function readSnapshot(value: unknown): CircuitBreakerSnapshot {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`breakwater: option "initialState" must be a toJSON() snapshot, received ${describeValue(value)}`);
  }
  const s = value as Record<string, unknown>;
  if (s['version'] !== 1) {
    throw new TypeError(`breakwater: option "initialState.version" must be 1, received ${describeValue(s['version'])}`);
  }
  const state = s['state'];
  if (state !== 'closed' && state !== 'open' && state !== 'half-open') {
    throw new TypeError(
      `breakwater: option "initialState.state" must be "closed", "open" or "half-open", received ${describeValue(state)}`,
    );
  }
  const windowKind = s['windowKind'];
  if (windowKind !== 'calls' && windowKind !== 'time' && windowKind !== 'none') {
    throw new TypeError(
      `breakwater: option "initialState.windowKind" must be "calls", "time" or "none", received ${describeValue(windowKind)}`,
    );
  }
  const rawWindow = s['window'];
  if (!Array.isArray(rawWindow)) {
    throw new TypeError(`breakwater: option "initialState.window" must be an array, received ${describeValue(rawWindow)}`);
  }
  const window = rawWindow.map((entry: unknown, index) => {
    const name = `initialState.window[${index}]`;
    if (!Array.isArray(entry) || entry.length !== 4) {
      throw new TypeError(`breakwater: option "${name}" must be [ageMs, calls, failures, slowCalls], received ${describeValue(entry)}`);
    }
    const ageMs = checkNumber(`${name}[0]`, entry[0], { min: 0 });
    const calls = checkNumber(`${name}[1]`, entry[1], COUNT);
    const failures = checkNumber(`${name}[2]`, entry[2], { ...COUNT, max: calls });
    const slow = checkNumber(`${name}[3]`, entry[3], { ...COUNT, max: calls });
    return [ageMs, calls, failures, slow] as const;
  });
  const runCalls = checkNumber('initialState.runCalls', s['runCalls'], COUNT);
  return {
    version: 1,
    state,
    openRemainingMs: checkNumber('initialState.openRemainingMs', s['openRemainingMs'], { min: 0 }),
    openMs: checkNumber('initialState.openMs', s['openMs'], { min: 0 }),
    openings: checkNumber('initialState.openings', s['openings'], COUNT),
    consecutiveFailures: checkNumber('initialState.consecutiveFailures', s['consecutiveFailures'], COUNT),
    runCalls,
    runFailures: checkNumber('initialState.runFailures', s['runFailures'], { ...COUNT, max: runCalls }),
    windowKind,
    window,
  };
}
