// The simulated downstream against queueing theory: for Poisson arrivals at rate λ and
// exponential service at rate μ on c servers (M/M/c), the Erlang C formula gives the
// probability that a request waits, and from it the mean time in the system:
//   a = λ/μ, ρ = a/c,  C(c, a) = [aᶜ/c! · 1/(1−ρ)] / [Σₖ₌₀..c₋₁ aᵏ/k! + aᶜ/c! · 1/(1−ρ)]
//   W = C(c, a) / (cμ − λ) + 1/μ,   utilisation = ρ
// (Kleinrock, Queueing Systems vol. 1, §3.5; Gross & Harris, Fundamentals of Queueing Theory, §2.3).
import { describe, expect, it } from 'vitest';
import { simulate } from '../../src/sim/index.js';

function erlangC(c: number, a: number): number {
  let sum = 0;
  let term = 1; // aᵏ/k!
  for (let k = 0; k < c; k++) {
    if (k > 0) term *= a / k;
    sum += term;
  }
  const top = ((term * a) / c) * (1 / (1 - a / c)); // aᶜ/c! · 1/(1−ρ)
  return top / (sum + top);
}

/** Mean time in an M/M/c system, in ms. */
function meanResponseMs(c: number, lambdaPerS: number, meanServiceMs: number): number {
  const mu = 1000 / meanServiceMs;
  const wait = erlangC(c, lambdaPerS / mu) / (c * mu - lambdaPerS);
  return (wait + 1 / mu) * 1000;
}

const SERVERS = 8;
const MEAN_SERVICE_MS = 10;

async function run(rho: number, seed: number, customers: number) {
  const rps = (rho * SERVERS * 1000) / MEAN_SERVICE_MS;
  const report = await simulate({
    durationMs: (customers / rps) * 1000,
    seed,
    load: { rps, arrivals: 'poisson' },
    downstream: { servers: SERVERS, latencyMs: { exponential: { meanMs: MEAN_SERVICE_MS } } },
  });
  return { report, expectedMs: meanResponseMs(SERVERS, rps, MEAN_SERVICE_MS) };
}

describe('M/M/c: the simulated downstream matches Erlang C', () => {
  it('checks the formula itself against textbook values', () => {
    // M/M/1: C = ρ and W = 1/(μ − λ).
    expect(erlangC(1, 0.9)).toBeCloseTo(0.9, 12);
    expect(meanResponseMs(1, 90, 10)).toBeCloseTo(100, 9);
    // M/M/2 with a = 1: C = 1/3 (Gross & Harris, worked example).
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
  });

  // Enough customers that the sampling error of the mean is well inside the tolerance. At
  // ρ = 0.9 successive waits are strongly correlated: over seeds 1–8, 400 000 customers gave
  // a spread (sd) of 2.3 % around the theory, 2 000 000 gave 0.7 %. So the runs are long there.
  it.each([
    [0.5, 200_000],
    [0.7, 300_000],
    [0.9, 2_000_000],
  ])('at utilisation %s: mean latency within 3 percent, utilisation within 0.01 (seed 1, %s customers)', async (rho, customers) => {
    const { report, expectedMs } = await run(rho, 1, customers);
    expect(report.totals.unfinished).toBe(0);
    expect(report.totals.sent).toBeGreaterThan(customers * 0.98);
    expect(Math.abs(report.totals.meanMs! / expectedMs - 1)).toBeLessThan(0.03);
    expect(Math.abs(report.totals.utilisation - rho)).toBeLessThan(0.01);
  }, 120_000);

  it.each([2, 3])('at utilisation 0.9 with seed %s too', async (seed) => {
    const { report, expectedMs } = await run(0.9, seed, 1_000_000);
    expect(Math.abs(report.totals.meanMs! / expectedMs - 1)).toBeLessThan(0.03);
    expect(Math.abs(report.totals.utilisation - 0.9)).toBeLessThan(0.01);
  }, 120_000);
});
