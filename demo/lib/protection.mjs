// The breakwater pipelines the protected upstreams wrap their downstream call in.
//
//   protected: pipeline(retry, bulkhead, circuitBreaker, timeout)              — first = outermost
//   adaptive:  pipeline(retry, adaptiveConcurrency, circuitBreaker, timeout)
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
// - adaptiveConcurrency, in the adaptive run, takes the bulkhead's place and job, with a bound
//   it estimates from the calls it runs instead of a number sized by hand. Outside the timeout
//   and the breaker it sees their refusals as drops (a loss signal) and backs off on them.
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
  'adaptiveConcurrency',
  'aimdLimit',
  'gradient2Limit',
  'vegasLimit',
  'windowedLimit',
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

/**
 * @param {object} config  from parseConfig
 * @param {'bulkhead' | 'adaptive'} bound  what bounds the calls in flight
 */
export function buildProtection(config, bound = 'bulkhead') {
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
  const limiter =
    bound === 'adaptive'
      ? breakwater.adaptiveConcurrency({ limit: estimator(config.adaptiveLimit), maxQueue: 0, name: 'downstream' })
      : bulkhead({ maxConcurrent: config.maxConcurrent, maxQueue: 0 });
  const breaker = circuitBreaker({
    halfOpenAfterMs: config.halfOpenAfterMs,
    failureRatio: 0.5,
    windowCalls: 20,
    minimumThroughput: 10,
    slowCallMs: config.slowCallMs,
    slowCallRatio: 0.5,
    halfOpenProbes: 1,
  });
  const policy = pipeline(retryPolicy, limiter, breaker, timeout(config.timeoutMs));

  const adaptive = bound === 'adaptive';
  const observed = { transitions: [], retries: 0, boundRejections: [], initialLimit: adaptive ? limiter.limit : undefined, limitChanges: [] };
  breaker.on('stateChange', ({ from, to }) => observed.transitions.push({ at: performance.now(), from, to }));
  retryPolicy.on('retry', () => observed.retries++);
  // Each refusal ends its request (retry never retries one): one per shed answer.
  limiter.on('rejected', () => observed.boundRejections.push(performance.now()));
  if (adaptive) {
    limiter.on('limitChange', ({ from, to }) => observed.limitChanges.push({ at: performance.now(), from, to }));
  }

  return { policy, breaker, limiter, adaptive, observed };
}

/**
 * The adaptive run's estimator, each with the library's defaults. AIMD is the default here:
 * concurrency-limits recommends it for a client, and it learns from what this client sees
 * (timeouts and refusals), where the latency-based ones read a slower downstream as a queue.
 */
function estimator(name) {
  const { aimdLimit, gradient2Limit, vegasLimit, windowedLimit } = breakwater;
  if (name === 'gradient2') return windowedLimit(gradient2Limit());
  if (name === 'vegas') return windowedLimit(vegasLimit());
  return aimdLimit();
}
