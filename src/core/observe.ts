import type { Clock } from './clock.js';
import { EventHub, FAILURE_CHANNEL, SUCCESS_CHANNEL, channelFor, type FailureEvent, type RejectedEvent, type RejectionReason, type SuccessEvent, type TimeoutEvent } from './events.js';

// The observation shell every policy reports through: it times a call only when someone
// listens, emits the outcome events, and reads no clock and builds no event object otherwise.

/**
 * The `startedAt` of a call nobody times (no `success`/`failure` listener when it started).
 * `undefined`, not a number: a start time lives in closures and per-call objects, where a
 * number that is not a small integer is one more heap object.
 */
export const UNTIMED = undefined;

/** A clock reading when the call was timed, else `UNTIMED`. */
export type StartTime = number | undefined;

/** A clock reading not taken yet: the shell reads the clock itself if it needs one. */
const UNREAD = Number.NaN;

const TIMEOUT_CHANNEL = channelFor('timeout');
const REJECTED_CHANNEL = channelFor('rejected');

/** The events the shell emits; a policy's events type has the ones it uses. */
interface ObservedEvents {
  success: SuccessEvent & { readonly attempt?: number };
  failure: FailureEvent;
  rejected: RejectedEvent & { readonly key?: string };
  timeout: TimeoutEvent;
}

/**
 * A policy's event hub with what it needs to report calls: the clock it times them on, and
 * the reason it gives when it refuses one (each policy declares its own; the shell knows no
 * list of them). One per policy, passed to `PolicyBase` as its hub.
 */
export class Observer<E extends object> extends EventHub<E> {
  /**
   * @param policyName the policy's name, read when an event is published
   * @param rejection the `reason` of this policy's `rejected` events
   * @param publishes see `EventHub`
   */
  constructor(
    policyName: () => string,
    private readonly clock: Clock,
    private readonly rejection: RejectionReason | undefined = undefined,
    publishes = true,
  ) {
    super(policyName, publishes);
  }

  /** The clock reading, for policies that need one anyway (a deadline, a permit's times). */
  now(): number {
    return this.clock.now();
  }

  /** When a call starts: the clock reading if someone listens for its outcome, else `UNTIMED`. */
  start(): StartTime {
    return this.wantsOutcome() ? this.clock.now() : UNTIMED;
  }

  // `succeeded` and `failed` run on every call of every policy: kept tiny so that the compiler
  // inlines them anywhere, with the work done only for a timed call.

  /**
   * The call succeeded. Emits `success` with the time since `startedAt` when the call was timed
   * and someone listens; `endedAt` is a reading the caller already took, `attempt` the attempt
   * that answered (for policies that run several at once).
   */
  succeeded(startedAt: StartTime, endedAt: number = UNREAD, attempt?: number): void {
    if (startedAt !== UNTIMED) this.emitSuccess(startedAt, endedAt, attempt);
  }

  /** The call failed with `error`: `failure`, as `succeeded` does `success`. */
  failed(startedAt: StartTime, error: unknown, endedAt: number = UNREAD): void {
    if (startedAt !== UNTIMED) this.emitFailure(startedAt, error, endedAt);
  }

  private emitSuccess(startedAt: number, endedAt: number, attempt: number | undefined): void {
    const hub = this as unknown as EventHub<ObservedEvents>;
    if (!hub.wantsOn('success', SUCCESS_CHANNEL)) return;
    const durationMs = (endedAt === endedAt ? endedAt : this.clock.now()) - startedAt;
    hub.emit('success', attempt === undefined ? { durationMs } : { durationMs, attempt });
  }

  private emitFailure(startedAt: number, error: unknown, endedAt: number): void {
    const hub = this as unknown as EventHub<ObservedEvents>;
    if (!hub.wantsOn('failure', FAILURE_CHANNEL)) return;
    const durationMs = (endedAt === endedAt ? endedAt : this.clock.now()) - startedAt;
    hub.emit('failure', { durationMs, error });
  }

  /** True when a `timeout` event would reach someone (a policy asks on every call). */
  wantsTimeout(): boolean {
    return (this as unknown as EventHub<ObservedEvents>).wantsOn('timeout', TIMEOUT_CHANNEL);
  }

  /** The policy's own deadline passed: `timeout`, with the deadline and the time since `startedAt`. */
  timedOut(startedAt: number, timeoutMs: number, endedAt: number = UNREAD): void {
    if (!this.wantsTimeout()) return;
    const hub = this as unknown as EventHub<ObservedEvents>;
    const durationMs = (endedAt === endedAt ? endedAt : this.clock.now()) - startedAt;
    hub.emit('timeout', { timeoutMs, durationMs });
  }

  /** The policy refused a call with `error`: `rejected`, with the policy's reason (and the key of a keyed view). */
  rejected(error: unknown, key?: string): void {
    const hub = this as unknown as EventHub<ObservedEvents>;
    if (!hub.wantsOn('rejected', REJECTED_CHANNEL)) return;
    const reason = this.rejection ?? 'rejected';
    hub.emit('rejected', key === undefined ? { reason, error } : { reason, error, key });
  }

  /**
   * `promise`, reporting how it settles (`success` or `failure`, timed from `startedAt`). An
   * untimed call is returned as it is: no handler, no promise more.
   */
  watch(promise: Promise<unknown>, startedAt: StartTime): Promise<unknown> {
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
