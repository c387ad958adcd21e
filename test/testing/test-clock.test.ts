import { describe, expect, it } from 'vitest';
import { TestClock } from '../../src/testing/index.js';

describe('TestClock', () => {
  it('starts at the given time (default 0)', () => {
    expect(new TestClock().now()).toBe(0);
    expect(new TestClock(5000).now()).toBe(5000);
  });

  it('fires due timers in deadline order, ties in creation order, with now() at each deadline', async () => {
    const clock = new TestClock(100);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => log.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`late@${clock.now()}`), 31);
    expect(clock.pending).toBe(4);
    await clock.advance(30);
    expect(log).toEqual(['a@110', 'b@110', 'c@130']);
    expect(clock.now()).toBe(130);
    expect(clock.pending).toBe(1);
  });

  it('lets code awaiting a timer run before the next timer fires', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    void (async () => {
      await sleep(10);
      log.push('after first sleep');
      await Promise.resolve();
      log.push('two hops later');
    })();
    clock.setTimeout(() => log.push('second timer'), 20);
    await clock.advance(20);
    expect(log).toEqual(['after first sleep', 'two hops later', 'second timer']);
  });

  it('fires timers scheduled by timers within the same advance', async () => {
    const clock = new TestClock();
    const at: number[] = [];
    clock.setTimeout(() => {
      at.push(clock.now());
      clock.setTimeout(() => at.push(clock.now()), 5);
    }, 5);
    await clock.advance(10);
    expect(at).toEqual([5, 10]);
    expect(clock.pending).toBe(0);
  });

  it('ends at start + ms and does not fire later timers', async () => {
    const clock = new TestClock();
    let fired = false;
    clock.setTimeout(() => (fired = true), 100);
    await clock.advance(99.5);
    expect(clock.now()).toBe(99.5);
    expect(fired).toBe(false);
  });

  it('clearTimeout removes a timer; unknown handles are ignored', async () => {
    const clock = new TestClock();
    let fired = false;
    const handle = clock.setTimeout(() => (fired = true), 1);
    clock.clearTimeout(handle);
    clock.clearTimeout({});
    await clock.advance(10);
    expect(fired).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('rejects a negative advance', async () => {
    await expect(new TestClock().advance(-1)).rejects.toThrow(RangeError);
  });

  it('runAll fires everything pending', async () => {
    const clock = new TestClock();
    let count = 0;
    clock.setTimeout(() => count++, 1e6);
    clock.setTimeout(() => count++, 1);
    await clock.runAll();
    expect(count).toBe(2);
    expect(clock.now()).toBe(1e6);
  });
});
