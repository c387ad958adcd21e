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
 * A binary min-heap of timers ordered by (time, seq). A run pushes and pops millions of
 * timers, so the heap is laid out for that:
 *
 * - The keys live in typed arrays, and so does the heap order itself: a heap position holds a
 *   slot number, and each timer sits in one slot of `timers` from its push until its pop. A
 *   sift moves numbers only. Moving the timers themselves (a long-lived array holding young
 *   objects) cost a write barrier per move: an eighth of a run's instructions. (A 4-ary heap
 *   was tried too: it moves fewer entries but compares more, and counted 5 % more
 *   instructions per push and pop at 120 and at 10,000 timers.)
 * - Cancelling is lazy: the timer is marked, and its entry is dropped when it reaches the top
 *   (or when cancelled entries outnumber live ones). An entry is live when its timer is
 *   pending and still carries the entry's seq, so a timer scheduled again simply leaves its
 *   old entry behind.
 *
 * (time, seq) is a total order (seq is unique), so the pop order does not depend on the
 * heap's layout: any correct heap gives the same run.
 */
export class TimerHeap {
  private times = new Float64Array(256);
  private seqs = new Float64Array(256);
  /** Heap position → slot in `timers`. */
  private order = new Int32Array(256);
  /** Slot → the timer of the entry that holds it (undefined once popped). */
  private readonly timers: Array<Timer | undefined> = [];
  /** Slots released by pops, reused before new ones. */
  private freeSlots = new Int32Array(256);
  private free = 0;
  private count = 0;
  private stale = 0;

  /** Live timers. */
  get size(): number {
    return this.count - this.stale;
  }

  /** Adds a timer whose `time`, `seq` are set and which is not in the heap yet. */
  push(timer: Timer): void {
    if (this.count === this.times.length) this.grow();
    timer.pending = true;
    let slot: number;
    if (this.free > 0) {
      slot = this.freeSlots[--this.free]!;
      this.timers[slot] = timer;
    } else {
      slot = this.timers.length;
      this.timers.push(timer);
    }
    const index = this.count++;
    this.times[index] = timer.time;
    this.seqs[index] = timer.seq;
    this.order[index] = slot;
    this.up(index);
  }

  /** Removes and returns the first timer if it is due by `untilMs` (one look at the top, not two). */
  popDue(untilMs: number): Timer | undefined {
    this.dropStale();
    if (this.count === 0 || this.times[0]! > untilMs) return undefined;
    const top = this.removeTop();
    top.pending = false;
    return top;
  }

  /** Removes and returns the first timer, due or not. */
  pop(): Timer | undefined {
    return this.popDue(Infinity);
  }

  /** Cancels a pending timer; false if it already fired or was cancelled. */
  remove(timer: Timer): boolean {
    if (!timer.pending) return false;
    timer.pending = false;
    if (++this.stale > 64 && this.stale > this.count / 2) this.compact();
    return true;
  }

  private isStale(index: number): boolean {
    const timer = this.timers[this.order[index]!]!;
    return !timer.pending || timer.seq !== this.seqs[index];
  }

  private dropStale(): void {
    while (this.count > 0 && this.isStale(0)) {
      this.removeTop();
      this.stale--;
    }
  }

  private grow(): void {
    const size = this.times.length * 2;
    const times = new Float64Array(size);
    times.set(this.times);
    const seqs = new Float64Array(size);
    seqs.set(this.seqs);
    const order = new Int32Array(size);
    order.set(this.order);
    const freeSlots = new Int32Array(size);
    freeSlots.set(this.freeSlots);
    this.times = times;
    this.seqs = seqs;
    this.order = order;
    this.freeSlots = freeSlots;
  }

  /** Takes the top entry out, releases its slot and returns its timer. */
  private removeTop(): Timer {
    const slot = this.order[0]!;
    const timer = this.timers[slot]!;
    this.timers[slot] = undefined;
    this.freeSlots[this.free++] = slot;
    const last = --this.count;
    if (last > 0) {
      this.times[0] = this.times[last]!;
      this.seqs[0] = this.seqs[last]!;
      this.order[0] = this.order[last]!;
      this.down(0);
    }
    return timer;
  }

  /** Keeps only live entries and restores the heap order bottom-up (Floyd), O(n). */
  private compact(): void {
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = this.order[i]!;
      if (this.isStale(i)) {
        this.timers[slot] = undefined;
        this.freeSlots[this.free++] = slot;
        continue;
      }
      this.times[kept] = this.times[i]!;
      this.seqs[kept] = this.seqs[i]!;
      this.order[kept] = slot;
      kept++;
    }
    this.count = kept;
    this.stale = 0;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.down(i);
  }

  // `up` and `down` take positions only and read the entry's key there: a double passed to a
  // call V8 does not inline is boxed, one allocation per sift.

  /** Moves the entry at `index` up to its place. */
  private up(index: number): void {
    const { times, seqs, order } = this;
    const time = times[index]!;
    const seq = seqs[index]!;
    const slot = order[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentTime = times[parent]!;
      if (time > parentTime || (time === parentTime && seq > seqs[parent]!)) break;
      times[index] = parentTime;
      seqs[index] = seqs[parent]!;
      order[index] = order[parent]!;
      index = parent;
    }
    times[index] = time;
    seqs[index] = seq;
    order[index] = slot;
  }

  /** Moves the entry at `index` down to its place. */
  private down(index: number): void {
    const { times, seqs, order } = this;
    const time = times[index]!;
    const seq = seqs[index]!;
    const slot = order[index]!;
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
      order[index] = order[child]!;
      index = child;
    }
    times[index] = time;
    seqs[index] = seq;
    order[index] = slot;
  }
}
