import { describe, expect, it } from 'vitest';
import { timeout, TimeoutError, type ExecutionContext } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, flush, getEventListeners, track } from '../helpers.js';

const never = (): Promise<never> => new Promise(() => {});

describe('timeout', () => {
  it('rejects at exactly ms of virtual time when fn never settles', async () => {
    const clock = new TestClock();
    const policy = timeout(100, { clock });
    const call = track(policy.execute(never));
    await clock.advance(99);
    expect(call.status).toBe('pending');
    await clock.advance(1);
    expect(call.status).toBe('rejected');
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect((call.error as TimeoutError).timeoutMs).toBe(100);
    expect((call.error as TimeoutError).code).toBe('ERR_TIMEOUT');
    expect(clock.pending).toBe(0);
  });

  it('aborts ctx.signal with the same TimeoutError it rejects with', async () => {
    const clock = new TestClock();
    let signal: AbortSignal | undefined;
    const call = track(
      timeout(50, { clock }).execute((ctx) => {
        signal = ctx.signal;
        return never();
      }),
    );
    await clock.advance(50);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(call.error);
  });

  it('gives an already-aborted signal to fn that reads it only after the timeout fired', async () => {
    const clock = new TestClock();
    let context: ExecutionContext | undefined;
    const call = track(
      timeout(10, { clock }).execute((ctx) => {
        context = ctx;
        return never();
      }),
    );
    await clock.advance(10);
    expect(context!.signal.aborted).toBe(true);
    expect(context!.signal.reason).toBe(call.error);
  });

  it('swallows a late rejection and a late result (p-timeout#43)', async () => {
    const clock = new TestClock();
    const policy = timeout(10, { clock });
    const late = deferred();
    const lateValue = deferred();
    const a = track(policy.execute(() => late.promise));
    const b = track(policy.execute(() => lateValue.promise));
    await clock.advance(10);
    late.reject(new Error('late'));
    lateValue.resolve('late');
    await flush();
    expect(a.error).toBeInstanceOf(TimeoutError);
    expect(b.error).toBeInstanceOf(TimeoutError);
    // test/setup.ts fails this test if the late rejection went unhandled.
  });

  it('resolves with the value and leaves no timer behind', async () => {
    const clock = new TestClock();
    const policy = timeout(100, { clock });
    await expect(policy.execute(() => 42)).resolves.toBe(42);
    expect(clock.pending).toBe(0);
  });

  it('does not abort the signal after a successful return (cockatiel#72)', async () => {
    const clock = new TestClock();
    let signal: AbortSignal | undefined;
    await timeout(100, { clock }).execute((ctx) => {
      signal = ctx.signal;
      return 'ok';
    });
    await clock.advance(1000);
    expect(signal?.aborted).toBe(false);
  });

  it('rejects with the caller reason on caller abort, which is not a timeout', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    let signal: AbortSignal | undefined;
    let timeouts = 0;
    const policy = timeout(100, { clock });
    policy.on('timeout', () => timeouts++);
    const call = track(
      policy.execute(
        (ctx) => {
          signal = ctx.signal;
          return never();
        },
        { signal: controller.signal },
      ),
    );
    const reason = new Error('caller gave up');
    await clock.advance(10);
    controller.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(signal?.reason).toBe(reason);
    await clock.advance(200);
    expect(timeouts).toBe(0);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('never calls fn when the signal is already aborted', async () => {
    const controller = new AbortController();
    const reason = { why: 'already' };
    controller.abort(reason);
    let called = false;
    const result = timeout(10).execute(
      () => {
        called = true;
      },
      { signal: controller.signal },
    );
    await expect(result).rejects.toBe(reason);
    expect(called).toBe(false);
  });

  it('one call timing out does not abort another call (opossum#780)', async () => {
    const clock = new TestClock();
    const policy = timeout(10, { clock });
    const signals: AbortSignal[] = [];
    const slow = track(
      policy.execute((ctx) => {
        signals.push(ctx.signal);
        return never();
      }),
    );
    await clock.advance(5);
    const fast = deferred<string>();
    const quick = track(
      policy.execute((ctx) => {
        signals.push(ctx.signal);
        return fast.promise;
      }),
    );
    await clock.advance(5);
    expect(slow.error).toBeInstanceOf(TimeoutError);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
    fast.resolve('done');
    await flush();
    expect(quick.value).toBe('done');
  });

  it('serves many concurrent deadlines with one timer', async () => {
    const clock = new TestClock();
    const policy = timeout(100, { clock });
    const calls = [];
    for (let i = 0; i < 1000; i++) calls.push(track(policy.execute(never)));
    expect(clock.pending).toBe(1);
    await clock.advance(100);
    expect(calls.every((c) => c.error instanceof TimeoutError)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('fires each deadline at its own time when calls start at different times', async () => {
    const clock = new TestClock();
    const policy = timeout(100, { clock });
    const first = track(policy.execute(never));
    await clock.advance(30);
    const second = track(policy.execute(never));
    await clock.advance(70);
    expect(first.status).toBe('rejected');
    expect(second.status).toBe('pending');
    await clock.advance(29);
    expect(second.status).toBe('pending');
    await clock.advance(1);
    expect(second.status).toBe('rejected');
  });

  it('leaves no listener on the caller signal after 10,000 calls (cockatiel#81)', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const policy = timeout(100, { clock });
    for (let i = 0; i < 10_000; i++) {
      await policy.execute((ctx) => (i % 2 === 0 ? ctx.signal.aborted : i), { signal: controller.signal });
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('emits timeout, success and failure events with durations', async () => {
    const clock = new TestClock();
    const policy = timeout(20, { clock });
    const seen: string[] = [];
    policy.on('success', (e) => seen.push(`success:${e.durationMs}`));
    policy.on('failure', (e) => seen.push(`failure:${e.durationMs}:${String(e.error)}`));
    policy.on('timeout', (e) => seen.push(`timeout:${e.timeoutMs}:${e.durationMs}`));
    const answer = deferred<string>();
    const ok = track(policy.execute(() => answer.promise));
    await clock.advance(5);
    answer.resolve('x');
    await flush();
    expect(ok.value).toBe('x');
    const failing = track(policy.execute(() => Promise.reject('boom')));
    await flush();
    expect(failing.error).toBe('boom');
    const hung = track(policy.execute(never));
    await clock.advance(20);
    expect(hung.status).toBe('rejected');
    expect(seen).toEqual(['success:5', 'failure:0:boom', 'timeout:20:20']);
  });

  it('still fires a pending deadline on time when a timeout listener starts a new call', async () => {
    const clock = new TestClock();
    const policy = timeout(100, { clock });
    const first = track(policy.execute(never));
    await clock.advance(50);
    const second = track(policy.execute(never));
    // At 100 the first call times out and its listener starts a third (deadline 200): the second
    // call's deadline, 150, comes before it and must still be kept.
    let third: ReturnType<typeof track> | undefined;
    policy.on('timeout', () => {
      third ??= track(policy.execute(never));
    });
    await clock.advance(50);
    expect(first.status).toBe('rejected');
    await clock.advance(50);
    expect(second.status).toBe('rejected');
    expect((second.error as TimeoutError).timeoutMs).toBe(100);
    expect(third?.status).toBe('pending');
    await clock.advance(50);
    expect(third?.status).toBe('rejected');
    expect(clock.pending).toBe(0);
  });

  it('emits timeout to a listener attached while the call was already running', async () => {
    const clock = new TestClock();
    const policy = timeout(30, { clock });
    const call = track(policy.execute(never));
    await clock.advance(10);
    const seen: number[] = [];
    policy.on('timeout', (e) => seen.push(e.durationMs));
    await clock.advance(20);
    expect(call.status).toBe('rejected');
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(seen).toEqual([30]);
  });

  it("names its kind 'timeout', the default name", () => {
    expect(timeout(10).kind).toBe('timeout');
    expect(timeout(10).name).toBe('timeout');
    expect(timeout(10, { name: 'search' }).name).toBe('search');
  });

  it.each([0, -1, Number.NaN, Infinity, '5', undefined])('rejects ms = %s at construction', (ms) => {
    expect(() => timeout(ms as number)).toThrow(/"ms"/);
  });

  it('validates the clock option', () => {
    expect(() => timeout(10, { clock: {} as never })).toThrow(TypeError);
  });
});
