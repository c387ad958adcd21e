import { isAbortSignal } from './abort.js';
import type { ExecuteOptions, ExecutionContext, UserFunction } from './context.js';
import { Scope, type Next } from './scope.js';
import { EventHub, type Listener } from './events.js';

export interface Policy {
  readonly name: string;
  execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T>;
}

/**
 * The internal protocol: run the rest of the call (`next`) under this policy. Keyed by a
 * registered symbol so a pipeline can compose policies from the ESM and the CJS build.
 */
export const RUN: unique symbol = Symbol.for('breakwater.run.v1') as never;

export interface Runnable {
  [RUN](ctx: Scope, next: Next): Promise<unknown>;
}

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

/** Entry point shared by every policy's `execute`: argument checks, caller signal, root context. */
export function executeRunnable<T>(
  policy: Runnable,
  fn: UserFunction<T>,
  options: ExecuteOptions | undefined,
): Promise<T> {
  if (typeof fn !== 'function') {
    return Promise.reject(new TypeError(`breakwater: execute(fn) needs a function, received ${typeof fn}`));
  }
  let signal: AbortSignal | undefined;
  if (options !== undefined && options !== null) {
    signal = options.signal;
    if (signal !== undefined) {
      if (!isAbortSignal(signal)) {
        return Promise.reject(new TypeError('breakwater: execute option "signal" must be an AbortSignal'));
      }
      if (signal.aborted) return Promise.reject(signal.reason);
    }
  }
  try {
    return policy[RUN](Scope.root(fn as UserFunction, signal), invoke) as Promise<T>;
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Shared shape of the built-in policies: a name, events, and `execute` over `[RUN]`. */
export abstract class PolicyBase<Events extends object> implements Policy, Runnable {
  readonly name: string;
  /** Kind of policy (`'retry'`, `'circuit-breaker'`, …); the default `name`. */
  abstract readonly kind: string;
  protected readonly events: EventHub<Events>;

  /** `events`: a hub to share (e.g. the per-key views of a keyed limiter share their parent's). */
  constructor(name: string, events?: EventHub<Events>) {
    this.name = name;
    this.events = events ?? new EventHub<Events>(() => this.name);
  }

  execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T> {
    return executeRunnable(this, fn, options);
  }

  /** Subscribes to an event; the returned function unsubscribes. */
  on<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): () => void {
    return this.events.on(event, listener);
  }

  abstract [RUN](ctx: Scope, next: Next): Promise<unknown>;
}
