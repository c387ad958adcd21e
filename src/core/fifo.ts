/** A node of an intrusive FIFO: the per-call object carries its own links, so queuing allocates nothing. */
export interface FifoNode<N> {
  prev: N | undefined;
  next: N | undefined;
}

/**
 * An intrusive doubly linked FIFO: O(1) append, O(1) removal from anywhere (a waiter that
 * aborts leaves at once, not when it reaches the head), and no recursion however long it is.
 */
export class Fifo<N extends FifoNode<N>> {
  head: N | undefined = undefined;
  tail: N | undefined = undefined;

  push(node: N): void {
    if (this.tail === undefined) this.head = node;
    else {
      this.tail.next = node;
      node.prev = this.tail;
    }
    this.tail = node;
  }

  remove(node: N): void {
    const { prev, next } = node;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    node.prev = node.next = undefined;
  }
}
