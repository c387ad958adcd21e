// A fleet sharing a rate limit. A partner API allows 200 calls/s for the whole account; five
// upstream instances call it, 1,500 requests/s in all. Each instance guards its calls with a
// token bucket of 200/s (burst 20).
//
// Per process (`shared=false`, one `rateLimiter` per instance): each bucket only sees its own
// instance's traffic, so the fleet lets through instances × limit = 1,000 calls/s, five times
// the contract — and the partner answers with errors of its own, which the simulation does not
// model. Shared (`shared=true`): every instance draws from one bucket, so the fleet lets
// 200 calls/s through whatever the number of instances; the rest is refused at once with a
// `RateLimitedError` carrying an exact `retryAfterMs`. Dividing the limit by the number of
// instances (`perInstanceRps=40`) also holds it, but only while the instances are exactly as
// many as planned and the traffic is spread evenly between them: scale the fleet to ten
// (`instances=10`) and the fleet lets 400/s through.
//
// One limiter object shared by the instances is the shape a distributed limiter gives a real
// fleet: `redisRateLimiter` from `breakwater/redis` keeps the same token bucket in Redis,
// decided atomically per call, so that across processes at most capacity + refillPerSecond × t
// tokens are granted in any t ms. (The simulated one costs no round trip; a Redis limiter adds
// one per call.)
//
//   npx breakwater simulate examples/scenarios/shared-rate-limit.mjs --param shared=false
//   npx breakwater simulate examples/scenarios/shared-rate-limit.mjs --svg shared.svg
//   npx breakwater tune examples/scenarios/shared-rate-limit.mjs --grid shared=true,false --grid instances=5,10 --param perInstanceRps=40
//
// Parameters: shared (default true), instances (5), perInstanceRps (200 = the whole limit).
import { rateLimiter } from 'breakwater';

export const LIMIT_PER_SECOND = 200;
export const BURST = 20;

export default ({ shared = true, instances = 5, perInstanceRps = LIMIT_PER_SECOND } = {}) => {
  // Built on the first instance's call, with the simulation's clock; the others reuse it.
  let fleetLimiter;
  const limiter = (clock) => rateLimiter({ capacity: BURST, refillPerSecond: shared ? LIMIT_PER_SECOND : perInstanceRps, clock });
  return {
    name: shared
      ? `${instances} instances sharing one ${LIMIT_PER_SECOND}/s limit`
      : `${instances} instances, ${perInstanceRps}/s limit each`,
    durationMs: 20_000,
    seed: 1,
    load: { rps: 1_500, instances },
    downstream: { servers: 100, latencyMs: { lognormal: { p50Ms: 30, p99Ms: 90 } } },
    policy: ({ clock }) => (shared ? (fleetLimiter ??= limiter(clock)) : limiter(clock)),
    sloMs: 250,
  };
};
