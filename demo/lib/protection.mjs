// The breakwater pipeline the protected upstream wraps its downstream call in.
//
//   pipeline(retry, bulkhead, circuitBreaker, timeout)   — first = outermost
//
// - timeout (innermost) bounds each attempt and aborts it: the downstream socket is destroyed,
//   so a timed-out call stops occupying anything.
// - circuitBreaker sees exactly the real attempts' outcomes: timeouts and 5xx count as
//   failures, calls slower than slowCallMs as slow. When most recent calls fail or are slow it
//   opens and answers at once — the sick service gets a rest instead of a pile-up.
// - bulkhead bounds the attempts in flight (a slot is held until the attempt settles, which
//   after an abort is immediate). Outside the breaker, its own "full" rejections never reach
//   the breaker's statistics: local overload is not evidence that the downstream is broken.
// - retry (outermost) retries only the downstream's own errors (a quick 500 or a reset), once,
//   after a short jittered backoff, within a retry budget. It never retries a timeout (the
//   service is slow: more calls make it slower) nor a rejection (the breaker or bulkhead said
//   no: respect it), so it cannot multiply load on a struggling service.
import { performance } from 'node:perf_hooks';
import * as breakwater from '../../dist/index.js';

const REQUIRED = [
  'pipeline',
  'retry',
  'retryBudget',
  'exponentialBackoff',
  'bulkhead',
  'circuitBreaker',
  'timeout',
  'isBreakwaterError',
];

/** Fails before anything runs when dist/ is missing a policy (stale build). */
export function checkDist() {
  const missing = REQUIRED.filter((name) => typeof breakwater[name] !== 'function');
  if (missing.length > 0) {
    const error = new Error(`dist/index.js does not export ${missing.join(', ')}: run "npm run build" (npx tsup) first`);
    error.code = 'ERR_DEMO_DIST';
    throw error;
  }
}

export function buildProtection(config) {
  checkDist();
  const { pipeline, retry, retryBudget, exponentialBackoff, bulkhead, circuitBreaker, timeout, isBreakwaterError } =
    breakwater;

  const retryPolicy = retry({
    maxRetries: config.maxRetries,
    handle: (error) => !isBreakwaterError(error),
    backoff: exponentialBackoff({ initialMs: 25, maxMs: 250, jitter: 'full' }),
    // Retries may add at most 10 % (plus a small floor) on top of the calls made.
    budget: retryBudget({ ratio: 0.1 }),
  });
  const bulkheadPolicy = bulkhead({ maxConcurrent: config.maxConcurrent, maxQueue: 0 });
  const breaker = circuitBreaker({
    halfOpenAfterMs: config.halfOpenAfterMs,
    failureRatio: 0.5,
    windowCalls: 20,
    minimumThroughput: 10,
    slowCallMs: config.slowCallMs,
    slowCallRatio: 0.5,
    halfOpenProbes: 1,
  });
  const policy = pipeline(retryPolicy, bulkheadPolicy, breaker, timeout(config.timeoutMs));

  const observed = { transitions: [], retries: 0 };
  breaker.on('stateChange', ({ from, to }) => observed.transitions.push({ at: performance.now(), from, to }));
  retryPolicy.on('retry', () => observed.retries++);

  return { policy, breaker, bulkhead: bulkheadPolicy, observed };
}
