import { systemClock, type Clock } from '../core/clock.js';
import { checkQueueOptions, ConcurrencyGate } from '../core/concurrency-gate.js';
import type { Next, Scope } from '../core/scope.js';
import {
  BulkheadFullError,
  CircuitOpenError,
  ConcurrencyLimitError,
  RateLimitedError,
  TimeoutError,
  withoutStack,
} from '../core/errors.js';
import { eventNames, type FailureEvent, type RejectedEvent, type SuccessEvent } from '../core/events.js';
import { GAUGES, type Gauge } from '../core/gauges.js';
import { safeTest, type ErrorFilter } from '../core/handle.js';
import { Observer, UNTIMED, type StartTime } from '../core/observe.js';
import { Permit, runAdmitted } from '../core/permit.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import {
  checkClock,
  checkName,
  checkOptionsObject,
  describeValue,
  optionalFunction,
  optionNames,
} from '../core/validate.js';
import { gradient2Limit } from './gradient2.js';
import type { Limit } from './limit.js';
import { windowedLimit } from './windowed.js';

/** Options of `adaptiveConcurrency()`; all optional. */
export interface AdaptiveConcurrencyOptions {
  /** The estimator that sets the limit (default `windowedLimit(gradient2Limit())`). */
  limit?: Limit | undefined;
  /** Callers allowed to wait for a slot (default 0: reject at once at the limit). Infinity = unbounded. */
  maxQueue?: number | undefined;
  /** Longest wait in the queue; then `ConcurrencyLimitError`. Needs `maxQueue > 0`. */
  queueTimeoutMs?: number | undefined;
  /**
   * Which failures are drops (a loss signal for the estimator). Default: `TimeoutError`, the
   * library's overload refusals from inner policies (breaker open, bulkhead or concurrency limit
   * full, rate limited) and an HTTP 429 or 503 from `breakwater/fetch`.
   */
  isDrop?: ErrorFilter | undefined;
  /** Time source of round-trip times, the queue timeout and event durations; default `systemClock` (a `TestClock` in tests). */
  clock?: Clock | undefined;
  /** Names the limiter in its events and telemetry; default `'adaptive-concurrency'`. */
  name?: string | undefined;
}

const ADAPTIVE_CONCURRENCY_OPTIONS = optionNames<AdaptiveConcurrencyOptions>({ limit: true, maxQueue: true, queueTimeoutMs: true, isDrop: true, clock: true, name: true });

/** The events an adaptive concurrency limiter emits; subscribe with `on(event, listener)`. */
export interface AdaptiveConcurrencyEvents {
  /** A call ran and succeeded; `durationMs` counts from arrival (queue wait included). */
  success: SuccessEvent;
  /** A call ran and failed; `durationMs` counts from arrival (queue wait included). */
  failure: FailureEvent;
  /** At the limit with a full queue, or a caller waited `queueTimeoutMs` without a slot. */
  rejected: RejectedEvent<'concurrency-limit'>;
  /** The limit changed (`from` and `to` are the integer limits). */
  limitChange: LimitChangeEvent;
}

export const ADAPTIVE_CONCURRENCY_EVENTS = eventNames<AdaptiveConcurrencyEvents>({
  success: true,
  failure: true,
  rejected: true,
  limitChange: true,
});

/** Payload of `limitChange`: the estimator moved the integer limit. */
export interface LimitChangeEvent {
  /** The limit before the change. */
  readonly from: number;
  /** The limit after the change. */
  readonly to: number;
}

/** A snapshot of an adaptive limiter's state (`limiter.stats`). */
export interface AdaptiveConcurrencyStats {
  /** The current limit: calls of `fn` admitted at once. */
  readonly limit: number;
  /** Calls of `fn` in flight (slots taken). */
  readonly active: number;
  /** Callers waiting for a slot. */
  readonly queued: number;
  /** Cumulative count of `ConcurrencyLimitError` rejections (full queue and queue timeouts). */
  readonly rejected: number;
}

/**
 * Failures that say "the downstream is overloaded": they cut the limit like a lost packet cuts
 * a TCP window. Structural for HTTP statuses, so this file needs nothing from `src/http`.
 *
 * The default `isDrop` of `adaptiveConcurrency`: a `TimeoutError`, a full bulkhead, a rate
 * limit, an open circuit, or an `HttpStatusError` of 429 or 503.
 */
export const isOverloadError: ErrorFilter = (error) => {
  if (
    error instanceof TimeoutError ||
    error instanceof BulkheadFullError ||
    error instanceof RateLimitedError ||
    error instanceof CircuitOpenError
  ) {
    return true;
  }
  if (typeof error !== 'object' || error === null) return false;
  const { code, status } = error as { code?: unknown; status?: unknown };
  return code === 'ERR_HTTP_STATUS' && (status === 429 || status === 503);
};

/**
 * A bulkhead whose size follows the downstream: admits while `active < limit`, queues (FIFO)
 * or refuses with `ConcurrencyLimitError` beyond it, and reports every call it ran to the
 * estimator (`limit`), which moves the limit.
 *
 * @example
 * ```ts
 * import { ConcurrencyLimitError, adaptiveConcurrency, pipeline, timeout } from 'breakwater';
 *
 * const inventory = adaptiveConcurrency({ maxQueue: 50, queueTimeoutMs: 100, name: 'inventory' });
 * inventory.on('limitChange', ({ from, to }) => console.log(`inventory limit ${from} → ${to}`));
 * // the limiter outside the timeout: a call that times out frees its slot, and counts as a drop
 * const call = pipeline(inventory, timeout(2_000));
 * const res = await call.execute(({ signal }) => fetch('https://example.com/stock', { signal })).catch((error) => {
 *   if (error instanceof ConcurrencyLimitError) return new Response(null, { status: 503 });
 *   throw error;
 * });
 * ```
 */
export function adaptiveConcurrency(options?: AdaptiveConcurrencyOptions): AdaptiveConcurrency {
  const opts = checkOptionsObject('adaptiveConcurrency', options, false, ADAPTIVE_CONCURRENCY_OPTIONS);
  const limit = opts['limit'] === undefined ? windowedLimit(gradient2Limit()) : checkLimit(opts['limit']);
  const { maxQueue, queueTimeoutMs } = checkQueueOptions(opts);
  const isDrop = optionalFunction<ErrorFilter>('isDrop', opts['isDrop']) ?? isOverloadError;
  checkClock(opts['clock']);
  return new AdaptiveConcurrency(
    limit,
    maxQueue,
    queueTimeoutMs,
    isDrop,
    (opts['clock'] as Clock | undefined) ?? systemClock,
    checkName(opts['name'], 'adaptive-concurrency'),
  );
}

function checkLimit(value: unknown): Limit {
  const candidate = value as Partial<Limit> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.onSample !== 'function' ||
    typeof candidate.limit !== 'number' ||
    !(candidate.limit >= 1)
  ) {
    throw new TypeError(
      `breakwater: option "limit" must be a Limit (gradient2Limit(), vegasLimit(), aimdLimit() or an object with a numeric limit ≥ 1 and onSample), received ${describeValue(value)}`,
    );
  }
  if (candidate.subscribe !== undefined && typeof candidate.subscribe !== 'function') {
    throw new TypeError('breakwater: option "limit" has a subscribe that is not a function');
  }
  return value as Limit;
}

/** Built without a stack trace: under overload, queue timeouts are a hot rejection path. */
function queueTimeoutError(ms: number): ConcurrencyLimitError {
  return withoutStack(() => new ConcurrencyLimitError(`Concurrency limit queue wait exceeded ${ms} ms`));
}

/** The sample handed to the estimator, reused for every call (see `Limit.onSample`). */
interface MutableSample {
  rttMs: number;
  inflight: number;
  dropped: boolean;
  startMs: number;
}

/** Most idle call records a limiter keeps for reuse: beyond it, a burst's records go to the GC. */
const MAX_POOLED_CALLS = 1024;

/**
 * One admitted call while `fn` runs: what the estimator learns when it settles (its start, the
 * calls in flight when `fn` started) and what its listeners need (`arrivedAt`). The settle
 * handlers are made once per record and records are reused once their call settled, so a call
 * allocates no closure: the record is back in the pool before the estimator hears of the
 * call, which may start another one synchronously (from a `limitChange` listener).
 */
class Call {
  scope: Scope | undefined = undefined;
  startMs = 0;
  inflight = 0;
  arrivedAt: StartTime = UNTIMED;
  /** The next idle record while this one is in the pool. */
  nextIdle: Call | undefined = undefined;

  constructor(private readonly policy: AdaptiveConcurrency) {}

  readonly onValue = (value: unknown): unknown => {
    const policy = this.policy;
    const endMs = policy.clock.now();
    const { scope, startMs, inflight, arrivedAt } = this;
    policy.recycle(this);
    if (scope!.withdrawn) policy.release();
    else policy.learn(startMs, endMs, inflight, false);
    policy.observer.succeeded(arrivedAt, endMs);
    return value;
  };

  readonly onError = (error: unknown): never => {
    const policy = this.policy;
    const endMs = policy.clock.now();
    const { scope, startMs, inflight, arrivedAt } = this;
    policy.recycle(this);
    // The drop filter runs only for a sample the estimator gets.
    if (scope!.withdrawn) policy.release();
    else policy.learn(startMs, endMs, inflight, policy.isDrop(error));
    policy.observer.failed(arrivedAt, error, endMs);
    throw error;
  };
}

/**
 * The permit of an admitted call: its slot, and what the estimator learns when it settles (its
 * RTT from the start of `fn`, the calls in flight when `fn` started, whether it was a drop). A
 * withdrawn call (a caller that gave up, a cancelled hedge attempt) may have been cut short: it
 * teaches nothing, and only gives its slot back. What a call needs lives in its `Call` record,
 * so one permit serves every call of the policy.
 */
class SamplePermit extends Permit {
  // Stryker disable next-line BlockStatement: unreachable (only the base Permit.run reads timed, and this permit overrides run)
  get timed(): boolean {
    // Stryker disable next-line BooleanLiteral: unreachable (only the base Permit.run reads timed, and this permit overrides run)
    return true;
  }

  constructor(private readonly policy: AdaptiveConcurrency) {
    super();
  }

  /** @internal `Permit.run` for a timed permit: the start and the end read once each, shared with the listeners. */
  override run(scope: Scope, next: Next, _observer: Observer<object>, arrivedAt: StartTime, atOnce: boolean): Promise<unknown> {
    return this.policy.runCall(scope, next, arrivedAt, atOnce);
  }

  // Reached only through the base `run`, which this permit overrides: the in-flight count is
  // read when the call settles there.
  // Stryker disable next-line BlockStatement: unreachable (only the base Permit.run calls onSuccess, and this permit overrides run)
  onSuccess(startMs: number, endMs: number): void {
    // Stryker disable next-line BooleanLiteral: unreachable (only the base Permit.run calls onSuccess, and this permit overrides run)
    this.policy.learn(startMs, endMs, this.policy.active, false);
  }

  // Stryker disable next-line BlockStatement: unreachable (only the base Permit.run calls onFailure, and this permit overrides run)
  onFailure(startMs: number, endMs: number, error: unknown): void {
    this.policy.learn(startMs, endMs, this.policy.active, this.policy.isDrop(error));
  }

  // Stryker disable next-line BlockStatement: unreachable (only the base Permit.run calls onIgnore, and this permit overrides run)
  onIgnore(): void {
    this.policy.release();
  }

  release(): void {
    this.policy.release();
  }
}

/**
 * An adaptive concurrency limiter, built by `adaptiveConcurrency()`: a bulkhead whose size its
 * estimator (`limit`) moves with the downstream's latency and drops.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, aimdLimit } from 'breakwater';
 *
 * const limiter = adaptiveConcurrency({ limit: aimdLimit({ timeoutMs: 100 }) });
 * await limiter.execute(() => fetch('https://example.com'));
 * console.log(limiter.stats); // { limit: 20, active: 0, queued: 0, rejected: 0 }
 * ```
 */
export class AdaptiveConcurrency extends PolicyBase<AdaptiveConcurrencyEvents> {
  readonly kind = 'adaptive-concurrency';
  protected readonly eventNames = ADAPTIVE_CONCURRENCY_EVENTS;
  private rejectedCount = 0;
  private readonly gate: ConcurrencyGate<SamplePermit>;
  /** @internal */
  readonly observer: Observer<AdaptiveConcurrencyEvents>;
  /** @internal The clock calls are timed on (read directly: two readings per call). */
  readonly clock: Clock;
  private readonly permit: SamplePermit;
  /** Idle call records (a free list through `Call.nextIdle`), and how many. */
  private idle: Call | undefined = undefined;
  private idleCount = 0;
  /**
   * The integer limit as last seen, to tell a change (and its direction). For a subscribed
   * source it is what the gate admits against: a plain field is cheaper to read on every call
   * than the estimator's getters.
   */
  private readonly mirror: { limit: number };
  /** False when `source` can be subscribed to: then it tells us of changes itself. */
  private readonly polls: boolean;
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: `{}` and `dropped: true` are equivalent (learn() sets every field before the estimator sees the sample)
  private readonly sample: MutableSample = { rttMs: 0, inflight: 0, dropped: false, startMs: 0 };

  /** @internal Use `adaptiveConcurrency()`, which validates the options. */
  constructor(
    private readonly source: Limit,
    /** Callers allowed to wait for a slot (0: none, Infinity: unbounded). */
    readonly maxQueue: number,
    /** Longest wait in the queue, in milliseconds; undefined when there is no limit of its own. */
    readonly queueTimeoutMs: number | undefined,
    private readonly dropFilter: ErrorFilter,
    clock: Clock,
    name: string,
  ) {
    const observer = new Observer<AdaptiveConcurrencyEvents>(() => name, clock, 'concurrency-limit');
    super(name, observer);
    this.observer = observer;
    this.clock = clock;
    this.mirror = { limit: source.limit };
    this.polls = typeof source.subscribe !== 'function';
    const refuse = (queueTimedOut: boolean): ConcurrencyLimitError => {
      const error = queueTimedOut ? queueTimeoutError(this.queueTimeoutMs!) : ConcurrencyLimitError.fast();
      this.rejectedCount++;
      this.observer.rejected(error);
      return error;
    };
    // A source that can be subscribed to is mirrored, and the mirror (no `subscribe`) is what
    // the gate reads: this policy drains the gate itself when the limit grows.
    const permit = new SamplePermit(this);
    this.permit = permit;
    this.gate = new ConcurrencyGate(this.polls ? source : this.mirror, maxQueue, queueTimeoutMs, clock, refuse, permit);
    if (!this.polls) source.subscribe!(this.limitChanged);
  }

  /** The current limit: calls of `fn` admitted at once. */
  get limit(): number {
    return this.source.limit;
  }

  /** Calls of `fn` in flight (slots taken). After the limit shrinks it may exceed `limit` for a while. */
  get active(): number {
    return this.gate.active;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.gate.queued;
  }

  /** Limit, calls in flight, callers queued and refusals so far. */
  get stats(): AdaptiveConcurrencyStats {
    return { limit: this.source.limit, active: this.gate.active, queued: this.gate.queued, rejected: this.rejectedCount };
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](scope: Scope, next: Next): Promise<unknown> {
    if (scope.aborted) return Promise.reject(scope.reason);
    const arrivedAt = this.observer.start();
    const admission = this.gate.acquire(scope);
    // Stryker disable next-line ConditionalExpression: `false` is equivalent (runAdmitted calls this permit's run, which is runCall(scope, next, arrivedAt, true): the same call by a longer way)
    if (admission === this.permit) return this.runCall(scope, next, arrivedAt, true);
    return runAdmitted(admission, scope, next, this.observer, arrivedAt);
  }

  /** @internal The gauges the metrics bridges report. */
  [GAUGES](): readonly Gauge[] {
    return [
      { metric: 'concurrency.limit', description: 'Current limit of an adaptive concurrency limiter.', unit: '{call}', read: () => this.limit },
      { metric: 'concurrency.active', description: 'Calls running inside an adaptive concurrency limiter.', unit: '{call}', read: () => this.active },
      { metric: 'concurrency.queued', description: 'Calls waiting in an adaptive concurrency limiter queue.', unit: '{call}', read: () => this.queued },
    ];
  }

  /**
   * @internal Runs `fn` under the shared permit (`atOnce`: admitted on arrival). The start is
   * the arrival reading when there is one and nothing came in between, so a call reads the
   * clock twice in all: when `fn` starts and when it settles.
   */
  runCall(scope: Scope, next: Next, arrivedAt: StartTime, atOnce: boolean): Promise<unknown> {
    let call = this.idle;
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (a fresh record instead of a pooled one: only the allocation differs, and the pool's count stays the same)
    if (call === undefined) {
      call = new Call(this);
    } else {
      this.idle = call.nextIdle;
      call.nextIdle = undefined;
      this.idleCount--;
    }
    call.scope = scope;
    call.inflight = this.gate.active;
    call.startMs = atOnce && arrivedAt !== UNTIMED ? arrivedAt : this.clock.now();
    call.arrivedAt = arrivedAt;
    return next(scope).then(call.onValue, call.onError);
  }

  /** @internal A call settled: its record is idle again (and holds no reference to the call). */
  recycle(call: Call): void {
    call.scope = undefined;
    call.arrivedAt = UNTIMED;
    if (this.idleCount >= MAX_POOLED_CALLS) return;
    call.nextIdle = this.idle;
    this.idle = call;
    this.idleCount++;
  }

  /** @internal Is this failure a drop (a loss signal)? A filter that throws says no. */
  isDrop(error: unknown): boolean {
    return safeTest(this.dropFilter, error);
  }

  /** @internal One admitted call settled: teach the estimator, then free the slot. */
  learn(startMs: number, endMs: number, inflight: number, dropped: boolean): void {
    const sample = this.sample;
    sample.rttMs = endMs - startMs;
    sample.inflight = inflight;
    sample.dropped = dropped;
    sample.startMs = startMs;
    try {
      this.source.onSample(sample);
    } catch {
      // A custom Limit that throws must not change the outcome nor keep the slot.
    }
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (a subscribed Limit has already reported its change during onSample, so checkLimit finds the mirror equal); `false` was killed before this mark
    if (this.polls) this.checkLimit();
    // After the sample: a limit that just shrank is not refilled by this slot.
    this.gate.release();
  }

  /** @internal A call gives its slot back without teaching anything. */
  release(): void {
    this.gate.release();
  }

  private checkLimit(): void {
    const now = this.source.limit;
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (limitChanged returns at once when the limit is the mirror's)
    if (now !== this.mirror.limit) this.limitChanged(now);
  }

  private readonly limitChanged = (to: number): void => {
    const from = this.mirror.limit;
    if (to === from) return;
    this.mirror.limit = to;
    // A limit that grows admits waiters into the new slots now, not at the next release.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: `true` and `to >= from` are equivalent (equal limits returned above; after a fall every slot is taken whenever someone waits, so grew() admits nobody)
    if (to > from) this.gate.grew();
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (emit() with no listener and no channel subscriber calls nothing; wants() only saves building the event)
    if (this.events.wants('limitChange')) this.events.emit('limitChange', { from, to });
  };
}
