import { describe, expect, it } from 'vitest';
import { circuitBreaker, fallback, pipeline, type ExecutionContext, type Policy } from '../../src/index.js';
import { PolicyBase, RUN } from '../../src/core/policy.js';
import type { Next, Scope } from '../../src/core/scope.js';
import { TestClock } from '../../src/testing/index.js';
import { flush } from '../helpers.js';

// Proof that the core's seams carry what the coming policies need, with test-only policies.

/** Runs two attempts at once, each in its own fork; the first success wins, the loser is cancelled. */
class Twin extends PolicyBase<object> {
  readonly kind = 'twin';
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
