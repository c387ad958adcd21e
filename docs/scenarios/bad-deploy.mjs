// The worked example of docs/simulator.md: a bad deploy makes the downstream 100× slower for
// 15 s. Three upstream instances call it at 300 requests/s in total; their own callers give
// up after 1 s. Parameters (for `breakwater tune --grid`): timeoutMs, maxConcurrent (per
// instance), breaker (on/off).
//
//   npx breakwater simulate docs/scenarios/bad-deploy.mjs --param timeoutMs=250
//   npx breakwater tune docs/scenarios/bad-deploy.mjs --grid timeoutMs=100,250,1000 --grid maxConcurrent=8,32
import { bulkhead, circuitBreaker, isBreakwaterError, pipeline, retry, retryBudget, timeout } from 'breakwater';

export default ({ timeoutMs = 250, maxConcurrent = 16, breaker = true } = {}) => ({
  name: `bad deploy — timeout ${timeoutMs} ms, bulkhead ${maxConcurrent}${breaker ? ', breaker' : ''}`,
  durationMs: 40_000,
  seed: 1,
  load: { rps: 300, instances: 3 },
  downstream: {
    servers: 40,
    latencyMs: { lognormal: { p50Ms: 20, p99Ms: 60 } },
    phases: [
      { atMs: 10_000, latencyMs: { lognormal: { p50Ms: 2_000, p99Ms: 4_000 } }, label: 'bad deploy' },
      { atMs: 25_000, latencyMs: { lognormal: { p50Ms: 20, p99Ms: 60 } }, label: 'rollback' },
    ],
  },
  policy: ({ clock, random }) =>
    pipeline(
      retry({
        maxRetries: 2,
        handle: (error) => !isBreakwaterError(error) || error.code === 'ERR_TIMEOUT',
        budget: retryBudget({ ratio: 0.1, clock }),
        clock,
        random,
      }),
      bulkhead({ maxConcurrent, clock }),
      ...(breaker
        ? [circuitBreaker({ halfOpenAfterMs: 2_000, failureRatio: 0.5, windowCalls: 40, minimumThroughput: 20, clock })]
        : []),
      timeout(timeoutMs, { clock }),
    ),
  callers: { timeoutMs: 1_000 },
  sloMs: 300,
});
