/**
 * A callback the engine fires at a virtual time. One object can be scheduled again after it
 * fired (a model's recurring event costs no allocation), and a subclass may override `fire`
 * (a per-call object that is its own timer needs no closure). `time`, `seq` and `index`
 * belong to the engine: read them, never write them.
 */
export class Timer {
  /** When it fires (virtual ms). */
  time = 0;
  /** Scheduling order: timers due at the same instant fire in the order they were scheduled. */
  seq = 0;
  /** Position in the heap; -1 when not scheduled. */
  index = -1;

  constructor(readonly callback: () => void = noop) {}

  fire(): void {
    this.callback();
  }

  /** True while it waits to fire. */
  get scheduled(): boolean {
    return this.index >= 0;
  }
}

function noop(): void {}

function before(a: Timer, b: Timer): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/**
 * A binary min-heap of timers ordered by (time, seq). Every timer knows its index, so
 * cancelling one removes it in O(log n) instead of leaving a tombstone behind.
 */
export class TimerHeap {
  private readonly items: Timer[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Timer | undefined {
    return this.items[0];
  }

  push(timer: Timer): void {
    const items = this.items;
    timer.index = items.length;
    items.push(timer);
    this.up(timer.index);
  }

  pop(): Timer | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    this.removeAt(0);
    return top;
  }

  remove(timer: Timer): boolean {
    const index = timer.index;
    if (index < 0 || this.items[index] !== timer) return false;
    this.removeAt(index);
    return true;
  }

  private removeAt(index: number): void {
    const items = this.items;
    const removed = items[index]!;
    const last = items.pop()!;
    removed.index = -1;
    if (last === removed) return;
    items[index] = last;
    last.index = index;
    if (index > 0 && before(last, items[(index - 1) >> 1]!)) this.up(index);
    else this.down(index);
  }

  private up(index: number): void {
    const items = this.items;
    const timer = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!before(timer, parent)) break;
      items[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    items[index] = timer;
    timer.index = index;
  }

  private down(index: number): void {
    const items = this.items;
    const length = items.length;
    const timer = items[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && before(items[right]!, items[left]!) ? right : left;
      const childTimer = items[child]!;
      if (!before(childTimer, timer)) break;
      items[index] = childTimer;
      childTimer.index = index;
      index = child;
    }
    items[index] = timer;
    timer.index = index;
  }
}
