import type { Clock } from './clock.js';

/**
 * A pending deadline. Subclass it: the entry is usually the per-call object itself, so
 * tracking a deadline allocates nothing extra.
 */
export abstract class DeadlineEntry {
  deadline = 0;
  /** @internal */ prevEntry: DeadlineEntry | undefined = undefined;
  /** @internal */ nextEntry: DeadlineEntry | undefined = undefined;
  /** @internal */ queued = false;
  /** Called once when the deadline passes while the entry is still queued. */
  abstract expire(): void;
}

/**
 * Many deadlines, one timer. A policy with a fixed duration (timeout, queue wait) adds
 * deadlines in non-decreasing order, so the list stays sorted with O(1) insert at the tail
 * and O(1) removal anywhere. The clock timer is armed for the head only; removing the head
 * leaves it armed (it re-arms for the new head when it fires) unless the list empties, in
 * which case it is cleared so no timer outlives the calls that needed it.
 */
export class DeadlineQueue {
  private head: DeadlineEntry | undefined = undefined;
  private tail: DeadlineEntry | undefined = undefined;
  private timer: unknown = undefined;
  private armedFor = Infinity;
  private size = 0;

  constructor(private readonly clock: Clock) {}

  get length(): number {
    return this.size;
  }

  add(entry: DeadlineEntry, deadline: number): void {
    entry.deadline = deadline;
    entry.queued = true;
    this.size++;
    // Walk back from the tail: O(1) when deadlines arrive in order (the usual case).
    let after = this.tail;
    while (after !== undefined && after.deadline > deadline) after = after.prevEntry;
    if (after === undefined) {
      entry.prevEntry = undefined;
      entry.nextEntry = this.head;
      if (this.head !== undefined) this.head.prevEntry = entry;
      else this.tail = entry;
      this.head = entry;
    } else {
      entry.prevEntry = after;
      entry.nextEntry = after.nextEntry;
      if (after.nextEntry !== undefined) after.nextEntry.prevEntry = entry;
      else this.tail = entry;
      after.nextEntry = entry;
    }
    if (deadline < this.armedFor) this.arm(deadline);
  }

  remove(entry: DeadlineEntry): void {
    if (!entry.queued) return;
    entry.queued = false;
    this.size--;
    const { prevEntry, nextEntry } = entry;
    if (prevEntry !== undefined) prevEntry.nextEntry = nextEntry;
    else this.head = nextEntry;
    if (nextEntry !== undefined) nextEntry.prevEntry = prevEntry;
    else this.tail = prevEntry;
    entry.prevEntry = entry.nextEntry = undefined;
    if (this.head === undefined) this.disarm();
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, deadline - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.armedFor = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    let entry = this.head;
    while (entry !== undefined && entry.deadline <= now) {
      this.remove(entry);
      try {
        entry.expire();
      } catch {
        // An expiry handler must not stop the others from expiring.
      }
      entry = this.head;
    }
    // An expiry handler may have added an entry, which armed the timer for its own (later)
    // deadline: the head that is left may come before that, so compare, not just test for a timer.
    if (this.head !== undefined && this.head.deadline < this.armedFor) this.arm(this.head.deadline);
  };
}
