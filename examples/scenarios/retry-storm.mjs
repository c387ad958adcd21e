// A retry storm, and the retry budget that ends it. A downstream of 10 servers (about 50 ms a
// call: 200 calls/s of capacity) serves 120 requests/s — 60 % busy, comfortably stable. Then
// it loses 6 of its 10 servers for 10 s (a zone outage): 80 calls/s of capacity for 120 offered,
// so a queue builds, calls start to take longer than the upstream's 1 s timeout, and the
// upstream retries them up to 3 times (jittered exponential backoff).
//
// Naive retries (`budget=false`): once the queue is longer than the timeout, every attempt
// times out and each request becomes 4 attempts — 480 calls/s offered to 200 calls/s of
// capacity, most of them work nobody waits for any more (the downstream cannot know). The
// servers come back and nothing recovers: the failure sustains itself, a metastable state
// (Bronson et al., HotOS '21). With a retry budget (`budget=true`: retries at most 10 % of calls,
// plus 10 per second), attempts stay near 1.1 × 120 + 10 ≈ 142/s, below capacity: the queue
// drains within seconds of the servers coming back.
//
//   npx breakwater simulate examples/scenarios/retry-storm.mjs --param budget=false --svg storm.svg
//   npx breakwater simulate examples/scenarios/retry-storm.mjs --svg budget.svg
//   npx breakwater tune examples/scenarios/retry-storm.mjs --grid budget=true,false --grid maxRetries=1,2,3
//
// Parameters: budget (default true), maxRetries (3), budgetRatio (0.1).
import { exponentialBackoff, pipeline, retry, retryBudget, timeout } from 'breakwater';

export default ({ budget = true, maxRetries = 3, budgetRatio = 0.1 } = {}) => ({
  name: budget ? `retry storm, ${maxRetries} retries within a ${budgetRatio * 100} % budget` : `retry storm, ${maxRetries} naive retries`,
  durationMs: 60_000,
  seed: 1,
  load: { rps: 120, instances: 3 },
  downstream: {
    servers: 10,
    latencyMs: { exponential: { meanMs: 50 } },
    phases: [
      { atMs: 10_000, servers: 4, label: 'zone outage: 4 of 10 servers' },
      { atMs: 20_000, servers: 10, label: 'servers back' },
    ],
  },
  policy: ({ clock, random }) =>
    pipeline(
      retry({
        maxRetries,
        backoff: exponentialBackoff({ initialMs: 50, maxMs: 1_000 }),
        ...(budget ? { budget: retryBudget({ ratio: budgetRatio, clock }) } : {}),
        clock,
        random,
      }),
      timeout(1_000, { clock }),
    ),
  sloMs: 1_000,
});
