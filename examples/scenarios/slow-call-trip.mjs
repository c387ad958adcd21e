// A healthy downstream that a badly chosen `slowCallMs` trips. The downstream's new release
// is slower — p50 20 ms → 120 ms, p99 60 ms → 400 ms — but it answers every call, well within
// the 2 s timeout and the 1 s SLO. The upstream's breaker counts a call slower than
// `slowCallMs` as slow and opens when half of the last 50 calls were.
//
// `slowCallMs=100`, copied from the old release's dashboards (about its p99 and a bit): after
// the release most calls are "slow", the breaker opens on a service that is fine, and half
// the traffic is refused for nothing — a breaker trip is itself an outage. `slowCallMs=1000`
// (half the timeout, the library's usual advice, and well above the healthy p99): the breaker
// never opens, every request succeeds.
//
//   npx breakwater simulate examples/scenarios/slow-call-trip.mjs --param slowCallMs=100 --svg trip.svg
//   npx breakwater simulate examples/scenarios/slow-call-trip.mjs --param slowCallMs=1000
//   npx breakwater tune examples/scenarios/slow-call-trip.mjs --grid slowCallMs=100,200,500,1000
//
// Parameters: slowCallMs (default 1000), slowCallRatio (0.5), timeoutMs (2000).
import { circuitBreaker, pipeline, timeout } from 'breakwater';

export default ({ slowCallMs = 1_000, slowCallRatio = 0.5, timeoutMs = 2_000 } = {}) => ({
  name: `slower but healthy release, slowCallMs ${slowCallMs}`,
  durationMs: 30_000,
  seed: 1,
  load: { rps: 200, instances: 2 },
  downstream: {
    servers: 100,
    latencyMs: { lognormal: { p50Ms: 20, p99Ms: 60 } },
    phases: [{ atMs: 10_000, latencyMs: { lognormal: { p50Ms: 120, p99Ms: 400 } }, label: 'slower release (no errors)' }],
  },
  policy: ({ clock }) =>
    pipeline(
      circuitBreaker({
        halfOpenAfterMs: 5_000,
        failureRatio: 0.5,
        windowCalls: 50,
        minimumThroughput: 20,
        slowCallMs,
        slowCallRatio,
        clock,
      }),
      timeout(timeoutMs, { clock }),
    ),
  sloMs: 1_000,
});
