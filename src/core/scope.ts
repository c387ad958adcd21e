import { onAbort, type Remover } from './abort.js';
import type { ExecutionContext, UserFunction } from './context.js';

/**
 * Why a scope stopped:
 * - `caller`: the caller's signal aborted (they no longer want the answer);
 * - `timeout`: a deadline of ours passed (the dependency was too slow: a failure);
 * - `cancelled`: the library withdrew the attempt itself (a hedge loser): nobody's failure.
 */
export type AbortCause = 'caller' | 'timeout' | 'cancelled';

/** Runs the rest of a pipeline (the inner policies, then `fn`) for one call. */
export type Next = (scope: Scope) => Promise<unknown>;

/** What only some scopes need: kept out of the per-call object until first used. */
interface AbortState {
  controller: AbortController | undefined;
  aborted: boolean;
  reason: unknown;
  cause: AbortCause;
  callbacks: Array<(reason: unknown) => void> | undefined;
  /** Removes the link from the parent's abort to `controller` (set when `signal` is read). */
  detach: Remover | undefined;
}

function newAbortState(): AbortState {
  return { controller: undefined, aborted: false, reason: undefined, cause: 'timeout', callbacks: undefined, detach: undefined };
}

const noop: Remover = () => {};

/**
 * The internal per-call state that flows through a pipeline: a tree of scopes.
 * - the root, made by `execute`: aborts when the caller's signal does;
 * - `withAttempt(n)` (retry): the same abort state as its parent, another attempt number;
 * - `child()` (timeout): aborts when its parent does, or by itself (`abort`);
 * - `fork(n)` (hedge): a child with its own attempt number, so several attempts can run at once
 *   and each be cancelled alone.
 *
 * Nothing here reaches the user's `fn`: it gets `scope.context`, a view with `signal` and
 * `attempt` only. Policies that wait subscribe with `onAbort`, which uses plain callbacks: an
 * AbortSignal is only created when `fn` reads `ctx.signal`. Internal: no public type names it.
 */
export class Scope {
  // Declared, not initialized, and assigned in the constructor: a class field (even one with no
  // initializer) makes every construction call an initializer function wherever the compiler
  // does not inline the constructor, and a scope is made for every call.
  declare readonly attempt: number;
  /** The user's function, shared by the whole tree: the innermost `next` calls it. */
  declare readonly fn: UserFunction;
  declare private readonly parent: Scope | undefined;
  declare private readonly callerSignal: AbortSignal | undefined;
  /** Can abort by itself (a child or a fork), not only through its parent. */
  declare private readonly ownsAbort: boolean;
  /** Created on first need: most calls never abort nor read `signal`, and stay this small. */
  declare private own: AbortState | undefined;

  private constructor(fn: UserFunction, parent: Scope | undefined, callerSignal: AbortSignal | undefined, ownsAbort: boolean, attempt: number) {
    this.fn = fn;
    this.parent = parent;
    this.callerSignal = callerSignal;
    this.ownsAbort = ownsAbort;
    this.attempt = attempt;
    this.own = undefined;
  }

  static root(fn: UserFunction, callerSignal: AbortSignal | undefined): Scope {
    return new Scope(fn, undefined, callerSignal, false, 1);
  }

  /** Same abort state, another attempt number (retry: one attempt at a time). */
  withAttempt(attempt: number): Scope {
    return new Scope(this.fn, this, undefined, false, attempt);
  }

  /** A child that can also be aborted by itself (timeout). Call `dispose` when it settles. */
  child(): Scope {
    return new Scope(this.fn, this, undefined, true, this.attempt);
  }

  /** A child with its own abort and attempt number (concurrent attempts). Call `dispose` when it settles. */
  fork(attempt: number): Scope {
    return new Scope(this.fn, this, undefined, true, attempt);
  }

  /**
   * What `fn` receives: `signal` and `attempt`, nothing internal. A new view on each read, not
   * one cached here: the view holds nothing but the scope, and a field for it would make every
   * scope bigger (with 100 calls in flight, a measured 40 bytes more per call than the view).
   */
  get context(): ExecutionContext {
    return new AttemptContext(this);
  }

  get aborted(): boolean {
    // A loop, not a recursion: policies ask on every call, and a recursive getter is never inlined.
    let scope: Scope = this;
    for (;;) {
      const own = scope.own;
      if (own !== undefined && own.aborted) return true;
      const parent = scope.parent;
      if (parent === undefined) return scope.callerSignal !== undefined && scope.callerSignal.aborted;
      scope = parent;
    }
  }

  get reason(): unknown {
    if (this.own !== undefined && this.own.aborted) return this.own.reason;
    if (this.parent !== undefined) return this.parent.reason;
    return this.callerSignal?.reason;
  }

  /** Why this scope aborted (undefined while it has not). The first abort on the path to the root wins. */
  get cause(): AbortCause | undefined {
    if (this.own !== undefined && this.own.aborted) return this.own.cause;
    if (this.parent !== undefined) return this.parent.cause;
    return this.callerSignal !== undefined && this.callerSignal.aborted ? 'caller' : undefined;
  }

  /**
   * True when the outcome of this scope is nobody's verdict on the dependency: the caller gave
   * up, or the library cancelled the attempt (a hedge loser). Breakers and fallbacks ignore it.
   */
  get withdrawn(): boolean {
    const cause = this.cause;
    return cause === 'caller' || cause === 'cancelled';
  }

  /** False when nothing can ever abort this scope: `onAbort` would never fire. */
  get abortable(): boolean {
    if (this.ownsAbort) return true;
    if (this.parent !== undefined) return this.parent.abortable;
    return this.callerSignal !== undefined;
  }

  /** Calls `callback(reason)` once when this scope aborts. Returns the remover. */
  onAbort(callback: (reason: unknown) => void): Remover {
    if (!this.ownsAbort) {
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

  /** Aborts a child or fork with `reason`. Idempotent: the first abort (and its cause) stays. */
  abort(reason: unknown, cause: AbortCause = 'timeout'): void {
    if (this.aborted) return;
    const own = (this.own ??= newAbortState());
    own.aborted = true;
    own.reason = reason;
    own.cause = cause;
    const list = own.callbacks;
    own.callbacks = undefined;
    if (list !== undefined) for (const callback of list) callback(reason);
    if (own.controller !== undefined) own.controller.abort(reason);
  }

  /** Releases what reading `signal` attached to the parent's abort. */
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
    if (!this.ownsAbort) {
      if (this.parent !== undefined) return this.parent.signal;
      if (this.callerSignal !== undefined) return this.callerSignal;
    }
    const own = (this.own ??= newAbortState());
    let controller = own.controller;
    if (controller === undefined) {
      controller = new AbortController();
      own.controller = controller;
      if (this.ownsAbort) {
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

/**
 * The user-facing view of a scope. Its only state is a true private field, so `fn` can read
 * `signal` and `attempt` and reach nothing else (no `abort`, no `fn`, no parent).
 */
class AttemptContext implements ExecutionContext {
  readonly #scope: Scope;

  constructor(scope: Scope) {
    this.#scope = scope;
  }

  get signal(): AbortSignal {
    return this.#scope.signal;
  }

  get attempt(): number {
    return this.#scope.attempt;
  }
}
