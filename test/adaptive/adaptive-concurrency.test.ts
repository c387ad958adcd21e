import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import {
  adaptiveConcurrency,
  aimdLimit,
  isOverloadError,
  windowedLimit,
  WindowedLimit,
  Gradient2Limit,
  type LimitSample,
} from '../../src/adaptive/index.js';
import {
  BulkheadFullError,
  CircuitOpenError,
  ConcurrencyLimitError,
  RateLimitedError,
  TimeoutError,
  isBreakwaterError,
} from '../../src/core/errors.js';
import { GAUGES } from '../../src/core/gauges.js';
import { pipeline } from '../../src/core/pipeline.js';
import { CONTRACT_GAUGES } from '../../src/telemetry/collect.js';
import { HttpStatusError } from '../../src/http/fetch.js';
import { timeout } from '../../src/timeout/index.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, flush, getEventListeners, track } from '../helpers.js';
import { SettableLimit } from './helpers.js';

/** A call whose `fn` the test settles; `started` tells whether `fn` ever ran. */
function gated(run: (fn: () => Promise<string>) => Promise<unknown>) {
  const gate = deferred<string>();
  const state = { started: false, gate, result: undefined as unknown as ReturnType<typeof track<unknown>> };
  state.result = track(
    run(() => {
      state.started = true;
      return gate.promise;
    }),
  );
  return state;
}

describe('ConcurrencyLimitError', () => {
  it('is a BulkheadFullError with its own code, built without a stack by fast()', () => {
    const error = ConcurrencyLimitError.fast();
    expect(error).toBeInstanceOf(ConcurrencyLimitError);
    expect(error).toBeInstanceOf(BulkheadFullError);
    expect(isBreakwaterError(error)).toBe(true);
    expect(error.code).toBe('ERR_CONCURRENCY_LIMIT');
    expect(error.name).toBe('ConcurrencyLimitError');
    expect(error.message).toBe('Concurrency limit reached');
    expect(error.stack?.split('\n')).toHaveLength(1);
    expect(new BulkheadFullError()).not.toBeInstanceOf(ConcurrencyLimitError);
    expect(new ConcurrencyLimitError('x').stack?.split('\n').length).toBeGreaterThan(1);
  });
});

describe('adaptiveConcurrency options', () => {
  it.each([
    [{ maxQueue: -1 }, /"maxQueue".*received -1/],
    [{ maxQueue: 1.5 }, /"maxQueue".*received 1.5/],
    [{ maxQueue: 1, queueTimeoutMs: 0 }, /"queueTimeoutMs".*received 0/],
    [{ queueTimeoutMs: 100 }, /"queueTimeoutMs" \(100\) needs "maxQueue" > 0/],
  ])('rejects %j with a RangeError naming the option and value', (options, message) => {
    expect(() => adaptiveConcurrency(options)).toThrow(RangeError);
    expect(() => adaptiveConcurrency(options)).toThrow(message);
  });

  it('rejects wrong types with a TypeError', () => {
    expect(() => adaptiveConcurrency({ limit: 20 as never })).toThrow(/"limit" must be a Limit/);
    expect(() => adaptiveConcurrency({ limit: { limit: 0, onSample: () => {} } })).toThrow(/"limit" must be a Limit.*received/);
    expect(() => adaptiveConcurrency({ limit: { limit: 5, onSample: () => {}, subscribe: 1 as never } })).toThrow(/subscribe/);
    expect(() => adaptiveConcurrency({ isDrop: true as never })).toThrow(/"isDrop"/);
    expect(() => adaptiveConcurrency({ clock: {} as never })).toThrow(/"clock"/);
    expect(() => adaptiveConcurrency({ name: '' })).toThrow(/"name"/);
    expect(() => adaptiveConcurrency(7 as never)).toThrow(TypeError);
  });

  it('defaults: a windowed Gradient2 at 20, no queue, named adaptive-concurrency', () => {
    const policy = adaptiveConcurrency({ limit: undefined, maxQueue: undefined });
    expect(policy.limit).toBe(20);
    expect(policy.maxQueue).toBe(0);
    expect(policy.queueTimeoutMs).toBeUndefined();
    expect(policy.kind).toBe('adaptive-concurrency');
    expect(policy.name).toBe('adaptive-concurrency');
    expect(policy.stats).toEqual({ limit: 20, active: 0, queued: 0, rejected: 0 });
    expect(adaptiveConcurrency({ maxQueue: Infinity, queueTimeoutMs: Infinity }).queueTimeoutMs).toBeUndefined();
  });
});

describe('adaptiveConcurrency admission', () => {
  it('admits while active < limit, then refuses with ConcurrencyLimitError at once', async () => {
    const limit = new SettableLimit(2);
    const policy = adaptiveConcurrency({ limit });
    const rejected: unknown[] = [];
    policy.on('rejected', (e) => rejected.push(e));
    const a = gated((fn) => policy.execute(fn));
    const b = gated((fn) => policy.execute(fn));
    const c = gated((fn) => policy.execute(fn));
    await flush();
    expect([a.started, b.started, c.started]).toEqual([true, true, false]);
    expect(c.result.error).toBeInstanceOf(ConcurrencyLimitError);
    expect(rejected).toEqual([{ reason: 'concurrency-limit', error: c.result.error }]);
    expect(policy.stats).toEqual({ limit: 2, active: 2, queued: 0, rejected: 1 });
    a.gate.resolve('a');
    b.gate.resolve('b');
    await flush();
    expect([a.result.value, b.result.value]).toEqual(['a', 'b']);
    expect(policy.active).toBe(0);
  });

  it('queues FIFO, and a queue timeout is a ConcurrencyLimitError on one shared timer', async () => {
    const clock = new TestClock();
    const policy = adaptiveConcurrency({ limit: new SettableLimit(1), maxQueue: 3, queueTimeoutMs: 100, clock });
    const first = gated((fn) => policy.execute(fn));
    const waiting: ReturnType<typeof gated>[] = [];
    for (let i = 0; i < 3; i++) {
      waiting.push(gated((fn) => policy.execute(fn)));
      await clock.advance(10);
    }
    const full = track(policy.execute(() => 'never'));
    await flush();
    expect(full.error).toBeInstanceOf(ConcurrencyLimitError);
    expect(clock.pending).toBe(1);
    await clock.advance(70);
    expect(waiting[0]!.result.error).toBeInstanceOf(ConcurrencyLimitError);
    expect((waiting[0]!.result.error as Error).message).toBe('Concurrency limit queue wait exceeded 100 ms');
    first.gate.resolve('1');
    await clock.advance(0);
    expect(waiting[1]!.started).toBe(true);
    expect(waiting[2]!.started).toBe(false);
    waiting[1]!.gate.resolve('2');
    await clock.advance(0);
    expect(waiting[2]!.started).toBe(true);
    waiting[2]!.gate.resolve('3');
    await clock.advance(0);
    expect(clock.pending).toBe(0);
    expect(policy.stats).toEqual({ limit: 1, active: 0, queued: 0, rejected: 2 });
  });

  it('a limit that grows drains the queue at once, oldest first', async () => {
    const limit = new SettableLimit(1);
    const policy = adaptiveConcurrency({ limit, maxQueue: 10 });
    const changes: unknown[] = [];
    policy.on('limitChange', (e) => changes.push(e));
    const calls = [0, 1, 2, 3, 4].map(() => gated((fn) => policy.execute(fn)));
    await flush();
    expect(calls.map((c) => c.started)).toEqual([true, false, false, false, false]);
    limit.set(3);
    await flush();
    expect(calls.map((c) => c.started)).toEqual([true, true, true, false, false]);
    expect(policy.stats).toMatchObject({ limit: 3, active: 3, queued: 2 });
    expect(changes).toEqual([{ from: 1, to: 3 }]);
    for (const c of calls) c.gate.resolve('x');
    await flush();
    expect(calls.every((c) => c.started && c.result.value === 'x')).toBe(true);
  });

  it('a limit that shrinks never aborts running calls; freed slots above it go away', async () => {
    const limit = new SettableLimit(3);
    const policy = adaptiveConcurrency({ limit, maxQueue: 10 });
    const signals: AbortSignal[] = [];
    const running = [0, 1, 2].map(() =>
      gated((fn) => policy.execute((ctx) => (signals.push(ctx.signal), fn()))),
    );
    const waiter = gated((fn) => policy.execute(fn));
    await flush();
    limit.set(1);
    await flush();
    expect(signals.every((s) => !s.aborted)).toBe(true);
    expect(policy.stats).toMatchObject({ limit: 1, active: 3, queued: 1 });
    running[0]!.gate.resolve('a');
    await flush();
    expect([policy.active, waiter.started]).toEqual([2, false]);
    running[1]!.gate.resolve('b');
    await flush();
    expect([policy.active, waiter.started]).toEqual([1, false]);
    running[2]!.gate.resolve('c');
    await flush();
    expect([policy.active, waiter.started]).toEqual([1, true]);
    waiter.gate.resolve('d');
    await flush();
    expect(running.map((r) => r.result.value)).toEqual(['a', 'b', 'c']);
    expect(policy.active).toBe(0);
  });

  it('polls a Limit without subscribe after each sample it reports, and drains when it grew', async () => {
    const limit = new SettableLimit(1, false);
    limit.onSample = function (this: SettableLimit, sample: LimitSample) {
      this.samples.push({ ...sample });
      this.limit = 2;
    };
    const policy = adaptiveConcurrency({ limit, maxQueue: 10 });
    const changes: unknown[] = [];
    policy.on('limitChange', (e) => changes.push(e));
    const calls = [0, 1, 2].map(() => gated((fn) => policy.execute(fn)));
    await flush();
    expect(calls.map((c) => c.started)).toEqual([true, false, false]);
    calls[0]!.gate.resolve('a');
    await flush();
    expect(calls.map((c) => c.started)).toEqual([true, true, true]);
    expect(changes).toEqual([{ from: 1, to: 2 }]);
    calls[1]!.gate.resolve('b');
    calls[2]!.gate.resolve('c');
    await flush();
    expect(limit.samples).toHaveLength(3);
  });

  it('serves the queue first when a limit grew without telling anyone', async () => {
    const limit = new SettableLimit(1, false);
    const policy = adaptiveConcurrency({ limit, maxQueue: 10 });
    const first = gated((fn) => policy.execute(fn));
    const second = gated((fn) => policy.execute(fn));
    await flush();
    limit.limit = 2; // no notification, no sample yet
    const third = gated((fn) => policy.execute(fn));
    await flush();
    // The newcomer found a free slot but someone was waiting: the waiter got it, not the newcomer.
    expect([first.started, second.started, third.started]).toEqual([true, true, false]);
    for (const c of [first, second, third]) c.gate.resolve('x');
    await flush();
    expect(third.started).toBe(true);
  });
});

describe('adaptiveConcurrency samples', () => {
  it('reports one sample per call: RTT from admission, in-flight count at admission, drops', async () => {
    const clock = new TestClock(1000);
    const limit = new SettableLimit(5);
    const policy = adaptiveConcurrency({ limit, clock, maxQueue: 5 });
    const a = gated((fn) => policy.execute(fn));
    await clock.advance(10);
    const b = gated((fn) => policy.execute(fn));
    await clock.advance(5);
    b.gate.reject(TimeoutError.fast(3));
    await clock.advance(20);
    a.gate.reject(new Error('not an overload'));
    const c = track(policy.execute(() => 'sync'));
    await clock.advance(0);
    expect(c.value).toBe('sync');
    expect(limit.samples).toEqual([
      { rttMs: 5, inflight: 2, dropped: true, startMs: 1010 },
      { rttMs: 35, inflight: 1, dropped: false, startMs: 1000 },
      // Admitted in the same tick as `a` settled, before its handler ran: `a` still counted.
      { rttMs: 0, inflight: 2, dropped: false, startMs: 1035 },
    ]);
  });

  it('times a queued call from its admission, not its arrival', async () => {
    const clock = new TestClock();
    const limit = new SettableLimit(1);
    const policy = adaptiveConcurrency({ limit, clock, maxQueue: 1 });
    const durations: number[] = [];
    policy.on('success', (e) => durations.push(e.durationMs));
    const first = gated((fn) => policy.execute(fn));
    const second = gated((fn) => policy.execute(fn));
    await clock.advance(40);
    first.gate.resolve('1');
    await clock.advance(15);
    second.gate.resolve('2');
    await clock.advance(0);
    expect(limit.samples.map((s) => [s.rttMs, s.inflight])).toEqual([
      [40, 1],
      [15, 1],
    ]);
    // The events count from arrival, queue wait included, as the bulkhead's do.
    expect(durations).toEqual([40, 55]);
  });

  it('reports none for a caller abort, queued or running', async () => {
    const limit = new SettableLimit(1);
    const policy = adaptiveConcurrency({ limit, maxQueue: 1 });
    const controller = new AbortController();
    const running = track(
      policy.execute(
        (ctx) =>
          new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
        { signal: controller.signal },
      ),
    );
    const queued = gated((fn) => policy.execute(fn, { signal: controller.signal }));
    await flush();
    const reason = new Error('caller left');
    controller.abort(reason);
    await flush();
    expect(running.error).toBe(reason);
    expect(queued.result.error).toBe(reason);
    expect(queued.started).toBe(false);
    expect(limit.samples).toEqual([]);
    expect(policy.stats).toMatchObject({ active: 0, queued: 0 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('an inner timeout is a drop; the slot is freed when it fires (adaptive outside the timeout)', async () => {
    const clock = new TestClock();
    const limit = new SettableLimit(1);
    const policy = adaptiveConcurrency({ limit, clock });
    const p = pipeline(policy, timeout(50, { clock }));
    const stuck = track(p.execute(() => new Promise(() => {})));
    await clock.advance(50);
    expect(stuck.error).toBeInstanceOf(TimeoutError);
    expect(limit.samples).toEqual([{ rttMs: 50, inflight: 1, dropped: true, startMs: 0 }]);
    expect(policy.active).toBe(0);
  });

  it('isDrop decides what a drop is; a throwing isDrop counts as no drop', async () => {
    const limit = new SettableLimit(3);
    const boom = new Error('overloaded');
    const policy = adaptiveConcurrency({ limit, isDrop: (error) => error === boom });
    await policy.execute(() => Promise.reject(boom)).catch(() => {});
    await policy.execute(() => Promise.reject(TimeoutError.fast(1))).catch(() => {});
    const throwing = adaptiveConcurrency({
      limit,
      isDrop: () => {
        throw new Error('bad predicate');
      },
    });
    await expect(throwing.execute(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(limit.samples.map((s) => s.dropped)).toEqual([true, false, false]);
  });

  it('the default isDrop: timeouts and overload refusals, not other failures', () => {
    const response = (status: number) => new HttpStatusError(new Response(null, { status }), undefined);
    const drops = [
      TimeoutError.fast(1),
      new BulkheadFullError(),
      ConcurrencyLimitError.fast(),
      RateLimitedError.fast(10),
      CircuitOpenError.fast(10),
      response(503),
      response(429),
    ];
    const notDrops = [new Error('x'), response(500), response(404), undefined, 'string', { status: 503 }];
    expect(drops.map(isOverloadError)).toEqual(drops.map(() => true));
    expect(notDrops.map(isOverloadError)).toEqual(notDrops.map(() => false));
  });

  it('a Limit whose onSample throws changes no outcome and keeps no slot', async () => {
    const policy = adaptiveConcurrency({
      limit: {
        limit: 1,
        onSample: () => {
          throw new Error('broken estimator');
        },
      },
    });
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
    await expect(policy.execute(() => Promise.reject('bad'))).rejects.toBe('bad');
    expect(policy.active).toBe(0);
  });

  it('reads the clock twice per call and nothing else when nobody listens', async () => {
    const clock = new TestClock();
    let reads = 0;
    const counting = { now: () => (reads++, clock.now()), setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock) };
    const policy = adaptiveConcurrency({ limit: new SettableLimit(1), maxQueue: 5, clock: counting });
    const results = [track(policy.execute(() => 1)), track(policy.execute(() => 2)), track(policy.execute(() => 3))];
    await flush();
    expect(results.map((r) => r.value)).toEqual([1, 2, 3]);
    expect(reads).toBe(6);
  });

  it('reads the clock twice per call admitted at once when someone listens too', async () => {
    const clock = new TestClock();
    let reads = 0;
    const counting = { now: () => (reads++, clock.now()), setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock) };
    const policy = adaptiveConcurrency({ limit: new SettableLimit(3), clock: counting });
    const durations: number[] = [];
    policy.on('success', (e) => durations.push(e.durationMs));
    policy.on('failure', (e) => durations.push(e.durationMs));
    await policy.execute(() => 1);
    await policy.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(durations).toEqual([0, 0]);
    expect(reads).toBe(4);
  });

  it('calls settling out of order, and one started from inside a sample, each report their own numbers', async () => {
    const clock = new TestClock(1000);
    const samples: LimitSample[] = [];
    const inner = deferred<string>();
    let started: ReturnType<typeof track<unknown>> | undefined;
    const policy = adaptiveConcurrency({
      clock,
      limit: {
        limit: 3,
        onSample: (sample) => {
          samples.push({ ...sample });
          // Started while the first call to settle is still being reported (its slot still held).
          started ??= track(policy.execute(() => inner.promise));
        },
      },
    });
    const a = gated((fn) => policy.execute(fn));
    await clock.advance(10);
    const b = gated((fn) => policy.execute(fn));
    await clock.advance(5);
    b.gate.resolve('b');
    await clock.advance(15);
    a.gate.resolve('a');
    await clock.advance(10);
    inner.resolve('c');
    await clock.advance(0);
    expect([a.result.value, b.result.value, started?.value]).toEqual(['a', 'b', 'c']);
    expect(samples).toEqual([
      { rttMs: 5, inflight: 2, dropped: false, startMs: 1010 },
      { rttMs: 30, inflight: 1, dropped: false, startMs: 1000 },
      { rttMs: 25, inflight: 3, dropped: false, startMs: 1015 },
    ]);
    expect(policy.active).toBe(0);
  });
});

describe('adaptiveConcurrency with its estimators', () => {
  it('the default estimator is Gradient2 in a one-second window', () => {
    const policy = adaptiveConcurrency();
    const source = (policy as unknown as { source: unknown }).source;
    expect(source).toBeInstanceOf(WindowedLimit);
    expect((source as WindowedLimit).delegate).toBeInstanceOf(Gradient2Limit);
  });

  it('follows an AIMD limit: grows while in use, halves-ish on drops, emits limitChange', async () => {
    const clock = new TestClock();
    const policy = adaptiveConcurrency({ limit: aimdLimit({ initialLimit: 20, minLimit: 2 }), clock });
    const changes: unknown[] = [];
    policy.on('limitChange', (e) => changes.push(e));
    const gates = Array.from({ length: 10 }, () => deferred<void>());
    const calls = gates.map((g) => track(policy.execute(() => g.promise)));
    await clock.advance(5);
    gates[9]!.resolve(); // admitted with 10 in flight: 10 × 2 >= 20 → 21
    await clock.advance(0);
    for (const g of gates.slice(0, 9)) g.reject(TimeoutError.fast(5));
    await clock.advance(0);
    // 21 → 18 → 16 → 14 → 12 → 10 → 9 → 8 → 7 → 6
    expect(policy.limit).toBe(6);
    expect(changes[0]).toEqual({ from: 20, to: 21 });
    expect(changes.at(-1)).toEqual({ from: 7, to: 6 });
    expect(changes).toHaveLength(10);
    expect(calls.filter((c) => c.status === 'rejected')).toHaveLength(9);
  });

  it('subscribes once to a windowed limit', () => {
    const limit = new SettableLimit(4);
    const windowed = windowedLimit(limit);
    adaptiveConcurrency({ limit: windowed });
    expect(limit.listenerCount).toBe(1);
  });
});

describe('adaptiveConcurrency context and events', () => {
  it("keeps each caller's AsyncLocalStorage store inside its own fn, queued or not", async () => {
    const als = new AsyncLocalStorage<string>();
    const policy = adaptiveConcurrency({ limit: new SettableLimit(1), maxQueue: 10 });
    const gates = ['a', 'b', 'c'].map(() => deferred<void>());
    const seen: (string | undefined)[] = [];
    const results = ['a', 'b', 'c'].map((id, i) =>
      track(
        als.run(id, () =>
          policy.execute(async () => {
            seen.push(als.getStore());
            await gates[i]!.promise;
            return als.getStore();
          }),
        ),
      ),
    );
    await flush();
    for (const gate of gates) {
      gate.resolve();
      await flush();
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(results.map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('publishes limitChange and rejected on diagnostics channels, naming the policy', async () => {
    const messages: unknown[] = [];
    const onMessage = (message: unknown) => messages.push(message);
    diagnosticsChannel.subscribe('breakwater:limitChange', onMessage);
    diagnosticsChannel.subscribe('breakwater:rejected', onMessage);
    try {
      const limit = new SettableLimit(1);
      const policy = adaptiveConcurrency({ limit, name: 'db' });
      const held = gated((fn) => policy.execute(fn));
      await policy.execute(() => 1).catch(() => {});
      limit.set(2);
      held.gate.resolve('x');
      await flush();
      expect(messages).toEqual([
        { policy: 'db', event: 'rejected', reason: 'concurrency-limit', error: expect.any(ConcurrencyLimitError) },
        { policy: 'db', event: 'limitChange', from: 1, to: 2 },
      ]);
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:limitChange', onMessage);
      diagnosticsChannel.unsubscribe('breakwater:rejected', onMessage);
    }
  });

  it('a throwing limitChange listener changes nothing', async () => {
    const limit = new SettableLimit(1);
    const policy = adaptiveConcurrency({ limit, maxQueue: 1 });
    policy.on('limitChange', () => {
      throw new Error('listener');
    });
    const first = gated((fn) => policy.execute(fn));
    const second = gated((fn) => policy.execute(fn));
    await flush();
    limit.set(2);
    await flush();
    expect(second.started).toBe(true);
    first.gate.resolve('1');
    second.gate.resolve('2');
    await flush();
    expect([first.result.value, second.result.value]).toEqual(['1', '2']);
  });
});

describe('adaptiveConcurrency: edges of admission and validation', () => {
  it('refuses a limit that is not a Limit object, clause by clause', () => {
    const onSample = () => {};
    for (const bad of [null, 'x', Object.assign(() => {}, { limit: 5, onSample }), { limit: 5 }, { limit: '5', onSample }, { onSample }]) {
      expect(() => adaptiveConcurrency({ limit: bad as never })).toThrow(/option "limit" must be a Limit/);
    }
    expect(() => adaptiveConcurrency('x' as never)).toThrow(/adaptiveConcurrency options must be an object/);
  });

  it('isOverloadError says no to null and to values that are not objects', () => {
    expect([null, undefined, 'ERR_HTTP_STATUS', 503].map((value) => isOverloadError(value))).toEqual([false, false, false, false]);
  });

  it('an attempt that arrives already aborted (from a foreign policy outside) is refused before it takes a slot', async () => {
    const reason = new Error('foreign deadline');
    const foreign = { execute: (fn: (ctx: { signal: AbortSignal; attempt: number }) => unknown) => fn({ signal: AbortSignal.abort(reason), attempt: 1 }) };
    const policy = adaptiveConcurrency({ limit: new SettableLimit(1) });
    let called = false;
    await expect(
      pipeline(foreign as never, policy).execute(() => {
        called = true;
      }),
    ).rejects.toBe(reason);
    expect([called, policy.active]).toEqual([false, 0]);
  });

  it('a queued caller that aborts between its grant and its start gives the slot back', async () => {
    const limit = new SettableLimit(1);
    const policy = adaptiveConcurrency({ limit, maxQueue: 1 });
    const controller = new AbortController();
    // The first call's success event fires after its slot went to the second caller, before
    // the second one starts: that caller leaves then.
    policy.on('success', () => controller.abort(new Error('left')));
    const first = gated((fn) => policy.execute(fn));
    const second = gated((fn) => policy.execute(fn, { signal: controller.signal }));
    await flush();
    expect(policy.stats).toMatchObject({ active: 1, queued: 1 });
    first.gate.resolve('a');
    await flush();
    expect(second.started).toBe(false);
    expect((second.result.error as Error).message).toBe('left');
    expect(policy.stats).toMatchObject({ active: 0, queued: 0 });
    const third = gated((fn) => policy.execute(fn));
    await flush();
    expect(third.started).toBe(true);
    third.gate.resolve('c');
    await flush();
  });

  it('a subscribed Limit that repeats its value causes no limitChange', () => {
    let notify: (limit: number) => void = () => {};
    const source = { limit: 4, onSample: () => {}, subscribe: (l: (limit: number) => void) => ((notify = l), () => {}) };
    const policy = adaptiveConcurrency({ limit: source });
    const changes: unknown[] = [];
    policy.on('limitChange', (e) => changes.push(e));
    notify(4);
    notify(6);
    notify(6);
    expect(changes).toEqual([{ from: 4, to: 6 }]);
  });

  it('declares its gauges with the shapes of the metrics contract', () => {
    const gauges = adaptiveConcurrency({ limit: new SettableLimit(3) })[GAUGES]();
    const shapes = gauges.map(({ metric, description, unit }) => ({ metric, description, unit }));
    expect(shapes).toEqual(
      ['concurrency.limit', 'concurrency.active', 'concurrency.queued'].map((metric) => CONTRACT_GAUGES.find((g) => g.metric === metric)),
    );
    expect(gauges.map((g) => g.read())).toEqual([3, 0, 0]);
  });

  it('keeps at most 1024 idle call records after a burst, and reuses them', async () => {
    const policy = adaptiveConcurrency({ limit: new SettableLimit(3000) });
    const idle = () => (policy as unknown as { idleCount: number }).idleCount;
    const burst = Array.from({ length: 3000 }, () => deferred<string>());
    const calls = burst.map((d) => policy.execute(() => d.promise));
    for (const d of burst) d.resolve('ok');
    await Promise.all(calls);
    expect(idle()).toBe(1024);
    for (let i = 0; i < 5; i++) await policy.execute(() => 'again');
    expect(idle()).toBe(1024);
    expect(policy.active).toBe(0);
  });
});
