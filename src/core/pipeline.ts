import type { CallContext, Next } from './context.js';
import type { CallEvents } from './events.js';
import { PolicyBase, RUN, isRunnable, invoke, type Policy, type Runnable } from './policy.js';

/**
 * Any `Policy` from outside the library runs through its public `execute`. Layers rely on
 * `next` never throwing, so a foreign `execute` that throws synchronously becomes a rejection.
 */
function adapt(policy: Policy): Runnable {
  return {
    [RUN]: (ctx: CallContext, next: Next) => {
      try {
        return Promise.resolve(policy.execute(() => next(ctx), { signal: ctx.signal }));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
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

  /** @internal Use `pipeline()`. */
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

  /** @internal */
  [RUN](ctx: CallContext, next: Next): Promise<unknown> {
    return next === invoke ? this.run(ctx) : chain(this.layers, next)(ctx);
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
