import type { CircuitOpenError } from '../core/errors.js';
import {
  eventNames,
  type EventHub,
  type FailureEvent,
  type RejectedEvent,
  type StateChangeEvent,
  type SuccessEvent,
} from '../core/events.js';
import type { CircuitState } from './options.js';

export interface CircuitBreakerFailureEvent extends FailureEvent {
  /** The result `handleResult` judged a failure, when that was the cause (`error` is then undefined). */
  readonly result?: unknown;
}

export interface CircuitBreakerEvents {
  stateChange: StateChangeEvent<CircuitState>;
  /** A call the breaker let through succeeded. */
  success: SuccessEvent;
  /** A call the breaker let through failed (whether or not it counted towards tripping). */
  failure: CircuitBreakerFailureEvent;
  /** The breaker refused a call (`reason` is always `'circuit-open'`, isolated too). */
  rejected: RejectedEvent;
}

export const CIRCUIT_BREAKER_EVENTS = eventNames<CircuitBreakerEvents>({ stateChange: true, success: true, failure: true, rejected: true });

export type BreakerEventHub = EventHub<CircuitBreakerEvents>;

// Everything the breaker tells its listeners goes through the four functions below, so that an
// observation helper shared by the policies can take them over. Each asks `wants` first: with
// nobody listening, no event object is built.

/** A call the breaker let through resolved; `failure` when `handleResult` judged the value one. */
export function reportResolved(events: BreakerEventHub, verdict: 'success' | 'failure', durationMs: number, value: unknown): void {
  if (verdict === 'failure') {
    if (events.wants('failure')) events.emit('failure', { durationMs, error: undefined, result: value });
  } else if (events.wants('success')) {
    events.emit('success', { durationMs });
  }
}

/** A call the breaker let through threw: a `failure` event, counted or not. */
export function reportThrown(events: BreakerEventHub, durationMs: number, error: unknown): void {
  if (events.wants('failure')) events.emit('failure', { durationMs, error });
}

export function reportRefused(events: BreakerEventHub, error: CircuitOpenError): void {
  if (events.wants('rejected')) events.emit('rejected', { reason: 'circuit-open', error });
}

export function reportStateChange(events: BreakerEventHub, from: CircuitState, to: CircuitState): void {
  if (events.wants('stateChange')) events.emit('stateChange', { from, to });
}
