import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { fallback } from '../../src/index.js';

describe('fallback', () => {
  it('answers a value when fn fails', async () => {
    await expect(fallback('cached').execute(() => Promise.reject(new Error('down')))).resolves.toBe('cached');
  });

  it('calls a function with the error and awaits its result', async () => {
    const error = new Error('down');
    let seen: unknown;
    const policy = fallback(async (e) => {
      seen = e;
      return 'computed';
    });
    await expect(policy.execute(() => Promise.reject(error))).resolves.toBe('computed');
    expect(seen).toBe(error);
  });

  it('passes successes through untouched', async () => {
    await expect(fallback('x').execute(() => 'real')).resolves.toBe('real');
  });

  it('only handles what handle() accepts', async () => {
    const policy = fallback('fb', { handle: (e) => e === 'soft' });
    await expect(policy.execute(() => Promise.reject('soft'))).resolves.toBe('fb');
    await expect(policy.execute(() => Promise.reject('hard'))).rejects.toBe('hard');
  });

  it('replaces results that handleResult() marks as failures, passing the result', async () => {
    let seen: unknown;
    const policy = fallback(
      (r) => {
        seen = r;
        return 'fb';
      },
      { handleResult: (r) => r === null },
    );
    await expect(policy.execute(() => null)).resolves.toBe('fb');
    expect(seen).toBeNull();
    await expect(policy.execute(() => 'fine')).resolves.toBe('fine');
  });

  it('does not answer for a caller who aborted', async () => {
    const controller = new AbortController();
    const policy = fallback('fb');
    const result = policy.execute(
      () => {
        controller.abort('gone');
        return Promise.reject(new Error('aborted work'));
      },
      { signal: controller.signal },
    );
    await expect(result).rejects.toThrow('aborted work');
  });

  it('rejects with what the fallback function throws', async () => {
    const policy = fallback(() => {
      throw 'fallback broke';
    });
    await expect(policy.execute(() => Promise.reject('x'))).rejects.toBe('fallback broke');
  });

  it('emits a fallback event with what it replaced', async () => {
    const policy = fallback(1);
    const seen: unknown[] = [];
    policy.on('fallback', (e) => seen.push(e.error));
    await policy.execute(() => Promise.reject('why'));
    expect(seen).toEqual(['why']);
  });

  it('validates options', () => {
    expect(() => fallback(1, { handle: 5 as never })).toThrow(/"handle"/);
    expect(() => fallback(1, 'x' as never)).toThrow(TypeError);
    expect(() => fallback(1, { clock: {} as never })).toThrow(/option "clock"/);
    expect(() => fallback(1, { name: '' })).toThrow(/option "name"/);
    expect(() => fallback(1, { handel: () => true } as never)).toThrow(/^breakwater: fallback has no option "handel"; did you mean "handle"\?$/);
  });

  it("names its kind 'fallback', the default name, and its events by the name given", async () => {
    expect(fallback(1).kind).toBe('fallback');
    expect(fallback(1).name).toBe('fallback');
    const policy = fallback(1, { name: 'cached-price' });
    expect(policy.name).toBe('cached-price');
    const messages: unknown[] = [];
    const onMessage = (message: unknown): void => {
      messages.push(message);
    };
    diagnosticsChannel.subscribe('breakwater:success', onMessage);
    try {
      await policy.execute(() => 2);
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:success', onMessage);
    }
    expect(messages).toEqual([expect.objectContaining({ policy: 'cached-price', event: 'success' })]);
  });
});

describe('fallback events', () => {
  it('reports what the caller got: a fallback answer is a success, an unhandled error a failure', async () => {
    const { TestClock } = await import('../../src/testing/index.js');
    const clock = new TestClock();
    const policy = fallback('fb', { handle: (e) => e !== 'fatal', clock });
    const seen: string[] = [];
    policy.on('success', () => seen.push('success'));
    policy.on('failure', (e) => seen.push(`failure:${String(e.error)}`));
    await policy.execute(() => 'direct');
    await policy.execute(() => Promise.reject('soft'));
    await policy.execute(() => Promise.reject('fatal')).catch(() => {});
    expect(seen).toEqual(['success', 'success', 'failure:fatal']);
  });
});
