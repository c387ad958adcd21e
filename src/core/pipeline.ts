import { isAbortSignal, onAbort } from './abort.js';
import type { ExecutionContext } from './context.js';
import type { Next, Scope } from './scope.js';
import type { CallEvents } from './events.js';
import { PolicyBase, RUN, isRunnable, invoke, type Policy, type Runnable } from './policy.js';

/**
 * Any `Policy` from outside the library runs through its public `execute`. What it hands its
 * callback (its own signal, its own attempt number) reaches the inner layers: the rest of the
 * call runs in a fork of our scope that also aborts when the foreign signal does. Layers rely on
 * `next` never throwing, so a foreign `execute` that throws synchronously becomes a rejection.
 */
function adapt(policy: Policy): Runnable {
  return {
    [RUN]: (scope: Scope, next: Next) => {
      try {
        return Promise.resolve(policy.execute((foreign) => runForeign(scope, next, foreign), { signal: scope.signal }));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

function runForeign(scope: Scope, next: Next, foreign: Partial<ExecutionContext> | undefined): Promise<unknown> {
  if (typeof foreign !== 'object' || foreign === null) return next(scope);
  const attempt = typeof foreign.attempt === 'number' ? foreign.attempt : scope.attempt;
  const signal = foreign.signal;
  if (attempt === scope.attempt && (signal === undefined || signal === scope.signal)) return next(scope);
  const inner = scope.fork(attempt);
  // The foreign policy aborted its own signal (its timeout, its cancellation): to the layers
  // inside, that is a deadline of an outer policy. A caller abort reaches `inner` through `scope`.
  const detach = isAbortSignal(signal) && signal !== scope.signal ? linkForeignSignal(signal, inner) : undefined;
  return next(inner).finally(() => {
    detach?.();
    inner.dispose();
  });
}

function linkForeignSignal(signal: AbortSignal, inner: Scope): () => void {
  if (signal.aborted) {
    inner.abort(signal.reason);
    return () => {};
  }
  return onAbort(signal, (reason) => inner.abort(reason));
}

function chain(layers: readonly Runnable[], innermost: Next): Next {
  let next = innermost;
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const inner = next;
    next = (ctx) => layer[RUN](ctx, inner);
  }
  return next;
}

export class Pipeline extends PolicyBase<CallEvents> {
  readonly kind = 'pipeline';
  /** The policies, outermost first; nested pipelines are flattened. */
  readonly policies: readonly Policy[];
  private readonly layers: readonly Runnable[];
  /** Built once: the whole chain ending in the user's function. */
  private readonly run: Next;

  constructor(policies: readonly Policy[], name: string) {
    super(name);
    const flat: Policy[] = [];
    for (const policy of policies) {
      if (policy instanceof Pipeline) flat.push(...policy.policies);
      else flat.push(policy);
    }
    this.policies = Object.freeze(flat);
    this.layers = flat.map((p) => (isRunnable(p) ? p : adapt(p)));
    this.run = chain(this.layers, invoke);
  }

  [RUN](scope: Scope, next: Next): Promise<unknown> {
    return next === invoke ? this.run(scope) : chain(this.layers, next)(scope);
  }
}

function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && typeof (value as Policy).execute === 'function';
}

/** Composes policies; the first argument is the outermost. */
export function pipeline(...policies: Policy[]): Pipeline {
  policies.forEach((policy, index) => {
    if (!isPolicy(policy)) {
      throw new TypeError(`breakwater: pipeline argument ${index} must be a policy, received ${policy === null ? 'null' : typeof policy}`);
    }
  });
  return new Pipeline(policies, 'pipeline');
}
