// A slow canary: one downstream replica in ten runs a new build that answers in about a
// second instead of 20 ms, and never errs. Nothing fails, so no breaker or retry notices;
// only the tail moves: 10 % of calls are slow, so the upstream's p99 is the canary's latency.
//
// A hedge sends a second attempt when the first has not answered after `hedgeAfterMs` (above
// the healthy p99, so only slow calls are hedged) and a third after twice that; the first
// answer wins and the others are cancelled. It lands on the canary again with probability
// 10 %, so p99 falls back to the healthy build's latency, for about 11 % more calls (the
// hedges; losers still run to the end on the downstream, which ignores cancellation).
//
//   npx breakwater simulate examples/scenarios/slow-canary.mjs --param hedged=false
//   npx breakwater simulate examples/scenarios/slow-canary.mjs --svg canary.svg
//   npx breakwater tune examples/scenarios/slow-canary.mjs --grid hedged=true,false --grid hedgeAfterMs=50,100,200
//
// Parameters: hedged (default true), hedgeAfterMs (60), maxAttempts (3).
import { hedge, pipeline, timeout } from 'breakwater';

// The healthy build: p50 20 ms, p99 about 45 ms. The canary: 800 ms to 1.2 s. A percentile
// table is an inverse CDF, so one call in ten drawing above p90 is a call that hit the canary.
const withCanary = {
  percentiles: { p0: 8, p50: 20, p80: 30, 'p89.99': 45, p90: 800, p100: 1_200 },
};

export default ({ hedged = true, hedgeAfterMs = 60, maxAttempts = 3 } = {}) => ({
  name: hedged ? `slow canary, hedged after ${hedgeAfterMs} ms (up to ${maxAttempts} attempts)` : 'slow canary, no hedge',
  durationMs: 30_000,
  seed: 1,
  load: { rps: 500, instances: 2 },
  downstream: {
    servers: 200,
    latencyMs: { percentiles: { p0: 8, p50: 20, p80: 30, p100: 45 } },
    phases: [{ atMs: 5_000, latencyMs: withCanary, label: 'canary: 10 % of calls slow' }],
  },
  policy: ({ clock }) =>
    hedged
      ? pipeline(hedge({ delayMs: hedgeAfterMs, maxAttempts, clock }), timeout(2_000, { clock }))
      : timeout(2_000, { clock }),
  sloMs: 200,
});
