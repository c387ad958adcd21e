import { describe, expect, it } from 'vitest';
import { BulkheadFullError, RateLimitedError, circuitBreaker, fallback, pipeline, type ExecutionContext, type Policy } from '../../src/index.js';
import { BULKHEAD_EVENTS, type BulkheadEvents } from '../../src/bulkhead/bulkhead.js';
import { ConcurrencyGate, type LimitSource } from '../../src/core/concurrency-gate.js';
import { Observer } from '../../src/core/observe.js';
import { SpentPermit, runAdmitted, type Admission, type Permit } from '../../src/core/permit.js';
import { PolicyBase, RUN } from '../../src/core/policy.js';
import type { Next, Scope } from '../../src/core/scope.js';
import { RateLimiter } from '../../src/rate-limit/rate-limiter.js';
import type { RateLimitStore } from '../../src/rate-limit/store.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, getEventListeners, track } from '../helpers.js';

// Proof that the core's seams carry what the coming policies need, with test-only policies.

/** Runs two attempts at once, each in its own fork; the first success wins, the loser is cancelled. */
class Twin extends PolicyBase<object> {
  readonly kind = 'twin';
  protected readonly eventNames = [] as const;
  constructor() {
    super('twin');
  }

  [RUN](scope: Scope, next: Next): Promise<unknown> {
    const forks = [scope.fork(1), scope.fork(2)];
    return new Promise((resolve, reject) => {
      let failures = 0;
      forks.forEach((fork, index) => {
        next(fork).then(
          (value) => {
            for (const other of forks) if (other !== fork) other.abort(new Error('cancelled by twin'), 'cancelled');
            for (const each of forks) each.dispose();
            resolve(value);
          },
          (error: unknown) => {
            if (++failures === forks.length) reject(error);
            void index;
          },
        );
      });
    });
  }
}

/** Attempt 1 waits until its signal aborts, then rejects with the reason; attempt 2 answers. */
function slowFirst(seen: ExecutionContext[]) {
  return (ctx: ExecutionContext): Promise<string> => {
    seen.push(ctx);
    if (ctx.attempt === 2) return Promise.resolve('second');
    return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
  };
}

describe('scope fork', () => {
  it('runs two attempts at once; the loser is cancelled and an inner breaker does not count it', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 1, clock });
    const failures: unknown[] = [];
    breaker.on('failure', (event) => failures.push(event.error));
    const seen: ExecutionContext[] = [];
    const result = await pipeline(new Twin(), breaker).execute(slowFirst(seen));
    await flush();
    expect(result).toBe('second');
    expect(seen.map((ctx) => ctx.attempt)).toEqual([1, 2]);
    expect(seen[0]!.signal.aborted).toBe(true);
    expect(seen[1]!.signal.aborted).toBe(false);
    // With consecutiveFailures 1, one counted failure would have opened it.
    expect(breaker.state).toBe('closed');
    expect(breaker.stats.calls).toBe(1);
    expect(failures).toHaveLength(1); // reported as a failure event, but not counted
  });

  it('a fallback inside a fork does not answer for a cancelled loser', async () => {
    const answered: unknown[] = [];
    const inner = fallback((error: unknown) => {
      answered.push(error);
      return 'fallback';
    });
    const seen: ExecutionContext[] = [];
    const result = await pipeline(new Twin(), inner).execute(slowFirst(seen));
    await flush();
    expect(result).toBe('second');
    expect(answered).toEqual([]);
  });

  it('a breaker that is not inside the fork still counts a real failure', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 1, clock });
    const boom = new Error('boom');
    await expect(pipeline(new Twin(), breaker).execute(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(breaker.state).toBe('open');
  });
});

describe('the context fn receives', () => {
  it('exposes signal and attempt and nothing internal', async () => {
    let ctx: ExecutionContext | undefined;
    await pipeline(circuitBreaker({ halfOpenAfterMs: 10 })).execute((c) => {
      ctx = c;
    });
    expect(ctx!.attempt).toBe(1);
    expect(ctx!.signal).toBeInstanceOf(AbortSignal);
    expect(Object.keys(ctx!)).toEqual([]);
    for (const member of ['abort', 'fn', 'parent', 'onAbort', 'dispose', 'fork', 'child', 'cause']) {
      expect(member in ctx!, member).toBe(false);
    }
  });
});

describe('foreign policies', () => {
  it("pass their own signal and attempt through to fn", async () => {
    const own = new AbortController();
    const foreign: Policy = {
      name: 'foreign',
      execute: (fn) => Promise.resolve(fn({ signal: own.signal, attempt: 7 })),
    };
    const seen: ExecutionContext[] = [];
    const running = pipeline(foreign, circuitBreaker({ halfOpenAfterMs: 10 })).execute(async (ctx) => {
      seen.push(ctx);
      return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
    });
    await flush();
    expect(seen[0]!.attempt).toBe(7);
    expect(seen[0]!.signal.aborted).toBe(false);
    const reason = new Error('foreign timeout');
    own.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(seen[0]!.signal.reason).toBe(reason);
  });

  it('a foreign policy that passes nothing leaves the call as it was', async () => {
    const foreign: Policy = { name: 'foreign', execute: (fn) => Promise.resolve((fn as () => unknown)()) as never };
    const attempts: number[] = [];
    await pipeline(foreign).execute((ctx) => {
      attempts.push(ctx.attempt);
    });
    expect(attempts).toEqual([1]);
  });
});

// --- A rate-limit store that decides later ---------------------------------------------------

/** Tokens one decision granted: given back through the store if the call never starts. */
class SlowTokens extends SpentPermit {
  constructor(
    private readonly store: SlowStore,
    private readonly key: string,
    private readonly tokens: number,
  ) {
    super();
  }

  override release(): void {
    this.store.refund(this.key, this.tokens);
  }
}

interface Pending {
  readonly key: string;
  readonly tokens: number;
  readonly resolve: (permit: Permit) => void;
  readonly reject: (error: unknown) => void;
  detach: () => void;
}

/**
 * Test-only: a store that, like a remote one, answers every request later: one decision at a
 * time, each `latencyMs` on the clock after the previous one, in arrival order. Whole tokens, no
 * refill. `afterGrant` runs right after a grant, before the caller's code sees it.
 */
class SlowStore implements RateLimitStore {
  readonly refillPerSecond = 0.001;
  readonly maxWaitMs = 0;
  rejected = 0;
  readonly refunds: Array<[string, number]> = [];
  readonly decided: string[] = [];
  afterGrant: (key: string) => void = () => {};
  private readonly levels = new Map<string, number>();
  private readonly queue: Pending[] = [];
  private timer: unknown = undefined;

  constructor(
    private readonly clock: TestClock,
    readonly capacity: number,
    private readonly latencyMs: number,
  ) {}

  acquire(key: string, tokens: number, scope: Scope | undefined): Admission {
    return new Promise<Permit>((resolve, reject) => {
      const pending: Pending = { key, tokens, resolve, reject, detach: () => {} };
      this.queue.push(pending);
      if (scope !== undefined) {
        pending.detach = scope.onAbort((reason) => {
          // The caller left before its turn: drop the request, decide nothing.
          this.queue.splice(this.queue.indexOf(pending), 1);
          reject(reason);
        });
      }
      this.timer ??= this.clock.setTimeout(this.decide, this.latencyMs);
    });
  }

  available(key: string): number {
    return this.levels.get(key) ?? this.capacity;
  }

  refund(key: string, tokens: number): void {
    this.refunds.push([key, tokens]);
    this.levels.set(key, this.available(key) + tokens);
  }

  private readonly decide = (): void => {
    this.timer = undefined;
    const pending = this.queue.shift();
    if (pending === undefined) return;
    pending.detach();
    const left = this.available(pending.key);
    if (left >= pending.tokens) {
      this.levels.set(pending.key, left - pending.tokens);
      this.decided.push(`${pending.key}: granted`);
      pending.resolve(new SlowTokens(this, pending.key, pending.tokens));
      this.afterGrant(pending.key);
    } else {
      this.rejected++;
      this.decided.push(`${pending.key}: refused`);
      pending.reject(RateLimitedError.fast(60_000));
    }
    if (this.queue.length > 0) this.timer = this.clock.setTimeout(this.decide, this.latencyMs);
  };
}

describe('a rate-limit store that decides later, under the rateLimiter policy', () => {
  const setup = (capacity = 2) => {
    const clock = new TestClock();
    const store = new SlowStore(clock, capacity, 10);
    const limiter = new RateLimiter(store, clock, 'remote', undefined);
    return { clock, store, limiter };
  };

  it('runs calls in arrival order as the decisions arrive, and refuses once the bucket is empty', async () => {
    const { clock, store, limiter } = setup(2);
    const rejected: unknown[] = [];
    limiter.on('rejected', (event) => rejected.push(event));
    const started: number[] = [];
    const calls = [1, 2, 3].map((n) =>
      track(
        limiter.execute(() => {
          started.push(n);
          return n * 10;
        }),
      ),
    );
    await flush();
    expect(started).toEqual([]);
    await clock.advance(10);
    expect(started).toEqual([1]);
    await clock.advance(10);
    expect(started).toEqual([1, 2]);
    await clock.advance(10);
    expect(calls.map((c) => c.value)).toEqual([10, 20, undefined]);
    expect(calls[2]!.error).toBeInstanceOf(RateLimitedError);
    expect((calls[2]!.error as RateLimitedError).retryAfterMs).toBe(60_000);
    expect(started).toEqual([1, 2]);
    expect(store.decided).toEqual([': granted', ': granted', ': refused']);
    // A refusal that ends a wait is reported like one made at once, and counted by the store.
    expect(rejected).toEqual([{ reason: 'rate-limited', error: calls[2]!.error }]);
    expect(limiter.stats).toEqual({ available: 0, rejected: 1 });
    expect(clock.pending).toBe(0);
  });

  it('a caller that aborts while its decision is pending rejects at once; the calls behind it keep their order', async () => {
    const { clock, store, limiter } = setup(2);
    const controller = new AbortController();
    const started: string[] = [];
    const first = track(limiter.execute(() => started.push('first')));
    const leaving = track(limiter.execute(() => started.push('leaving'), { signal: controller.signal }));
    const last = track(limiter.execute(() => started.push('last')));
    await flush();
    const reason = new Error('client went away');
    controller.abort(reason);
    await flush();
    expect(leaving.error).toBe(reason);
    await clock.advance(20);
    expect(first.status).toBe('fulfilled');
    expect(last.status).toBe('fulfilled');
    expect(started).toEqual(['first', 'last']);
    // The request that left was never decided: it took nothing.
    expect(store.decided).toEqual([': granted', ': granted']);
    expect(store.refunds).toEqual([]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('tokens granted as their caller leaves go back to the store, and fn never runs', async () => {
    const { clock, store, limiter } = setup(1);
    const controller = new AbortController();
    const reason = new Error('gone');
    store.afterGrant = () => controller.abort(reason);
    let ran = false;
    const call = track(limiter.execute(() => (ran = true), { signal: controller.signal }));
    await clock.advance(10);
    expect(call.error).toBe(reason);
    expect(ran).toBe(false);
    expect(store.refunds).toEqual([['', 1]]);
    expect(limiter.available).toBe(1);
    // The same for `acquire`, which waits for tokens without running anything.
    const again = new AbortController();
    store.afterGrant = () => again.abort(reason);
    const acquired = track(limiter.acquire(1, { signal: again.signal }));
    await clock.advance(10);
    expect(acquired.error).toBe(reason);
    expect(store.refunds).toEqual([['', 1], ['', 1]]);
    expect(limiter.available).toBe(1);
  });

  it('reports success and failure timed from arrival, the wait for the decision included', async () => {
    const { clock, limiter } = setup(2);
    const events: unknown[] = [];
    limiter.on('success', (event) => events.push(['success', event]));
    limiter.on('failure', (event) => events.push(['failure', event]));
    const boom = new Error('boom');
    const ok = track(limiter.execute(() => 'ok'));
    const bad = track(limiter.execute(() => Promise.reject(boom)));
    await clock.advance(20);
    expect(ok.value).toBe('ok');
    expect(bad.error).toBe(boom);
    expect(events).toEqual([
      ['success', { durationMs: 10 }],
      ['failure', { durationMs: 20, error: boom }],
    ]);
  });

  it('tryAcquire needs a store that decides at once: it throws, and gives back what the store grants later', async () => {
    const { clock, store, limiter } = setup(2);
    expect(() => limiter.tryAcquire()).toThrow(/decides later, use acquire\(\)/);
    await clock.advance(10);
    expect(store.refunds).toEqual([['', 1]]);
    expect(limiter.available).toBe(2);
  });
});

// --- A limit that changes at run time, under the concurrency gate -----------------------------

/** Test-only: a limit set from outside, announcing each change to its subscribers. */
class MovingLimit implements LimitSource {
  private listeners: Array<(limit: number) => void> = [];

  constructor(public limit: number) {}

  set(limit: number): void {
    this.limit = limit;
    for (const listener of this.listeners) listener(limit);
  }

  subscribe(listener: (limit: number) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
}

/** Test-only: the smallest policy on the gate — admit, run under the permit, report. */
class Gated extends PolicyBase<BulkheadEvents> {
  readonly kind = 'gated';
  protected readonly eventNames = BULKHEAD_EVENTS;
  readonly gate: ConcurrencyGate;
  private readonly observer: Observer<BulkheadEvents>;

  constructor(limit: LimitSource, clock: TestClock) {
    const observer = new Observer<BulkheadEvents>(() => 'gated', clock, 'bulkhead-full');
    super('gated', observer);
    this.observer = observer;
    this.gate = new ConcurrencyGate(limit, Infinity, undefined, clock, () => new BulkheadFullError());
  }

  [RUN](scope: Scope, next: Next): Promise<unknown> {
    return runAdmitted(this.gate.acquire(scope), scope, next, this.observer, this.observer.start());
  }
}

describe('a limit that changes at run time, under the concurrency gate', () => {
  /** Calls that each run until the test ends them; `signals` shows whether any was aborted. */
  const harness = (policy: Gated) => {
    const started: number[] = [];
    const signals: AbortSignal[] = [];
    const finish = new Map<number, () => void>();
    const calls = Array.from({ length: 6 }, (_, i) =>
      track(
        policy.execute(
          (ctx) =>
            new Promise<number>((resolve) => {
              started.push(i);
              signals.push(ctx.signal);
              finish.set(i, () => resolve(i));
            }),
        ),
      ),
    );
    return { started, signals, finish, calls };
  };

  it('drains the queue, oldest first, the moment the limit grows', async () => {
    const limit = new MovingLimit(2);
    const policy = new Gated(limit, new TestClock());
    const { started, calls, finish } = harness(policy);
    await flush();
    expect(started).toEqual([0, 1]);
    expect([policy.gate.active, policy.gate.queued]).toEqual([2, 4]);
    limit.set(5);
    // Admitted during `set` itself, not at the next release.
    expect([policy.gate.active, policy.gate.queued]).toEqual([5, 1]);
    await flush();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    finish.get(0)!();
    await flush();
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    for (const i of [1, 2, 3, 4, 5]) finish.get(i)!();
    await flush();
    expect(calls.map((c) => c.value)).toEqual([0, 1, 2, 3, 4, 5]);
    expect([policy.gate.active, policy.gate.queued]).toEqual([0, 0]);
  });

  it('never aborts a running call when the limit shrinks: slots go away as calls finish', async () => {
    const limit = new MovingLimit(4);
    const policy = new Gated(limit, new TestClock());
    const { started, signals, finish, calls } = harness(policy);
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    limit.set(1);
    await flush();
    expect(signals.map((s) => s.aborted)).toEqual([false, false, false, false]);
    // Three finish: their slots are dropped, not handed on, while four still exceed the limit.
    for (const i of [0, 1, 2]) finish.get(i)!();
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    expect([policy.gate.active, policy.gate.queued]).toEqual([1, 2]);
    finish.get(3)!();
    await flush();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(policy.gate.active).toBe(1);
    finish.get(4)!();
    await flush();
    finish.get(5)!();
    await flush();
    expect(calls.every((c) => c.status === 'fulfilled')).toBe(true);
    expect(signals.every((s) => !s.aborted)).toBe(true);
  });

  it('a limit that grows without telling anyone is noticed at the next admission', async () => {
    const limit = { limit: 1 };
    const policy = new Gated(limit, new TestClock());
    const { started } = harness(policy);
    await flush();
    expect(started).toEqual([0]);
    limit.limit = 3;
    const late = track(policy.execute(() => 'late'));
    await flush();
    // The queue is served first: the two oldest waiters take the new slots, the newcomer queues.
    expect(started).toEqual([0, 1, 2]);
    expect(late.status).toBe('pending');
    expect(policy.gate.queued).toBe(4);
  });
});
