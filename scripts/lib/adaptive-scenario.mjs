// A virtual-time model of a downstream service and of the callers that overload it, shared by
// the adaptive-concurrency system test (test/adaptive/system.test.ts, against src/) and the
// chart script (scripts/adaptive-chart.mjs, against dist/), so the chart shows what the test checks.

/** A seeded PRNG (mulberry32): the same run every time. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `servers` parallel workers in front of one FIFO queue. A request's service time is
 * exponential with mean `serviceMs × slowdown`; a request beyond the workers waits, so latency
 * grows with the number in flight once it exceeds `servers` (Little's law).
 */
export class SimulatedDownstream {
  constructor({ clock, servers, serviceMs, random }) {
    this.clock = clock;
    this.servers = servers;
    this.serviceMs = serviceMs;
    this.random = random;
    this.slowdown = 1;
    this.busy = 0;
    this.waiting = [];
  }

  request() {
    return new Promise((resolve) => {
      const start = () => {
        this.busy++;
        const ms = -Math.log(1 - this.random()) * this.serviceMs * this.slowdown;
        this.clock.setTimeout(() => {
          this.busy--;
          resolve();
          const next = this.waiting.shift();
          if (next !== undefined) next();
        }, ms);
      };
      if (this.busy < this.servers) start();
      else this.waiting.push(start);
    });
  }
}

/**
 * Runs `clients` callers in closed loop through `policy` (each sends its next request as soon
 * as the last one settles; a refused one waits `retryMs` first) against `downstream`, phase
 * after phase (`slowdown` multiplies the service time). Every `stepMs` it records the limit,
 * the calls in flight and queued, and how many calls completed so far (each completion is one
 * sample for the estimator). Resolves when every client has stopped.
 */
export async function runScenario({ clock, policy, downstream, clients, phases, stepMs = 100, retryMs = 5 }) {
  let running = true;
  let completed = 0;
  let refused = 0;
  let live = clients;
  const pause = (ms) => new Promise((resolve) => clock.setTimeout(resolve, ms));
  const loop = async () => {
    while (running) {
      try {
        await policy.execute(() => downstream.request());
        completed++;
      } catch {
        refused++;
        await pause(retryMs);
      }
    }
    live--;
  };
  const loops = Array.from({ length: clients }, loop);
  const trace = [];
  const record = (phase) =>
    trace.push({ tMs: clock.now(), phase, limit: policy.limit, active: policy.active, queued: policy.queued, completed, refused });
  record(0);
  for (const [index, phase] of phases.entries()) {
    downstream.slowdown = phase.slowdown;
    for (let elapsed = 0; elapsed < phase.durationMs; elapsed += stepMs) {
      await clock.advance(stepMs);
      record(index);
    }
  }
  running = false;
  downstream.slowdown = 1;
  while (live > 0) await clock.advance(stepMs);
  await Promise.all(loops);
  return trace;
}
