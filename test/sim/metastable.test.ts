// A metastable failure (Bronson et al., "Metastable Failures in Distributed Systems", HotOS
// '21; Huang et al., "Metastable Failures in the Wild", OSDI '22): a system that is stable at
// its normal load is pushed over by a short trigger, and a sustaining effect — here retries of
// abandoned work — keeps it down after the trigger ends.
//
// The model: an M/M/1 FIFO server, μ = 10/s (exponential service, mean 100 ms); Poisson
// arrivals at λ = 6/s, except 20/s during a spike from 20 s to 30 s. The client times out
// after 2 s, abandons the attempt (the server still serves it) and retries at once, up to 3
// times. Goodput = successes delivered to a still-waiting client; collapsed = goodput over
// [80 s, 100 s) below 0.5 λ.
//
// Why it is bistable: healthy, ρ = 0.6 and P(response > 2 s) = e^−(μ−λ)·2 ≈ 0.03 %, so retries
// are rare. Once the spike has built a queue longer than 2 s, every attempt times out and each
// request becomes 4 attempts: 24/s offered to a server that does 10/s, so the queue never
// drains although the spike is long over. A retry budget caps the retries at a fraction of
// the calls (and a small floor), the offered load falls below μ, and the queue drains.
import { describe, expect, it } from 'vitest';
import { constantBackoff, pipeline, retry, retryBudget, timeout } from '../../src/index.js';
import { simulate, type Scenario, type SimulationReport } from '../../src/sim/index.js';

const LAMBDA = 6;

function scenario(seed: number, spike: boolean, extra: Partial<Scenario>): Scenario {
  return {
    durationMs: 100_000,
    seed,
    load: { rps: spike ? [{ atMs: 0, rps: LAMBDA }, { atMs: 20_000, rps: 20 }, { atMs: 30_000, rps: LAMBDA }] : LAMBDA },
    downstream: { servers: 1, latencyMs: { exponential: { meanMs: 100 } } },
    ...extra,
  };
}

/** Goodput per second over [from, to) seconds. */
function goodputRate(report: SimulationReport, from: number, to: number): number {
  return report.series.slice(from, to).reduce((sum, second) => sum + second.goodput, 0) / (to - from);
}

const naiveCallers: Partial<Scenario> = { callers: { timeoutMs: 2000, retries: 3 } };
const retryPolicy = (withBudget: boolean): Partial<Scenario> => ({
  policy: ({ clock }) =>
    pipeline(
      retry({
        maxRetries: 3,
        backoff: constantBackoff(0),
        clock,
        // 10 % of calls, plus half a retry per second: λ·1.1 + 0.5 < μ.
        ...(withBudget ? { budget: retryBudget({ ratio: 0.1, minPerSecond: 0.5, clock }) } : {}),
      }),
      timeout(2000, { clock }),
    ),
});

describe('a retry storm is metastable without a retry budget', () => {
  it.each([1, 2, 3])('seed %s: healthy at λ = 6/s without the trigger', async (seed) => {
    const report = await simulate(scenario(seed, false, naiveCallers));
    expect(goodputRate(report, 80, 100)).toBeGreaterThan(0.75 * LAMBDA);
    expect(goodputRate(report, 20, 40)).toBeGreaterThan(0.75 * LAMBDA);
  });

  it.each([1, 2, 3])('seed %s: naive caller retries stay collapsed long after the spike ends', async (seed) => {
    const report = await simulate(scenario(seed, true, naiveCallers));
    expect(goodputRate(report, 0, 20)).toBeGreaterThan(0.75 * LAMBDA);
    expect(goodputRate(report, 80, 100)).toBeLessThan(0.5 * LAMBDA);
    // Still saturated: the server is busy with work nobody waits for.
    expect(report.series.slice(80, 100).every((s) => s.utilisation > 0.95)).toBe(true);
    expect(report.totals.callerRetries).toBeGreaterThan(report.totals.sent);
  });

  it.each([1, 2, 3])("seed %s: the library's retry without a budget collapses the same way", async (seed) => {
    const report = await simulate(scenario(seed, true, retryPolicy(false)));
    expect(goodputRate(report, 80, 100)).toBeLessThan(0.5 * LAMBDA);
    expect(report.totals.retries).toBeGreaterThan(report.totals.sent);
  });

  it.each([1, 2, 3])('seed %s: with a retry budget it recovers after the spike', async (seed) => {
    const report = await simulate(scenario(seed, true, retryPolicy(true)));
    expect(goodputRate(report, 80, 100)).toBeGreaterThan(0.75 * LAMBDA);
    // The spike itself still hurts: the budget does not make the server faster.
    expect(goodputRate(report, 30, 40)).toBeLessThan(0.5 * LAMBDA);
    expect(report.totals.retries).toBeLessThan(0.2 * report.totals.sent);
  });
});
