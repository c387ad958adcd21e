// breakwater's rows. Every setup builds fresh policies for its workload.
import { bw, missing } from './bw.mjs';

const noop = () => {};
const FLOOR_ERROR = new Error('floor');
const only100 = ['immediate/100'];

const breaker = () => bw.circuitBreaker({ halfOpenAfterMs: 60_000 });
/** The four-policy pipeline the targets name; the allocation check measures the same one. */
export const fourPolicies = () =>
  bw.pipeline(
    bw.retry({ maxRetries: 3 }),
    bw.circuitBreaker({ halfOpenAfterMs: 60_000 }),
    bw.bulkhead({ maxConcurrent: 1_000 }),
    bw.timeout(10_000),
  );
const isA = (name) => (error) => typeof bw[name] === 'function' && error instanceof bw[name];

/** Attaches a listener to every event a policy may emit, then detaches them all. */
function attachAndDetach(policy) {
  const offs = ['success', 'failure', 'rejected', 'stateChange', 'timeout', 'retry'].map((e) => {
    try {
      return policy.on(e, noop);
    } catch {
      return noop;
    }
  });
  for (const off of offs) off();
  return policy;
}

export const breakwaterRows = [
  {
    id: 'bw.breaker', group: 'breaker', lib: 'breakwater', label: 'circuitBreaker (closed)',
    unavailable: missing('circuitBreaker'),
    setup: (w) => { const p = breaker(); return () => p.execute(w.fn); },
  },
  {
    id: 'bw.breakerOpen', group: 'breaker-open', lib: 'breakwater', label: 'circuitBreaker (open: rejects)',
    rejects: true, expectError: isA('CircuitOpenError'),
    unavailable: missing('circuitBreaker'),
    setup: async (w) => {
      const p = bw.circuitBreaker({ halfOpenAfterMs: 3_600_000, consecutiveFailures: 1 });
      await p.execute(() => Promise.reject(new Error('trip'))).catch(noop);
      if (p.state !== 'open') throw new Error(`breaker did not open (state ${p.state})`);
      return () => p.execute(w.fn);
    },
  },
  {
    // What any rejecting row pays before the policy does anything: Node tracks a promise that
    // rejects before it has a handler (unhandled-rejection bookkeeping) and untracks it when
    // the caller's handler arrives.
    id: 'floor.reject', group: 'breaker-open', lib: '—', label: 'bare `Promise.reject(err)`: the floor of any rejection',
    rejects: true, expectError: (error) => error === FLOOR_ERROR,
    setup: () => () => Promise.reject(FLOOR_ERROR),
  },
  {
    id: 'bw.bulkhead', group: 'bulkhead', lib: 'breakwater', label: 'bulkhead (maxConcurrent 1000)',
    unavailable: missing('bulkhead'),
    setup: (w) => { const p = bw.bulkhead({ maxConcurrent: 1_000 }); return () => p.execute(w.fn); },
  },
  {
    // The default estimator (a windowed Gradient2), pinned at 1000 so that no row ever waits:
    // what it costs to time every call and feed the estimator, next to the fixed bulkhead.
    id: 'bw.adaptive', group: 'bulkhead', lib: 'breakwater', label: 'adaptiveConcurrency (windowed Gradient2 pinned at 1000)',
    unavailable: missing('adaptiveConcurrency'),
    setup: (w) => {
      const limit = bw.windowedLimit(bw.gradient2Limit({ initialLimit: 1_000, minLimit: 1_000, maxConcurrency: 1_000 }));
      const p = bw.adaptiveConcurrency({ limit });
      return () => p.execute(w.fn);
    },
  },
  {
    id: 'bw.rateLimiter', group: 'rate-limiter', lib: 'breakwater', label: 'rateLimiter (never rejects)',
    unavailable: missing('rateLimiter'),
    setup: (w) => {
      const p = bw.rateLimiter({ capacity: 1e9, refillPerSecond: 1e9 });
      return () => p.execute(w.fn);
    },
  },
  {
    id: 'bw.keyedRateLimiter', group: 'rate-limiter', lib: 'breakwater', label: 'keyedRateLimiter.get(key) (never rejects)',
    workloads: only100, unavailable: missing('keyedRateLimiter'),
    setup: (w) => {
      const k = bw.keyedRateLimiter({ capacity: 1e9, refillPerSecond: 1e9 });
      return () => k.get('tenant-42').execute(w.fn);
    },
  },
  {
    id: 'bw.rateLimiterReject', group: 'rate-limiter-reject', lib: 'breakwater', label: 'rateLimiter (empty: rejects)',
    rejects: true, expectError: isA('RateLimitedError'),
    unavailable: missing('rateLimiter'),
    setup: (w) => {
      const p = bw.rateLimiter({ capacity: 1, refillPerSecond: 0.001 });
      if (!p.tryAcquire(1)) throw new Error('could not drain the bucket');
      return () => p.execute(w.fn);
    },
  },
  {
    id: 'bw.retry', group: 'retry', lib: 'breakwater', label: 'retry (maxRetries 3, no failure)',
    unavailable: missing('retry'),
    setup: (w) => { const p = bw.retry({ maxRetries: 3 }); return () => p.execute(w.fn); },
  },
  {
    id: 'bw.timeout', group: 'timeout', lib: 'breakwater', label: 'timeout(10 s), fn ignores ctx.signal',
    unavailable: missing('timeout'),
    setup: (w) => { const p = bw.timeout(10_000); return () => p.execute(w.fn); },
  },
  {
    id: 'bw.timeoutSignal', group: 'timeout-signal', lib: 'breakwater', label: 'timeout(10 s), fn reads ctx.signal',
    unavailable: missing('timeout'),
    setup: (w) => { const p = bw.timeout(10_000); return () => p.execute(w.fnReadsSignal); },
  },
  {
    id: 'bw.fallback', group: 'fallback', lib: 'breakwater', label: 'fallback (no failure)',
    unavailable: missing('fallback'),
    setup: (w) => { const p = bw.fallback(0); return () => p.execute(w.fn); },
  },
  {
    id: 'bw.pipeline', group: 'pipeline', lib: 'breakwater', label: 'pipeline(retry, circuitBreaker, bulkhead, timeout), fn ignores ctx.signal',
    unavailable: missing('pipeline', 'retry', 'circuitBreaker', 'bulkhead', 'timeout'),
    setup: (w) => { const p = fourPolicies(); return () => p.execute(w.fn); },
  },
  {
    id: 'bw.pipelineSignal', group: 'pipeline-signal', lib: 'breakwater', label: 'pipeline(retry, circuitBreaker, bulkhead, timeout), fn reads ctx.signal',
    unavailable: missing('pipeline', 'retry', 'circuitBreaker', 'bulkhead', 'timeout'),
    setup: (w) => { const p = fourPolicies(); return () => p.execute(w.fnReadsSignal); },
  },
  {
    // Available before the other policies land; shows what one pipeline layer costs.
    id: 'bw.pipeline2', group: 'pipeline', lib: 'breakwater', label: 'pipeline(retry, timeout), fn ignores ctx.signal',
    workloads: only100, unavailable: missing('pipeline', 'retry', 'timeout'),
    setup: (w) => { const p = bw.pipeline(bw.retry({ maxRetries: 3 }), bw.timeout(10_000)); return () => p.execute(w.fn); },
  },
  // Zero-listener proof: a policy whose listeners were all detached must cost what a fresh one does.
  {
    id: 'proof.breaker0', group: 'proof', lib: 'breakwater', label: 'circuitBreaker, no listener ever',
    workloads: only100, unavailable: missing('circuitBreaker'),
    setup: (w) => { const p = breaker(); return () => p.execute(w.fn); },
  },
  {
    id: 'proof.breakerDetached', group: 'proof', lib: 'breakwater', label: 'circuitBreaker, listeners attached then detached',
    workloads: only100, unavailable: missing('circuitBreaker'),
    setup: (w) => { const p = attachAndDetach(breaker()); return () => p.execute(w.fn); },
  },
  {
    id: 'proof.breakerListening', group: 'proof', lib: 'breakwater', label: 'circuitBreaker, success listener attached (for scale)',
    workloads: only100, unavailable: missing('circuitBreaker'),
    setup: (w) => { const p = breaker(); p.on('success', noop); return () => p.execute(w.fn); },
  },
  {
    id: 'proof.timeout0', group: 'proof', lib: 'breakwater', label: 'timeout, no listener ever',
    workloads: only100, unavailable: missing('timeout'),
    setup: (w) => { const p = bw.timeout(10_000); return () => p.execute(w.fn); },
  },
  {
    id: 'proof.timeoutDetached', group: 'proof', lib: 'breakwater', label: 'timeout, listeners attached then detached',
    workloads: only100, unavailable: missing('timeout'),
    setup: (w) => { const p = attachAndDetach(bw.timeout(10_000)); return () => p.execute(w.fn); },
  },
];
