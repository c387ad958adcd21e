import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  TimeoutError,
  circuitBreaker,
  fallback,
  hedge,
  pipeline,
  retryBudget,
  type ExecutionContext,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, getEventListeners, track } from '../helpers.js';

/** A downstream on the virtual clock: answers `value` after `ms`, or rejects when its signal aborts. */
function after(clock: TestClock, ms: number, ctx: ExecutionContext, value: unknown, fail = false): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => (fail ? reject(value) : resolve(value)), ms);
    ctx.signal.addEventListener(
      'abort',
      () => {
        clock.clearTimeout(timer);
        reject(ctx.signal.reason);
      },
      { once: true },
    );
  });
}

describe('hedge: timing of attempts', () => {
  it('starts attempt k+1 exactly delayMs after attempt k while none answered, at most maxAttempts', async () => {
    const clock = new TestClock();
    const policy = hedge({ maxAttempts: 3, delayMs: 100, clock });
    const starts: Array<[number, number]> = [];
    const call = track(
      policy.execute((ctx) => {
        starts.push([ctx.attempt, clock.now()]);
        return after(clock, 1000, ctx, `from ${ctx.attempt}`);
      }),
    );
    await clock.advance(999);
    expect(starts).toEqual([
      [1, 0],
      [2, 100],
      [3, 200],
    ]);
    await clock.advance(1);
    expect(call.value).toBe('from 1');
    expect(clock.pending).toBe(0);
  });

  it('a handled failure starts the next attempt at once; the delay then counts from it', async () => {
    const clock = new TestClock();
    const policy = hedge({ maxAttempts: 3, delayMs: 100, clock });
    const starts: Array<[number, number]> = [];
    const call = track(
      policy.execute((ctx) => {
        starts.push([ctx.attempt, clock.now()]);
        if (ctx.attempt === 1) return after(clock, 10, ctx, new Error('first fails'), true);
        return after(clock, 500, ctx, `from ${ctx.attempt}`);
      }),
    );
    await clock.advance(1000);
    expect(starts).toEqual([
      [1, 0],
      [2, 10],
      [3, 110],
    ]);
    expect(call.value).toBe('from 2');
  });

  it('delayMs 0 starts every attempt at once', async () => {
    const clock = new TestClock();
    const starts: number[] = [];
    const call = track(
      hedge({ maxAttempts: 4, delayMs: 0, clock }).execute((ctx) => {
        starts.push(ctx.attempt);
        return after(clock, 50 - ctx.attempt, ctx, ctx.attempt);
      }),
    );
    await flush();
    expect(starts).toEqual([1, 2, 3, 4]);
    await clock.advance(50);
    expect(call.value).toBe(4);
  });

  it('maxAttempts 1 is the call itself', async () => {
    const clock = new TestClock();
    const attempts: number[] = [];
    const value = await hedge({ maxAttempts: 1, delayMs: 1, clock }).execute((ctx) => {
      attempts.push(ctx.attempt);
      return 'only';
    });
    expect(value).toBe('only');
    expect(attempts).toEqual([1]);
  });
});

describe('hedge: winners and losers', () => {
  it('returns the first success, aborts every loser and ignores their late outcomes', async () => {
    const clock = new TestClock();
    const contexts: ExecutionContext[] = [];
    const late: Array<Promise<unknown>> = [];
    const call = track(
      hedge({ maxAttempts: 3, delayMs: 10, clock }).execute((ctx) => {
        contexts.push(ctx);
        if (ctx.attempt === 2) return after(clock, 5, ctx, 'winner');
        // Losers that ignore their signal and settle late, one with a rejection.
        const p = new Promise((resolve, reject) =>
          clock.setTimeout(() => (ctx.attempt === 1 ? reject(new Error('late loser')) : resolve('late')), 100),
        );
        late.push(p.catch(() => undefined));
        return p;
      }),
    );
    await clock.advance(15);
    expect(call.value).toBe('winner');
    expect(contexts.map((c) => c.attempt)).toEqual([1, 2]);
    expect(contexts[0]!.signal.aborted).toBe(true);
    expect((contexts[0]!.signal.reason as DOMException).name).toBe('AbortError');
    expect(contexts[1]!.signal.aborted).toBe(false);
    await clock.advance(200);
    expect(call.value).toBe('winner');
    await Promise.all(late);
  });

  it('all attempts fail → rejects with the first attempt\'s error itself', async () => {
    const clock = new TestClock();
    const errors = [new Error('1'), new Error('2'), new Error('3')];
    const call = track(
      hedge({ maxAttempts: 3, delayMs: 10, clock }).execute((ctx) => after(clock, 30, ctx, errors[ctx.attempt - 1], true)),
    );
    await clock.advance(100);
    expect(call.status).toBe('rejected');
    expect(call.error).toBe(errors[0]);
    expect(clock.pending).toBe(0);
  });

  it('an error handle does not accept ends the hedge at once with it, cancelling the others', async () => {
    const clock = new TestClock();
    const fatal = new Error('fatal');
    const contexts: ExecutionContext[] = [];
    const call = track(
      hedge({ maxAttempts: 3, delayMs: 10, clock, handle: (e) => e !== fatal }).execute((ctx) => {
        contexts.push(ctx);
        return ctx.attempt === 2 ? after(clock, 1, ctx, fatal, true) : after(clock, 1000, ctx, 'slow');
      }),
    );
    await clock.advance(11);
    expect(call.error).toBe(fatal);
    expect(contexts).toHaveLength(2);
    expect(contexts[0]!.signal.aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('a fast refusal is not hedged by default; a TimeoutError is', async () => {
    const clock = new TestClock();
    const refusal = new CircuitOpenError(100);
    const refused = track(hedge({ delayMs: 10, clock }).execute(() => Promise.reject(refusal)));
    await flush();
    expect(refused.error).toBe(refusal);
    const attempts: number[] = [];
    const timedOut = track(
      hedge({ delayMs: 10, clock }).execute((ctx) => {
        attempts.push(ctx.attempt);
        return ctx.attempt === 1 ? Promise.reject(new TimeoutError(5)) : 'second';
      }),
    );
    await flush();
    expect(timedOut.value).toBe('second');
    expect(attempts).toEqual([1, 2]);
  });

  it('a caller abort aborts every attempt and rejects with the reason; nothing remains', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const contexts: ExecutionContext[] = [];
    const call = track(
      hedge({ maxAttempts: 3, delayMs: 10, clock }).execute(
        (ctx) => {
          contexts.push(ctx);
          return new Promise(() => {}); // ignores its signal: hedge must not wait for it
        },
        { signal: controller.signal },
      ),
    );
    await clock.advance(15);
    const reason = new Error('caller left');
    controller.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(contexts.every((c) => c.signal.aborted && c.signal.reason === reason)).toBe(true);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('an already-aborted signal rejects at once and never calls fn', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    let called = false;
    await expect(
      hedge({ delayMs: 1 }).execute(() => {
        called = true;
      }, { signal: controller.signal }),
    ).rejects.toBe(controller.signal.reason);
    expect(called).toBe(false);
  });
});

describe('hedge: policies inside', () => {
  it('a breaker inside sees a cancelled loser as no failure', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 1, clock });
    const call = track(
      pipeline(hedge({ delayMs: 10, clock }), breaker).execute((ctx) =>
        after(clock, ctx.attempt === 1 ? 1000 : 1, ctx, `from ${ctx.attempt}`),
      ),
    );
    await clock.advance(20);
    expect(call.value).toBe('from 2');
    await flush();
    expect(breaker.state).toBe('closed');
  });

  it('a fallback inside does not answer for a cancelled loser', async () => {
    const clock = new TestClock();
    const answered: unknown[] = [];
    const call = track(
      pipeline(
        hedge({ delayMs: 10, clock }),
        fallback((e: unknown) => {
          answered.push(e);
          return 'fallback';
        }),
      ).execute((ctx) => after(clock, ctx.attempt === 1 ? 1000 : 1, ctx, `from ${ctx.attempt}`)),
    );
    await clock.advance(20);
    expect(call.value).toBe('from 2');
    expect(answered).toEqual([]);
  });

  it('a spent retry budget stops extra attempts', async () => {
    const clock = new TestClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 0, clock });
    const attempts: number[] = [];
    const exhausted: number[] = [];
    const policy = hedge({ maxAttempts: 3, delayMs: 10, clock, budget });
    policy.on('budgetExhausted', (e) => exhausted.push(e.attempt));
    const call = track(
      policy.execute((ctx) => {
        attempts.push(ctx.attempt);
        return after(clock, 50, ctx, 'only');
      }),
    );
    await clock.advance(60);
    expect(call.value).toBe('only');
    expect(attempts).toEqual([1]);
    expect(exhausted).toEqual([2]);
  });
});

describe('hedge: delayPercentile', () => {
  it('uses delayMs until it has seen enough latencies, then their percentile', async () => {
    const clock = new TestClock();
    const policy = hedge({ delayPercentile: 0.5, delayMs: 1000, clock });
    expect(policy.delayMs).toBe(1000);
    for (let i = 1; i <= 20; i++) {
      const call = track(policy.execute((ctx) => after(clock, i, ctx, i)));
      await clock.advance(i);
      expect(call.value).toBe(i);
    }
    // Nearest-rank median of 1..20.
    expect(policy.delayMs).toBe(10);
  });

  it('without delayMs, hedges only on failures until it is warm', async () => {
    const clock = new TestClock();
    const attempts: number[] = [];
    const call = track(
      hedge({ delayPercentile: 0.9, clock }).execute((ctx) => {
        attempts.push(ctx.attempt);
        return after(clock, 5000, ctx, 'slow');
      }),
    );
    await clock.advance(5000);
    expect(call.value).toBe('slow');
    expect(attempts).toEqual([1]);
  });

  it('keeps bounded memory: the window holds a fixed number of samples', async () => {
    const clock = new TestClock();
    const policy = hedge({ delayPercentile: 0.99, delayMs: 50, clock });
    for (let i = 0; i < 600; i++) {
      const ms = i < 300 ? 100 : 2;
      const call = track(policy.execute((ctx) => after(clock, ms, ctx, i)));
      await clock.advance(ms);
      expect(call.settled).toBe(true);
    }
    // The 100 ms era has left the window entirely.
    expect(policy.delayMs).toBe(2);
  });
});

describe('hedge: options', () => {
  it.each([
    [{}, TypeError, /delayMs/],
    [{ delayMs: -1 }, RangeError, /delayMs.*-1/],
    [{ delayMs: 1, maxAttempts: 0 }, RangeError, /maxAttempts/],
    [{ delayMs: 1, maxAttempts: 11 }, RangeError, /maxAttempts/],
    [{ delayMs: 1, maxAttempts: 1.5 }, RangeError, /maxAttempts/],
    [{ delayPercentile: 0 }, RangeError, /delayPercentile/],
    [{ delayPercentile: 1.5 }, RangeError, /delayPercentile/],
    [{ delayMs: 1, handle: 'x' }, TypeError, /handle/],
    [{ delayMs: 1, budget: {} }, TypeError, /budget/],
  ])('%j is refused', (options, type, message) => {
    expect(() => hedge(options as never)).toThrow(type);
    expect(() => hedge(options as never)).toThrow(message);
  });
});

describe('hedge: invariants over random schedules', () => {
  it('never more than maxAttempts, one answer, losers aborted, no timer left', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 200 }), fail: fc.boolean() }), { minLength: 5, maxLength: 5 }),
        async (maxAttempts, delayMs, plan) => {
          const clock = new TestClock();
          const contexts: ExecutionContext[] = [];
          const call = track(
            hedge({ maxAttempts, delayMs, clock }).execute((ctx) => {
              contexts.push(ctx);
              const step = plan[ctx.attempt - 1]!;
              return after(clock, step.ms, ctx, step.fail ? new Error(`e${ctx.attempt}`) : ctx.attempt, step.fail);
            }),
          );
          await clock.advance(2000);
          expect(call.settled).toBe(true);
          expect(contexts.length).toBeLessThanOrEqual(maxAttempts);
          expect(contexts.map((c) => c.attempt)).toEqual(contexts.map((_, i) => i + 1));
          if (call.status === 'fulfilled') {
            const winner = call.value as number;
            expect(plan[winner - 1]!.fail).toBe(false);
            for (const ctx of contexts) if (ctx.attempt !== winner) {
              const step = plan[ctx.attempt - 1]!;
              // A loser either failed on its own or was cancelled.
              expect(ctx.signal.aborted || step.fail).toBe(true);
            }
          } else {
            expect(contexts).toHaveLength(maxAttempts);
            expect((call.error as Error).message).toBe('e1');
          }
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
