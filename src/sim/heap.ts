/**
 * A callback the engine fires at a virtual time. One object can be scheduled again after it
 * fired (a model's recurring event costs no allocation), and a subclass may override `fire`
 * (a per-call object that is its own timer needs no closure). `time`, `seq` and `pending`
 * belong to the engine: read them, never write them.
 *
 * @example
 * ```ts
 * import { SimulationEngine, Timer } from 'breakwater/sim';
 *
 * const engine = new SimulationEngine();
 * let ticks = 0;
 * // a recurring event: one object, scheduled again each time it fires
 * const tick = new Timer(() => {
 *   if (++ticks < 3) engine.schedule(tick, engine.now + 100);
 * });
 * engine.schedule(tick, 100);
 * await engine.run();
 * console.log(ticks, engine.now); // 3 300
 * ```
 */
export class Timer {
  /** When it fires (virtual ms). */
  time = 0;
  /** Scheduling order: timers due at the same instant fire in the order they were scheduled. */
  seq = -1;
  /** True while it waits to fire. */
  pending = false;

  /**
   * A timer not scheduled yet: hand it to `engine.schedule`.
   * @param callback What `fire` calls (a subclass that overrides `fire` may leave it out).
   */
  constructor(readonly callback: () => void = noop) {}

  /** Called by the engine at the timer's time; calls `callback`. */
  fire(): void {
    this.callback();
  }
}

function noop(): void {}

/**
 * A binary min-heap of timers ordered by (time, seq). The keys live in typed arrays beside
 * the timers, and sifting never writes to a timer object: a run touches thousands of timers
 * scattered in memory, and updating a position field in each one moved on every sift made the
 * heap a fifth of a run's time. So cancelling is lazy: the timer is marked, and its entry is
 * dropped when it reaches the top (or when cancelled entries outnumber live ones). An entry
 * is live when its timer is pending and still carries the entry's seq, so a timer scheduled
 * again simply leaves its old entry behind.
 */
export class TimerHeap {
  private times = new Float64Array(256);
  private seqs = new Float64Array(256);
  private timers: Timer[] = [];
  private count = 0;
  private stale = 0;

  /** Live timers. */
  get size(): number {
    return this.count - this.stale;
  }

  peek(): Timer | undefined {
    this.dropStale();
    return this.count === 0 ? undefined : this.timers[0];
  }

  /** Adds a timer whose `time`, `seq` are set and which is not in the heap yet. */
  push(timer: Timer): void {
    if (this.count === this.times.length) this.grow();
    timer.pending = true;
    this.up(this.count++, timer.time, timer.seq, timer);
  }

  /** Removes and returns the first timer if it is due by `untilMs` (one look at the top, not two). */
  popDue(untilMs: number): Timer | undefined {
    this.dropStale();
    if (this.count === 0 || this.times[0]! > untilMs) return undefined;
    const top = this.timers[0]!;
    this.removeTop();
    top.pending = false;
    return top;
  }

  pop(): Timer | undefined {
    this.dropStale();
    if (this.count === 0) return undefined;
    const top = this.timers[0]!;
    this.removeTop();
    top.pending = false;
    return top;
  }

  /** Cancels a pending timer; false if it already fired or was cancelled. */
  remove(timer: Timer): boolean {
    if (!timer.pending) return false;
    timer.pending = false;
    if (++this.stale > 64 && this.stale > this.count / 2) this.compact();
    return true;
  }

  private isStale(index: number): boolean {
    const timer = this.timers[index]!;
    return !timer.pending || timer.seq !== this.seqs[index];
  }

  private dropStale(): void {
    while (this.count > 0 && this.isStale(0)) {
      this.removeTop();
      this.stale--;
    }
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.times = times;
    this.seqs = seqs;
  }

  private removeTop(): void {
    const last = --this.count;
    const timer = this.timers.pop()!;
    if (last === 0) return;
    this.down(0, this.times[last]!, this.seqs[last]!, timer);
  }

  /** Keeps only live entries and restores the heap order bottom-up (Floyd), O(n). */
  private compact(): void {
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.isStale(i)) continue;
      this.times[kept] = this.times[i]!;
      this.seqs[kept] = this.seqs[i]!;
      this.timers[kept] = this.timers[i]!;
      kept++;
    }
    this.timers.length = kept;
    this.count = kept;
    this.stale = 0;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.down(i, this.times[i]!, this.seqs[i]!, this.timers[i]!);
  }

  /** Places the entry at the hole `index` or above it. */
  private up(index: number, time: number, seq: number, timer: Timer): void {
    const { times, seqs, timers } = this;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentTime = times[parent]!;
      if (time > parentTime || (time === parentTime && seq > seqs[parent]!)) break;
      times[index] = parentTime;
      seqs[index] = seqs[parent]!;
      timers[index] = timers[parent]!;
      index = parent;
    }
    times[index] = time;
    seqs[index] = seq;
    timers[index] = timer;
  }

  /** Places the entry at the hole `index` or below it. */
  private down(index: number, time: number, seq: number, timer: Timer): void {
    const { times, seqs, timers } = this;
    const count = this.count;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= count) break;
      let childTime = times[child]!;
      const right = child + 1;
      if (right < count) {
        const rightTime = times[right]!;
        if (rightTime < childTime || (rightTime === childTime && seqs[right]! < seqs[child]!)) {
          child = right;
          childTime = rightTime;
        }
      }
      if (time < childTime || (time === childTime && seq < seqs[child]!)) break;
      times[index] = childTime;
      seqs[index] = seqs[child]!;
      timers[index] = timers[child]!;
      index = child;
    }
    times[index] = time;
    seqs[index] = seq;
    timers[index] = timer;
  }
}
