import {
  eventNames,
  type FailureEvent,
  type RejectedEvent,
  type StateChangeEvent,
  type SuccessEvent,
} from '../core/events.js';
import type { Observer } from '../core/observe.js';
import type { CircuitState } from './options.js';

/** Payload of a breaker's `failure`: a call it let through failed (threw, or its result was judged a failure). */
export interface CircuitBreakerFailureEvent extends FailureEvent {
  /** The result `handleResult` judged a failure, when that was the cause (`error` is then undefined). */
  readonly result?: unknown;
}

/** The events a circuit breaker emits; subscribe with `on(event, listener)`. */
export interface CircuitBreakerEvents {
  /** The breaker changed state (`closed` → `open`, `open` → `half-open`, …). */
  stateChange: StateChangeEvent<CircuitState>;
  /** A call the breaker let through succeeded. */
  success: SuccessEvent;
  /** A call the breaker let through failed (whether or not it counted towards tripping). */
  failure: CircuitBreakerFailureEvent;
  /** The breaker refused a call (`reason` is always `'circuit-open'`, isolated too). */
  rejected: RejectedEvent<'circuit-open'>;
}

export const CIRCUIT_BREAKER_EVENTS = eventNames<CircuitBreakerEvents>({ stateChange: true, success: true, failure: true, rejected: true });

/** The breaker's observation shell: refusals are `'circuit-open'`. */
export type BreakerObserver = Observer<CircuitBreakerEvents>;

// Success, failure and refusal go through the observation shell every policy shares; two
// events are the breaker's own: a failure that is a result (`handleResult`), and stateChange.

/** A resolved call that `handleResult` judged a failure: `failure` with the value as `result`. */
export function reportFailedResult(events: BreakerObserver, durationMs: number, value: unknown): void {
  // Stryker disable next-line ConditionalExpression: `true` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event); `false` was killed before this mark
  if (events.wants('failure')) events.emit('failure', { durationMs, error: undefined, result: value });
}

export function reportStateChange(events: BreakerObserver, from: CircuitState, to: CircuitState): void {
  // Stryker disable next-line ConditionalExpression: `true` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event); `false` was killed before this mark
  if (events.wants('stateChange')) events.emit('stateChange', { from, to });
}
