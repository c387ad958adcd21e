import diagnosticsChannel from 'node:diagnostics_channel';
import { closestNames, describeValue, quoteNames } from './validate.js';

// Telemetry that costs nothing when nobody listens: a policy asks `wants(event)` before it
// reads the clock or builds an event object, and only then calls `emit`.

export type Listener<E> = (event: E) => void;

/** Payloads of the events every policy may emit (see docs/telemetry.md). */
export interface SuccessEvent {
  readonly durationMs: number;
}
export interface FailureEvent {
  readonly durationMs: number;
  readonly error: unknown;
}
export type RejectionReason = 'circuit-open' | 'bulkhead-full' | 'rate-limited' | 'concurrency-limit';
export interface RejectedEvent {
  readonly reason: RejectionReason;
  readonly error: unknown;
}
export interface TimeoutEvent {
  readonly timeoutMs: number;
  readonly durationMs: number;
}
export interface RetryEvent {
  /** The attempt about to start: 2 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  /** What failed: the thrown value, or undefined when a result was judged a failure. */
  readonly error: unknown;
  /** The result judged a failure by `handleResult`, when that was the cause. */
  readonly result?: unknown;
}
export interface StateChangeEvent<S extends string = string> {
  readonly from: S;
  readonly to: S;
}

export interface CallEvents {
  success: SuccessEvent;
  failure: FailureEvent;
}

/**
 * The event names of an events type, listed once as `{ name: true, … }`: the compiler rejects
 * a missing or an extra name, so `on(...)` can check names at run time against the type.
 */
export function eventNames<M extends object>(names: { readonly [K in keyof Required<M>]: true }): readonly (keyof M & string)[] {
  return Object.freeze(Object.keys(names)) as readonly (keyof M & string)[];
}

export const CALL_EVENTS = eventNames<CallEvents>({ success: true, failure: true });

type EventMap = object;
type ListenerTable<M> = { [K in keyof M]?: Listener<M[K]>[] };

/**
 * The channels of the built-in events, created up front in one object of fixed shape: `wants`
 * runs on every call of every policy, and a fixed-shape lookup keeps it to a few ns.
 */
const KNOWN_CHANNELS = {
  success: diagnosticsChannel.channel('breakwater:success'),
  failure: diagnosticsChannel.channel('breakwater:failure'),
  rejected: diagnosticsChannel.channel('breakwater:rejected'),
  timeout: diagnosticsChannel.channel('breakwater:timeout'),
  retry: diagnosticsChannel.channel('breakwater:retry'),
  stateChange: diagnosticsChannel.channel('breakwater:stateChange'),
  fallback: diagnosticsChannel.channel('breakwater:fallback'),
  budgetExhausted: diagnosticsChannel.channel('breakwater:budgetExhausted'),
} as const satisfies Record<string, diagnosticsChannel.Channel>;

/**
 * A misspelled event name would subscribe to nothing, silently: refuse it. The names of the
 * library's events are accepted on every policy (a policy that never emits one never calls
 * its listener), so code can subscribe to one set of events across a pipeline's policies.
 */
export function checkEventName(policy: string, event: unknown, own: readonly string[]): void {
  if (typeof event === 'string' && (own.includes(event) || Object.hasOwn(KNOWN_CHANNELS, event))) return;
  const close = typeof event === 'string' ? closestNames(event, own) : [];
  const hint = close.length > 0 ? ` (did you mean ${quoteNames(close, 'or')}?)` : '';
  throw new TypeError(`breakwater: ${policy} has no event ${describeValue(event)}${hint}; its events are ${quoteNames(own, 'and')}`);
}

const otherChannels = new Map<string, diagnosticsChannel.Channel>();
function channelFor(event: string): diagnosticsChannel.Channel {
  const known = (KNOWN_CHANNELS as Record<string, diagnosticsChannel.Channel | undefined>)[event];
  if (known !== undefined) return known;
  let channel = otherChannels.get(event);
  if (channel === undefined) {
    channel = diagnosticsChannel.channel(`breakwater:${event}`);
    otherChannels.set(event, channel);
  }
  return channel;
}

export class EventHub<M extends EventMap> {
  private readonly listeners: ListenerTable<M> = {};
  /** Number of local listeners over all events; lets `wants` skip the table when 0. */
  private count = 0;

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
    if (this.count !== 0 && this.listeners[event] !== undefined) return true;
    return this.publishes && channelFor(event).hasSubscribers;
  }

  /**
   * `wants('success') || wants('failure')`, the question every policy asks on every call
   * (should it time the call?), answered without a keyed lookup.
   */
  wantsOutcome(): boolean {
    if (this.count !== 0) {
      const listeners = this.listeners as ListenerTable<CallEvents>;
      if (listeners.success !== undefined || listeners.failure !== undefined) return true;
    }
    return this.publishes && (KNOWN_CHANNELS.success.hasSubscribers || KNOWN_CHANNELS.failure.hasSubscribers);
  }

  /** True when any local listener is attached (whatever its event). */
  get hasListeners(): boolean {
    return this.count !== 0;
  }

  on<K extends keyof M & string>(event: K, listener: Listener<M[K]>): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`breakwater: listener for "${event}" must be a function, received ${typeof listener}`);
    }
    const existing = this.listeners[event];
    // Copy-on-write: an emit in progress keeps iterating the array it started with.
    this.listeners[event] = existing === undefined ? [listener] : [...existing, listener];
    this.count++;
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      const current = this.listeners[event];
      if (current === undefined) return;
      const index = current.indexOf(listener);
      if (index === -1) return;
      this.count--;
      if (current.length === 1) delete this.listeners[event];
      else this.listeners[event] = current.filter((_, i) => i !== index);
    };
  }

  emit<K extends keyof M & string>(event: K, payload: M[K]): void {
    const list = this.listeners[event];
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
