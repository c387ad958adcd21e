// Counts AbortControllers and setTimeout calls per call by patching the globals before any
// library loads, and checks that no listener stays on the caller's signal afterwards.
// Run: node bench/allocations.mjs
import { getEventListeners } from 'node:events';

let controllers = 0;
let timers = 0;
const OriginalController = globalThis.AbortController;
globalThis.AbortController = class CountedAbortController extends OriginalController {
  constructor() {
    super();
    controllers++;
  }
};
const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = function countedSetTimeout(...args) {
  timers++;
  return originalSetTimeout.apply(this, args);
};

const { bw, missing } = await import('./lib/bw.mjs');
const ck = await import('cockatiel');
const { emit } = await import('./lib/child.mjs');
const { immediate, immediateReadsSignal } = await import('./lib/workloads.mjs');
const { fourPolicies } = await import('./lib/breakwater.mjs');

const CALLS = 1_000;
const wrapped = () =>
  ck.wrap(
    ck.retry(ck.handleAll, { maxAttempts: 3 }),
    ck.circuitBreaker(ck.handleAll, { halfOpenAfter: 60_000, breaker: new ck.ConsecutiveBreaker(5) }),
    ck.bulkhead(1_000, 0),
    ck.timeout(10_000, ck.TimeoutStrategy.Aggressive),
  );
const all4 = missing('pipeline', 'retry', 'circuitBreaker', 'bulkhead', 'timeout');

const cases = [
  { id: 'bw.pipeline', lib: 'breakwater', label: 'pipeline(retry, circuitBreaker, bulkhead, timeout), fn ignores ctx.signal', unavailable: all4, make: fourPolicies, fn: immediate },
  { id: 'bw.pipelineSignal', lib: 'breakwater', label: 'same, fn reads ctx.signal', unavailable: all4, make: fourPolicies, fn: immediateReadsSignal },
  { id: 'bw.pipelineSignalCaller', lib: 'breakwater', label: 'same, fn reads ctx.signal, caller passes a signal', unavailable: all4, make: fourPolicies, fn: immediateReadsSignal, callerSignal: true },
  { id: 'bw.timeout', lib: 'breakwater', label: 'timeout, fn ignores ctx.signal', unavailable: missing('timeout'), make: () => bw.timeout(10_000), fn: immediate },
  { id: 'bw.timeoutSignal', lib: 'breakwater', label: 'timeout, fn reads ctx.signal', unavailable: missing('timeout'), make: () => bw.timeout(10_000), fn: immediateReadsSignal },
  { id: 'bw.timeoutSequential', lib: 'breakwater', label: 'timeout, fn ignores ctx.signal, one call at a time', unavailable: missing('timeout'), make: () => bw.timeout(10_000), fn: immediate, sequential: true },
  { id: 'bw.retrySignal', lib: 'breakwater', label: 'retry, fn reads ctx.signal', unavailable: missing('retry'), make: () => bw.retry({ maxRetries: 3 }), fn: immediateReadsSignal },
  { id: 'bw.retrySignalCaller', lib: 'breakwater', label: 'retry, fn reads ctx.signal, caller passes a signal', unavailable: missing('retry'), make: () => bw.retry({ maxRetries: 3 }), fn: immediateReadsSignal, callerSignal: true },
  { id: 'ck.wrap', lib: 'cockatiel', label: 'wrap(retry, circuitBreaker, bulkhead, timeout), fn ignores signal', make: wrapped, fn: immediate },
  { id: 'ck.wrapSignal', lib: 'cockatiel', label: 'same, fn reads signal', make: wrapped, fn: immediateReadsSignal },
  { id: 'ck.timeout', lib: 'cockatiel', label: 'timeout (Aggressive), fn ignores signal', make: () => ck.timeout(10_000, ck.TimeoutStrategy.Aggressive), fn: immediate },
];

const results = [];
for (const c of cases) {
  if (c.unavailable) {
    results.push({ id: c.id, lib: c.lib, label: c.label, unavailable: c.unavailable });
    continue;
  }
  const policy = c.make();
  const caller = c.callerSignal ? new OriginalController() : undefined;
  const options = caller ? { signal: caller.signal } : undefined;
  await policy.execute(c.fn, options); // lazily created per-policy state is not per call
  controllers = 0;
  timers = 0;
  if (c.sequential) {
    for (let i = 0; i < CALLS; i++) await policy.execute(c.fn, options);
  } else {
    for (let i = 0; i < CALLS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, () => policy.execute(c.fn, options)));
    }
  }
  const leftOnCaller = caller ? getEventListeners(caller.signal, 'abort').length : 0;
  results.push({
    id: c.id,
    lib: c.lib,
    label: c.label,
    controllersPerCall: controllers / CALLS,
    timersPerCall: timers / CALLS,
    listenersLeftOnCallerSignal: leftOnCaller,
  });
}

emit({ calls: CALLS, results });
process.exit(0);
