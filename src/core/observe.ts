import type { Clock } from './clock.js';
import type { EventHub, FailureEvent, RejectedEvent, RejectionReason, SuccessEvent, TimeoutEvent } from './events.js';

// The observation shell every policy reports through: it times a call only when someone
// listens, emits the outcome events, and reads no clock and builds no event object otherwise.

/** The `startedAt` of a call nobody times (no `success`/`failure` listener when it started). */
export const UNTIMED = -Infinity;

/** A clock reading not taken yet: the shell reads the clock itself if it needs one. */
const UNREAD = Number.NaN;

/** The events the shell emits; a policy's events type has the ones it uses. */
interface ObservedEvents {
  success: SuccessEvent & { readonly attempt?: number };
  failure: FailureEvent;
  rejected: RejectedEvent & { readonly key?: string };
  timeout: TimeoutEvent;
}

/**
 * One per policy: its event hub, the clock it times calls on, and the reason it gives when it
 * refuses a call (each policy declares its own; the shell knows no list of them).
 */
export class Observer<E extends object = ObservedEvents> {
  private readonly hub: EventHub<ObservedEvents>;

  constructor(
    events: EventHub<E>,
    private readonly clock: Clock,
    private readonly rejection: RejectionReason = 'rejected',
  ) {
    this.hub = events as unknown as EventHub<ObservedEvents>;
  }

  /** The clock reading, for policies that need one anyway (a deadline, a permit's times). */
  now(): number {
    return this.clock.now();
  }

  /** When a call starts: the clock reading if someone listens for its outcome, else `UNTIMED`. */
  start(): number {
    return this.hub.wantsOutcome() ? this.clock.now() : UNTIMED;
  }

  /** True when emitting `event` would reach someone (`success`, `failure`, or any of the policy's). */
  wants(event: keyof E & string): boolean {
    return this.hub.wants(event as keyof ObservedEvents);
  }

  /**
   * The call succeeded. Emits `success` with the time since `startedAt` when the call was timed
   * and someone listens; `endedAt` is a reading the caller already took, `attempt` the attempt
   * that answered (for policies that run several at once).
   */
  succeeded(startedAt: number, endedAt: number = UNREAD, attempt?: number): void {
    if (startedAt === UNTIMED || !this.hub.wants('success')) return;
    const durationMs = (endedAt === endedAt ? endedAt : this.clock.now()) - startedAt;
    this.hub.emit('success', attempt === undefined ? { durationMs } : { durationMs, attempt });
  }

  /** The call failed with `error`: `failure`, as `succeeded` does `success`. */
  failed(startedAt: number, error: unknown, endedAt: number = UNREAD): void {
    if (startedAt === UNTIMED || !this.hub.wants('failure')) return;
    const durationMs = (endedAt === endedAt ? endedAt : this.clock.now()) - startedAt;
    this.hub.emit('failure', { durationMs, error });
  }

  /** The policy's own deadline passed: `timeout`, with the deadline and the time since `startedAt`. */
  timedOut(startedAt: number, timeoutMs: number, endedAt: number = UNREAD): void {
    if (!this.hub.wants('timeout')) return;
    const durationMs = (endedAt === endedAt ? endedAt : this.clock.now()) - startedAt;
    this.hub.emit('timeout', { timeoutMs, durationMs });
  }

  /** The policy refused a call with `error`: `rejected`, with the policy's reason (and the key of a keyed view). */
  rejected(error: unknown, key?: string): void {
    if (!this.hub.wants('rejected')) return;
    const reason = this.rejection;
    this.hub.emit('rejected', key === undefined ? { reason, error } : { reason, error, key });
  }

  /**
   * `promise`, reporting how it settles (`success` or `failure`, timed from `startedAt`). An
   * untimed call is returned as it is: no handler, no promise more.
   */
  watch(promise: Promise<unknown>, startedAt: number): Promise<unknown> {
    if (startedAt === UNTIMED) return promise;
    return promise.then(
      (value) => {
        this.succeeded(startedAt);
        return value;
      },
      (error: unknown) => {
        this.failed(startedAt, error);
        throw error;
      },
    );
  }
}
