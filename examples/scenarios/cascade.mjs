// The cascade: a bad deploy makes the downstream 100× slower (20 ms → 2 s) for 10 s, then it
// is rolled back. Four upstream instances call it at 400 requests/s in all; their own callers
// (browsers) give up after 1 s and reload once. The downstream has 40 servers: plenty when
// healthy (10 % busy), 20 calls/s when slow.
//
// Unprotected, every request waits its second at the downstream; the work abandoned by
// callers who gave up is still done, so a backlog of thousands of calls builds up and goodput
// stays at zero for seconds after the rollback. Protected (the pipeline of the cascade demo:
// retry within a budget → bulkhead → circuit breaker → timeout), the downstream never holds
// more than the bulkheads allow, the outage's requests are refused at once, and goodput is
// back about a second after the rollback: more requests meet the SLO in all.
//
//   npx breakwater simulate examples/scenarios/cascade.mjs --param protect=false --svg unprotected.svg
//   npx breakwater simulate examples/scenarios/cascade.mjs --svg protected.svg
//   npx breakwater tune examples/scenarios/cascade.mjs --grid protect=true,false --grid timeoutMs=100,250,1000
//
// Parameters: protect (default true), timeoutMs (250), maxConcurrent per instance (10).
import { bulkhead, circuitBreaker, exponentialBackoff, isBreakwaterError, pipeline, retry, retryBudget, timeout } from 'breakwater';

const healthy = { lognormal: { p50Ms: 20, p99Ms: 60 } };

export default ({ protect = true, timeoutMs = 250, maxConcurrent = 10 } = {}) => ({
  name: protect ? `cascade, protected (timeout ${timeoutMs} ms, bulkhead ${maxConcurrent} per instance)` : 'cascade, unprotected',
  durationMs: 40_000,
  seed: 1,
  load: { rps: 400, instances: 4 },
  downstream: {
    servers: 40,
    latencyMs: healthy,
    phases: [
      { atMs: 10_000, latencyMs: 2_000, label: 'bad deploy' },
      { atMs: 20_000, latencyMs: healthy, label: 'rollback' },
    ],
  },
  policy: protect
    ? ({ clock, random }) =>
        pipeline(
          retry({
            maxRetries: 1,
            handle: (error) => !isBreakwaterError(error),
            backoff: exponentialBackoff({ initialMs: 25, maxMs: 250, jitter: 'full' }),
            budget: retryBudget({ ratio: 0.1, clock }),
            clock,
            random,
          }),
          bulkhead({ maxConcurrent, maxQueue: 0, clock }),
          circuitBreaker({
            halfOpenAfterMs: 1_000,
            failureRatio: 0.5,
            windowCalls: 20,
            minimumThroughput: 10,
            slowCallMs: timeoutMs / 2,
            slowCallRatio: 0.5,
            clock,
          }),
          timeout(timeoutMs, { clock }),
        )
    : undefined,
  callers: { timeoutMs: 1_000, retries: 1 },
  sloMs: 300,
});
