// sleep(), the abortable wait between retries and before an injected delay.
import { describe, expect, it } from 'vitest';
import { Scope } from '../../src/core/scope.js';
import { sleep } from '../../src/core/sleep.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

const fn = (): undefined => undefined;

describe('sleep', () => {
  it('resolves after ms of virtual time and leaves no timer', async () => {
    const clock = new TestClock();
    const wait = track(sleep(clock, 50, Scope.root(fn, undefined)));
    await clock.advance(49);
    expect(wait.status).toBe('pending');
    await clock.advance(1);
    expect(wait.status).toBe('fulfilled');
    expect(clock.pending).toBe(0);
  });

  it('rejects at once with the reason of a scope aborted before it starts, setting no timer', async () => {
    const clock = new TestClock();
    const reason = new Error('gone');
    const wait = track(sleep(clock, 50, Scope.root(fn, AbortSignal.abort(reason))));
    expect(clock.pending).toBe(0);
    await clock.advance(0);
    expect(wait.status).toBe('rejected');
    expect(wait.error).toBe(reason);
  });

  it('rejects with the reason when the scope aborts during the wait, and clears its timer', async () => {
    const clock = new TestClock();
    const controller = new AbortController();
    const wait = track(sleep(clock, 50, Scope.root(fn, controller.signal)));
    await clock.advance(10);
    controller.abort('stop');
    await clock.advance(0);
    expect(wait.status).toBe('rejected');
    expect(wait.error).toBe('stop');
    expect(clock.pending).toBe(0);
  });
});
