import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/index.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock', () => {
  it('is monotonic milliseconds', () => {
    const a = systemClock.now();
    const b = systemClock.now();
    expect(b).toBeGreaterThanOrEqual(a);
  });

  it('fires and clears ordinary timers', async () => {
    let fired = 0;
    await new Promise<void>((resolve) => systemClock.setTimeout(() => resolve(void fired++), 1));
    const handle = systemClock.setTimeout(() => fired++, 1);
    systemClock.clearTimeout(handle);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(fired).toBe(1);
  });

  it('never fires a wait longer than 2^31-1 ms early (Node would fire it after 1 ms)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = false;
    const longMs = 2 ** 31 + 5000;
    systemClock.setTimeout(() => (fired = true), longMs);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(false);
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(fired).toBe(false);
    vi.advanceTimersByTime(longMs - 2 ** 31 - 1);
    expect(fired).toBe(false);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(true);
  });

  it('clears a long timer at any stage', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = false;
    const handle = systemClock.setTimeout(() => (fired = true), 2 ** 32);
    vi.advanceTimersByTime(2 ** 31);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(2 ** 32);
    expect(fired).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
