// The worked example of docs/tuning.md: a checkout service calls an inventory service, and
// all it knows about inventory is a latency histogram from a dashboard and the request rate.
// Three checkout instances send 600 requests/s in all; inventory runs 60 workers (30 % busy).
// Checkout's users give up after 1 s and reload once; the SLO is 300 ms.
//
// Two incidents to tune against: inventory degraded for 15 s (3× slower, 10 % errors: a noisy
// neighbour), then a bad deploy for 15 s (20× slower, half the calls failing) and its
// rollback. The parameters are the settings to choose; the defaults are the ones
// docs/tuning.md ends up with:
//
//   timeoutMs        per attempt (250)
//   concurrency      calls in flight per instance: a number (a bulkhead) or 'adaptive'
//                    (adaptiveConcurrency) ('adaptive')
//   breaker          a circuit breaker or none (true), with slowCallMs (timeoutMs / 2),
//                    failureRatio (0.5) and halfOpenAfterMs (1000)
//   maxRetries       retries of a failed attempt (1), within a 10 % retry budget (budget: true)
//   healthy          no incident at all (false): to check the histogram
//
//   npx breakwater simulate examples/scenarios/inventory.mjs --param healthy=true
//   npx breakwater tune examples/scenarios/inventory.mjs --grid timeoutMs=100,250,1000 --grid concurrency=8,16,64,adaptive --grid breaker=true,false
//   npx breakwater tune examples/scenarios/inventory.mjs --grid maxRetries=0,1,3 --grid budget=true,false
import {
  adaptiveConcurrency,
  bulkhead,
  circuitBreaker,
  exponentialBackoff,
  pipeline,
  retry,
  retryBudget,
  timeout,
} from 'breakwater';

/** Inventory's latency as its dashboard shows it (a week of calls). */
export const HISTOGRAM = Object.freeze({ p50: 22, p90: 38, p99: 85, 'p99.9': 240 });

/** The histogram's shape, `factor` times slower. */
const slower = (factor) => ({ percentiles: Object.fromEntries(Object.entries(HISTOGRAM).map(([p, ms]) => [p, ms * factor])) });

export default ({
  timeoutMs = 250,
  concurrency = 'adaptive',
  breaker = true,
  slowCallMs = timeoutMs / 2,
  failureRatio = 0.5,
  halfOpenAfterMs = 1_000,
  maxRetries = 1,
  budget = true,
  healthy = false,
} = {}) => ({
  name: `inventory: timeout ${timeoutMs} ms, concurrency ${concurrency}, ${breaker ? `breaker (slow ${slowCallMs} ms)` : 'no breaker'}, ${maxRetries} retries${budget ? ' (budget)' : ''}`,
  durationMs: 60_000,
  seed: 1,
  load: { rps: 600, instances: 3 },
  downstream: {
    servers: 60,
    latencyMs: slower(1),
    phases: healthy
      ? []
      : [
          { atMs: 10_000, latencyMs: slower(3), errorRate: 0.1, label: 'degraded' },
          { atMs: 25_000, latencyMs: slower(1), errorRate: 0, label: 'recovered' },
          { atMs: 35_000, latencyMs: slower(20), errorRate: 0.5, label: 'bad deploy' },
          { atMs: 50_000, latencyMs: slower(1), errorRate: 0, label: 'rollback' },
        ],
  },
  policy: ({ clock, random }) =>
    pipeline(
      retry({
        maxRetries,
        backoff: exponentialBackoff({ initialMs: 25, maxMs: 250 }),
        ...(budget ? { budget: retryBudget({ ratio: 0.1, clock }) } : {}),
        clock,
        random,
      }),
      concurrency === 'adaptive' ? adaptiveConcurrency({ clock }) : bulkhead({ maxConcurrent: concurrency, clock }),
      ...(breaker
        ? [circuitBreaker({ halfOpenAfterMs, failureRatio, windowCalls: 50, minimumThroughput: 20, slowCallMs, slowCallRatio: 0.5, clock })]
        : []),
      timeout(timeoutMs, { clock }),
    ),
  callers: { timeoutMs: 1_000, retries: 1 },
  sloMs: 300,
});
