import { describe, expect, it } from 'vitest';
import { timeout } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { isAbortSignal } from '../../src/core/abort.js';

// What `execute(fn, { signal })` takes for a signal: anything with a boolean `aborted` and an
// `addEventListener` method (a signal from another realm or a polyfill included), and nothing
// else — rejected with a TypeError, never a synchronous throw, and fn never runs. (`null` means
// "no signal", as in RequestInit: test/core/execute-options.test.ts covers it.)

const listen = () => {};
const notSignals: Array<[string, unknown]> = [
  ['a number', 42],
  ['a string', 'signal'],
  ['an empty object', {}],
  ['an object without addEventListener', { aborted: false }],
  ['an object without aborted', { addEventListener: listen }],
  ['an object whose aborted is not a boolean', { aborted: 'no', addEventListener: listen }],
  ['a function carrying both', Object.assign(() => {}, { aborted: false, addEventListener: listen })],
];

describe('the signal option', () => {
  it.each(notSignals)('rejects %s with a TypeError, and fn never runs', async (_, signal) => {
    const policy = timeout(1_000, { clock: new TestClock() });
    let ran = false;
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = policy.execute(() => (ran = true), { signal: signal as AbortSignal });
    }).not.toThrow();
    await expect(result).rejects.toThrow(TypeError);
    await expect(result).rejects.toThrow(/"signal"/);
    expect(ran).toBe(false);
  });

  it('takes an AbortSignal, and a look-alike with a boolean aborted and addEventListener', () => {
    expect(isAbortSignal(new AbortController().signal)).toBe(true);
    expect(isAbortSignal(AbortSignal.abort())).toBe(true);
    expect(isAbortSignal({ aborted: false, addEventListener: listen })).toBe(true);
    for (const [, value] of notSignals) expect(isAbortSignal(value)).toBe(false);
    // Nor null (a foreign policy's context may carry signal: null), without reading a property of it.
    expect(isAbortSignal(null)).toBe(false);
    expect(isAbortSignal(undefined)).toBe(false);
  });
});
