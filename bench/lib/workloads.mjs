// The user functions every row wraps, and the four workloads of the throughput suite.

/** Resolves at once (an in-memory cache hit, a pre-computed answer). */
export const immediate = async () => 1;
/** Same, but reads `ctx.signal` as a cancellable client would (costs an AbortSignal where one is lazy). */
export const immediateReadsSignal = async (ctx) => {
  if (ctx.signal.aborted) throw ctx.signal.reason;
  return 1;
};

/** Resolves on the next turn of the event loop: the cheapest truly asynchronous I/O-like call. */
export const nextTurn = () => new Promise((resolve) => setImmediate(resolve, 1));
export const nextTurnReadsSignal = (ctx) => {
  if (ctx.signal.aborted) return Promise.reject(ctx.signal.reason);
  return new Promise((resolve) => setImmediate(resolve, 1));
};

/**
 * `batch` calls per tinybench iteration: launched together and awaited with Promise.all when
 * `inFlight` is 100, or awaited one after the other when it is 1. Either way the per-iteration
 * harness cost is amortised over `batch` calls and every figure is reported per call.
 */
export const workloads = [
  { id: 'immediate/100', title: 'fn resolves at once, 100 calls in flight', fn: immediate, fnReadsSignal: immediateReadsSignal, inFlight: 100, batch: 100 },
  { id: 'immediate/1', title: 'fn resolves at once, one call at a time', fn: immediate, fnReadsSignal: immediateReadsSignal, inFlight: 1, batch: 100 },
  { id: 'setImmediate/100', title: 'fn awaits setImmediate, 100 calls in flight', fn: nextTurn, fnReadsSignal: nextTurnReadsSignal, inFlight: 100, batch: 100 },
  { id: 'setImmediate/1', title: 'fn awaits setImmediate, one call at a time', fn: nextTurn, fnReadsSignal: nextTurnReadsSignal, inFlight: 1, batch: 100 },
];

/** The workload the targets are judged on. */
export const TARGET_WORKLOAD = 'immediate/100';
