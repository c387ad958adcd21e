/**
 * A promise that rejects with `error` one microtask from now.
 *
 * Why not `Promise.reject(error)`: a promise rejected while it has no handler goes through
 * Node's unhandled-rejection bookkeeping (~400 ns on Node 20), and every fast-fail rejection
 * (open breaker, full bulkhead, empty bucket) would pay it, although the caller attaches its
 * handler in the same tick. Rejecting a microtask later, after that handler is attached,
 * costs about a third. A caller that never handles it still gets an unhandled rejection.
 */
export function rejectSoon(error: unknown): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    queueMicrotask(() => reject(error));
  });
}
