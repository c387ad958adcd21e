import diagnosticsChannel from 'node:diagnostics_channel';
import { closestNames, describeValue, quoteNames } from './validate.js';

// Telemetry that costs nothing when nobody listens: a policy asks `wants(event)` before it
// reads the clock or builds an event object, and only then calls `emit`.

/**
 * A function `on(event, listener)` calls with the event's payload, synchronously, when the event
 * happens. What it returns is ignored.
 */
export type Listener<E> = (event: E) => void;

/** Payloads of the events every policy may emit (see docs/telemetry.md). */
export interface SuccessEvent {
  /** Milliseconds from the start of `fn` to its result, read from the policy's clock. */
  readonly durationMs: number;
}
/** Payload of `failure`: `fn` threw or rejected, or its result was judged a failure. */
export interface FailureEvent {
  /** Milliseconds from the start of `fn` to its failure, read from the policy's clock. */
  readonly durationMs: number;
  /** What `fn` threw or rejected with, untouched (the result itself when `handleResult` judged it). */
  readonly error: unknown;
}
/**
 * Why a policy refused a call. Each policy names its own (`'circuit-open'`, `'bulkhead-full'`,
 * `'rate-limited'`, `'concurrency-limit'`, …) in its events type, as `RejectedEvent<'its-reason'>`.
 */
export type RejectionReason = string;
/** Payload of `rejected`: the policy refused the call without running `fn`. */
export interface RejectedEvent<Reason extends RejectionReason = RejectionReason> {
  /** Which refusal it was: `'circuit-open'`, `'bulkhead-full'`, `'rate-limited'`, … (the policy's own). */
  readonly reason: Reason;
  /** The error the caller's promise rejects with (a `BreakwaterError`). */
  readonly error: unknown;
}
/** Payload of `timeout`: the policy gave up waiting for `fn` and aborted its signal. */
export interface TimeoutEvent {
  /** The limit that was reached, in milliseconds. */
  readonly timeoutMs: number;
  /** Milliseconds from the start of the attempt to the timeout. */
  readonly durationMs: number;
}
/** Payload of `retry`: an attempt failed and another starts after `delayMs`. */
export interface RetryEvent {
  /** The attempt about to start: 2 for the first retry. */
  readonly attempt: number;
  /** Milliseconds the policy waits before the attempt (the backoff's delay, or a longer `retryAfterMs`). */
  readonly delayMs: number;
  /** What failed: the thrown value, or undefined when a result was judged a failure. */
  readonly error: unknown;
  /** The result judged a failure by `handleResult`, when that was the cause. */
  readonly result?: unknown;
}
/** Payload of `stateChange`: a stateful policy (a circuit breaker) moved from one state to another. */
export interface StateChangeEvent<S extends string = string> {
  /** The state before the change. */
  readonly from: S;
  /** The state after the change. */
  readonly to: S;
}

/** The events every policy emits for a call that ran `fn` (and a pipeline once per `execute`): `success` and `failure`. */
export interface CallEvents {
  /** `fn` answered and the answer counts as a success. */
  success: SuccessEvent;
  /** `fn` failed, or its answer counts as a failure. */
  failure: FailureEvent;
}

/**
 * A message on a `breakwater:<event>` diagnostics channel: the event's payload, plus the name
 * of the policy that sent it and the event's name. `node:diagnostics_channel` types messages as
 * `unknown`; cast to this in a subscriber (`DiagnosticsMessage<RetryEvent>` for one event).
 */
export type DiagnosticsMessage<Payload extends object = Record<string, unknown>> = Payload & {
  /** The sending policy's `name`. */
  readonly policy: string;
  /** The event's name, as in `policy.on(event, …)`: `'retry'`, `'stateChange'`, … */
  readonly event: string;
};

/**
 * The channel of every event name a policy declared, `breakwater:<event>`, in one object: `wants`
 * runs on every call of every policy, and one object keeps its lookup to a few ns. Filled as
 * the policies' modules load (`eventNames`), so adding a policy edits no list here.
 */
const CHANNELS: Record<string, diagnosticsChannel.Channel> = {};

function declareChannel(event: string): diagnosticsChannel.Channel {
  // diagnostics_channel caches channels by name: a second copy of the library (the ESM and the
  // CJS build side by side) gets the same channel objects.
  return (CHANNELS[event] ??= diagnosticsChannel.channel(`breakwater:${event}`));
}

/**
 * The event names of an events type, listed once as `{ name: true, … }`: the compiler rejects
 * a missing or an extra name, so `on(...)` can check names at run time against the type. Each
 * name gets its diagnostics channel here.
 */
export function eventNames<M extends object>(names: { readonly [K in keyof Required<M>]: true }): readonly (keyof M & string)[] {
  const list = Object.freeze(Object.keys(names)) as readonly (keyof M & string)[];
  for (const name of list) declareChannel(name);
  return list;
}

export const CALL_EVENTS = eventNames<CallEvents>({ success: true, failure: true });

export const SUCCESS_CHANNEL = CHANNELS['success']!;
export const FAILURE_CHANNEL = CHANNELS['failure']!;

type EventMap = object;

/**
 * A misspelled event name would subscribe to nothing, silently: refuse it. Every event name a
 * policy of the library declared is accepted on every policy (a policy that never emits one
 * never calls its listener), so code can subscribe to one set of events across a pipeline's
 * policies.
 */
export function checkEventName(policy: string, event: unknown, own: readonly string[]): void {
  if (typeof event === 'string' && (own.includes(event) || Object.hasOwn(CHANNELS, event))) return;
  const close = typeof event === 'string' ? closestNames(event, own) : [];
  const hint = close.length > 0 ? ` (did you mean ${quoteNames(close, 'or')}?)` : '';
  throw new TypeError(`breakwater: ${policy} has no event ${describeValue(event)}${hint}; its events are ${quoteNames(own, 'and')}`);
}

/** The channel of `event`; a policy keeps the ones it asks about on every call (see `EventHub.wantsOn`). */
export function channelFor(event: string): diagnosticsChannel.Channel {
  // An event emitted without being declared (a hub used outside a policy) gets its channel now.
  return CHANNELS[event] ?? declareChannel(event);
}

export class EventHub<M extends EventMap> {
  // A Map, not an object keyed by event name: each hub's object took its own shape (and a
  // `delete` turned it into a dictionary), so the lookup on every call went megamorphic
  // (a stub-cache probe of ~140 instructions) as soon as any listener was attached. Made with
  // the first listener: an empty Map costs ~115 bytes, and most policies never get one.
  private listeners: Map<string, Array<Listener<never>>> | undefined = undefined;
  /** Number of local listeners over all events; lets `wants` skip the table when 0. */
  private count = 0;
  /** Number of them on `success` or `failure`: `wantsOutcome` runs on every call. */
  private outcomeCount = 0;

  /**
   * `publishes`: false for a hub whose events only its own listeners see (an anonymous
   * pipeline: its calls are its outermost policy's, and under the shared default name every
   * such pipeline would report as one).
   */
  constructor(
    private readonly policyName: () => string,
    private readonly publishes = true,
  ) {}

  /** True when emitting `event` would reach someone; call before building the payload. */
  wants<K extends keyof M & string>(event: K): boolean {
    return this.wantsOn(event, channelFor(event));
  }

  /**
   * `wants(event)` with the event's channel already at hand (`channelFor`): the lookup by name is
   * a hash probe on every call, and a site that asks with several names goes megamorphic.
   */
  wantsOn<K extends keyof M & string>(event: K, channel: diagnosticsChannel.Channel): boolean {
    if (this.count !== 0 && this.listeners!.has(event)) return true;
    return this.publishes && channel.hasSubscribers;
  }

  /**
   * `wants('success') || wants('failure')`, the question every policy asks on every call
   * (should it time the call?), answered without a keyed lookup.
   */
  wantsOutcome(): boolean {
    if (this.outcomeCount !== 0) return true;
    return this.publishes && (SUCCESS_CHANNEL.hasSubscribers || FAILURE_CHANNEL.hasSubscribers);
  }

  /** True when any local listener is attached (whatever its event). */
  get hasListeners(): boolean {
    return this.count !== 0;
  }

  on<K extends keyof M & string>(event: K, listener: Listener<M[K]>): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`breakwater: listener for "${event}" must be a function, received ${typeof listener}`);
    }
    const listeners = (this.listeners ??= new Map<string, Array<Listener<never>>>());
    const existing = listeners.get(event);
    const added = listener as Listener<never>;
    // Copy-on-write: an emit in progress keeps iterating the array it started with.
    listeners.set(event, existing === undefined ? [added] : [...existing, added]);
    this.count++;
    const outcome = event === 'success' || event === 'failure';
    if (outcome) this.outcomeCount++;
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      const current = listeners.get(event);
      if (current === undefined) return;
      const index = current.indexOf(added);
      if (index === -1) return;
      this.count--;
      if (outcome) this.outcomeCount--;
      if (current.length === 1) listeners.delete(event);
      else listeners.set(event, current.filter((_, i) => i !== index));
    };
  }

  emit<K extends keyof M & string>(event: K, payload: M[K]): void {
    const list = this.count === 0 ? undefined : (this.listeners!.get(event) as Array<Listener<M[K]>> | undefined);
    if (list !== undefined) {
      for (const listener of list) {
        try {
          listener(payload);
        } catch {
          // A throwing listener never changes an outcome (peer failure mode #10).
        }
      }
    }
    if (!this.publishes) return;
    const channel = channelFor(event);
    if (channel.hasSubscribers) {
      try {
        channel.publish({ policy: this.policyName(), event, ...(payload as object) });
      } catch {
        // diagnostics_channel rethrows subscriber errors asynchronously; nothing to do here.
      }
    }
  }
}
