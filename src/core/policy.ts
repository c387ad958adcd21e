import { isAbortSignal } from './abort.js';
import type { ExecuteOptions, ExecutionContext, UserFunction } from './context.js';
import { Scope, type Next } from './scope.js';
import { EventHub, checkEventName, type Listener } from './events.js';

/**
 * Something that runs `fn` under a policy. `R` is what the policy may resolve to instead of
 * `fn`'s result: `never` for nearly all policies, the fallback value's type for a fallback,
 * and for a pipeline the union of its policies'. So `execute` resolves to `T | R`.
 */
export interface Policy<out R = never> {
  /** The policy's name: in its events, its diagnostics_channel messages and its telemetry labels. */
  readonly name: string;
  /**
   * Runs `fn` under the policy. `fn` gets `{ signal, attempt }`; the promise resolves to its
   * result (or to what the policy answers instead, `R`) and rejects with what `fn` threw,
   * untouched, or with the policy's own refusal (a `BreakwaterError`). A `signal` in `options`
   * aborts the call: the promise rejects with its reason.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T | R>;
}

/** Type-level only: carries a built-in policy's `R` so that `pipeline(...)` can read it. */
declare const RESULT: unique symbol;

/**
 * What a policy may resolve to besides `fn`'s result, read from its type: the built-in
 * policies carry it, a `Policy<R>` states it, and any other object that is a plain `Policy`
 * adds nothing (one that is not, say a class returning `Promise<T | string>`, adds `unknown`).
 */
export type PolicyResult<P> = P extends { readonly [RESULT]: infer R }
  ? R
  : P extends Policy<infer R>
    ? unknown extends R
      ? P extends Policy
        ? never
        : unknown
      : R
    : never;

/**
 * The internal protocol: run the rest of the call (`next`) under this policy. Keyed by a
 * registered symbol so a pipeline can compose policies from the ESM and the CJS build.
 */
export const RUN: unique symbol = Symbol.for('breakwater.run.v1') as never;

export interface Runnable {
  [RUN](ctx: Scope, next: Next): Promise<unknown>;
  /**
   * `next` run under this policy, as one function: what a pipeline chains. Optional (a pipeline
   * falls back to a shared wrapper), but each class should write its own: a function literal in
   * the class's code sees only that class, so the call in it stays monomorphic and the compiler
   * can inline `[RUN]` there; one wrapper shared by every class goes megamorphic in a pipeline.
   */
  [BIND]?(next: Next): Next;
}

/** Registered, like `RUN`, so that the ESM and the CJS build compose. */
export const BIND: unique symbol = Symbol.for('breakwater.bind.v1') as never;

export function isRunnable(value: unknown): value is Runnable & Policy {
  return typeof value === 'object' && value !== null && typeof (value as Runnable)[RUN] === 'function';
}

/** Calls the user's function; a sync throw or a non-promise value becomes a promise. */
export const invoke: Next = (scope) => {
  try {
    return Promise.resolve(scope.fn(scope.context));
  } catch (error) {
    return Promise.reject(error);
  }
};

/**
 * The caller's signal from `{ signal }` options (`execute`, `acquire`). Absent options, a
 * missing signal, `undefined` and `null` (what RequestInit allows) all mean "no signal".
 * Returns a TypeError instead of throwing: callers turn it into a rejection.
 */
export function readSignalOption(method: string, options: unknown): AbortSignal | undefined | TypeError {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || isAbortSignal(options)) {
    return new TypeError(
      isAbortSignal(options)
        ? `breakwater: ${method}(…, options) received an AbortSignal where the options belong; pass { signal }`
        : `breakwater: ${method} options must be an object like { signal }, received ${typeof options}`,
    );
  }
  const signal = (options as ExecuteOptions).signal;
  if (signal === undefined || signal === null) return undefined;
  if (!isAbortSignal(signal)) return new TypeError(`breakwater: ${method} option "signal" must be an AbortSignal`);
  return signal;
}

/** Entry point shared by every policy's `execute`: argument checks, caller signal, root context. */
export function executeRunnable<T>(
  policy: Runnable,
  fn: UserFunction<T>,
  options: ExecuteOptions | undefined,
): Promise<T> {
  // The usual call, kept small so that the compiler inlines it and has budget left to inline
  // the policy's own code into the caller: a function and no options. Its `try` is written again
  // in `executeWithOptions`, not shared: through one helper the rate limiter's call counted about
  // 140 instructions more (bench/instructions.mjs).
  if (options === undefined && typeof fn === 'function') {
    try {
      return policy[RUN](Scope.root(fn as UserFunction, undefined), invoke) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return executeWithOptions(policy, fn, options);
}

function executeWithOptions<T>(policy: Runnable, fn: UserFunction<T>, options: ExecuteOptions | undefined): Promise<T> {
  if (typeof fn !== 'function') {
    return Promise.reject(new TypeError(`breakwater: execute(fn) needs a function, received ${typeof fn}`));
  }
  let signal: AbortSignal | undefined;
  if (options !== undefined) {
    const read = readSignalOption('execute', options);
    if (read instanceof TypeError) return Promise.reject(read);
    signal = read;
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
  }
  try {
    return policy[RUN](Scope.root(fn as UserFunction, signal), invoke) as Promise<T>;
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Shared shape of the built-in policies: a name, events, and `execute` over `[RUN]`. `R` is
 * what the policy may answer instead of `fn`'s result (see `Policy`).
 */
export abstract class PolicyBase<Events extends object, R = never> implements Policy<R> {
  /** @hidden Type-level only (no value at run time): what `PolicyResult` reads. */
  declare readonly [RESULT]: R;
  /** The policy's name (the `name` option, else its kind): in its events and its telemetry labels. */
  readonly name: string;
  /** Kind of policy (`'retry'`, `'circuit-breaker'`, …); the default `name`. */
  abstract readonly kind: string;
  /** @internal Every event `on` accepts (the keys of `Events`), checked at run time. */
  protected abstract readonly eventNames: readonly (keyof Events & string)[];
  /** @internal */
  protected readonly events: EventHub<Events>;

  /** @internal `events`: a hub to share (e.g. the per-key views of a keyed limiter share their parent's). */
  constructor(name: string, events?: EventHub<Events>) {
    this.name = name;
    this.events = events ?? new EventHub<Events>(() => this.name);
  }

  /**
   * Runs `fn` under the policy. `fn` gets `{ signal, attempt }`; the promise resolves to its
   * result (or to what the policy answers instead, `R`) and rejects with what `fn` threw,
   * untouched, or with the policy's own refusal (a `BreakwaterError`). A `signal` in `options`
   * aborts the call: the promise rejects with its reason.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T | R>;
  /**
   * The same call seen through a plain `Policy` (what `guard`, `instrument` or a helper of
   * yours accepts): there the type no longer shows `R`.
   */
  execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T>;
  execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T> {
    return executeRunnable(this, fn, options);
  }

  /** Subscribes to an event; the returned function unsubscribes. An unknown event name throws. */
  on<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): () => void {
    checkEventName(`${this.kind} "${this.name}"`, event, this.eventNames);
    return this.events.on(event, listener);
  }

  /** @internal */
  abstract [RUN](ctx: Scope, next: Next): Promise<unknown>;
}
