import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { hedge, pipeline, retryBudget, type ExecutionContext } from '../../src/index.js';
import { LatencyWindow } from '../../src/hedge/latency-window.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, track } from '../helpers.js';

/** A downstream on the virtual clock: answers `value` after `ms`, or rejects when its signal aborts. */
function after(clock: TestClock, ms: number, ctx: ExecutionContext, value: unknown, fail = false): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => (fail ? reject(value) : resolve(value)), ms);
    ctx.signal.addEventListener('abort', () => {
      clock.clearTimeout(timer);
      reject(ctx.signal.reason);
    }, { once: true });
  });
}

/** A downstream that never answers, holds no timer, and rejects when its signal aborts. */
function never(ctx: ExecutionContext): Promise<unknown> {
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
}

describe('LatencyWindow', () => {
  it('keeps the latest size samples in a ring and answers the nearest-rank percentile', () => {
    const window = new LatencyWindow(4, 1, 2);
    window.add(1);
    expect([window.samples, window.value]).toEqual([1, undefined]);
    for (const ms of [2, 3, 4, 5, 6]) window.add(ms);
    expect(window.samples).toBe(4);
    expect(window.value).toBe(6); // the ring holds 3, 4, 5, 6
    const low = new LatencyWindow(4, 0.25, 1);
    for (const ms of [9, 2, 3, 4, 5, 6]) low.add(ms);
    expect(low.value).toBe(3);
  });

  it('recomputes the percentile every size / 8 samples, not on every one', () => {
    const window = new LatencyWindow(256, 0.5, 20);
    for (let i = 0; i < 20; i++) window.add(10);
    expect(window.value).toBe(10);
    for (let i = 0; i < 31; i++) window.add(1000);
    expect(window.value).toBe(10); // 31 new samples: still the cached median
    window.add(1000);
    expect(window.value).toBe(1000); // the 32nd: median of 20 × 10 and 32 × 1000
  });
});

describe('hedge: events and their payloads', () => {
  it('tells why each attempt started: the delay, or a handled failure', async () => {
    const clock = new TestClock();
    const policy = hedge({ maxAttempts: 3, delayMs: 10, clock });
    const events: unknown[] = [];
    policy.on('hedge', (e) => events.push(e));
    const call = track(
      policy.execute((ctx) => (ctx.attempt === 2 ? after(clock, 5, ctx, new Error('second fails'), true) : after(clock, 100, ctx, ctx.attempt))),
    );
    await clock.advance(200);
    expect(call.value).toBe(1);
    expect(events).toEqual([{ attempt: 2, trigger: 'delay' }, { attempt: 3, trigger: 'failure' }]);
    const zero = hedge({ maxAttempts: 2, delayMs: 0, clock });
    const zeroEvents: unknown[] = [];
    zero.on('hedge', (e) => zeroEvents.push(e));
    await zero.execute(() => 'now');
    expect(zeroEvents).toEqual([{ attempt: 2, trigger: 'delay' }]);
  });

  it('cancels a loser with its own reason, and emits one success for the winner only', async () => {
    const clock = new TestClock();
    const policy = hedge({ maxAttempts: 2, delayMs: 10, clock, name: 'search' });
    const successes: unknown[] = [];
    policy.on('success', (e) => successes.push(e));
    const contexts: ExecutionContext[] = [];
    const call = track(
      policy.execute((ctx) => {
        contexts.push(ctx);
        // The loser ignores its signal and answers late anyway.
        return ctx.attempt === 1 ? new Promise((resolve) => clock.setTimeout(() => resolve('late'), 100)) : after(clock, 5, ctx, 'fast');
      }),
    );
    await clock.advance(200);
    expect(call.value).toBe('fast');
    const reason = contexts[0]!.signal.reason as DOMException;
    expect([reason.name, reason.message]).toEqual(['AbortError', 'Cancelled: another hedged attempt answered first']);
    expect(successes).toEqual([{ durationMs: 15, attempt: 2 }]);
    expect([policy.kind, policy.name]).toEqual(['hedge', 'search']);
  });

  it('a listener that arrives during a call sees it last 0 ms; one there from the start sees its duration', async () => {
    const clock = new TestClock();
    for (const fail of [false, true]) {
      // A failure nobody handles ends the hedge at once (a handled one would start attempt 2).
      const policy = hedge({ delayMs: 100, clock, handle: () => false });
      const events: Array<{ durationMs: number }> = [];
      const late = track(policy.execute((ctx) => after(clock, 30, ctx, 'x', fail)));
      await clock.advance(5);
      policy.on(fail ? 'failure' : 'success', (e) => events.push(e as { durationMs: number }));
      await clock.advance(25);
      expect(late.settled).toBe(true);
      const timed = track(policy.execute((ctx) => after(clock, 30, ctx, 'x', fail)));
      await clock.advance(30);
      expect(timed.settled).toBe(true);
      expect(events.map((e) => e.durationMs)).toEqual([0, 30]);
    }
  });

  it('two attempts that answer in the same tick: the first wins, one success event', async () => {
    const policy = hedge({ maxAttempts: 2, delayMs: 0 });
    const successes: Array<{ attempt: number }> = [];
    policy.on('success', (e) => successes.push(e));
    expect(await policy.execute((ctx) => `from ${ctx.attempt}`)).toBe('from 1');
    await flush();
    expect(successes.map((e) => e.attempt)).toEqual([1]);
  });

  it('a loser that rejects once cancelled is no failure of the hedge, even with an error handle does not accept', async () => {
    const clock = new TestClock();
    const policy = hedge({ maxAttempts: 2, delayMs: 10, clock, handle: (error) => (error as Error).name !== 'AbortError' });
    const outcomes: string[] = [];
    policy.on('success', (e) => outcomes.push(`success ${e.attempt}`));
    policy.on('failure', () => outcomes.push('failure'));
    const call = track(policy.execute((ctx) => after(clock, ctx.attempt === 1 ? 100 : 5, ctx, ctx.attempt)));
    await clock.advance(200);
    expect(call.value).toBe(2);
    expect(outcomes).toEqual(['success 2']);
  });

  it('publishes on diagnostics channels under its name', async () => {
    const messages: unknown[] = [];
    const onMessage = (message: unknown) => messages.push(message);
    diagnosticsChannel.subscribe('breakwater:success', onMessage);
    try {
      await hedge({ delayMs: 10, name: 'h', clock: new TestClock() }).execute(() => 1);
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:success', onMessage);
    }
    expect(messages).toEqual([expect.objectContaining({ policy: 'h', event: 'success', attempt: 1 })]);
  });
});

describe('hedge: timers and the budget', () => {
  it('holds no timer once every attempt has started, nor without a delay', async () => {
    const clock = new TestClock();
    const all = track(hedge({ maxAttempts: 2, delayMs: 10, clock }).execute(never));
    await clock.advance(15);
    expect(clock.pending).toBe(0);
    const controller = new AbortController();
    const warmUp = track(hedge({ delayPercentile: 0.9, clock }).execute(never, { signal: controller.signal }));
    await flush();
    expect(clock.pending).toBe(0);
    controller.abort(new Error('done'));
    await flush();
    expect(warmUp.settled).toBe(true);
    expect(all.settled).toBe(false);
  });

  it('an infinite delayMs hedges on failures only', async () => {
    const clock = new TestClock();
    const attempts: number[] = [];
    const call = track(
      hedge({ delayMs: Infinity, clock }).execute((ctx) => {
        attempts.push(ctx.attempt);
        return ctx.attempt === 1 ? after(clock, 1000, ctx, new Error('slow failure'), true) : 'second';
      }),
    );
    await clock.advance(999);
    expect(attempts).toEqual([1]);
    await clock.advance(1);
    expect(call.value).toBe('second');
  });

  it('a spent budget: the failure of the only attempt ends the hedge with it, the refusal told once', async () => {
    const clock = new TestClock();
    for (const failAtMs of [5, 50]) {
      // 5: the failure itself asks for the next attempt; 50: the delay asked first (at 10).
      const budget = retryBudget({ ratio: 0, minPerSecond: 0, clock });
      const policy = hedge({ maxAttempts: 3, delayMs: 10, clock, budget });
      const exhausted: number[] = [];
      policy.on('budgetExhausted', (e) => exhausted.push(e.attempt));
      const error = new Error(`fails at ${failAtMs}`);
      const call = track(policy.execute((ctx) => after(clock, failAtMs, ctx, error, true)));
      await clock.advance(100);
      expect(call.error).toBe(error);
      expect(exhausted).toEqual([2]);
      expect(clock.pending).toBe(0);
    }
  });

  it('an attempt that arrives already aborted (from a foreign policy outside) never runs', async () => {
    const reason = new Error('foreign deadline');
    const foreign = { execute: (fn: (ctx: { signal: AbortSignal; attempt: number }) => unknown) => fn({ signal: AbortSignal.abort(reason), attempt: 1 }) };
    let called = false;
    await expect(
      pipeline(foreign as never, hedge({ delayMs: 10 })).execute(() => {
        called = true;
      }),
    ).rejects.toBe(reason);
    expect(called).toBe(false);
  });
});

describe('hedge: options', () => {
  it.each([
    [() => hedge(), TypeError, /hedge needs option "delayMs" \(or "delayPercentile"\)/],
    [() => hedge('x' as never), TypeError, /hedge options must be an object/],
    [() => hedge({ delayMs: 1, clock: {} as never }), TypeError, /"clock"/],
  ] as const)('%# is refused', (make, type, message) => {
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });
});
