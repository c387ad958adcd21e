import { UNTIMED, type Observer, type StartTime } from './observe.js';
import { rejectSoon } from './reject.js';
import type { Next, Scope } from './scope.js';

// Admission: a policy that admits calls (a bulkhead, a concurrency limiter, a rate limiter) asks
// its engine for a permit and tells the permit how the call ended — the shape of resilience4j's
// `tryAcquirePermission` / `onSuccess` / `onError`, Netflix concurrency-limits' `Limiter.acquire`
// → `Listener.onSuccess` / `onIgnore` / `onDropped`, and Polly's `RateLimitLease`. The engine
// decides; the policy only runs the call and reports.

/**
 * The right to run one call. Every permit granted hears exactly one of: `onSuccess`,
 * `onFailure` or `onIgnore` (the call ran), or `release` (it never started).
 */
export abstract class Permit {
  /**
   * True when the engine learns from call times (an adaptive limit): the call is then timed from
   * its start, listeners or not, and the times reach `onSuccess`, `onFailure` and `onIgnore`.
   * Otherwise they get 0s and no clock is read for them. (A getter on the prototype: a permit
   * made per call carries only its own state.)
   */
  abstract get timed(): boolean;
  /** The call ran and succeeded, from `startMs` to `endMs` on the policy's clock. */
  abstract onSuccess(startMs: number, endMs: number): void;
  /** The call ran and failed with `error`. */
  abstract onFailure(startMs: number, endMs: number, error: unknown): void;
  /** The call ran, but its outcome is nobody's verdict: the caller gave up, or the attempt was cancelled. */
  abstract onIgnore(startMs: number, endMs: number): void;
  /** The permit was granted, but the call never started (its caller left in between). */
  abstract release(): void;

  /**
   * @internal Runs the rest of the call under this permit and reports how it ended, to the
   * permit and to the observer (`arrivedAt`: the observer's `start()` on arrival; `atOnce`: granted
   * on arrival, not after a wait). The kinds of permit below override it with cheaper ways.
   */
  run(scope: Scope, next: Next, observer: Observer<object>, arrivedAt: StartTime, atOnce: boolean): Promise<unknown> {
    const timed = this.timed;
    // Granted on arrival and already timed for the listeners: that reading is the start.
    const startMs = !timed ? 0 : atOnce && arrivedAt !== UNTIMED ? arrivedAt : observer.now();
    // `next` never throws (core/policy.ts `invoke`, core/pipeline.ts `adapt`).
    return next(scope).then(
      (value) => {
        const endMs = timed || arrivedAt !== UNTIMED ? observer.now() : 0;
        if (scope.withdrawn) this.onIgnore(startMs, endMs);
        else this.onSuccess(startMs, endMs);
        observer.succeeded(arrivedAt, endMs);
        return value;
      },
      (error: unknown) => {
        const endMs = timed || arrivedAt !== UNTIMED ? observer.now() : 0;
        if (scope.withdrawn) this.onIgnore(startMs, endMs);
        else this.onFailure(startMs, endMs, error);
        observer.failed(arrivedAt, error, endMs);
        throw error;
      },
    );
  }
}

/**
 * A permit held while the call runs and handed back when it ends, whatever the outcome (a
 * bulkhead slot). It has no per-call state, so one object serves every call, with shared
 * settle handlers: running a call under it allocates nothing.
 */
export abstract class HeldPermit extends Permit {
  get timed(): boolean {
    return false;
  }
  /** The call ended (or never started): give back what the permit holds. */
  abstract end(): void;

  onSuccess(): void {
    this.end();
  }
  onFailure(): void {
    this.end();
  }
  onIgnore(): void {
    this.end();
  }
  release(): void {
    this.end();
  }

  /** @internal Settle handlers shared by every call (the fast path of `run`, and of policies that inline it). */
  readonly endValue = (value: unknown): unknown => {
    this.end();
    return value;
  };
  /** @internal */
  readonly endError = (error: unknown): never => {
    this.end();
    throw error;
  };

  /** @internal */
  override run(scope: Scope, next: Next, observer: Observer<object>, arrivedAt: StartTime): Promise<unknown> {
    const running = next(scope);
    if (arrivedAt === UNTIMED) return running.then(this.endValue, this.endError);
    return running.then(
      (value) => {
        this.end();
        observer.succeeded(arrivedAt);
        return value;
      },
      (error: unknown) => {
        this.end();
        observer.failed(arrivedAt, error);
        throw error;
      },
    );
  }
}

/**
 * A permit used up when it is granted (rate-limit tokens): nothing to report when the call
 * settles. A subclass whose grant can be given back (tokens a caller waited for, then left
 * without using) overrides `release`.
 */
export class SpentPermit extends Permit {
  get timed(): boolean {
    return false;
  }

  onSuccess(): void {}
  onFailure(): void {}
  onIgnore(): void {}
  release(): void {}

  /** @internal */
  override run(scope: Scope, next: Next, observer: Observer<object>, arrivedAt: StartTime): Promise<unknown> {
    return observer.watch(next(scope), arrivedAt);
  }
}

/**
 * Tokens granted at once, with nothing to give back: an engine answers it for a grant whose
 * call starts right away. Policies compare with it (`===`) to skip every layer of the shell.
 */
export const GRANTED: SpentPermit = new SpentPermit();

/**
 * What an engine answers a call: a permit now, a permit later (the promise rejects with the
 * refusal, or with the scope's abort reason when the caller leaves first), or the refusal — the
 * error to reject the call with.
 */
export type Admission = Permit | Promise<Permit> | Refusal;

/** The error a call is refused with (not a `Permit`, not a promise). */
export type Refusal = unknown;

/** An engine whose waits can end in a refusal it did not report itself (a store deciding later). */
export interface LateRefusals {
  refusedLater(scope: Scope, error: unknown): void;
}

/**
 * Runs the rest of the call under `admission`: at once with a permit, after the wait with a
 * permit later (see `runWhenGranted`), or rejects with the refusal (which the engine reported).
 * `arrivedAt` is `observer.start()` taken on arrival, so reported durations include the wait.
 */
export function runAdmitted(admission: Admission, scope: Scope, next: Next, observer: Observer<object>, arrivedAt: StartTime): Promise<unknown> {
  if (admission instanceof Permit) return admission.run(scope, next, observer, arrivedAt, true);
  if (admission instanceof Promise) return runWhenGranted(admission, scope, next, observer, arrivedAt, undefined);
  return rejectSoon(admission);
}

/**
 * Runs the rest of the call once `granted` resolves with its permit, never starting `fn` for a
 * caller that aborted meanwhile (the permit goes back). A refusal that ends the wait reaches
 * `late`, when given (an engine that reports its refusals itself passes none).
 */
export function runWhenGranted(
  granted: Promise<Permit>,
  scope: Scope,
  next: Next,
  observer: Observer<object>,
  arrivedAt: StartTime,
  late: LateRefusals | undefined,
): Promise<unknown> {
  // Chained here, in the caller's own promise chain: `fn` runs in the caller's async context
  // (AsyncLocalStorage) even though another call's completion granted the permit.
  return granted.then(
    (permit: Permit) => {
      if (scope.aborted) {
        // Aborted between the grant and this tick: hand the permit back, never start `fn`.
        permit.release();
        throw scope.reason;
      }
      return permit.run(scope, next, observer, arrivedAt, false);
    },
    late === undefined
      ? undefined
      : (error: unknown) => {
          late.refusedLater(scope, error);
          throw error;
        },
  );
}
