import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chaos, circuitBreaker, pipeline, timeout, TimeoutError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, getEventListeners, track } from '../helpers.js';

/** A random source that replays `values` and counts how often it was read. */
function scripted(values: number[]): { random: () => number; reads: () => number } {
  let i = 0;
  return { random: () => values[i++ % values.length]!, reads: () => i };
}

describe('chaos: where it injects', () => {
  it('injects exactly where random() < injectionRate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 0.9999999, noNaN: true }), { minLength: 1, maxLength: 30 }),
        async (injectionRate, draws) => {
          const source = scripted(draws);
          const policy = chaos({ injectionRate, result: 'injected', random: source.random });
          const results: unknown[] = [];
          for (let i = 0; i < draws.length; i++) results.push(await policy.execute(() => 'real'));
          expect(results).toEqual(draws.map((d) => (d < injectionRate ? 'injected' : 'real')));
          expect(source.reads()).toBe(draws.length);
        },
      ),
    );
  });

  it('disabled (false, or a function answering false) consumes no random value', async () => {
    const source = scripted([0]);
    let on = false;
    const policy = chaos({ injectionRate: 1, fault: new Error('x'), enabled: () => on, random: source.random });
    expect(await policy.execute(() => 'real')).toBe('real');
    expect(source.reads()).toBe(0);
    on = true;
    await expect(policy.execute(() => 'real')).rejects.toThrow('x');
    expect(source.reads()).toBe(1);
    const off = chaos({ injectionRate: 1, result: 1, enabled: false, random: source.random });
    expect(await off.execute(() => 'real')).toBe('real');
    expect(source.reads()).toBe(1);
  });
});

describe('chaos: kinds', () => {
  it('fault rejects with the value itself and never calls fn', async () => {
    const fault = Object.freeze({ code: 'E_CHAOS' });
    let called = 0;
    const policy = chaos({ injectionRate: 1, fault: () => fault, random: () => 0 });
    await expect(policy.execute(() => called++)).rejects.toBe(fault);
    const plain = chaos({ injectionRate: 1, fault, random: () => 0 });
    await expect(plain.execute(() => called++)).rejects.toBe(fault);
    expect(called).toBe(0);
  });

  it('result resolves with the value and never calls fn; a function gets the context', async () => {
    let called = 0;
    const attempts: number[] = [];
    const policy = chaos({
      injectionRate: 1,
      random: () => 0,
      result: (ctx: { attempt: number }) => {
        attempts.push(ctx.attempt);
        return 'canned';
      },
    });
    expect(await policy.execute(() => called++)).toBe('canned');
    expect(called).toBe(0);
    expect(attempts).toEqual([1]);
  });

  it('latency waits on the clock, then runs fn', async () => {
    const clock = new TestClock();
    const policy = chaos({ injectionRate: 1, latencyMs: 300, clock, random: () => 0 });
    const ranAt: number[] = [];
    const call = track(policy.execute(() => ranAt.push(clock.now())));
    await clock.advance(299);
    expect(ranAt).toEqual([]);
    await clock.advance(1);
    expect(ranAt).toEqual([300]);
    expect(call.status).toBe('fulfilled');
  });

  it('injected latency ends promptly on abort, removing its timer and listener', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    let called = false;
    const call = track(
      chaos({ injectionRate: 1, latencyMs: () => 10_000, clock, random: () => 0 }).execute(() => {
        called = true;
      }, { signal: controller.signal }),
    );
    await clock.advance(5);
    const reason = new Error('stop');
    controller.abort(reason);
    await flush();
    expect(call.error).toBe(reason);
    expect(called).toBe(false);
    expect(clock.pending).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('a latency injection is what a timeout and a breaker are there to catch', async () => {
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 2, clock });
    const guarded = pipeline(breaker, timeout(100, { clock }), chaos({ injectionRate: 1, latencyMs: 2000, clock, random: () => 0 }));
    for (let i = 0; i < 2; i++) {
      const call = track(guarded.execute(() => 'never'));
      await clock.advance(100);
      expect(call.error).toBeInstanceOf(TimeoutError);
    }
    expect(breaker.state).toBe('open');
    expect(clock.pending).toBe(0);
  });

  it('emits injected with the kind', async () => {
    const clock = new TestClock();
    const events: unknown[] = [];
    const policy = chaos({ injectionRate: 1, latencyMs: 5, clock, random: () => 0 });
    policy.on('injected', (e) => events.push(e));
    const call = track(policy.execute(() => 1));
    await clock.advance(5);
    expect(call.value).toBe(1);
    expect(events).toEqual([{ kind: 'latency', attempt: 1, delayMs: 5 }]);
  });
});

describe('chaos: options', () => {
  it.each([
    [{ injectionRate: 0.5 }, TypeError, /exactly one of.*none/],
    [{ injectionRate: 0.5, fault: 1, result: 2 }, TypeError, /fault and result/],
    [{ injectionRate: 0.5, latencyMs: 1, fault: 1 }, TypeError, /latencyMs and fault/],
    [{ injectionRate: 1.5, result: 1 }, RangeError, /injectionRate.*1\.5/],
    [{ injectionRate: -0.1, result: 1 }, RangeError, /injectionRate/],
    [{ injectionRate: Number.NaN, result: 1 }, RangeError, /injectionRate/],
    [{ injectionRate: 0.5, latencyMs: -1 }, RangeError, /latencyMs.*-1/],
    [{ injectionRate: 0.5, result: 1, enabled: 'yes' }, TypeError, /enabled/],
    [{ injectionRate: 0.5, result: 1, random: 3 }, TypeError, /random/],
  ])('%j is refused', (options, type, message) => {
    expect(() => chaos(options as never)).toThrow(type);
    expect(() => chaos(options as never)).toThrow(message);
  });
});
