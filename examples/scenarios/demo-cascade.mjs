// The cascade demo (`npm run demo`, docs/demo.md) in virtual time: the same load, the same bad
// deploy and the same protection pipeline, simulated in a fraction of a second instead of 37 s
// of real load. It shows what the demo shows: unprotected, the upstream's calls in flight pile
// up to rps × the bad latency (≈ 400) and its latency becomes the downstream's (2 s);
// protected, latency stays within the timeout, at most `maxConcurrent` calls are open at once,
// the breaker opens about 300 ms into the bad deploy and closes within about a second of the
// rollback.
//
//   npx breakwater simulate examples/scenarios/demo-cascade.mjs --param protect=false
//   npx breakwater simulate examples/scenarios/demo-cascade.mjs --svg demo.svg
//   npx breakwater tune examples/scenarios/demo-cascade.mjs --grid timeoutMs=100,250,500 --grid maxConcurrent=10,20,40
//
// Parameters are the demo's flags in camelCase (node demo/cascade.mjs --help), plus `protect`.
// How it maps the demo:
// - the load generator is open loop with requests evenly spaced (`arrivals: 'uniform'`), and
//   waits for every answer (no caller timeout);
// - the downstream is a node:http server with a timer per request: no queue, no limit on
//   concurrency (`servers` far above anything in flight); whether a call is slow and fails is
//   decided when it arrives, as in the demo;
// - the pipeline is demo/lib/protection.mjs's, built on the simulator's clock and random.
import { bulkhead, circuitBreaker, exponentialBackoff, isBreakwaterError, pipeline, retry, retryBudget, timeout } from 'breakwater';

/** The demo's defaults (demo/lib/args.mjs). */
export const DEMO_DEFAULTS = Object.freeze({
  rps: 200,
  normalMs: 5_000,
  badMs: 8_000,
  healMs: 5_000,
  normalLatencyMs: 20,
  badLatencyMs: 2_000,
  badErrorRate: 0.5,
  timeoutMs: 250,
  maxConcurrent: 20,
  maxRetries: 1,
  halfOpenAfterMs: 1_000,
  slowCallMs: 0,
});

/** demo/lib/protection.mjs, on the given clock and random stream. */
export function demoProtection(config, { clock, random }) {
  return pipeline(
    retry({
      maxRetries: config.maxRetries,
      handle: (error) => !isBreakwaterError(error),
      backoff: exponentialBackoff({ initialMs: 25, maxMs: 250, jitter: 'full' }),
      budget: retryBudget({ ratio: 0.1, clock }),
      clock,
      random,
    }),
    bulkhead({ maxConcurrent: config.maxConcurrent, maxQueue: 0, clock }),
    circuitBreaker({
      halfOpenAfterMs: config.halfOpenAfterMs,
      failureRatio: 0.5,
      windowCalls: 20,
      minimumThroughput: 10,
      slowCallMs: config.slowCallMs,
      slowCallRatio: 0.5,
      halfOpenProbes: 1,
      clock,
    }),
    timeout(config.timeoutMs, { clock }),
  );
}

/**
 * Counts the calls the upstream has open to the downstream, as the demo's HTTP client does: a
 * call is open from when it starts until it answers or its attempt is aborted (the timeout
 * destroys the socket). Put innermost, it wraps exactly the downstream call.
 */
export function callMeter() {
  const meter = {
    inFlight: 0,
    peakInFlight: 0,
    /** A policy that passes the call through and counts it while it is open. */
    policy: {
      execute(fn, options) {
        const signal = options?.signal;
        if (signal?.aborted) return Promise.reject(signal.reason);
        meter.inFlight++;
        if (meter.inFlight > meter.peakInFlight) meter.peakInFlight = meter.inFlight;
        let open = true;
        const close = () => {
          if (!open) return;
          open = false;
          meter.inFlight--;
          signal?.removeEventListener('abort', close);
        };
        signal?.addEventListener('abort', close);
        return fn().finally(close);
      },
    },
  };
  return meter;
}

/**
 * The demo's scenario. `meter` (a `callMeter()`, not a command-line parameter) goes innermost
 * in the pipeline, to count the upstream's open calls as the demo does; unprotected, it is the
 * only policy.
 */
export function demoScenario(params = {}, meter = undefined) {
  const { protect = true, ...flags } = params;
  for (const key of Object.keys(flags)) {
    if (!(key in DEMO_DEFAULTS)) throw new TypeError(`demo-cascade: unknown parameter "${key}" (known: protect, ${Object.keys(DEMO_DEFAULTS).join(', ')})`);
  }
  const config = { ...DEMO_DEFAULTS, ...flags };
  if (config.slowCallMs === 0) config.slowCallMs = config.timeoutMs / 2;
  const badFrom = config.normalMs;
  const badUntil = config.normalMs + config.badMs;
  return {
    name: `the cascade demo, ${protect ? `protected (timeout ${config.timeoutMs} ms, bulkhead ${config.maxConcurrent})` : 'unprotected'}`,
    durationMs: badUntil + config.healMs,
    seed: 1,
    drainMs: config.badLatencyMs + config.normalLatencyMs + 10_000,
    load: { rps: config.rps, arrivals: 'uniform' },
    downstream: {
      servers: 100_000,
      latencyMs: config.normalLatencyMs,
      phases: [
        { atMs: badFrom, latencyMs: config.badLatencyMs, errorRate: config.badErrorRate, label: 'bad deploy' },
        { atMs: badUntil, latencyMs: config.normalLatencyMs, errorRate: 0, label: 'healed' },
      ],
    },
    policy:
      protect || meter !== undefined
        ? (env) => {
            const policies = protect ? [demoProtection(config, env)] : [];
            if (meter !== undefined) policies.push(meter.policy);
            return policies.length === 1 ? policies[0] : pipeline(...policies);
          }
        : undefined,
  };
}

export default (params) => demoScenario(params);
