import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { chaos, pipeline } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

describe('chaos: what a user sees at the edges', () => {
  it('names its kind of injection, its kind and its default name', () => {
    expect([
      chaos({ injectionRate: 1, latencyMs: 5 }).injects,
      chaos({ injectionRate: 1, fault: 1 }).injects,
      chaos({ injectionRate: 1, result: 1 }).injects,
    ]).toEqual(['latency', 'fault', 'result']);
    const policy = chaos({ injectionRate: 1, result: 1 });
    expect([policy.kind, policy.name]).toEqual(['chaos', 'chaos']);
  });

  it('a user function that throws becomes the call\'s rejection, the value itself', async () => {
    const boom = new Error('boom');
    const thrower = () => {
      throw boom;
    };
    await expect(chaos({ injectionRate: 1, result: 1, random: thrower }).execute(() => 'real')).rejects.toBe(boom);
    await expect(chaos({ injectionRate: 1, result: 1, enabled: thrower }).execute(() => 'real')).rejects.toBe(boom);
    await expect(chaos({ injectionRate: 1, latencyMs: thrower }).execute(() => 'real')).rejects.toBe(boom);
  });

  it('a latency function must produce a number >= 0: 0 runs fn at once, anything else rejects naming the value', async () => {
    const events: unknown[] = [];
    const clock = new TestClock();
    const zero = chaos({ injectionRate: 1, latencyMs: () => 0, clock });
    zero.on('injected', (e) => events.push(e));
    const call = track(zero.execute(() => 'real'));
    await clock.advance(0);
    expect(call.value).toBe('real');
    expect(events).toEqual([{ kind: 'latency', attempt: 1, delayMs: 0 }]);
    for (const [value, shown] of [[-1, '-1'], ['5', '"5"'], [Number.NaN, 'NaN']] as const) {
      const bad = chaos({ injectionRate: 1, latencyMs: () => value as number, clock: new TestClock() });
      let called = false;
      const outcome = await bad.execute(() => (called = true)).catch((error: unknown) => error);
      expect(outcome).toBeInstanceOf(RangeError);
      expect((outcome as Error).message).toContain(`chaos "latencyMs" must produce a number >= 0, received ${shown}`);
      expect(called).toBe(false);
    }
  });

  it('a fault or result event carries no delayMs', async () => {
    const events: object[] = [];
    const fault = chaos({ injectionRate: 1, fault: () => new Error('x') });
    const result = chaos({ injectionRate: 1, result: 7 });
    fault.on('injected', (e) => events.push(e));
    result.on('injected', (e) => events.push(e));
    await fault.execute(() => 1).catch(() => {});
    await result.execute(() => 1);
    expect(events).toStrictEqual([{ kind: 'fault', attempt: 1 }, { kind: 'result', attempt: 1 }]);
  });

  it('publishes injected on its diagnostics channel under its name', async () => {
    const messages: unknown[] = [];
    const onMessage = (message: unknown) => messages.push(message);
    diagnosticsChannel.subscribe('breakwater:injected', onMessage);
    try {
      await chaos({ injectionRate: 1, result: 1, name: 'flaky' }).execute(() => 0);
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:injected', onMessage);
    }
    expect(messages).toEqual([expect.objectContaining({ policy: 'flaky', event: 'injected', kind: 'result' })]);
  });

  it('an attempt that arrives already aborted (from a foreign policy outside) gets no injection', async () => {
    const reason = new Error('foreign deadline');
    const foreign = { execute: (fn: (ctx: { signal: AbortSignal; attempt: number }) => unknown) => fn({ signal: AbortSignal.abort(reason), attempt: 1 }) };
    await expect(pipeline(foreign as never, chaos({ injectionRate: 1, result: 'injected' })).execute(() => 'real')).rejects.toBe(reason);
  });

  it.each([
    [() => chaos(undefined as never), TypeError, /chaos options must be an object/],
    [() => chaos('x' as never), TypeError, /chaos options must be an object/],
    [() => chaos({ injectionRate: 1, result: 1, clock: {} as never }), TypeError, /"clock"/],
  ] as const)('option %# is refused', (make, type, message) => {
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });
});
