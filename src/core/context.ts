import { onAbort, type Remover } from './abort.js';

/** What `fn` receives. */
export interface ExecutionContext {
  /** Aborted on timeout or caller abort. Created on first read: unread, it costs nothing. */
  readonly signal: AbortSignal;
  /** 1 = first call, 2 = first retry, … */
  readonly attempt: number;
}

export interface ExecuteOptions {
  /** The caller's signal; `null` or `undefined` mean none (as in RequestInit). */
  readonly signal?: AbortSignal | null | undefined;
}

export type UserFunction<T = unknown> = (ctx: ExecutionContext) => T | PromiseLike<T>;

/** Runs the rest of a pipeline (the inner policies, then `fn`) for one call. */
export type Next = (ctx: CallContext) => Promise<unknown>;

const noop: Remover = () => {};

/**
 * The per-call state that flows through a pipeline. Three shapes share this class:
 * - the root, made by `execute`: aborts when the caller's signal does;
 * - an attempt (made by retry): the same abort state as its parent, another `attempt`;
 * - a scope (made by timeout): aborts when its parent does or when `abort` is called.
 *
 * Policies that wait (queue, backoff, rate-limit wait) subscribe with `onAbort`, which uses
 * plain callbacks: an AbortSignal is only created when `fn` reads `ctx.signal`.
 */
/** What only some contexts need: kept out of the per-call object until first used. */
interface AbortState {
  controller: AbortController | undefined;
  /** Only scopes abort by themselves. */
  aborted: boolean;
  reason: unknown;
  callbacks: Array<(reason: unknown) => void> | undefined;
  /** Removes the link from the parent's abort to `controller` (set when `signal` is read). */
  detach: Remover | undefined;
}

function newAbortState(): AbortState {
  return { controller: undefined, aborted: false, reason: undefined, callbacks: undefined, detach: undefined };
}

export class CallContext implements ExecutionContext {
  attempt: number;
  /** Created on first need: most calls never abort nor read `signal`, and stay this small. */
  private own: AbortState | undefined = undefined;

  private constructor(
    readonly fn: UserFunction,
    private readonly parent: CallContext | undefined,
    private readonly callerSignal: AbortSignal | undefined,
    private readonly isScope: boolean,
    attempt: number,
  ) {
    this.attempt = attempt;
  }

  static root(fn: UserFunction, callerSignal: AbortSignal | undefined): CallContext {
    return new CallContext(fn, undefined, callerSignal, false, 1);
  }

  /** Same abort state, another attempt number (retry). */
  withAttempt(attempt: number): CallContext {
    return new CallContext(this.fn, this, undefined, false, attempt);
  }

  /** A child that can also be aborted by itself (timeout). Call `dispose` when it settles. */
  scope(): CallContext {
    return new CallContext(this.fn, this, undefined, true, this.attempt);
  }

  get aborted(): boolean {
    if (this.own !== undefined && this.own.aborted) return true;
    if (this.parent !== undefined) return this.parent.aborted;
    return this.callerSignal !== undefined && this.callerSignal.aborted;
  }

  get reason(): unknown {
    if (this.own !== undefined && this.own.aborted) return this.own.reason;
    if (this.parent !== undefined) return this.parent.reason;
    return this.callerSignal?.reason;
  }

  /** False when nothing can ever abort this context: `onAbort` would never fire. */
  get abortable(): boolean {
    if (this.isScope) return true;
    if (this.parent !== undefined) return this.parent.abortable;
    return this.callerSignal !== undefined;
  }

  /** True when the caller (not a timeout of ours) gave up. */
  get callerAborted(): boolean {
    if (this.parent !== undefined) return this.parent.callerAborted;
    return this.callerSignal !== undefined && this.callerSignal.aborted;
  }

  /** Calls `callback(reason)` once when this context aborts. Returns the remover. */
  onAbort(callback: (reason: unknown) => void): Remover {
    if (!this.isScope) {
      if (this.parent !== undefined) return this.parent.onAbort(callback);
      return this.callerSignal === undefined ? noop : onAbort(this.callerSignal, callback);
    }
    const own = (this.own ??= newAbortState());
    let done = false;
    const once = (reason: unknown): void => {
      if (done) return;
      done = true;
      removeParent();
      this.removeOwn(once);
      callback(reason);
    };
    const removeParent = this.parent!.onAbort(once);
    (own.callbacks ??= []).push(once);
    return () => {
      done = true;
      removeParent();
      this.removeOwn(once);
    };
  }

  private removeOwn(callback: (reason: unknown) => void): void {
    const list = this.own?.callbacks;
    if (list === undefined) return;
    const index = list.indexOf(callback);
    if (index !== -1) list.splice(index, 1);
  }

  /** Aborts a scope with `reason` (a timeout). Idempotent. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    const own = (this.own ??= newAbortState());
    own.aborted = true;
    own.reason = reason;
    const list = own.callbacks;
    own.callbacks = undefined;
    if (list !== undefined) for (const callback of list) callback(reason);
    if (own.controller !== undefined) own.controller.abort(reason);
  }

  /** Releases what reading `signal` attached to the caller's signal. */
  dispose(): void {
    const own = this.own;
    if (own === undefined) return;
    // The parent may have aborted in the same dispatch that got us here, before our link to
    // it ran: make the signal agree before cutting the link.
    const controller = own.controller;
    if (controller !== undefined && !controller.signal.aborted && this.aborted) controller.abort(this.reason);
    const detach = own.detach;
    if (detach !== undefined) {
      own.detach = undefined;
      detach();
    }
  }

  get signal(): AbortSignal {
    if (!this.isScope) {
      if (this.parent !== undefined) return this.parent.signal;
      if (this.callerSignal !== undefined) return this.callerSignal;
    }
    const own = (this.own ??= newAbortState());
    let controller = own.controller;
    if (controller === undefined) {
      controller = new AbortController();
      own.controller = controller;
      if (this.isScope) {
        if (this.aborted) controller.abort(this.reason);
        else {
          const c = controller;
          // Parent aborts reach this signal; own aborts call controller.abort directly.
          own.detach = this.parent!.onAbort((reason) => c.abort(reason));
        }
      }
    }
    return controller.signal;
  }
}
