import { systemClock, type Clock } from './clock.js';
import type { CallContext, Next } from './context.js';
import { CALL_EVENTS, EventHub, type CallEvents } from './events.js';
import { PolicyBase, RUN, isRunnable, invoke, type Policy, type PolicyResult, type Runnable } from './policy.js';
import { checkClock, checkName, checkOptionsObject, describeValue, optionNames } from './validate.js';

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
 * Any `Policy` from outside the library runs through its public `execute`. Layers rely on
 * `next` never throwing, so a foreign `execute` that throws synchronously becomes a rejection.
 */
function adapt(policy: Policy<unknown>): Runnable {
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

/**
 * Policies composed into one, the first outermost. A pipeline is a policy like the others:
 * it has a name and emits `success`/`failure` for the whole call (retries included).
 * `R` is what its policies may answer instead of `fn` (a fallback's value).
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

  /** @internal Use `pipeline()`. `events`: a hub to share (a copy of this pipeline keeps its listeners). */
  constructor(
    policies: readonly Policy<unknown>[],
    name: string,
    private readonly clock: Clock,
    events?: EventHub<CallEvents>,
  ) {
    super(name, events ?? new EventHub<CallEvents>(() => name, name !== ANONYMOUS));
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
  }

  /** @internal */
  [RUN](ctx: CallContext, next: Next): Promise<unknown> {
    const run = next === invoke ? this.run : this.chainTo(next);
    if (!this.events.wantsOutcome()) return run(ctx);
    const startedAt = this.clock.now();
    return run(ctx).then(
      (value) => {
        if (this.events.wants('success')) this.events.emit('success', { durationMs: this.clock.now() - startedAt });
        return value;
      },
      (error: unknown) => {
        if (this.events.wants('failure')) this.events.emit('failure', { durationMs: this.clock.now() - startedAt, error });
        throw error;
      },
    );
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
    return changed ? new Pipeline<R>(kept, this.name, this.clock, this.events) : this;
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
