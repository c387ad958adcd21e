// Sliding windows of call outcomes for trip mode B. Both keep running totals, so recording a
// call and reading the ratios is O(1); the ring only exists to know what to subtract.

export interface WindowTotals {
  calls: number;
  failures: number;
  slowCalls: number;
}

type Entry = readonly [ageMs: number, calls: number, failures: number, slowCalls: number];

export interface OutcomeWindow extends WindowTotals {
  readonly kind: 'calls' | 'time';
  /** Adds one completed call at time `now` (ignored by a count window). */
  record(now: number, failed: boolean, slow: boolean): void;
  /** Forgets everything (the breaker closed again). */
  reset(): void;
  /** Totals as of `now`, without changing the window (reads must have no side effects). */
  view(now: number): WindowTotals;
  /** Oldest first, ages relative to `now`. */
  snapshot(now: number): Entry[];
  /** Replaces the contents with a snapshot taken elsewhere (ages relative to `now`). */
  restore(entries: readonly Entry[], now: number): void;
}

const FAILED = 1;
const SLOW = 2;

/** The last `size` calls, as a ring of outcome codes. */
export class CountWindow implements OutcomeWindow {
  readonly kind = 'calls';
  calls = 0;
  failures = 0;
  slowCalls = 0;
  private readonly ring: Uint8Array;
  /** Slot the next outcome goes to (the oldest one once the ring is full). */
  private next = 0;

  constructor(private readonly size: number) {
    this.ring = new Uint8Array(size);
  }

  record(_now: number, failed: boolean, slow: boolean): void {
    const code = (failed ? FAILED : 0) | (slow ? SLOW : 0);
    const slot = this.next;
    if (this.calls === this.size) {
      const old = this.ring[slot]!;
      this.failures -= old & FAILED;
      this.slowCalls -= old >> 1;
    } else {
      this.calls++;
    }
    this.ring[slot] = code;
    this.failures += code & FAILED;
    this.slowCalls += code >> 1;
    this.next = slot + 1 === this.size ? 0 : slot + 1;
  }

  reset(): void {
    this.ring.fill(0);
    this.next = 0;
    this.calls = this.failures = this.slowCalls = 0;
  }

  view(): WindowTotals {
    return { calls: this.calls, failures: this.failures, slowCalls: this.slowCalls };
  }

  snapshot(): Entry[] {
    const entries: Entry[] = [];
    const start = this.calls === this.size ? this.next : 0;
    for (let i = 0; i < this.calls; i++) {
      const code = this.ring[(start + i) % this.size]!;
      entries.push([0, 1, code & FAILED, code >> 1]);
    }
    return entries;
  }

  restore(entries: readonly Entry[]): void {
    this.reset();
    for (const [, calls, failures, slowCalls] of entries) {
      // An entry may stand for several calls (a snapshot of a time window): spread its
      // failures and slow calls over them so the totals are kept.
      for (let i = 0; i < calls; i++) this.record(0, i < failures, i < slowCalls);
    }
  }
}

/**
 * Calls that completed in the last `windowMs`, in `buckets` buckets of `windowMs / buckets`
 * aligned on the clock. Buckets are retired by elapsed time, not by the next call, so a window
 * idle for `windowMs` or longer is empty (peer bug cockatiel#64). A bucket holds calls for at
 * most `windowMs` after its start, so an outcome is kept for between `windowMs − bucketMs`
 * and `windowMs`.
 */
export class TimeWindow implements OutcomeWindow {
  readonly kind = 'time';
  calls = 0;
  failures = 0;
  slowCalls = 0;
  private readonly bucketMs: number;
  private readonly bucketCalls: Float64Array;
  private readonly bucketFailures: Float64Array;
  private readonly bucketSlow: Float64Array;
  /** Absolute index (time / bucketMs) of the newest bucket; -Infinity when empty. */
  private head = -Infinity;

  constructor(
    windowMs: number,
    private readonly buckets: number,
  ) {
    this.bucketMs = windowMs / buckets;
    this.bucketCalls = new Float64Array(buckets);
    this.bucketFailures = new Float64Array(buckets);
    this.bucketSlow = new Float64Array(buckets);
  }

  private slot(index: number): number {
    const slot = index % this.buckets;
    return slot < 0 ? slot + this.buckets : slot;
  }

  /** Moves the head to `now`'s bucket, retiring the buckets that fell out. Amortized O(1). */
  private roll(now: number): number {
    const index = Math.floor(now / this.bucketMs);
    const head = this.head;
    // A clock that went backwards (never a monotonic one) keeps using the newest bucket.
    if (index <= head) return this.slot(head);
    if (index - head >= this.buckets) {
      if (this.calls !== 0) this.clear();
    } else {
      for (let i = head + 1; i <= index; i++) {
        const slot = this.slot(i);
        this.calls -= this.bucketCalls[slot]!;
        this.failures -= this.bucketFailures[slot]!;
        this.slowCalls -= this.bucketSlow[slot]!;
        this.bucketCalls[slot] = this.bucketFailures[slot] = this.bucketSlow[slot] = 0;
      }
    }
    this.head = index;
    return this.slot(index);
  }

  private clear(): void {
    this.bucketCalls.fill(0);
    this.bucketFailures.fill(0);
    this.bucketSlow.fill(0);
    this.calls = this.failures = this.slowCalls = 0;
  }

  record(now: number, failed: boolean, slow: boolean): void {
    const slot = this.roll(now);
    this.bucketCalls[slot]!++;
    this.calls++;
    if (failed) {
      this.bucketFailures[slot]!++;
      this.failures++;
    }
    if (slow) {
      this.bucketSlow[slot]!++;
      this.slowCalls++;
    }
  }

  reset(): void {
    this.clear();
    this.head = -Infinity;
  }

  view(now: number): WindowTotals {
    const totals = { calls: this.calls, failures: this.failures, slowCalls: this.slowCalls };
    const expired = Math.floor(now / this.bucketMs) - this.head;
    if (expired <= 0 || this.calls === 0) return totals;
    if (expired >= this.buckets) return { calls: 0, failures: 0, slowCalls: 0 };
    // The oldest `expired` buckets would be retired by a call arriving now.
    for (let i = 1; i <= expired; i++) {
      const slot = this.slot(this.head + i);
      totals.calls -= this.bucketCalls[slot]!;
      totals.failures -= this.bucketFailures[slot]!;
      totals.slowCalls -= this.bucketSlow[slot]!;
    }
    return totals;
  }

  snapshot(now: number): Entry[] {
    const entries: Entry[] = [];
    if (this.calls === 0) return entries;
    const current = Math.max(Math.floor(now / this.bucketMs), this.head);
    for (let index = this.head - this.buckets + 1; index <= this.head; index++) {
      if (index <= current - this.buckets) continue;
      const slot = this.slot(index);
      const calls = this.bucketCalls[slot]!;
      if (calls === 0) continue;
      // Age of the bucket's start: restoring at `now − age` lands in the same relative bucket.
      const ageMs = Math.max(0, now - index * this.bucketMs);
      entries.push([ageMs, calls, this.bucketFailures[slot]!, this.bucketSlow[slot]!]);
    }
    return entries;
  }

  restore(entries: readonly Entry[], now: number): void {
    this.reset();
    for (const [ageMs, calls, failures, slowCalls] of entries) {
      const at = now - ageMs;
      // Entries arrive oldest first; one older than the window would be retired at once.
      if (Math.floor(at / this.bucketMs) <= Math.floor(now / this.bucketMs) - this.buckets) continue;
      const slot = this.roll(at);
      this.bucketCalls[slot]! += calls;
      this.bucketFailures[slot]! += failures;
      this.bucketSlow[slot]! += slowCalls;
      this.calls += calls;
      this.failures += failures;
      this.slowCalls += slowCalls;
    }
    if (this.calls !== 0) this.roll(now);
  }
}
