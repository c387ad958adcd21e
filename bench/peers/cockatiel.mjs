// cockatiel 4 (ESM-only). Aggressive timeouts: like breakwater's, they reject without waiting for fn.
import * as ck from 'cockatiel';

const noop = () => {};
const breaker = (failures = 5, halfOpenAfter = 60_000) =>
  ck.circuitBreaker(ck.handleAll, { halfOpenAfter, breaker: new ck.ConsecutiveBreaker(failures) });
const wrapped = () =>
  ck.wrap(
    ck.retry(ck.handleAll, { maxAttempts: 3 }),
    breaker(),
    ck.bulkhead(1_000, 0),
    ck.timeout(10_000, ck.TimeoutStrategy.Aggressive),
  );

export const cockatielRows = [
  {
    id: 'ck.breaker', group: 'breaker', lib: 'cockatiel', label: 'circuitBreaker (ConsecutiveBreaker, closed)',
    setup: (w) => { const p = breaker(); return () => p.execute(w.fn); },
  },
  {
    id: 'ck.breakerOpen', group: 'breaker-open', lib: 'cockatiel', label: 'circuitBreaker (open: rejects)',
    rejects: true, expectError: (e) => ck.isBrokenCircuitError(e),
    setup: async (w) => {
      // Open for an hour: the full run must not see it go half-open (and then closed) midway.
      const p = breaker(1, 3_600_000);
      await p.execute(() => Promise.reject(new Error('trip'))).catch(noop);
      if (p.state !== ck.CircuitState.Open) throw new Error('cockatiel breaker did not open');
      return () => p.execute(w.fn);
    },
  },
  {
    id: 'ck.bulkhead', group: 'bulkhead', lib: 'cockatiel', label: 'bulkhead(1000, 0)',
    setup: (w) => { const p = ck.bulkhead(1_000, 0); return () => p.execute(w.fn); },
  },
  {
    id: 'ck.retry', group: 'retry', lib: 'cockatiel', label: 'retry (maxAttempts 3, no failure)',
    setup: (w) => { const p = ck.retry(ck.handleAll, { maxAttempts: 3 }); return () => p.execute(w.fn); },
  },
  {
    id: 'ck.timeout', group: 'timeout', lib: 'cockatiel', label: 'timeout(10 s, Aggressive), fn ignores signal',
    setup: (w) => { const p = ck.timeout(10_000, ck.TimeoutStrategy.Aggressive); return () => p.execute(w.fn); },
  },
  {
    id: 'ck.timeoutSignal', group: 'timeout-signal', lib: 'cockatiel', label: 'timeout(10 s, Aggressive), fn reads signal',
    setup: (w) => { const p = ck.timeout(10_000, ck.TimeoutStrategy.Aggressive); return () => p.execute(w.fnReadsSignal); },
  },
  {
    id: 'ck.fallback', group: 'fallback', lib: 'cockatiel', label: 'fallback (no failure)',
    setup: (w) => { const p = ck.fallback(ck.handleAll, 0); return () => p.execute(w.fn); },
  },
  {
    id: 'ck.wrap', group: 'pipeline', lib: 'cockatiel', label: 'wrap(retry, circuitBreaker, bulkhead, timeout), fn ignores signal',
    setup: (w) => { const p = wrapped(); return () => p.execute(w.fn); },
  },
  {
    id: 'ck.wrapSignal', group: 'pipeline-signal', lib: 'cockatiel', label: 'wrap(retry, circuitBreaker, bulkhead, timeout), fn reads signal',
    setup: (w) => { const p = wrapped(); return () => p.execute(w.fnReadsSignal); },
  },
];
