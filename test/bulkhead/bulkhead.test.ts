import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { bulkhead } from '../../src/bulkhead/index.js';
import { pipeline } from '../../src/core/pipeline.js';
import { BulkheadFullError, TimeoutError } from '../../src/core/errors.js';
import { timeout } from '../../src/timeout/index.js';
import { GAUGES } from '../../src/core/gauges.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, flush, getEventListeners, track } from '../helpers.js';

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

describe('bulkhead options', () => {
  it.each([
    [{ maxConcurrent: 0 }, /"maxConcurrent".*received 0/],
    [{ maxConcurrent: 1.5 }, /"maxConcurrent".*integer.*received 1.5/],
    [{ maxConcurrent: NaN }, /"maxConcurrent".*received NaN/],
    [{ maxConcurrent: Infinity }, /"maxConcurrent".*received Infinity/],
    [{ maxConcurrent: 1, maxQueue: -1 }, /"maxQueue".*received -1/],
    [{ maxConcurrent: 1, maxQueue: 2.5 }, /"maxQueue".*received 2.5/],
    [{ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 0 }, /"queueTimeoutMs".*received 0/],
    [{ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: -5 }, /"queueTimeoutMs".*received -5/],
    [{ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: NaN }, /"queueTimeoutMs".*received NaN/],
    [{ maxConcurrent: 1, queueTimeoutMs: 100 }, /"queueTimeoutMs" \(100\) needs "maxQueue" > 0/],
  ])('rejects %j with a RangeError naming the option and value', (options, message) => {
    expect(() => bulkhead(options)).toThrow(RangeError);
    expect(() => bulkhead(options)).toThrow(message);
  });

  it('rejects wrong types with a TypeError', () => {
    expect(() => bulkhead({ maxConcurrent: '2' as never })).toThrow(TypeError);
    expect(() => bulkhead(undefined as never)).toThrow(TypeError);
    expect(() => bulkhead({ maxConcurrent: 1, clock: {} as never })).toThrow(/"clock"/);
    expect(() => bulkhead({ maxConcurrent: 1, name: '' })).toThrow(/"name"/);
  });

  it('accepts an unbounded queue and an infinite queue timeout', () => {
    const b = bulkhead({ maxConcurrent: 2, maxQueue: Infinity, queueTimeoutMs: Infinity });
    expect(b.maxQueue).toBe(Infinity);
    expect(b.queueTimeoutMs).toBeUndefined();
    expect(b.kind).toBe('bulkhead');
    expect(b.name).toBe('bulkhead');
    expect(bulkhead({ maxConcurrent: 1, name: 'db' }).name).toBe('db');
  });
});

describe('bulkhead', () => {
  it('runs up to maxConcurrent at once and rejects the rest at once when there is no queue', async () => {
    const b = bulkhead({ maxConcurrent: 2 });
    const rejected: unknown[] = [];
    b.on('rejected', (e) => rejected.push(e));
    const a = gated((fn) => b.execute(fn));
    const c = gated((fn) => b.execute(fn));
    const d = gated((fn) => b.execute(fn));
    await flush();
    expect([a.started, c.started, d.started]).toEqual([true, true, false]);
    expect(d.result.error).toBeInstanceOf(BulkheadFullError);
    expect((d.result.error as BulkheadFullError).code).toBe('ERR_BULKHEAD_FULL');
    expect(rejected).toEqual([{ reason: 'bulkhead-full', error: d.result.error }]);
    expect(b.stats).toEqual({ active: 2, queued: 0, rejected: 1 });
    a.gate.resolve('a');
    await flush();
    expect(a.result.value).toBe('a');
    expect(b.active).toBe(1);
    const e = gated((fn) => b.execute(fn));
    await flush();
    expect(e.started).toBe(true);
    c.gate.resolve('c');
    e.gate.resolve('e');
    await flush();
    expect(b.stats).toEqual({ active: 0, queued: 0, rejected: 1 });
  });

  it('queues FIFO and hands each freed slot straight to the oldest waiter', async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 3 });
    const calls = [0, 1, 2, 3].map(() => gated((fn) => b.execute(fn)));
    const full = track(b.execute(() => 'never'));
    await flush();
    expect(full.error).toBeInstanceOf(BulkheadFullError);
    expect(b.stats).toEqual({ active: 1, queued: 3, rejected: 1 });
    for (let i = 0; i < 4; i++) {
      expect(calls.map((c) => c.started)).toEqual([0, 1, 2, 3].map((j) => j <= i));
      // No idle slot while someone waits.
      expect(b.active).toBe(1);
      expect(b.queued).toBe(3 - i);
      calls[i]!.gate.resolve(`v${i}`);
      await flush();
      expect(calls[i]!.result.value).toBe(`v${i}`);
    }
    expect(b.active).toBe(0);
  });

  it('passes thrown values through untouched and releases the slot on every outcome', async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    const frozen = Object.freeze({ boom: true });
    const results = [
      track(b.execute(() => { throw 'a string'; })),
      track(b.execute(() => { throw undefined; })),
      track(b.execute(() => Promise.reject(frozen))),
      track(b.execute(() => 42)),
      track(b.execute(() => ({ then: (ok: (v: number) => void) => ok(7) }) as unknown as PromiseLike<number>)),
    ];
    await flush();
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect(results[0]!.error).toBe('a string');
    expect(results[1]!.error).toBeUndefined();
    expect(results[2]!.error).toBe(frozen);
    expect(results[3]!.value).toBe(42);
    expect(results[4]!.value).toBe(7);
    expect(b.stats).toEqual({ active: 0, queued: 0, rejected: 0 });
  });

  it('regression cockatiel#114: an aborted queued caller leaves at once, never runs, and frees its place', async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const first = gated((fn) => b.execute(fn));
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const second = gated((fn) => b.execute(fn, { signal: controller.signal }));
    const third = gated((fn) => b.execute(fn));
    await flush();
    expect(b.queued).toBe(2);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(reason);
    await flush();
    expect(second.result.error).toBe(reason);
    expect(b.queued).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // Its place in the queue is free again.
    const fourth = gated((fn) => b.execute(fn));
    await flush();
    expect(fourth.result.status).toBe('pending');
    expect(b.queued).toBe(2);
    first.gate.resolve('1');
    await flush();
    expect(second.started).toBe(false);
    expect(third.started).toBe(true);
    third.gate.resolve('3');
    await flush();
    expect(fourth.started).toBe(true);
    fourth.gate.resolve('4');
    await flush();
    expect(second.started).toBe(false);
    expect(b.stats).toEqual({ active: 0, queued: 0, rejected: 0 });
  });

  it('removes its listener from the caller signal when a queued call is admitted', async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const controller = new AbortController();
    const first = gated((fn) => b.execute(fn));
    const second = gated((fn) => b.execute(fn, { signal: controller.signal }));
    await flush();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    first.gate.resolve('x');
    await flush();
    expect(second.started).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // Once running, an abort reaches fn through its signal; the bulkhead keeps the slot until fn settles.
    controller.abort(new Error('late'));
    await flush();
    expect(b.active).toBe(1);
    expect(second.result.status).toBe('pending');
    second.gate.resolve('done');
    await flush();
    expect(second.result.value).toBe('done');
    expect(b.active).toBe(0);
  });

  it('rejects a queue timeout with BulkheadFullError, on one shared timer, and fn never runs', async () => {
    const clock = new TestClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 5, queueTimeoutMs: 100, clock });
    const events: unknown[] = [];
    b.on('rejected', (e) => events.push(e));
    const first = gated((fn) => b.execute(fn));
    const waiting: ReturnType<typeof gated>[] = [];
    for (let i = 0; i < 3; i++) {
      waiting.push(gated((fn) => b.execute(fn)));
      await clock.advance(10);
    }
    // Three deadlines, one timer.
    expect(clock.pending).toBe(1);
    await clock.advance(70); // t = 100: the first waiter's deadline
    expect(waiting[0]!.result.error).toBeInstanceOf(BulkheadFullError);
    expect((waiting[0]!.result.error as Error).message).toBe('Bulkhead queue wait exceeded 100 ms');
    expect(waiting[1]!.result.status).toBe('pending');
    expect(b.stats).toEqual({ active: 1, queued: 2, rejected: 1 });
    expect(events).toEqual([{ reason: 'bulkhead-full', error: waiting[0]!.result.error }]);
    first.gate.resolve('1');
    await clock.advance(0);
    expect(waiting[1]!.started).toBe(true);
    waiting[1]!.gate.resolve('2');
    await clock.advance(0);
    expect(waiting[2]!.started).toBe(true);
    // The queue is empty: no timer left behind.
    expect(clock.pending).toBe(0);
    waiting[2]!.gate.resolve('3');
    await clock.advance(1000);
    expect(waiting[0]!.started).toBe(false);
    expect(b.stats).toEqual({ active: 0, queued: 0, rejected: 1 });
  });

  it('does not start fn for a waiter whose caller aborted between admission and its start', async () => {
    const b = bulkhead({ maxConcurrent: 2, maxQueue: 2 });
    const a = gated((fn) => b.execute(fn));
    const c = gated((fn) => b.execute(fn));
    const controller = new AbortController();
    const reason = new Error('changed my mind');
    // The first waiter's fn aborts the second waiter, which was admitted in the same tick.
    const first = track(b.execute(() => (controller.abort(reason), 'first')));
    let ranSecond = false;
    const second = track(b.execute(() => (ranSecond = true), { signal: controller.signal }));
    await flush();
    a.gate.resolve('a');
    c.gate.resolve('c');
    await flush();
    expect(first.value).toBe('first');
    expect(second.error).toBe(reason);
    expect(ranSecond).toBe(false);
    expect(b.stats).toEqual({ active: 0, queued: 0, rejected: 0 });
  });

  it('removes the caller-signal listener of a waiter that timed out in the queue', async () => {
    const clock = new TestClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 50, clock });
    const first = gated((fn) => b.execute(fn));
    const controller = new AbortController();
    const second = gated((fn) => b.execute(fn, { signal: controller.signal }));
    await clock.advance(50);
    expect(second.result.error).toBeInstanceOf(BulkheadFullError);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    first.gate.resolve('ok');
    await flush();
    expect(clock.pending).toBe(0);
    expect(b.active).toBe(0);
  });

  it('regression p-queue#217: 100,000 queued callers aborted at once — no stack overflow, no quadratic cost', async () => {
    const b = bulkhead({ maxConcurrent: 1, maxQueue: Infinity });
    const first = gated((fn) => b.execute(fn));
    const n = 100_000;
    const controllers: AbortController[] = [];
    const results: Promise<unknown>[] = [];
    let ran = 0;
    for (let i = 0; i < n; i++) {
      const controller = new AbortController();
      controllers.push(controller);
      results.push(b.execute(() => ran++, { signal: controller.signal }));
    }
    expect(b.queued).toBe(n);
    const reason = new Error('everyone leaves');
    for (const controller of controllers) controller.abort(reason);
    const outcomes = await Promise.allSettled(results);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === reason)).toBe(true);
    expect(b.queued).toBe(0);
    // Each waiter leaves the intrusive queue in O(1) (core/fifo.ts, tested there); a quadratic
    // leave would make this test take minutes and time out rather than fail an assertion.
    first.gate.resolve('done');
    await flush();
    expect(ran).toBe(0);
    expect(b.stats).toEqual({ active: 0, queued: 0, rejected: 0 });
  });

  it('regression p-queue#217: 100,000 queue deadlines expiring on the same tick', async () => {
    const clock = new TestClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: Infinity, queueTimeoutMs: 10, clock });
    const first = gated((fn) => b.execute(fn));
    let ran = 0;
    const results: ReturnType<typeof track<unknown>>[] = [];
    for (let i = 0; i < 100_000; i++) results.push(track(b.execute(() => ran++)));
    await clock.advance(10);
    expect(results.every((r) => r.status === 'rejected' && r.error instanceof BulkheadFullError)).toBe(true);
    expect(b.stats).toEqual({ active: 1, queued: 0, rejected: 100_000 });
    expect(clock.pending).toBe(0);
    first.gate.resolve('x');
    await flush();
    expect(ran).toBe(0);
  });

  it("keeps each caller's AsyncLocalStorage store inside its own fn, queued or not", async () => {
    const als = new AsyncLocalStorage<string>();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 10 });
    const gates = ['a', 'b', 'c', 'd'].map(() => deferred<void>());
    const seen: (string | undefined)[] = [];
    const results = ['a', 'b', 'c', 'd'].map((id, i) =>
      track(
        als.run(id, () =>
          b.execute(async () => {
            seen.push(als.getStore());
            await gates[i]!.promise;
            return als.getStore();
          }),
        ),
      ),
    );
    await flush();
    expect(b.queued).toBe(3);
    // Each slot is released from inside the previous caller's context; the next fn must still see its own.
    for (const gate of gates) {
      gate.resolve();
      await flush();
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(results.map((r) => r.value)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('emits success and failure for calls it ran, with the duration from arrival', async () => {
    const clock = new TestClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1, clock });
    const events: unknown[] = [];
    b.on('success', (e) => events.push(['success', e]));
    b.on('failure', (e) => events.push(['failure', e]));
    b.on('rejected', () => {
      throw new Error('a throwing listener changes nothing');
    });
    const boom = new Error('boom');
    const first = gated((fn) => b.execute(fn));
    const second = track(b.execute(() => Promise.reject(boom)));
    const third = track(b.execute(() => 'never'));
    await clock.advance(30);
    first.gate.resolve('ok');
    await clock.advance(0);
    expect(first.result.value).toBe('ok');
    expect(second.error).toBe(boom);
    expect(third.error).toBeInstanceOf(BulkheadFullError);
    expect(events).toEqual([
      ['success', { durationMs: 30 }],
      ['failure', { durationMs: 30, error: boom }],
    ]);
  });

  it('reads no clock on the hot path when nobody listens', async () => {
    const clock = new TestClock();
    let reads = 0;
    const counting = { now: () => (reads++, clock.now()), setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock) };
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 5, clock: counting });
    const results = [track(b.execute(() => 1)), track(b.execute(() => 2)), track(b.execute(() => 3))];
    await flush();
    expect(results.map((r) => r.value)).toEqual([1, 2, 3]);
    expect(reads).toBe(0);
  });

  it('rejects with the reason and never runs fn when the context is already aborted', async () => {
    const b = bulkhead({ maxConcurrent: 1 });
    const controller = new AbortController();
    controller.abort('gone');
    let ran = false;
    await expect(b.execute(() => (ran = true), { signal: controller.signal })).rejects.toBe('gone');
    expect(ran).toBe(false);
    expect(b.active).toBe(0);
  });
});

describe('bulkhead and timeout ordering', () => {
  it('pipeline(bulkhead, timeout): the slot is freed when the timeout fires, while fn still runs', async () => {
    const clock = new TestClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1, clock });
    const p = pipeline(b, timeout(100, { clock }));
    const stuck = deferred<string>();
    let signal: AbortSignal | undefined;
    const first = track(p.execute((ctx) => ((signal = ctx.signal), stuck.promise)));
    const second = gated((fn) => p.execute(fn));
    await clock.advance(100);
    expect(first.error).toBeInstanceOf(TimeoutError);
    expect(signal?.aborted).toBe(true);
    // fn #1 ignores its signal and is still running, yet #2 already has the slot.
    expect(second.started).toBe(true);
    expect(b.active).toBe(1);
    second.gate.resolve('two');
    stuck.resolve('late');
    await clock.advance(0);
    expect(second.result.value).toBe('two');
    expect(b.active).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('pipeline(timeout, bulkhead): the slot is held until fn settles; a waiter times out of the queue', async () => {
    const clock = new TestClock();
    const b = bulkhead({ maxConcurrent: 1, maxQueue: 1, clock });
    const p = pipeline(timeout(100, { clock }), b);
    const stuck = deferred<string>();
    const first = track(p.execute(() => stuck.promise));
    await clock.advance(50);
    const second = gated((fn) => p.execute(fn));
    await clock.advance(50);
    expect(first.error).toBeInstanceOf(TimeoutError);
    // The caller got its TimeoutError, but fn #1 still runs and still holds the slot.
    expect(b.active).toBe(1);
    expect(b.queued).toBe(1);
    await clock.advance(50);
    // #2's own timeout fired while it was queued: it left the queue and never ran.
    expect(second.result.error).toBeInstanceOf(TimeoutError);
    expect(second.started).toBe(false);
    expect(b.queued).toBe(0);
    expect(b.active).toBe(1);
    stuck.resolve('late');
    await clock.advance(0);
    expect(b.active).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe('bulkhead: what its mutation run left uncovered', () => {
  it('refuses missing options with a TypeError that names it', () => {
    expect(() => bulkhead(undefined as never)).toThrow(new TypeError('breakwater: bulkhead options must be an object, received undefined'));
  });

  it('declares its two gauges with their descriptions and units', () => {
    const policy = bulkhead({ maxConcurrent: 2 });
    const gauges = (policy as unknown as { [GAUGES](): Array<{ metric: string; description: string; unit: string; read(): number }> })[GAUGES]();
    expect(gauges.map(({ metric, description, unit }) => ({ metric, description, unit }))).toEqual([
      { metric: 'bulkhead.active', description: 'Calls running inside a bulkhead.', unit: '{call}' },
      { metric: 'bulkhead.queued', description: 'Calls waiting in a bulkhead queue.', unit: '{call}' },
    ]);
    expect(gauges.map((gauge) => gauge.read())).toEqual([0, 0]);
  });

  it('a call whose signal is already aborted is rejected with its reason, takes no slot and emits nothing', async () => {
    const clock = new TestClock();
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 0, clock });
    const events: string[] = [];
    policy.on('rejected', () => events.push('rejected'));
    policy.on('success', () => events.push('success'));
    policy.on('failure', () => events.push('failure'));
    const reason = new Error('caller gave up');
    let ran = 0;
    const outcome = await policy.execute(() => ran++, { signal: AbortSignal.abort(reason) }).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    expect(outcome).toBe(reason);
    expect(ran).toBe(0);
    expect(events).toEqual([]);
    expect(policy.stats).toEqual({ active: 0, queued: 0, rejected: 0 });
  });
});
