// DeadlineQueue, the one-timer list of deadlines behind timeout, queue waits and hedges: the order
// entries expire in, the timer it keeps (one, for the head), and what it asks of the clock.
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { DeadlineEntry, DeadlineQueue } from '../../src/core/deadlines.js';
import { TestClock } from '../../src/testing/index.js';

class Named extends DeadlineEntry {
  constructor(
    readonly label: string,
    readonly expired: string[],
    readonly onExpire: () => void = () => {},
  ) {
    super();
  }
  expire(): void {
    this.expired.push(this.label);
    this.onExpire();
  }
}

/** A TestClock that records every handle it is asked to clear. */
function clearingClock(): { clock: TestClock & Clock; cleared: unknown[] } {
  const clock = new TestClock();
  const cleared: unknown[] = [];
  const clear = clock.clearTimeout.bind(clock);
  clock.clearTimeout = (handle: unknown) => {
    cleared.push(handle);
    clear(handle);
  };
  return { clock, cleared };
}

describe('DeadlineQueue', () => {
  it('expires entries in deadline order whatever order they were added in, with one timer', async () => {
    const clock = new TestClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    // 30 at the tail, 10 before the head, 20 in the middle, 40 at the tail again.
    for (const [label, at] of [['30', 30], ['10', 10], ['20', 20], ['40', 40]] as const) queue.add(new Named(label, expired), at);
    expect(queue.length).toBe(4);
    expect(clock.pending).toBe(1);
    await clock.advance(10);
    expect(expired).toEqual(['10']);
    await clock.advance(10);
    expect(expired).toEqual(['10', '20']);
    await clock.advance(20);
    expect(expired).toEqual(['10', '20', '30', '40']);
    expect(queue.length).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('keeps the links whole when the old head of an entry added in front of it leaves', async () => {
    const clock = new TestClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    const later = new Named('later', expired);
    queue.add(later, 10);
    queue.add(new Named('sooner', expired), 5);
    queue.remove(later);
    expect(queue.length).toBe(1);
    await clock.advance(5);
    expect(expired).toEqual(['sooner']);
    expect(clock.pending).toBe(0);
  });

  it('keeps the tail right after an insert in the middle', async () => {
    const clock = new TestClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    const last = new Named('30', expired);
    queue.add(new Named('10', expired), 10);
    queue.add(last, 30);
    queue.add(new Named('20', expired), 20);
    // The tail is still 30: removing it must leave 20 last, and an entry added now goes after 20.
    queue.remove(last);
    queue.add(new Named('25', expired), 25);
    await clock.advance(30);
    expect(expired).toEqual(['10', '20', '25']);
    expect(queue.length).toBe(0);
  });

  it('expires entries with equal deadlines in the order they were added, without touching the timer', async () => {
    // Calls started in the same millisecond share a deadline: each must not re-arm the timer.
    const { clock, cleared } = clearingClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    for (const label of ['a', 'b', 'c']) queue.add(new Named(label, expired), 10);
    expect(cleared).toEqual([]);
    expect(clock.pending).toBe(1);
    await clock.advance(10);
    expect(expired).toEqual(['a', 'b', 'c']);
  });

  it('counts only what is queued: removing an entry twice, or one never added, changes nothing', async () => {
    const clock = new TestClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    const kept = new Named('kept', expired);
    const gone = new Named('gone', expired);
    queue.add(kept, 10);
    queue.add(gone, 20);
    queue.remove(gone);
    queue.remove(gone);
    queue.remove(new Named('stranger', expired));
    expect(queue.length).toBe(1);
    await clock.advance(20);
    expect(expired).toEqual(['kept']);
    expect(queue.length).toBe(0);
  });

  it('moves its one timer to an earlier deadline, and clears it when the last entry leaves', async () => {
    const { clock, cleared } = clearingClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    const late = new Named('late', expired);
    const early = new Named('early', expired);
    queue.add(late, 20);
    expect(cleared).toEqual([]);
    queue.add(early, 10);
    expect(clock.pending).toBe(1);
    expect(cleared).toHaveLength(1);
    queue.remove(early);
    queue.remove(late);
    expect(clock.pending).toBe(0);
    expect(cleared).toHaveLength(2);
    // It never asks the clock to clear a timer it does not hold.
    expect(cleared).not.toContain(undefined);
    await clock.advance(20);
    expect(expired).toEqual([]);
  });

  it('never clears a timer it does not hold when its last entry expires or leaves', async () => {
    const { clock, cleared } = clearingClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    queue.add(new Named('a', expired), 10);
    await clock.advance(10);
    expect(expired).toEqual(['a']);
    const b = new Named('b', expired);
    queue.add(b, 20);
    queue.remove(b);
    expect(cleared).not.toContain(undefined);
    expect(clock.pending).toBe(0);
  });

  it('re-arms for the entry left at the head when an expiry adds a later one', async () => {
    const clock = new TestClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    queue.add(new Named('10', expired, () => queue.add(new Named('40', expired), 40)), 10);
    queue.add(new Named('20', expired), 20);
    await clock.advance(10);
    expect(expired).toEqual(['10']);
    await clock.advance(10);
    expect(expired).toEqual(['10', '20']);
    await clock.advance(20);
    expect(expired).toEqual(['10', '20', '40']);
    expect(clock.pending).toBe(0);
  });

  it('leaves the timer alone when an expiry adds the entry that becomes the head', async () => {
    const { clock, cleared } = clearingClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    queue.add(new Named('10', expired, () => queue.add(new Named('15', expired), 15)), 10);
    queue.add(new Named('20', expired), 20);
    await clock.advance(10);
    // The new entry armed the timer for 15, the head's own deadline: nothing to move.
    expect(cleared).toEqual([]);
    expect(clock.pending).toBe(1);
    await clock.advance(5);
    expect(expired).toEqual(['10', '15']);
    await clock.advance(5);
    expect(expired).toEqual(['10', '15', '20']);
  });

  it('goes on expiring the others when an expiry handler throws', async () => {
    const clock = new TestClock();
    const queue = new DeadlineQueue(clock);
    const expired: string[] = [];
    queue.add(new Named('throws', expired, () => { throw new Error('handler'); }), 10);
    queue.add(new Named('next', expired), 10);
    await clock.advance(10);
    expect(expired).toEqual(['throws', 'next']);
  });
});
