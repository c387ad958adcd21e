import { describe, expect, it } from 'vitest';
import { adaptiveConcurrency, aimdLimit, vegasLimit, windowedLimit, type Limit } from '../../src/adaptive/index.js';
import { TestClock } from '../../src/testing/index.js';
import { SimulatedDownstream, runScenario, seededRandom, type TracePoint } from '../../scripts/lib/adaptive-scenario.mjs';

// The estimators against a simulated downstream of N parallel servers (exponential service
// times, FIFO queue beyond N, so latency grows with queueing), driven by 400 closed-loop
// callers — more than any limit here admits, so the limiter is always full (steady overload).
// 60 s healthy, 30 s of a bad deploy (service time × 50), 60 s recovered; virtual time.

const SERVERS = 40;
const SERVICE_MS = 25;
const PHASES = [
  { durationMs: 60_000, slowdown: 1 },
  { durationMs: 30_000, slowdown: 50 },
  { durationMs: 60_000, slowdown: 1 },
];
const JUMP_AT = 60_000;
const RECOVERED_AT = 90_000;

async function run(limit: Limit | undefined): Promise<TracePoint[]> {
  const clock = new TestClock();
  const policy = adaptiveConcurrency({ ...(limit === undefined ? {} : { limit }), maxQueue: Infinity, clock });
  const downstream = new SimulatedDownstream({ clock, servers: SERVERS, serviceMs: SERVICE_MS, random: seededRandom(1) });
  const trace = await runScenario({ clock, policy, downstream, clients: 400, phases: PHASES });
  expect(policy.stats).toEqual({ limit: policy.limit, active: 0, queued: 0, rejected: 0 });
  expect(clock.pending).toBe(0);
  return trace;
}

function range(trace: TracePoint[], fromMs: number, toMs: number) {
  const limits = trace.filter((p) => p.tMs > fromMs && p.tMs <= toMs).map((p) => p.limit);
  return {
    min: Math.min(...limits),
    max: Math.max(...limits),
    mean: Math.round(limits.reduce((a, b) => a + b, 0) / limits.length),
  };
}

/** Samples (completed calls) from `fromMs` until the limit first reaches `atMost`. */
function samplesUntil(trace: TracePoint[], fromMs: number, atMost: number): number | undefined {
  const start = trace.find((p) => p.tMs >= fromMs)!;
  const reached = trace.find((p) => p.tMs > fromMs && p.limit <= atMost);
  return reached === undefined ? undefined : reached.completed - start.completed;
}

function report(name: string, trace: TracePoint[], falls: number): void {
  const f = (r: ReturnType<typeof range>) => `${r.min}–${r.max} (mean ${r.mean})`;
  console.log(
    `${name}: steady overload 30–60 s ${f(range(trace, 30_000, JUMP_AT))}; ×50 ${f(range(trace, JUMP_AT, RECOVERED_AT))}, ` +
      `≤ ${falls} after ${samplesUntil(trace, JUMP_AT, falls)} samples; recovered 120–150 s ${f(range(trace, 120_000, 150_000))}`,
  );
}

describe('adaptive concurrency against a downstream with 40 servers', () => {
  it('Gradient2 (the default: windowedLimit(gradient2Limit())) settles near N, falls to minLimit, climbs back', async () => {
    const trace = await run(undefined);
    report('gradient2 (default)', trace, 25);
    const steady = range(trace, 30_000, JUMP_AT);
    // Near N, far from maxConcurrency 200: where latency is rttTolerance (1.5) × the no-queue RTT.
    expect(steady.min).toBeGreaterThanOrEqual(0.9 * SERVERS);
    expect(steady.max).toBeLessThanOrEqual(1.5 * SERVERS + 4);
    // The bad deploy: down to minLimit (20) + 5 within 500 samples.
    expect(samplesUntil(trace, JUMP_AT, 25)).toBeLessThanOrEqual(500);
    expect(range(trace, JUMP_AT + 15_000, RECOVERED_AT).max).toBeLessThanOrEqual(25);
    // Recovered: back near N.
    expect(range(trace, 120_000, 150_000).mean).toBeGreaterThanOrEqual(SERVERS);
  });

  it('Vegas (windowed) settles near N, falls, climbs back', async () => {
    const trace = await run(windowedLimit(vegasLimit({ random: seededRandom(3) })));
    report('vegas (windowed)', trace, 25);
    const steady = range(trace, 30_000, JUMP_AT);
    expect(steady.min).toBeGreaterThanOrEqual(0.9 * SERVERS);
    expect(steady.max).toBeLessThanOrEqual(1.25 * SERVERS);
    // Vegas steps down by log10(limit) = 1 per window: slower, still bounded.
    expect(samplesUntil(trace, JUMP_AT, 25)).toBeLessThanOrEqual(1000);
    expect(range(trace, 120_000, 150_000).mean).toBeGreaterThanOrEqual(0.9 * SERVERS);
  });

  it('AIMD (per call, timeoutMs 100) only sees drops: it sawtooths under overload, falls at once on the bad deploy', async () => {
    const trace = await run(aimdLimit({ timeoutMs: 100 }));
    report('aimd (timeoutMs 100)', trace, 20);
    // Loss-based: latency below timeoutMs never lowers it, so overload alone drives it to maxLimit.
    expect(range(trace, 30_000, JUMP_AT).max).toBe(200);
    // Every call of the bad deploy is slower than 100 ms: minLimit within 100 samples.
    expect(samplesUntil(trace, JUMP_AT, 20)).toBeLessThanOrEqual(100);
    expect(range(trace, JUMP_AT + 5_000, RECOVERED_AT).max).toBeLessThanOrEqual(25);
    expect(range(trace, 120_000, 150_000).max).toBe(200);
  });
});
