import { describe, expect, it } from 'vitest';
import { currentDeadline, remainingMs, runWithDeadline, timeout, TimeoutError } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { flush, track } from '../helpers.js';

const never = (): Promise<never> => new Promise(() => {});

describe('ambient deadlines', () => {
  it('a timeout inside never waits past the deadline', async () => {
    const clock = new TestClock();
    const policy = timeout(1000, { clock });
    const events: unknown[] = [];
    policy.on('timeout', (e) => events.push(e));
    const call = track(runWithDeadline({ atMs: 300, clock }, () => policy.execute(never)));
    await clock.advance(299);
    expect(call.settled).toBe(false);
    await clock.advance(1);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect((call.error as TimeoutError).timeoutMs).toBe(300);
    expect(events).toEqual([{ timeoutMs: 300, durationMs: 300 }]);
  });

  it('a shorter timeout of its own still wins', async () => {
    const clock = new TestClock();
    const call = track(runWithDeadline({ atMs: 300, clock }, () => timeout(100, { clock }).execute(never)));
    await clock.advance(100);
    expect((call.error as TimeoutError).timeoutMs).toBe(100);
  });

  it('a spent budget times out at once and never calls fn', async () => {
    const clock = new TestClock(500);
    let called = false;
    const call = track(
      runWithDeadline({ atMs: 400, clock }, () =>
        timeout(1000, { clock }).execute(() => {
          called = true;
        }),
      ),
    );
    await flush();
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(called).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('follows the work through awaits; a tighter outer deadline wins; outside, there is none', async () => {
    const clock = new TestClock();
    expect(currentDeadline()).toBeUndefined();
    await runWithDeadline({ atMs: 200, clock }, async () => {
      await flush();
      expect(remainingMs(currentDeadline()!)).toBe(200);
      await runWithDeadline({ atMs: 900, clock }, async () => {
        await flush();
        expect(currentDeadline()!.atMs).toBe(200);
      });
      await runWithDeadline({ atMs: 50, clock }, async () => {
        expect(currentDeadline()!.atMs).toBe(50);
      });
    });
    expect(currentDeadline()).toBeUndefined();
  });
});
