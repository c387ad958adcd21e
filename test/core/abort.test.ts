import { describe, expect, it } from 'vitest';
import { onAbort } from '../../src/core/abort.js';
import { getEventListeners } from '../helpers.js';

describe('onAbort', () => {
  it('puts one listener on a signal however many callbacks subscribe, and removes it with the last', () => {
    const controller = new AbortController();
    const removers = Array.from({ length: 5 }, () => onAbort(controller.signal, () => {}));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    removers.slice(0, 4).forEach((remove) => remove());
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    removers[4]!();
    removers[4]!();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    onAbort(controller.signal, () => {})();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('calls every remaining callback once, in subscription order, with the reason', () => {
    const controller = new AbortController();
    const seen: string[] = [];
    onAbort(controller.signal, (r) => seen.push(`a:${String(r)}`));
    const removeB = onAbort(controller.signal, () => seen.push('b'));
    onAbort(controller.signal, (r) => {
      seen.push(`c:${String(r)}`);
      removeD(); // removed during the dispatch: it must not fire
    });
    const removeD = onAbort(controller.signal, () => seen.push('d'));
    removeB();
    controller.abort('why');
    expect(seen).toEqual(['a:why', 'c:why']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('subscribes 100,000 callbacks to one signal in linear time and fires them all', () => {
    const controller = new AbortController();
    let fired = 0;
    // Quadratic subscription (Node's own list: ~33 s for this) would blow the test timeout.
    for (let i = 0; i < 100_000; i++) onAbort(controller.signal, () => fired++);
    controller.abort();
    expect(fired).toBe(100_000);
  });

  it('ignores undefined and already-aborted signals', () => {
    let called = false;
    onAbort(undefined, () => (called = true))();
    onAbort(AbortSignal.abort(), () => (called = true))();
    expect(called).toBe(false);
  });
});
