// Adversarial tests for the rows of docs/failure-modes.md (bugs that peer libraries shipped) that
// were not (or only partly) covered elsewhere. One `describe` per row; test names start with the
// row number and the peer reference. docs/failure-modes.md maps every row to the test proving it.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  bulkhead,
  BulkheadFullError,
  circuitBreaker,
  CircuitOpenError,
  constantBackoff,
  exponentialBackoff,
  fallback,
  keyedRateLimiter,
  pipeline,
  rateLimiter,
  RateLimitedError,
  retry,
  retryBudget,
  timeout,
  TimeoutError,
  type ExecutionContext,
  type Policy,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { resilientFetch } from '../../src/http/fetch.js';
import { deferred, flush, getEventListeners, track, type Tracked } from '../helpers.js';
import { listen } from '../http/servers.js';

const never = (): Promise<never> => new Promise(() => {});

/** Releases scheduled tasks until `done()`: a task may be scheduled after the queue looked empty. */
async function drain(s: fc.Scheduler, done: () => boolean): Promise<void> {
  for (let round = 0; round < 1000 && !done(); round++) {
    await s.waitAll();
    await flush();
  }
}

/** Every policy of the library, as a factory on a clock (used by rows 10, 12, 22). */
const factories: Record<string, (clock: TestClock) => Policy> = {
  timeout: (clock) => timeout(1000, { clock }),
  retry: (clock) => retry({ maxRetries: 2, backoff: constantBackoff(10), clock, handle: () => false }),
  fallback: () => fallback('fallback', { handle: () => false }),
  circuitBreaker: (clock) => circuitBreaker({ halfOpenAfterMs: 1000, clock, handle: () => false }),
  bulkhead: (clock) => bulkhead({ maxConcurrent: 5, maxQueue: 5, clock }),
  rateLimiter: (clock) => rateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }),
  keyedRateLimiter: (clock) => keyedRateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }).get('k'),
  pipeline: (clock) =>
    pipeline(
      fallback('fallback', { handle: () => false }),
      retry({ maxRetries: 1, backoff: constantBackoff(1), clock, handle: () => false }),
      circuitBreaker({ halfOpenAfterMs: 1000, clock, handle: () => false }),
      bulkhead({ maxConcurrent: 5, maxQueue: 5, clock }),
      rateLimiter({ capacity: 1e9, refillPerSecond: 1e9, clock }),
      timeout(1000, { clock }),
    ),
};

// ---------------------------------------------------------------------------------------------

describe('row 2: probe count races at the open → half-open boundary', () => {
  it('#2 probe permits (resilience4j#1432, #1090): callers released in any interleaving at the boundary — admitted ≤ halfOpenProbes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom('hang', 'fail'), { minLength: 5, maxLength: 25 }),
        async (s, probes, outcomes) => {
          const clock = new TestClock();
          const breaker = circuitBreaker({ halfOpenAfterMs: 100, consecutiveFailures: 1, halfOpenProbes: probes, clock });
          await breaker.execute(() => Promise.reject(new Error('trip'))).catch(() => {});
          await clock.advance(100); // exactly the boundary: the next caller flips it to half-open
          let admitted = 0;
          let admittedAfterAFailedProbe = 0;
          let probeFailed = false;
          const calls: Array<{ ran: boolean; result?: Tracked<unknown> }> = outcomes.map(() => ({ ran: false }));
          outcomes.forEach((outcome, i) => {
            const call = calls[i]!;
            // Each caller arrives after an async gap the scheduler orders arbitrarily, and each
            // failing probe settles at an arbitrary point of that interleaving.
            void s.schedule(Promise.resolve(i)).then(() => {
              call.result = track(
                breaker.execute(() => {
                  call.ran = true;
                  admitted++;
                  if (probeFailed) admittedAfterAFailedProbe++;
                  if (outcome === 'hang') return never();
                  return s.schedule(Promise.resolve()).then(() => {
                    probeFailed = true;
                    throw new Error('probe failed');
                  });
                }),
              );
            });
          });
          await drain(s, () => calls.every((c) => c.result !== undefined));
          // Everybody who was not a probe was answered at once: nobody waits behind a probe.
          for (const call of calls) {
            expect(call.result).toBeDefined();
            if (!call.ran) expect(call.result!.error).toBeInstanceOf(CircuitOpenError);
          }
          expect(admitted).toBeLessThanOrEqual(probes);
          expect(admittedAfterAFailedProbe).toBe(0);
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 10: a throwing telemetry listener corrupts the outcome', () => {
  type Outcome = readonly [string, unknown];

  /** One scripted run through every policy; every event gets a throwing listener when `hostile`. */
  async function scenario(hostile: boolean): Promise<{ outcomes: Outcome[]; fnCalls: number; fired: Map<string, number> }> {
    const clock = new TestClock();
    const fired = new Map<string, number>();
    const budget = retryBudget({ ratio: 0, minPerSecond: 0.5, windowMs: 10_000, clock });
    const fb = fallback('fallback value', { handle: (e) => e === 'use fallback' });
    const rt = retry({ maxRetries: 2, backoff: constantBackoff(10), budget, clock, handle: (e) => e !== 'final' });
    const cb = circuitBreaker({ halfOpenAfterMs: 200, consecutiveFailures: 5, handle: (e) => e !== 'use fallback', clock });
    const rl = rateLimiter({ capacity: 4, refillPerSecond: 100, maxWaitMs: 5, clock });
    const bh = bulkhead({ maxConcurrent: 1, maxQueue: 1, clock });
    const to = timeout(50, { clock });
    const policies = { fb, rt, cb, bh, rl, to } as Record<string, { on(event: string, l: (e: unknown) => void): () => void }>;
    // Each policy's own events (asking a policy for an event it does not have is an error).
    const eventsOf: Record<string, readonly string[]> = {
      fb: ['success', 'failure', 'fallback'],
      rt: ['success', 'failure', 'retry', 'budgetExhausted'],
      cb: ['success', 'failure', 'rejected', 'stateChange'],
      bh: ['success', 'failure', 'rejected'],
      rl: ['success', 'failure', 'rejected'],
      to: ['success', 'failure', 'timeout'],
    };
    if (hostile) {
      for (const [name, policy] of Object.entries(policies)) {
        for (const event of eventsOf[name]!) {
          policy.on(event, () => {
            fired.set(`${name}:${event}`, (fired.get(`${name}:${event}`) ?? 0) + 1);
            throw new Error(`listener ${name}:${event}`);
          });
        }
      }
    }
    const p = pipeline(fb, rt, cb, rl, bh, to);
    let fnCalls = 0;
    const outcomes: Outcome[] = [];
    const record = (t: Tracked<unknown>): void => {
      const e = t.error;
      outcomes.push(
        t.status === 'pending'
          ? ['pending', undefined]
          : t.status === 'fulfilled'
          ? ['ok', t.value]
          : ['err', e instanceof Error ? `${e.constructor.name}:${(e as { code?: string }).code ?? e.message}` : e],
      );
    };
    const run = (fn: (ctx: ExecutionContext) => unknown): Tracked<unknown> =>
      track(
        p.execute((ctx) => {
          fnCalls++;
          return fn(ctx);
        }),
      );
    const step = async (calls: Tracked<unknown>[], ms: number): Promise<void> => {
      await clock.advance(ms);
      calls.forEach(record);
    };

    await step([run(() => 'plain')], 0); // success everywhere
    await step([run(() => Promise.reject('use fallback'))], 30); // retried, then the fallback answers
    await step([run((ctx) => (ctx.attempt < 2 ? Promise.reject(new Error('flaky')) : 'second'))], 60); // retry
    await step([run(() => never())], 500); // timeout on every attempt, budget runs out, breaker counts
    // A burst: the bulkhead fills and rejects, the limiter runs dry and rejects.
    const burst = Array.from({ length: 6 }, (_, i) => run(() => new Promise((r) => clock.setTimeout(() => r(`burst ${i}`), 5))));
    await step(burst, 200);
    // Trip the breaker (5 consecutive failures), get rejected while open, then probe and close.
    for (let i = 0; i < 5; i++) await step([run(() => Promise.reject('final'))], 150);
    await step([run(() => 'while open')], 0);
    await step([], 300);
    await step([run(() => 'probe')], 0);
    await step([run(() => Promise.reject('final'))], 0);
    return { outcomes, fnCalls, fired };
  }

  it('#10 throwing listeners everywhere (cockatiel Executor): same outcomes, same calls, no unhandled rejection', async () => {
    const calm = await scenario(false);
    const hostile = await scenario(true);
    expect(hostile.outcomes).toEqual(calm.outcomes);
    expect(hostile.fnCalls).toBe(calm.fnCalls);
    // The scenario really fires the listeners it claims to survive.
    for (const event of [
      'fb:fallback',
      'fb:success',
      'fb:failure',
      'rt:retry',
      'rt:budgetExhausted',
      'rt:success',
      'rt:failure',
      'cb:stateChange',
      'cb:rejected',
      'cb:success',
      'cb:failure',
      'bh:rejected',
      'bh:success',
      'bh:failure',
      'rl:rejected',
      'rl:success',
      'to:timeout',
      'to:success',
      'to:failure',
    ]) {
      expect(hostile.fired.get(event) ?? 0, event).toBeGreaterThan(0);
    }
    // And the outcomes are the interesting ones, not all the same.
    expect(calm.outcomes.some(([status]) => status === 'pending')).toBe(false);
    const kinds = new Set(calm.outcomes.map(([, v]) => (typeof v === 'string' ? v.split(':')[0] : v)));
    for (const kind of ['plain', 'fallback value', 'second', 'TimeoutError', 'BulkheadFullError', 'RateLimitedError', 'CircuitOpenError', 'probe']) {
      expect(kinds.has(kind), kind).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 12: an option set to 0 (or −1, NaN, Infinity) is silently replaced by a default', () => {
  // For each option: the values it honours, each with a check that it really was honoured;
  // every other value of [0, −1, NaN, Infinity] must throw at construction naming option and value.
  type Honour = (clock: TestClock) => Promise<void>;
  const cases: Array<{ option: string; make: (v: number, clock: TestClock) => unknown; honours?: Record<string, Honour> }> = [
    { option: 'ms', make: (v, clock) => timeout(v, { clock }) },
    {
      option: 'maxRetries',
      make: (v, clock) => retry({ maxRetries: v, backoff: constantBackoff(0), clock }),
      honours: {
        0: async (clock) => {
          let calls = 0;
          const r = retry({ maxRetries: 0, backoff: constantBackoff(0), clock });
          await r.execute(() => (calls++, Promise.reject(new Error('x')))).catch(() => {});
          expect(calls).toBe(1);
        },
        Infinity: async (clock) => {
          let calls = 0;
          const r = retry({ maxRetries: Infinity, backoff: constantBackoff(1), clock });
          const c = track(r.execute(() => (++calls < 500 ? Promise.reject(new Error('x')) : 'finally')));
          await clock.advance(600);
          expect(c.value).toBe('finally');
        },
      },
    },
    {
      option: 'maxDelayMs',
      make: (v, clock) => retry({ maxRetries: 1, maxDelayMs: v, clock }),
      honours: {
        0: async (clock) => {
          let calls = 0;
          const r = retry({ maxRetries: 3, backoff: constantBackoff(10_000), maxDelayMs: 0, clock });
          const c = track(r.execute(() => (calls++, Promise.reject(new Error('x')))));
          // Every wait capped to 0: no time passes; each retry only yields (a 0 ms timer of the clock).
          await clock.advance(0);
          expect(calls).toBe(4);
          expect(c.status).toBe('rejected');
        },
      },
    },
    {
      option: 'constantBackoff ms',
      make: (v) => constantBackoff(v),
      honours: { 0: async () => expect(constantBackoff(0).delayMs({ retry: 3, previousDelayMs: 0, random: Math.random })).toBe(0) },
    },
    {
      option: 'initialMs',
      make: (v) => exponentialBackoff({ initialMs: v }),
      honours: {
        0: async () => {
          const b = exponentialBackoff({ initialMs: 0, jitter: 'none' });
          for (const r of [1, 2, 50]) expect(b.delayMs({ retry: r, previousDelayMs: 0, random: () => 0.5 })).toBe(0);
        },
      },
    },
    { option: 'maxMs', make: (v) => exponentialBackoff({ maxMs: v }) },
    { option: 'factor', make: (v) => exponentialBackoff({ factor: v }) },
    {
      option: 'ratio',
      make: (v, clock) => retryBudget({ ratio: v, clock }),
      honours: {
        0: async (clock) => {
          const budget = retryBudget({ ratio: 0, minPerSecond: 0, clock });
          for (let i = 0; i < 10; i++) budget.recordCall();
          expect(budget.tryRetry()).toBe(false);
        },
      },
    },
    {
      option: 'minPerSecond',
      make: (v, clock) => retryBudget({ minPerSecond: v, clock }),
      honours: {
        0: async (clock) => {
          const budget = retryBudget({ ratio: 0.5, minPerSecond: 0, clock });
          expect(budget.tryRetry()).toBe(false); // no calls yet, no floor
        },
      },
    },
    { option: 'windowMs', make: (v, clock) => retryBudget({ windowMs: v, clock }) },
    { option: 'maxConcurrent', make: (v, clock) => bulkhead({ maxConcurrent: v, clock }) },
    {
      option: 'maxQueue',
      make: (v, clock) => bulkhead({ maxConcurrent: 1, maxQueue: v, clock }),
      honours: {
        0: async (clock) => {
          const b = bulkhead({ maxConcurrent: 1, maxQueue: 0, clock });
          const first = track(b.execute(never));
          const second = track(b.execute(() => 'x'));
          await flush();
          expect(first.status).toBe('pending');
          expect(second.error).toBeInstanceOf(BulkheadFullError);
        },
        Infinity: async (clock) => {
          const b = bulkhead({ maxConcurrent: 1, maxQueue: Infinity, clock });
          track(b.execute(never));
          for (let i = 0; i < 1000; i++) track(b.execute(() => i));
          await flush();
          expect(b.queued).toBe(1000);
        },
      },
    },
    {
      option: 'queueTimeoutMs',
      make: (v, clock) => bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: v, clock }),
      honours: {
        Infinity: async (clock) => {
          const b = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: Infinity, clock });
          const gate = deferred<string>();
          track(b.execute(() => gate.promise));
          const waiter = track(b.execute(() => 'served'));
          expect(clock.pending).toBe(0); // no deadline at all
          await clock.advance(1e12);
          expect(waiter.status).toBe('pending');
          gate.resolve('done');
          await flush();
          expect(waiter.value).toBe('served');
        },
      },
    },
    { option: 'capacity', make: (v, clock) => rateLimiter({ capacity: v, refillPerSecond: 1, clock }) },
    { option: 'refillPerSecond', make: (v, clock) => rateLimiter({ capacity: 1, refillPerSecond: v, clock }) },
    {
      option: 'maxWaitMs',
      make: (v, clock) => rateLimiter({ capacity: 1, refillPerSecond: 1, maxWaitMs: v, clock }),
      honours: {
        0: async (clock) => {
          const l = rateLimiter({ capacity: 1, refillPerSecond: 1, maxWaitMs: 0, clock });
          expect(l.tryAcquire()).toBe(true);
          const c = track(l.execute(() => 'x'));
          await flush();
          expect(c.error).toBeInstanceOf(RateLimitedError);
          expect(clock.pending).toBe(0);
        },
        Infinity: async (clock) => {
          const l = rateLimiter({ capacity: 1, refillPerSecond: 0.001, maxWaitMs: Infinity, clock });
          expect(l.tryAcquire()).toBe(true);
          const c = track(l.execute(() => 'waited'));
          await clock.advance(999_999);
          expect(c.status).toBe('pending');
          await clock.advance(1);
          expect(c.value).toBe('waited');
        },
      },
    },
    { option: 'maxKeys', make: (v, clock) => keyedRateLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: v, clock }) },
    { option: 'halfOpenAfterMs', make: (v, clock) => circuitBreaker({ halfOpenAfterMs: v, clock }) },
    {
      option: 'minimumThroughput',
      make: (v, clock) => circuitBreaker({ halfOpenAfterMs: 10, failureRatio: 0.5, windowCalls: 4, minimumThroughput: v, clock }),
      honours: {
        0: async (clock) => {
          const b = circuitBreaker({ halfOpenAfterMs: 10, failureRatio: 0.5, windowCalls: 4, minimumThroughput: 0, clock });
          await b.execute(() => Promise.reject(new Error('x'))).catch(() => {});
          expect(b.state).toBe('open');
        },
      },
    },
    {
      option: 'slowCallMs',
      make: (v, clock) => circuitBreaker({ halfOpenAfterMs: 10, windowCalls: 2, minimumThroughput: 1, slowCallMs: v, slowCallRatio: 1, clock }),
      honours: {
        0: async (clock) => {
          const b = circuitBreaker({ halfOpenAfterMs: 10, windowCalls: 2, minimumThroughput: 1, slowCallMs: 0, slowCallRatio: 1, clock });
          const c = track(b.execute(() => new Promise((r) => clock.setTimeout(() => r('slow'), 1))));
          await clock.advance(1);
          expect(c.value).toBe('slow');
          expect(b.state).toBe('open');
        },
      },
    },
  ];

  it.each(cases.map((c) => [c.option, c] as const))('#12 option %s (opossum#824): 0, −1, NaN, Infinity honoured or rejected', async (_name, c) => {
    for (const value of [0, -1, Number.NaN, Infinity]) {
      const honour = c.honours?.[String(value)];
      if (honour !== undefined) {
        expect(() => c.make(value, new TestClock()), `${c.option}=${value}`).not.toThrow();
        await honour(new TestClock());
      } else {
        let thrown: unknown;
        try {
          c.make(value, new TestClock());
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${c.option}=${value} must be rejected`).toBeInstanceOf(Error);
        expect(thrown instanceof RangeError || thrown instanceof TypeError).toBe(true);
        const name = c.option.split(' ').pop()!;
        const message = (thrown as Error).message;
        expect(message, `${c.option}=${value}`).toContain(`"${name}"`);
        expect(message, `${c.option}=${value}`).toContain(String(value));
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 14: abort listeners leak per call', () => {
  it('#14 (cockatiel#81, p-queue#235, node#55328): 3,000 concurrent waiting calls on one parent signal — listeners back to baseline', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const signal = controller.signal;
    const baseline = getEventListeners(signal, 'abort').length;
    const p = pipeline(
      retry({ maxRetries: 2, backoff: constantBackoff(7), clock }),
      rateLimiter({ capacity: 100, refillPerSecond: 2000, maxWaitMs: 30, clock }),
      bulkhead({ maxConcurrent: 20, maxQueue: Infinity, queueTimeoutMs: 45, clock }),
      timeout(60, { clock }),
    );
    const calls: Tracked<unknown>[] = [];
    for (let i = 0; i < 3000; i++) {
      calls.push(
        track(
          p.execute(
            (ctx) => {
              void ctx.signal; // fn reads the signal: the costly path that links signals
              const kind = i % 4;
              if (kind === 0) return 'now';
              if (kind === 1) return Promise.reject(new Error('fails'));
              if (kind === 2) return never(); // left to the timeout
              return new Promise((r) => clock.setTimeout(() => r('later'), 3));
            },
            { signal },
          ),
        ),
      );
      // While calls wait, the library holds at most one listener on the shared signal.
      expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(baseline + 1);
    }
    await clock.runAll();
    expect(calls.every((c) => c.settled)).toBe(true);
    // Every kind of ending happened (queue timeouts, rate limits, timeouts, successes).
    const kinds = new Set(calls.map((c) => (c.status === 'fulfilled' ? c.value : (c.error as Error).constructor.name)));
    expect([...kinds].sort()).toEqual(['BulkheadFullError', 'Error', 'RateLimitedError', 'TimeoutError', 'later', 'now'].sort());
    expect(getEventListeners(signal, 'abort')).toHaveLength(baseline);
    expect(clock.pending).toBe(0);
  });

  it('#14 (cockatiel#69): aborting the shared signal while 3,000 calls wait removes every listener and timer', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const p = pipeline(
      retry({ maxRetries: 2, backoff: constantBackoff(1000), clock }),
      timeout(5000, { clock }),
      bulkhead({ maxConcurrent: 10, maxQueue: Infinity, clock }),
      rateLimiter({ capacity: 1000, refillPerSecond: 1, maxWaitMs: Infinity, clock }),
    );
    const calls = Array.from({ length: 3000 }, (_, i) =>
      track(p.execute(() => (i % 2 === 0 ? Promise.reject(new Error('x')) : never()), { signal: controller.signal })),
    );
    await clock.advance(10);
    const reason = new Error('everyone leaves');
    controller.abort(reason);
    await clock.advance(0);
    expect(calls.every((c) => c.error === reason)).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 15: inner rejects after the timeout → unhandledRejection', () => {
  it('#15 (p-timeout#43, opossum#547): through a whole pipeline, fn rejecting 1 ms after the outer timeout leaks nothing', async () => {
    const clock = new TestClock();
    let attempts = 0;
    const p = pipeline(
      timeout(10, { clock }),
      retry({ maxRetries: 5, backoff: constantBackoff(0), clock }),
      circuitBreaker({ halfOpenAfterMs: 100, clock }),
      bulkhead({ maxConcurrent: 1, maxQueue: 1, clock }),
    );
    const calls = Array.from({ length: 2 }, () =>
      track(
        p.execute(() => {
          attempts++;
          return new Promise((_r, reject) => clock.setTimeout(() => reject(new Error('late')), 11));
        }),
      ),
    );
    await clock.advance(10);
    expect(calls.every((c) => c.error instanceof TimeoutError)).toBe(true);
    await clock.advance(50);
    // The late rejection went nowhere: no retry started after the deadline (test/setup.ts
    // fails the test on any unhandled rejection).
    expect(attempts).toBe(1);
    expect(clock.pending).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 16: signal aborted after a successful return', () => {
  /**
   * A fetch whose body streams `head-` at once and `tail` when the test releases it, and errors
   * as soon as the request's signal aborts, as real fetch does (checked against real HTTP below).
   * No socket, no real time: only the virtual clock moves.
   */
  function pacedFetch(): { fetch: typeof fetch; signals: AbortSignal[]; releaseTail: () => void } {
    const signals: AbortSignal[] = [];
    const tails: Array<() => void> = [];
    const fake = (async (_input: unknown, init?: RequestInit) => {
      const signal = init!.signal!;
      signals.push(signal);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('head-'));
          const onAbort = (): void => controller.error(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
          tails.push(() => {
            signal.removeEventListener('abort', onAbort);
            if (signal.aborted) return;
            controller.enqueue(new TextEncoder().encode('tail'));
            controller.close();
          });
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'text/plain' } });
    }) as typeof fetch;
    return { fetch: fake, signals, releaseTail: () => tails.shift()!() };
  }

  it('#16 (cockatiel#72): a fetch body read lazily, long after the timeout would have fired, is intact', async () => {
    const clock = new TestClock();
    for (const policy of [timeout(60, { clock }), pipeline(retry({ maxRetries: 1, clock }), timeout(60, { clock }))]) {
      const paced = pacedFetch();
      const response = await resilientFetch(policy, { fetch: paced.fetch })('http://downstream.invalid/');
      expect(response.status).toBe(200);
      // Read nothing for a while: the deadline passes, then the body streams in.
      await clock.advance(100);
      expect(paced.signals).toHaveLength(1);
      expect(paced.signals[0]!.aborted, 'the signal of a successful call was aborted').toBe(false);
      paced.releaseTail();
      expect(await response.text()).toBe('head-tail');
      expect(clock.pending).toBe(0);
    }
  });

  it('#16: the check can fail: a body whose request signal aborts mid-read is lost (the stand-in, and real fetch over HTTP)', async () => {
    const paced = pacedFetch();
    const controller = new AbortController();
    const response = await paced.fetch('http://downstream.invalid/', { signal: controller.signal });
    controller.abort(new Error('aborted after the response'));
    await expect(response.text()).rejects.toThrow('aborted after the response');

    // Real fetch does the same: a server that sends half a body and never the rest, and an
    // abort once the response is in. No timer decides anything; the abort is explicit.
    const server = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('head-');
    });
    try {
      const real = new AbortController();
      const answer = await fetch(server.url, { signal: real.signal });
      expect(answer.status).toBe(200);
      real.abort(new Error('aborted after the response'));
      await expect(answer.text()).rejects.toThrow();
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 19: huge delays overflow Node timers', () => {
  const LONG = 2 ** 31 + 5000; // Node fires a setTimeout longer than 2^31−1 ms after 1 ms
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Checks with the real systemClock (global timers and performance faked) that nothing fires early. */
  async function neverEarly(start: () => Tracked<unknown>, dueMs: number, slackMs = 0): Promise<Tracked<unknown>> {
    const call = start();
    await flush();
    vi.advanceTimersByTime(1);
    await flush();
    expect(call.status, 'after 1 ms').toBe('pending');
    vi.advanceTimersByTime(2 ** 31 - 1);
    await flush();
    expect(call.status, 'after 2^31 ms').toBe('pending');
    vi.advanceTimersByTime(dueMs - 2 ** 31 - 1);
    await flush();
    expect(call.status, 'just before the due time').toBe('pending');
    vi.advanceTimersByTime(1 + slackMs);
    await flush();
    expect(call.status, 'at the due time').not.toBe('pending');
    return call;
  }

  it('#19 (Polly#1866, cockatiel#86): timeout, queue wait, rate-limit wait and backoff of 2^31+5000 ms never fire early', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const t = await neverEarly(() => track(timeout(LONG).execute(never)), LONG);
    expect(t.error).toBeInstanceOf(TimeoutError);

    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: LONG });
    track(b.execute(never));
    const queued = await neverEarly(() => track(b.execute(() => 'ran')), LONG);
    expect(queued.error).toBeInstanceOf(BulkheadFullError);

    // One token per LONG ms; the waiter is due when the next token exists.
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1000 / LONG, maxWaitMs: Infinity });
    expect(limiter.tryAcquire()).toBe(true);
    const waited = await neverEarly(() => track(limiter.execute(() => 'token')), LONG, 1);
    expect(waited.value).toBe('token');

    let attempts = 0;
    const r = retry({ maxRetries: 1, backoff: constantBackoff(LONG), maxDelayMs: 2 ** 40 });
    const retried = await neverEarly(
      () => track(r.execute(() => (++attempts === 1 ? Promise.reject(new Error('first')) : 'second'))),
      LONG,
    );
    expect(retried.value).toBe('second');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('#19 (Polly#2163): an open time of 2^53 ms is reported finitely and arms no timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const breaker = circuitBreaker({ halfOpenAfterMs: 2 ** 53, consecutiveFailures: 1 });
    await breaker.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    const error = await breaker.execute(() => 'no').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterMs).toBe(2 ** 53);
    expect(vi.getTimerCount()).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 20: retry ignores an abort between attempts', () => {
  // Found by this audit, fixed in RetryPolicy.retryLoop: a zero delay (constantBackoff(0),
  // exponentialBackoff({ initialMs: 0 }), maxDelayMs: 0, a full-jitter draw of 0) used to go
  // straight to the next attempt. A fn failing without I/O made every attempt a microtask, so no
  // timer, I/O or abort could run until maxRetries was spent (with Infinity: forever, at 100 %
  // CPU). A zero-delay retry now yields, through a 0 ms timer of its clock. Real clock on
  // purpose: the abort is a real macrotask.
  it('#20 (p-retry#97, row 5 busy loop): a zero-delay retry still yields, so a caller abort stops it within a few attempts', async () => {
    const controller = new AbortController();
    const reason = new Error('caller left');
    setImmediate(() => controller.abort(reason)); // due as soon as the event loop gets a turn
    let attempts = 0;
    const result = await retry({ maxRetries: 100_000, backoff: constantBackoff(0) })
      .execute(
        () => {
          attempts++;
          throw new Error('still failing');
        },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e);
    expect(result).toBe(reason);
    expect(attempts).toBeLessThan(100);
  });

  it('#20 (row 27 consequence): a zero-delay retry around a full bulkhead waits for the slot instead of burning every retry in one tick', async () => {
    const b = bulkhead({ maxConcurrent: 1 });
    // By default a retry does not retry BulkheadFullError (a fast refusal); this one opts in.
    const p = pipeline(retry({ maxRetries: 10_000, backoff: constantBackoff(0), handle: () => true }), b);
    const holder = p.execute(() => new Promise((resolve) => setImmediate(() => resolve('first'))));
    let attempts = 0;
    const second = p.execute(() => (attempts++, 'second')).catch((e: unknown) => e);
    expect(await second).toBe('second');
    expect(await holder).toBe('first');
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 22: sync throw / non-promise return / non-function fn', () => {
  const notFunctions: unknown[] = [undefined, null, 0, 42, '', 'fn', true, {}, [], Symbol('s'), 10n];
  const returned: unknown[] = [undefined, null, 0, -0, Number.NaN, '', 'text', false, 10n, Symbol('r'), { plain: true }];

  it.each(Object.keys(factories))('#22 (opossum#524) %s: any non-function fn, bad signal or odd thenable rejects, never throws', async (name) => {
    const policy = factories[name]!(new TestClock());
    for (const fn of notFunctions) {
      let result: Promise<unknown> | undefined;
      expect(() => (result = policy.execute(fn as never))).not.toThrow();
      await expect(result).rejects.toBeInstanceOf(TypeError);
    }
    for (const signal of [{}, 'signal', { aborted: true, reason: 'fake' }]) {
      let result: Promise<unknown> | undefined;
      expect(() => (result = policy.execute(() => 1, { signal } as never))).not.toThrow();
      await expect(result).rejects.toBeInstanceOf(TypeError);
    }
    for (const value of returned) {
      const got = await policy.execute(() => value);
      expect(Object.is(got, value)).toBe(true);
    }
    // A thenable whose `then` getter throws, and one that settles twice.
    const getterError = new Error('then getter');
    const hostile = {
      get then(): never {
        throw getterError;
      },
    };
    await expect(policy.execute(() => hostile as unknown as PromiseLike<unknown>)).rejects.toBe(getterError);
    const twice = { then: (ok: (v: string) => void, fail: (e: unknown) => void) => (ok('first'), fail('second'), ok('third')) };
    await expect(policy.execute(() => twice as unknown as PromiseLike<string>)).resolves.toBe('first');
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 23: Retry-After mis-parsed', () => {
  const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
  const httpDate = (ms: number): string => new Date(ms).toUTCString();

  /** Virtual ms between the first request (answered 503 with `retryAfter`) and the second. */
  async function waitFor(retryAfter: string, maxDelayMs?: number): Promise<number> {
    const clock = new TestClock();
    const sentAt: number[] = [];
    const fakeFetch = (async () => {
      sentAt.push(clock.now());
      return sentAt.length === 1
        ? new Response('busy', { status: 503, headers: { 'Retry-After': retryAfter } })
        : new Response('ok', { status: 200 });
    }) as typeof fetch;
    const policy = retry({ maxRetries: 1, backoff: constantBackoff(10), clock, ...(maxDelayMs === undefined ? {} : { maxDelayMs }) });
    const call = track(resilientFetch(policy, { fetch: fakeFetch, wallClock: () => NOW })('http://downstream.invalid/'));
    await flush();
    expect(clock.pending).toBe(1); // the retry's sleep, whatever its length
    await clock.runAll(1e10);
    expect(call.status).toBe('fulfilled');
    expect(sentAt).toHaveLength(2);
    return sentAt[1]! - sentAt[0]!;
  }

  it.each<[string, string, number]>([
    ['valid delta-seconds', '3', 3000],
    ['0 (no extra wait: normal backoff)', '0', 10],
    ['negative', '-5', 10],
    ['fraction', '1.5', 10],
    ['plus sign', '+3', 10],
    ['exponent', '1e11', 10],
    ['garbage', 'soon', 10],
    ['empty', '', 10],
    ['past date', httpDate(NOW - 60_000), 10],
    ['future date', httpDate(NOW + 20_000), 20_000],
    ['far-future date, capped by maxDelayMs', httpDate(NOW + 400 * 86_400_000), 30_000],
    ['huge delta-seconds, capped by maxDelayMs', '100000000000', 30_000],
  ])('#23 (supabase-js#2634, ky#603, urllib3#3743) Retry-After %s (%j) → the retry waits %d ms', async (_label, value, expected) => {
    expect(await waitFor(value)).toBe(expected);
  });

  it('#23 (mastra#23778): a huge Retry-After is clamped to one day even when maxDelayMs allows more', async () => {
    expect(await waitFor('100000000000', 10 * 86_400_000)).toBe(86_400_000);
    expect(await waitFor(httpDate(NOW + 400 * 86_400_000), 10 * 86_400_000)).toBe(86_400_000);
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 25: permit released twice or never', () => {
  type Op =
    | { kind: 'call'; durationMs: number | undefined; fails: boolean }
    | { kind: 'abort'; pick: number }
    | { kind: 'advance'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('call' as const),
        durationMs: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
        fails: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
  );

  it('#25 (resilience4j#263/#332, failsafe#393/#400): random complete/abort/timeout around a bulkhead — active = holders, never negative, back to 0', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(op, { minLength: 1, maxLength: 40 }),
        async (bulkheadOutside, maxConcurrent, maxQueue, ops) => {
          const clock = new TestClock();
          const b = bulkhead({ maxConcurrent, maxQueue, clock });
          const t = timeout(30, { clock });
          // Outside: the slot is the caller's until its call settles (timeout included).
          // Inside: the slot is fn's until fn settles, even after the caller got its TimeoutError.
          const p = bulkheadOutside ? pipeline(b, t) : pipeline(t, b);
          const calls: Array<{ controller: AbortController; result: Tracked<unknown>; started: boolean; fnSettled: boolean }> = [];
          const holders = (): number =>
            calls.filter((c) => c.started && (bulkheadOutside ? !c.result.settled : !c.fnSettled)).length;
          for (const step of ops) {
            if (step.kind === 'call') {
              const call = { controller: new AbortController(), result: undefined as never as Tracked<unknown>, started: false, fnSettled: false };
              calls.push(call);
              call.result = track(
                p.execute(
                  () => {
                    call.started = true;
                    if (step.durationMs === undefined) return never();
                    return new Promise((resolve, reject) =>
                      clock.setTimeout(() => {
                        call.fnSettled = true;
                        if (step.fails) reject(new Error('fn failed'));
                        else resolve('fn ok');
                      }, step.durationMs!),
                    );
                  },
                  { signal: call.controller.signal },
                ),
              );
            } else if (step.kind === 'abort') {
              const live = calls.filter((c) => !c.result.settled);
              live[step.pick % Math.max(1, live.length)]?.controller.abort(new Error('caller left'));
            } else {
              await clock.advance(step.ms);
            }
            await clock.advance(0);
            expect(b.active).toBeGreaterThanOrEqual(0);
            expect(b.active).toBeLessThanOrEqual(maxConcurrent);
            expect(b.active).toBe(Math.min(maxConcurrent, holders()));
            if (bulkheadOutside) expect(b.active).toBe(holders());
          }
          for (const c of calls) c.controller.abort(new Error('drain'));
          await clock.advance(0);
          await clock.runAll();
          // Never-settling fns of the inner bulkhead hold their slot forever, by design (row 17).
          const hung = bulkheadOutside ? 0 : calls.filter((c) => c.started && !c.fnSettled).length;
          expect(b.active).toBe(Math.min(maxConcurrent, hung));
          expect(b.queued).toBe(0);
          expect(calls.every((c) => c.result.settled)).toBe(true);
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 26: stack overflow on mass drain', () => {
  /** A TestClock that counts every call made to it. */
  class CountingClock extends TestClock {
    operations = 0;
    override now(): number {
      this.operations++;
      return super.now();
    }
    override setTimeout(callback: () => void, ms: number): unknown {
      this.operations++;
      return super.setTimeout(callback, ms);
    }
    override clearTimeout(handle: unknown): void {
      this.operations++;
      super.clearTimeout(handle);
    }
  }

  it('#26 (p-queue#217, opossum#830): 100,000 rate-limit waiters on one signal, aborted at once — no RangeError', async () => {
    const clock = new CountingClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1, maxWaitMs: Infinity, clock });
    expect(limiter.tryAcquire()).toBe(true);
    const controller = new AbortController();
    const n = 100_000;
    let ran = 0;
    const results = Array.from({ length: n }, () => limiter.execute(() => ran++, { signal: controller.signal }));
    const reason = new Error('everyone leaves');
    clock.operations = 0;
    controller.abort(reason);
    const outcomes = await Promise.allSettled(results);
    // Linear work, counted rather than timed: a bounded number of clock calls per waiter that
    // leaves (3 today: the queue's timer is re-armed for each new head). Work that grows with
    // the queue left behind would be billions of calls here.
    expect(clock.operations).toBeLessThanOrEqual(10 * n);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === reason)).toBe(true);
    expect(ran).toBe(0);
    expect(clock.pending).toBe(0);
    expect(limiter.tryAcquire()).toBe(false); // nobody took a token; the bucket refills as before
    await clock.advance(1000);
    expect(limiter.tryAcquire()).toBe(true);
  });

  it('#26 (p-queue#217): 100,000 rate-limit waiters served by one timer tick, and 100,000 timeouts aborted by one signal', async () => {
    const clock = new TestClock();
    const n = 100_000;
    const limiter = rateLimiter({ capacity: n, refillPerSecond: 1000, maxWaitMs: Infinity, clock });
    expect(limiter.tryAcquire(n)).toBe(true);
    let ran = 0;
    const served = Array.from({ length: n }, () => track(limiter.execute(() => ran++)));
    clock.jump(n); // every token is due: the overdue timer serves the whole queue in one go
    await clock.advance(0);
    expect(ran).toBe(n);
    expect(served.every((s) => s.status === 'fulfilled')).toBe(true);
    expect(clock.pending).toBe(0);

    const t = timeout(1000, { clock });
    const controller = new AbortController();
    const reason = new Error('stop');
    const calls = Array.from({ length: n }, () => t.execute(never, { signal: controller.signal }));
    controller.abort(reason);
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === reason)).toBe(true);
    expect(clock.pending).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('row 27: check-then-act across an await', () => {
  it('#27 (p-queue#126, concurrency-limits#140): arrivals and completions in any interleaving — bulkhead never exceeds its limit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 2, max: 20 }), async (s, max, maxQueue, n) => {
        const b = bulkhead({ maxConcurrent: max, maxQueue, clock: new TestClock() });
        let running = 0;
        let peak = 0;
        let ran = 0;
        let settled = 0;
        const results = Array.from({ length: n }, (_, i) =>
          s.schedule(Promise.resolve(i)).then(() =>
            b
              .execute(async () => {
                running++;
                ran++;
                peak = Math.max(peak, running);
                expect(b.active).toBeGreaterThanOrEqual(running);
                expect(b.active).toBeLessThanOrEqual(max);
                try {
                  await s.schedule(Promise.resolve());
                } finally {
                  running--;
                }
                return 'ok';
              })
              .catch((e: unknown) => e)
              .finally(() => settled++),
          ),
        );
        await drain(s, () => settled === n);
        const outcomes = await Promise.all(results);
        // An assertion that failed inside fn became that call's outcome: none may be anything
        // but a success or a bulkhead refusal.
        expect(outcomes.filter((o) => o !== 'ok' && !(o instanceof BulkheadFullError))).toEqual([]);
        expect(peak).toBeLessThanOrEqual(max);
        const rejected = outcomes.filter((o) => o instanceof BulkheadFullError).length;
        expect(ran + rejected).toBe(n);
        expect(b.active).toBe(0);
        expect(b.queued).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('#27 (p-queue#126): arrivals in any interleaving — a rate limiter never grants more than its tokens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 20 }), async (s, capacity, n) => {
        const clock = new TestClock();
        const limiter = rateLimiter({ capacity, refillPerSecond: 1, clock });
        const keyed = keyedRateLimiter({ capacity, refillPerSecond: 1, maxKeys: 2, clock });
        let granted = 0;
        let keyedGranted = 0;
        const results = Array.from({ length: n }, (_, i) =>
          s.schedule(Promise.resolve(i)).then(async () => {
            await limiter.execute(() => granted++).catch(() => {});
            await keyed
              .get('one')
              .execute(() => keyedGranted++)
              .catch(() => {});
          }),
        );
        await s.waitAll();
        await Promise.all(results);
        expect(granted).toBe(Math.min(n, capacity));
        expect(keyedGranted).toBe(Math.min(n, capacity));
      }),
      { numRuns: 200 },
    );
  });
});
