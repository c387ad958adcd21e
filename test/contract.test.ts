// The rules every policy keeps (docs/architecture.md), checked against each policy and a
// pipeline of all of them.
import { describe, expect, it } from 'vitest';
import * as bw from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { flush, getEventListeners, track } from './helpers.js';

type Factory = (clock: TestClock) => bw.Policy;
type Listenable = bw.Policy & { on(event: string, listener: (event: unknown) => void): () => void };

const factories = {
  timeout: (clock) => bw.timeout(1000, { clock }),
  retry: (clock) => bw.retry({ maxRetries: 2, backoff: bw.constantBackoff(10), clock, handle: () => false }),
  fallback: () => bw.fallback('fallback', { handle: () => false }),
  circuitBreaker: (clock) => bw.circuitBreaker({ halfOpenAfterMs: 1000, clock, handle: () => false }),
  bulkhead: (clock) => bw.bulkhead({ maxConcurrent: 5, maxQueue: 5, clock }),
  adaptiveConcurrency: (clock) => bw.adaptiveConcurrency({ maxQueue: 5, clock }),
  rateLimiter: (clock) => bw.rateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }),
  keyedRateLimiter: (clock) => bw.keyedRateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }).get('key'),
  hedge: (clock) => bw.hedge({ delayMs: 10, clock, handle: () => false }),
  chaos: (clock) => bw.chaos({ injectionRate: 0, latencyMs: 5, clock }),
  pipeline: (clock) =>
    bw.pipeline(
      bw.fallback('fallback', { handle: () => false }),
      bw.retry({ maxRetries: 1, backoff: bw.constantBackoff(1), clock, handle: () => false }),
      bw.circuitBreaker({ halfOpenAfterMs: 1000, clock, handle: () => false }),
      bw.bulkhead({ maxConcurrent: 5, maxQueue: 5, clock }),
      bw.rateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }),
      bw.hedge({ delayMs: 10, clock, handle: () => false }),
      bw.timeout(1000, { clock }),
      bw.chaos({ injectionRate: 0, latencyMs: 5, clock }),
    ),
} satisfies Record<string, Factory>;

/**
 * For the listener rule: each policy configured so that a short scripted run makes it emit
 * every event it has. `emitters` lists, per policy (for a pipeline: each member), the events
 * the script fires; `script` starts the calls and moves the clock.
 */
interface Eventful {
  /** The outcome of each call of the script, in the order the calls were made. */
  expected: readonly string[];
  make(clock: TestClock): { policy: bw.Policy; emitters: Array<[Listenable, readonly string[]]> };
  script(run: (fn: (ctx: bw.ExecutionContext) => unknown) => void, clock: TestClock): Promise<void>;
}

const never = (): Promise<never> => new Promise(() => {});
const after = (clock: TestClock, ms: number, value: unknown): Promise<unknown> =>
  new Promise((resolve) => clock.setTimeout(() => resolve(value), ms));

const limiterScript: Eventful['script'] = async (run, clock) => {
  run(() => 'ok'); // success
  run(() => 'no token left'); // rejected
  await clock.advance(1000);
  run(() => Promise.reject('bad')); // failure
};

const eventful: Record<keyof typeof factories, Eventful> = {
  timeout: {
    expected: ['ok ok @0', 'err bad @0', 'err TimeoutError ERR_TIMEOUT @100'],
    make: (clock) => {
      const policy = bw.timeout(100, { clock });
      return { policy, emitters: [[policy, ['success', 'failure', 'timeout']]] };
    },
    script: async (run, clock) => {
      run(() => 'ok');
      run(() => Promise.reject('bad'));
      run(never);
      await clock.advance(100);
    },
  },
  retry: {
    expected: ['ok second @10', 'err down @20'],
    make: (clock) => {
      // Two retries per second at most: the third one in a row is refused by the budget.
      const budget = bw.retryBudget({ ratio: 0, minPerSecond: 2, windowMs: 1000, clock });
      const policy = bw.retry({ maxRetries: 2, backoff: bw.constantBackoff(10), budget, clock, handle: () => true });
      return { policy, emitters: [[policy, ['success', 'failure', 'retry', 'budgetExhausted']]] };
    },
    script: async (run, clock) => {
      run((ctx) => (ctx.attempt === 1 ? Promise.reject('flaky') : 'second'));
      await clock.advance(10);
      run(() => Promise.reject('down'));
      await clock.advance(10);
    },
  },
  fallback: {
    expected: ['ok ok @0', 'ok fallback @0', 'err not mine @0'],
    make: () => {
      const policy = bw.fallback('fallback', { handle: (error) => error !== 'not mine' });
      return { policy, emitters: [[policy, ['success', 'failure', 'fallback']]] };
    },
    script: async (run) => {
      run(() => 'ok');
      run(() => Promise.reject('bad'));
      run(() => Promise.reject('not mine'));
    },
  },
  circuitBreaker: {
    expected: ['ok ok @0', 'err bad @0', 'err bad @0', 'err CircuitOpenError ERR_CIRCUIT_OPEN @0', 'ok probe @1000'],
    make: (clock) => {
      const policy = bw.circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 2, clock, handle: () => true });
      return { policy, emitters: [[policy, ['success', 'failure', 'rejected', 'stateChange']]] };
    },
    script: async (run, clock) => {
      run(() => 'ok');
      run(() => Promise.reject('bad'));
      run(() => Promise.reject('bad')); // opens
      await clock.advance(0);
      run(() => 'while open'); // rejected
      await clock.advance(1000);
      run(() => 'probe'); // half-open, then closed
    },
  },
  bulkhead: {
    expected: [
      'ok held @100',
      'err BulkheadFullError ERR_BULKHEAD_FULL @50',
      'err BulkheadFullError ERR_BULKHEAD_FULL @0',
      'err bad @100',
    ],
    make: (clock) => {
      const policy = bw.bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 50, clock });
      return { policy, emitters: [[policy, ['success', 'failure', 'rejected']]] };
    },
    script: async (run, clock) => {
      run(() => after(clock, 100, 'held'));
      run(() => 'queued'); // gives up after 50 ms in the queue
      run(() => 'no room'); // queue full
      await clock.advance(100);
      run(() => Promise.reject('bad'));
    },
  },
  adaptiveConcurrency: {
    expected: [
      'ok held @100',
      'err ConcurrencyLimitError ERR_CONCURRENCY_LIMIT @50',
      'err ConcurrencyLimitError ERR_CONCURRENCY_LIMIT @0',
      'err bad @100',
    ],
    make: (clock) => {
      const policy = bw.adaptiveConcurrency({ limit: { limit: 1, onSample: () => {} }, maxQueue: 1, queueTimeoutMs: 50, clock });
      return { policy, emitters: [[policy, ['success', 'failure', 'rejected']]] };
    },
    script: async (run, clock) => {
      run(() => after(clock, 100, 'held'));
      run(() => 'queued'); // gives up after 50 ms in the queue
      run(() => 'no room'); // at the limit, queue full
      await clock.advance(100);
      run(() => Promise.reject('bad'));
    },
  },
  hedge: {
    expected: ['ok slow @50', 'err bad @50'],
    make: (clock) => {
      const policy = bw.hedge({ maxAttempts: 2, delayMs: 10, clock });
      return { policy, emitters: [[policy, ['hedge', 'success', 'failure']]] };
    },
    script: async (run, clock) => {
      run(() => after(clock, 50, 'slow')); // a second attempt starts at 10 ms
      await clock.advance(50);
      run(() => Promise.reject('bad')); // fails at once: the second attempt too
      await clock.advance(10); // the first call's loser ignores its signal and ends at 60 ms
    },
  },
  chaos: {
    expected: ['err injected fault @0'],
    make: (clock) => {
      const policy = bw.chaos({ injectionRate: 1, fault: 'injected fault', clock });
      return { policy, emitters: [[policy, ['injected']]] };
    },
    script: async (run) => {
      run(() => 'never called');
    },
  },
  rateLimiter: {
    expected: ['ok ok @0', 'err RateLimitedError ERR_RATE_LIMITED @0', 'err bad @1000'],
    make: (clock) => {
      const policy = bw.rateLimiter({ capacity: 1, refillPerSecond: 1, clock });
      return { policy, emitters: [[policy, ['success', 'failure', 'rejected']]] };
    },
    script: limiterScript,
  },
  keyedRateLimiter: {
    expected: ['ok ok @0', 'err RateLimitedError ERR_RATE_LIMITED @0', 'err bad @1000'],
    make: (clock) => {
      const policy = bw.keyedRateLimiter({ capacity: 1, refillPerSecond: 1, clock }).get('key');
      return { policy, emitters: [[policy, ['success', 'failure', 'rejected']]] };
    },
    script: limiterScript,
  },
  pipeline: {
    expected: [
      'ok ok @0',
      'ok second @10',
      'err RateLimitedError ERR_RATE_LIMITED @120',
      'err BulkheadFullError ERR_BULKHEAD_FULL @10',
      'err CircuitOpenError ERR_CIRCUIT_OPEN @120',
      'ok fallback @1120',
    ],
    make: (clock) => {
      const fb = bw.fallback('fallback', { handle: (error) => error === 'use fallback' });
      const rt = bw.retry({
        maxRetries: 1,
        backoff: bw.constantBackoff(10),
        clock,
        handle: (error) => error === 'flaky' || error instanceof bw.TimeoutError,
      });
      const bh = bw.bulkhead({ maxConcurrent: 1, clock });
      const cb = bw.circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 2, clock, handle: () => true });
      const rl = bw.rateLimiter({ capacity: 4, refillPerSecond: 1, clock });
      const to = bw.timeout(100, { clock });
      const policy = bw.pipeline(fb, rt, bh, cb, rl, to);
      // The pipeline's own success/failure are left out: they do not fire yet.
      return {
        policy,
        emitters: [
          [fb, ['success', 'failure', 'fallback']],
          [rt, ['success', 'failure', 'retry']],
          [bh, ['success', 'failure', 'rejected']],
          [cb, ['success', 'failure', 'rejected', 'stateChange']],
          [rl, ['success', 'failure', 'rejected']],
          [to, ['success', 'failure', 'timeout']],
        ],
      };
    },
    script: async (run, clock) => {
      run(() => 'ok'); // success everywhere
      await clock.advance(0);
      run((ctx) => (ctx.attempt === 1 ? Promise.reject('flaky') : 'second')); // retried
      await clock.advance(10);
      // Times out (failure 1), retried into an empty limiter (failure 2: the breaker opens).
      run(never);
      run(() => 'squeezed'); // the bulkhead is full meanwhile
      await clock.advance(110);
      run(() => 'while open'); // the breaker refuses
      await clock.advance(1000);
      run(() => Promise.reject('use fallback')); // the probe fails, the fallback answers
    },
  },
};

/** What a call came to and when, in words that compare equal across two runs. */
function describeOutcome(settled: { ok: boolean; value: unknown; at: number }): string {
  const { ok, value, at } = settled;
  if (ok) return `ok ${String(value)} @${at}`;
  const shown = value instanceof Error ? `${value.name} ${(value as { code?: string }).code ?? value.message}` : String(value);
  return `err ${shown} @${at}`;
}

/** Runs the policy's script, with a throwing listener on every scripted event when `hostile`. */
async function runScript(spec: Eventful, hostile: boolean): Promise<{ outcomes: string[]; calls: number; heard: Map<string, number> }> {
  const clock = new TestClock();
  const { policy, emitters } = spec.make(clock);
  const heard = new Map<string, number>();
  if (hostile) {
    emitters.forEach(([emitter, events], index) => {
      for (const event of events) {
        const key = `${index}:${emitter.name}:${event}`;
        heard.set(key, 0);
        emitter.on(event, () => {
          heard.set(key, heard.get(key)! + 1);
          throw new Error(`listener for ${key}`);
        });
      }
    });
  }
  let calls = 0;
  const settled: Array<Promise<string>> = [];
  const run = (fn: (ctx: bw.ExecutionContext) => unknown): void => {
    settled.push(
      policy
        .execute((ctx) => {
          calls++;
          return fn(ctx);
        })
        .then(
          (value) => describeOutcome({ ok: true, value, at: clock.now() }),
          (error: unknown) => describeOutcome({ ok: false, value: error, at: clock.now() }),
        ),
    );
  };
  await spec.script(run, clock);
  await clock.advance(0);
  const outcomes = await Promise.all(settled);
  expect(clock.pending).toBe(0);
  return { outcomes, calls, heard };
}

const frozen = Object.freeze({ frozen: true });
const thrownValues: Array<[string, unknown]> = [
  ['an Error', new Error('boom')],
  ['a string', 'boom'],
  ['undefined', undefined],
  ['null', null],
  ['a frozen object', frozen],
  ['a symbol', Symbol('boom')],
  ['a number', 42],
];

describe.each(Object.entries(factories))('%s keeps the rules every policy keeps', (name, make) => {
  it('never throws synchronously, even for a bad fn', async () => {
    const policy = make(new TestClock());
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = policy.execute(undefined as never);
    }).not.toThrow();
    await expect(result).rejects.toBeInstanceOf(TypeError);
  });

  it.each(thrownValues)('passes %s thrown synchronously through unchanged', async (_label, value) => {
    const policy = make(new TestClock());
    const call = track(
      policy.execute(() => {
        throw value;
      }),
    );
    await flush();
    expect(call.status).toBe('rejected');
    expect(call.error).toBe(value);
  });

  it.each(thrownValues)('passes %s rejected asynchronously through unchanged', async (_label, value) => {
    const policy = make(new TestClock());
    const call = track(policy.execute(() => Promise.reject(value)));
    await flush();
    expect(call.status).toBe('rejected');
    expect(call.error).toBe(value);
  });

  it('accepts non-promise return values and thenables', async () => {
    const policy = make(new TestClock());
    await expect(policy.execute(() => 7)).resolves.toBe(7);
    await expect(policy.execute(() => undefined)).resolves.toBeUndefined();
    const thenable = { then: (ok: (v: string) => void) => ok('then') };
    await expect(policy.execute(() => thenable as PromiseLike<string>)).resolves.toBe('then');
    const rejecting = { then: (_ok: unknown, fail: (e: unknown) => void) => fail('nope') };
    await expect(policy.execute(() => rejecting as PromiseLike<string>)).rejects.toBe('nope');
  });

  it('rejects with signal.reason and never calls fn when the signal is already aborted', async () => {
    const policy = make(new TestClock());
    const controller = new AbortController();
    const reason = Symbol('gone');
    controller.abort(reason);
    let calls = 0;
    await expect(policy.execute(() => calls++, { signal: controller.signal })).rejects.toBe(reason);
    expect(calls).toBe(0);
  });

  it('hands the caller abort to fn through ctx.signal', async () => {
    const clock = new TestClock();
    const policy = make(clock);
    const controller = new AbortController();
    const call = track(
      policy.execute(
        (ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
          }),
        { signal: controller.signal },
      ),
    );
    await flush();
    const reason = new Error('stop');
    controller.abort(reason);
    await flush();
    await clock.advance(0);
    expect(call.error).toBe(reason);
  });

  it('leaves no listener on the caller signal and no timer after 10,000 calls', async () => {
    const clock = new TestClock();
    const policy = make(clock);
    const controller = new AbortController();
    const baseline = getEventListeners(controller.signal, 'abort').length;
    for (let i = 0; i < 10_000; i++) {
      const read = i % 3 === 0;
      await policy
        .execute((ctx) => (read ? ctx.signal.aborted : i % 3 === 1 ? Promise.reject(new Error('x')) : i), {
          signal: controller.signal,
        })
        .catch(() => undefined);
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(baseline);
    expect(clock.pending).toBe(0);
  });

  it('a throwing listener changes no outcome', async () => {
    const spec = eventful[name as keyof typeof factories];
    const calm = await runScript(spec, false);
    const hostile = await runScript(spec, true);
    // Every throwing listener was called: the script really fires every event it lists.
    const silent = [...hostile.heard].filter(([, count]) => count === 0).map(([key]) => key);
    expect(silent, 'listeners never called').toEqual([]);
    expect(hostile.heard.size).toBeGreaterThan(0);
    expect(calm.outcomes).toEqual(spec.expected);
    expect(hostile.outcomes).toEqual(calm.outcomes);
    expect(hostile.calls).toBe(calm.calls);
  });

  it('has a name', () => {
    const policy = make(new TestClock());
    expect(typeof policy.name).toBe('string');
    expect(policy.name.length).toBeGreaterThan(0);
  });
});
