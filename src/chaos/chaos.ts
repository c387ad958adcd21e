import { systemClock, type Clock } from '../core/clock.js';
import type { ExecutionContext } from '../core/context.js';
import { eventNames } from '../core/events.js';
import { Observer } from '../core/observe.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import type { Next, Scope } from '../core/scope.js';
import { sleep } from '../core/sleep.js';
import {
  checkClock,
  checkName,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalFunction,
  optionNames,
} from '../core/validate.js';

/** A value, or a function of the attempt's context that produces it. */
/** @inline */
type PerCall<T> = T | ((ctx: ExecutionContext) => T);

/** Options of `chaos()`: `injectionRate` and exactly one of `latencyMs`, `fault`, `result`. */
export interface ChaosOptions {
  /** Share of calls that get the injection, 0..1. */
  injectionRate: number;
  /** Off switch, read on every call (a function lets an environment variable or a flag decide). Default true. */
  enabled?: boolean | (() => boolean) | undefined;
  /** Inject latency: wait this long (on the clock, abortable), then run `fn`. */
  latencyMs?: PerCall<number> | undefined;
  /** Inject a fault: reject with this value; `fn` is not called. A function is called to make it. */
  fault?: unknown;
  /** Inject a result: resolve with this value; `fn` is not called. A function is called to make it. */
  result?: unknown;
  /** Decides which calls get the injection, returning numbers in [0, 1); default `Math.random` (seed it in tests). */
  random?: (() => number) | undefined;
  /** Time source of the injected latency; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Names the policy in its events and telemetry; default `'chaos'`. */
  name?: string | undefined;
}

/**
 * What a chaos policy injects: `'latency'` (a wait before `fn`), `'fault'` (a rejection instead
 * of `fn`) or `'result'` (a value instead of `fn`).
 */
export type ChaosKind = 'latency' | 'fault' | 'result';

/** Payload of `injected`: this call got the injection. */
export interface InjectedEvent {
  /** What was injected. */
  readonly kind: ChaosKind;
  /** The attempt that got the injection. */
  readonly attempt: number;
  /** For latency: how long the call is held. */
  readonly delayMs?: number;
}

/** The events a chaos policy emits; subscribe with `on(event, listener)`. */
export interface ChaosEvents {
  /** A call got the injection (the others pass through untouched and emit nothing). */
  injected: InjectedEvent;
}

const KINDS: readonly ChaosKind[] = ['latency', 'fault', 'result'];

export const CHAOS_EVENTS = eventNames<ChaosEvents>({ injected: true });

const CHAOS_OPTIONS = optionNames<ChaosOptions>({
  injectionRate: true,
  enabled: true,
  latencyMs: true,
  fault: true,
  result: true,
  random: true,
  clock: true,
  name: true,
});

/**
 * Injects latency, a fault or a result into a share of calls, so that a team can watch its
 * timeouts, breakers and fallbacks work (in staging, or in a test) before a bad deploy shows
 * whether they do. One kind per policy: compose several `chaos` policies for more.
 *
 * @example
 * ```ts
 * import { chaos, circuitBreaker, pipeline, timeout } from 'breakwater';
 *
 * const slowDownstream = chaos({
 *   injectionRate: Number(process.env['CHAOS_LATENCY_RATE'] ?? 0),
 *   latencyMs: 2000,
 *   enabled: () => process.env['CHAOS'] === 'on',
 * });
 * const protectedCall = pipeline(circuitBreaker({ halfOpenAfterMs: 5_000, failureRatio: 0.5, windowMs: 10_000 }), timeout(250), slowDownstream);
 * ```
 */
export function chaos(options: ChaosOptions): ChaosPolicy {
  const opts = checkOptionsObject('chaos', options, true, CHAOS_OPTIONS);
  const injectionRate = checkNumber('injectionRate', opts['injectionRate'], { min: 0, max: 1 });
  const given = KINDS.filter((kind) => opts[kind === 'latency' ? 'latencyMs' : kind] !== undefined);
  if (given.length !== 1) {
    throw new TypeError(
      `breakwater: chaos needs exactly one of "latencyMs", "fault", "result", received ${given.length === 0 ? 'none' : given.map((k) => (k === 'latency' ? 'latencyMs' : k)).join(' and ')}`,
    );
  }
  const kind = given[0]!;
  // `null` is not "absent": it is refused like any other non-boolean.
  const enabled = opts['enabled'] === undefined ? true : opts['enabled'];
  if (typeof enabled !== 'boolean' && typeof enabled !== 'function') {
    throw new TypeError(`breakwater: option "enabled" must be a boolean or a function, received ${describeValue(enabled)}`);
  }
  const latency = opts['latencyMs'];
  if (kind === 'latency' && typeof latency !== 'function') checkNumber('latencyMs', latency, { min: 0 });
  checkClock(opts['clock']);
  return new ChaosPolicy({
    injectionRate,
    enabled: enabled as boolean | (() => boolean),
    kind,
    payload: kind === 'latency' ? latency : opts[kind],
    random: optionalFunction<() => number>('random', opts['random']) ?? Math.random,
    clock: (opts['clock'] as Clock | undefined) ?? systemClock,
    name: checkName(opts['name'], 'chaos'),
  });
}

interface ChaosSettings {
  readonly injectionRate: number;
  readonly enabled: boolean | (() => boolean);
  readonly kind: ChaosKind;
  readonly payload: unknown;
  readonly random: () => number;
  readonly clock: Clock;
  readonly name: string;
}

/**
 * A fault-injection policy, built by `chaos()`.
 *
 * @example
 * ```ts
 * import { chaos } from 'breakwater';
 *
 * const flaky = chaos({ injectionRate: 0.1, fault: () => new Error('injected'), name: 'flaky-payments' });
 * flaky.on('injected', ({ kind, attempt }) => console.log(`${kind} injected into attempt ${attempt}`));
 * const res = await flaky.execute(() => fetch('https://example.com/pay')).catch((error) => error);
 * ```
 */
export class ChaosPolicy extends PolicyBase<ChaosEvents> {
  readonly kind = 'chaos';
  protected readonly eventNames = CHAOS_EVENTS;
  private readonly settings: ChaosSettings;

  /** @internal Use `chaos()`, which validates the options. */
  constructor(settings: ChaosSettings) {
    // Chaos reports no outcome of its own (the calls are the inner policies'): its hub is the
    // shell only for `injected`.
    super(settings.name, new Observer<ChaosEvents>(() => settings.name, settings.clock));
    this.settings = settings;
  }

  /** Which kind of injection this policy makes. */
  get injects(): ChaosKind {
    return this.settings.kind;
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](scope: Scope, next: Next): Promise<unknown> {
    if (scope.aborted) return Promise.reject(scope.reason);
    try {
      if (!this.shouldInject()) return next(scope);
      return this.inject(scope, next);
    } catch (error) {
      // A user's `enabled`, `random`, generator or latency function threw: that is the call's outcome.
      return Promise.reject(error);
    }
  }

  private shouldInject(): boolean {
    const { enabled, injectionRate, random } = this.settings;
    // Disabled: the random source is not consumed, so a seeded run stays aligned.
    if (enabled === false || (typeof enabled === 'function' && enabled() !== true)) return false;
    return random() < injectionRate;
  }

  private inject(scope: Scope, next: Next): Promise<unknown> {
    const { kind, payload } = this.settings;
    const ctx = scope.context;
    if (kind === 'latency') {
      const delayMs = typeof payload === 'function' ? (payload as (c: ExecutionContext) => number)(ctx) : (payload as number);
      if (typeof delayMs !== 'number' || !(delayMs >= 0)) {
        throw new RangeError(`breakwater: chaos "latencyMs" must produce a number >= 0, received ${describeValue(delayMs)}`);
      }
      this.emit(kind, scope.attempt, delayMs);
      return sleep(this.settings.clock, delayMs, scope).then(() => next(scope));
    }
    const value = typeof payload === 'function' ? (payload as (c: ExecutionContext) => unknown)(ctx) : payload;
    this.emit(kind, scope.attempt, undefined);
    return kind === 'fault' ? Promise.reject(value) : Promise.resolve(value);
  }

  private emit(kind: ChaosKind, attempt: number, delayMs: number | undefined): void {
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event)
    if (!this.events.wants('injected')) return;
    this.events.emit('injected', delayMs === undefined ? { kind, attempt } : { kind, attempt, delayMs });
  }
}
