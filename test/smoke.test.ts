import { describe, expect, it } from 'vitest';
import { pipeline, retry, timeout, fallback, constantBackoff, TimeoutError } from '../src/index.js';
import { TestClock } from '../src/testing/index.js';
import { track } from './helpers.js';

describe('smoke', () => {
  it('composes', async () => {
    const clock = new TestClock();
    let calls = 0;
    const p = pipeline(
      fallback('fb'),
      retry({ maxRetries: 2, backoff: constantBackoff(10), clock }),
      timeout(100, { clock }),
    );
    const result = p.execute(() => {
      calls++;
      return new Promise(() => {});
    });
    await clock.advance(100 + 10 + 100 + 10 + 100);
    await expect(result).resolves.toBe('fb');
    expect(calls).toBe(3);
    expect(clock.pending).toBe(0);
    const late = track(timeout(5, { clock }).execute(() => new Promise(() => {})));
    await clock.advance(5);
    expect(late.error).toBeInstanceOf(TimeoutError);
  });
});
