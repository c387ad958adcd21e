import { systemClock, type Clock } from './clock.js';
import { isAbortSignal, onAbort } from './abort.js';
import type { ExecutionContext } from './context.js';
import type { Next, Scope } from './scope.js';
import { CALL_EVENTS, type CallEvents } from './events.js';
import { Observer, UNTIMED } from './observe.js';
import { BIND, PolicyBase, RUN, isRunnable, invoke, type Policy, type PolicyResult, type Runnable } from './policy.js';
import { checkClock, checkName, checkOptionsObject, describeValue, optionNames } from './validate.js';

/** The optional first argument of `pipeline`: a name and a clock for the whole call. */
export interface PipelineOptions {
  /**
   * Names the pipeline: it then publishes its events on diagnostics_channel and `instrument`
   * reports its calls under this name. Without a name only its own listeners see its events.
   */
  name?: string | undefined;
  /** Times the whole call for `success`/`failure` (pass the clock its policies use). */
  clock?: Clock | undefined;
}

const PIPELINE_OPTIONS = optionNames<PipelineOptions>({ name: true, clock: true });

/** The name of a pipeline that was given none: such a pipeline publishes and reports nothing. */
const ANONYMOUS = 'pipeline';

/**
 * Any `Policy` from outside the library runs through its public `execute`. What it hands its
 * callback (its own signal, its own attempt number) reaches the inner layers: the rest of the
 * call runs in a fork of our scope that also aborts when the foreign signal does. Layers rely on
 * `next` never throwing, so a foreign `execute` that throws synchronously becomes a rejection.
 */
function adapt(policy: Policy<unknown>): Runnable {
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
    next = layer[BIND] !== undefined ? layer[BIND](inner) : (ctx) => layer[RUN](ctx, inner);
  }
  return next;
}

/**
 * Policies composed into one, the first outermost. A pipeline is a policy like the others:
 * it has a name and emits `success`/`failure` for the whole call (retries included).
 * `R` is what its policies may answer instead of `fn` (a fallback's value).
 *
 * @example
 * ```ts
 * import { Pipeline, pipeline, retry, timeout } from 'breakwater';
 *
 * const resilient: Pipeline = pipeline({ name: 'checkout' }, retry({ maxRetries: 2 }), timeout(1_000));
 * resilient.on('failure', ({ error, durationMs }) => console.log('checkout failed', error, durationMs));
 * ```
 */
export class Pipeline<R = never> extends PolicyBase<CallEvents, R> {
  readonly kind = 'pipeline';
  protected readonly eventNames = CALL_EVENTS;
  /**
   * The policies, outermost first. An anonymous pipeline nested in this one is listed as its
   * policies; a named one is listed itself (it reports its own calls).
   */
  readonly policies: readonly Policy<unknown>[];
  /** The arguments, as given. */
  private readonly members: readonly Policy<unknown>[];
  private readonly layers: readonly Runnable[];
  /** Built once: the whole chain ending in the user's function. */
  private readonly run: Next;
  /** The chain ending in the `next` this pipeline last ran with inside another pipeline. */
  private innerNext: Next | undefined = undefined;
  private innerRun: Next | undefined = undefined;
  private readonly observer: Observer<CallEvents>;

  /** @internal Use `pipeline()`. `events`: a hub to share (a copy of this pipeline keeps its listeners). */
  constructor(
    policies: readonly Policy<unknown>[],
    name: string,
    private readonly clock: Clock,
    events?: Observer<CallEvents>,
  ) {
    const observer = events ?? new Observer<CallEvents>(() => name, clock, undefined, name !== ANONYMOUS);
    super(name, observer);
    this.members = Object.freeze([...policies]);
    const listed: Policy<unknown>[] = [];
    for (const policy of policies) {
      if (policy instanceof Pipeline && policy.name === ANONYMOUS) listed.push(...policy.policies);
      else listed.push(policy);
    }
    this.policies = Object.freeze(listed);
    // Every argument is a layer, nested pipelines too: each one times and reports its own part.
    this.layers = policies.map((p) => (isRunnable(p) ? p : adapt(p)));
    this.run = chain(this.layers, invoke);
    this.observer = observer;
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    const run = next === invoke ? this.run : this.chainTo(next);
    const startedAt = this.observer.start();
    return startedAt === UNTIMED ? run(ctx) : this.observer.watch(run(ctx), startedAt);
  }

  /**
   * @internal This pipeline without the policies `drop` selects, at any depth, or this very
   * pipeline when there are none. The copy shares the name, the clock and the listeners.
   */
  without(drop: (policy: Policy<unknown>) => boolean): Pipeline<R> {
    let changed = false;
    const kept: Policy<unknown>[] = [];
    for (const member of this.members) {
      if (drop(member)) {
        changed = true;
        continue;
      }
      const pruned = member instanceof Pipeline ? (member as Pipeline<unknown>).without(drop) : member;
      if (pruned !== member) changed = true;
      kept.push(pruned);
    }
    return changed ? new Pipeline<R>(kept, this.name, this.clock, this.observer) : this;
  }

  /** Inside another pipeline `next` is that pipeline's fixed continuation: chain it once. */
  private chainTo(next: Next): Next {
    if (next !== this.innerNext) {
      this.innerRun = chain(this.layers, next);
      this.innerNext = next;
    }
    return this.innerRun!;
  }
}

function isPolicy(value: unknown): value is Policy<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Policy).execute === 'function';
}

/**
 * Composes policies; the first is the outermost. An optional leading options object names
 * the pipeline and gives it a clock: `pipeline({ name: 'checkout', clock }, retry(…), timeout(…))`.
 * The result resolves to `fn`'s result or to what a policy answers instead (a fallback).
 *
 * @example
 * ```ts
 * import { exponentialBackoff, pipeline, retry, timeout } from 'breakwater';
 *
 * const resilient = pipeline(
 *   retry({ maxRetries: 2, backoff: exponentialBackoff({ initialMs: 10 }) }),
 *   timeout(1_000), // per attempt: the retry is outside it
 * );
 * const answer = await resilient.execute(async ({ signal, attempt }) => `attempt ${attempt}`);
 * ```
 */
export function pipeline<P extends readonly Policy<unknown>[]>(...policies: P): Pipeline<PolicyResult<P[number]>>;
export function pipeline<P extends readonly Policy<unknown>[]>(
  options: PipelineOptions,
  ...policies: P
): Pipeline<PolicyResult<P[number]>>;
export function pipeline(...args: unknown[]): Pipeline<unknown> {
  const first = args[0];
  const hasOptions = typeof first === 'object' && first !== null && !Array.isArray(first) && !isPolicy(first);
  const opts = hasOptions ? checkOptionsObject('pipeline', first, true, PIPELINE_OPTIONS) : {};
  checkClock(opts['clock']);
  const name = checkName(opts['name'], ANONYMOUS);
  const policies = hasOptions ? args.slice(1) : args;
  policies.forEach((policy, index) => {
    if (!isPolicy(policy)) {
      const position = hasOptions ? index + 1 : index;
      throw new TypeError(`breakwater: pipeline argument ${position} must be a policy, received ${policy === null ? 'null' : describeValue(policy)}`);
    }
  });
  return new Pipeline(policies as Policy<unknown>[], name, (opts['clock'] as Clock | undefined) ?? systemClock);
}
