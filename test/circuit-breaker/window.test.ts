import { describe, expect, it } from 'vitest';
import { CountWindow, TimeWindow } from '../../src/circuit-breaker/window.js';

describe('CountWindow', () => {
  it('keeps running totals of the last N outcomes', () => {
    const w = new CountWindow(3);
    w.record(0, true, false);
    w.record(0, false, true);
    w.record(0, true, true);
    expect([w.calls, w.failures, w.slowCalls]).toEqual([3, 2, 2]);
    w.record(0, false, false); // evicts the first (failed)
    expect([w.calls, w.failures, w.slowCalls]).toEqual([3, 1, 2]);
    expect(w.snapshot()).toEqual([
      [0, 1, 0, 1],
      [0, 1, 1, 1],
      [0, 1, 0, 0],
    ]);
    w.reset();
    expect(w.view()).toEqual({ calls: 0, failures: 0, slowCalls: 0 });
  });

  it('restores a snapshot, keeping only the newest N', () => {
    const w = new CountWindow(2);
    w.restore([
      [0, 1, 1, 0],
      [0, 1, 0, 0],
      [0, 1, 1, 1],
    ]);
    expect(w.view()).toEqual({ calls: 2, failures: 1, slowCalls: 1 });
  });
});

describe('TimeWindow', () => {
  it('retires buckets by elapsed time; view is pure', () => {
    const w = new TimeWindow(100, 4); // 25 ms buckets
    w.record(0, true, false);
    w.record(30, false, true);
    w.record(60, true, false);
    expect(w.view(99)).toEqual({ calls: 3, failures: 2, slowCalls: 1 });
    expect(w.view(100)).toEqual({ calls: 2, failures: 1, slowCalls: 1 }); // bucket [0,25) retired
    expect(w.view(125)).toEqual({ calls: 1, failures: 1, slowCalls: 0 });
    expect(w.view(10_000)).toEqual({ calls: 0, failures: 0, slowCalls: 0 });
    expect([w.calls, w.failures]).toEqual([3, 2]); // view changed nothing
    w.record(125, false, false);
    expect(w.view(125)).toEqual({ calls: 2, failures: 1, slowCalls: 0 });
  });

  it('a clock going backwards keeps using the newest bucket', () => {
    const w = new TimeWindow(100, 4);
    w.record(90, true, false);
    w.record(10, true, false);
    expect(w.view(90).calls).toBe(2);
    expect(w.view(174).calls).toBe(2); // the newest bucket started at 75
    expect(w.view(175).calls).toBe(0);
  });

  it('snapshot ages restore into the same relative buckets at another clock origin', () => {
    const w = new TimeWindow(100, 4);
    w.record(1000, true, false);
    w.record(1060, false, false);
    const snap = w.snapshot(1070);
    expect(snap).toEqual([
      [70, 1, 1, 0],
      [20, 1, 0, 0],
    ]);
    const r = new TimeWindow(100, 4);
    r.restore(snap, 70); // "now" is 70 in the other process
    expect(r.view(70)).toEqual({ calls: 2, failures: 1, slowCalls: 0 });
    expect(r.view(100)).toEqual({ calls: 1, failures: 0, slowCalls: 0 });
    const stale = new TimeWindow(100, 4);
    stale.restore([[500, 3, 3, 0]], 1000);
    expect(stale.view(1000).calls).toBe(0);
  });
});
