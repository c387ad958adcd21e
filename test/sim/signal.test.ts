import { describe, expect, it } from 'vitest';
import * as bw from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { CallerSignal } from '../../src/sim/signal.js';

describe('CallerSignal', () => {
  it('behaves as an AbortSignal for abort listeners: order, once, removal, onabort, reason', () => {
    const signal = new CallerSignal();
    const seen: string[] = [];
    const a = (): void => void seen.push('a');
    const b = { handleEvent: (): void => void seen.push('b') };
    signal.addEventListener('abort', a);
    signal.addEventListener('abort', a); // the same listener twice is one listener
    signal.addEventListener('abort', b);
    signal.addEventListener('other', () => seen.push('other'));
    const removed = (): void => void seen.push('removed');
    signal.addEventListener('abort', removed);
    signal.removeEventListener('abort', removed);
    signal.onabort = () => seen.push('onabort');
    expect(() => signal.throwIfAborted()).not.toThrow();
    const reason = { gaveUp: true };
    signal.abort(reason);
    signal.abort('again');
    expect(seen).toEqual(['onabort', 'a', 'b']);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(() => signal.throwIfAborted()).toThrow();
  });

  it("is accepted by the library's policies, which reject with its reason and detach", async () => {
    const clock = new TestClock();
    const policy = bw.pipeline(bw.bulkhead({ maxConcurrent: 1, maxQueue: 1, clock }), bw.timeout(1000, { clock }));
    const hold = policy.execute(() => new Promise((resolve) => clock.setTimeout(() => resolve('held'), 100)));
    const signal = new CallerSignal();
    const queued = policy.execute(() => 'never', { signal: signal as unknown as AbortSignal });
    const reason = new Error('caller gave up');
    signal.abort(reason);
    await expect(queued).rejects.toBe(reason);
    await clock.advance(100);
    await expect(hold).resolves.toBe('held');
    expect(clock.pending).toBe(0);
  });
});
