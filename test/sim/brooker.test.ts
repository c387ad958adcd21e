// Marc Brooker's backoff simulation ("Exponential Backoff And Jitter", AWS Architecture Blog,
// 2015; aws-samples/aws-arch-backoff-simulator, src/backoff_simulator.py), rebuilt on the
// simulation engine with the library's own `retry` and backoffs doing the waiting.
//
// The model: one optimistic-concurrency row. Each client reads the row's version, then writes
// it back; the write succeeds only if the version is unchanged, and bumps it. A client whose
// write fails backs off and starts over, until it succeeds. Every network hop takes
// |Normal(10 ms, 2 ms)|. Backoff base 5 ms, cap 2 000 ms; `expo(n) = min(cap, base · 2ⁿ)` with
// n = 1 before the first retry. "calls" = writes the server received, "time" = when the last
// client finished; both averaged over 100 runs.
//
// The reference numbers for 100 clients come from running that script (Python 3, seeds 1, 2
// and 3; the spread across seeds is shown):
//   calls: none 2418–2425, exponential 1846–1853, decorrelated 996–1003, equal 811–813, full 795–796
//   time (ms): none 2026–2031, exponential 63287–63412, full 4908–4943
import { describe, expect, it } from 'vitest';
import { constantBackoff, exponentialBackoff, retry, type Backoff } from '../../src/index.js';
import { SimulationEngine, normalQuantile } from '../../src/sim/index.js';

const CLIENTS = 100;
const RUNS = 100;

class WriteConflict extends Error {}

async function occRun(backoff: Backoff, seed: number): Promise<{ calls: number; timeMs: number }> {
  const engine = new SimulationEngine({ seed });
  const network = engine.random(1);
  const hopMs = (): number => Math.abs(10 + 2 * normalQuantile(network()));
  let version = 0;
  let calls = 0;
  /** A message to the server: `handle` runs there when it arrives; the answer travels back. */
  const request = <T>(handle: () => T): Promise<T> =>
    new Promise<T>((resolve) => {
      engine.after(hopMs(), () => {
        const answer = handle();
        engine.after(hopMs(), () => resolve(answer));
      });
    });

  const finished: number[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const policy = retry({
      maxRetries: Infinity,
      backoff,
      maxDelayMs: 2000,
      clock: engine.clock,
      random: engine.random(100 + i),
    });
    // A zero delay yields with setImmediate (outside the clock): let the engine wait for it.
    policy.on('retry', (event) => {
      if (event.delayMs === 0) engine.expectImmediate();
    });
    void policy
      .execute(async () => {
        const seen = await request(() => version);
        const written = await request(() => {
          calls++;
          if (seen !== version) return false;
          version++;
          return true;
        });
        if (!written) throw new WriteConflict();
      })
      .then(() => finished.push(engine.now));
  }
  await engine.run();
  expect(finished).toHaveLength(CLIENTS);
  expect(version).toBe(CLIENTS);
  return { calls, timeMs: Math.max(...finished) };
}

async function average(backoff: Backoff, runs = RUNS): Promise<{ calls: number; timeMs: number }> {
  let calls = 0;
  let timeMs = 0;
  for (let run = 1; run <= runs; run++) {
    const result = await occRun(backoff, run);
    calls += result.calls;
    timeMs += result.timeMs;
  }
  return { calls: calls / runs, timeMs: timeMs / runs };
}

const within = (actual: number, low: number, high: number, tolerance: number): void => {
  expect(actual).toBeGreaterThanOrEqual(low * (1 - tolerance));
  expect(actual).toBeLessThanOrEqual(high * (1 + tolerance));
};

describe("Brooker's OCC backoff simulation, 100 contending clients", () => {
  it('full jitter: about 800 calls, the least work of all', async () => {
    const { calls, timeMs } = await average(exponentialBackoff({ initialMs: 10, maxMs: 2000, jitter: 'full' }));
    within(calls, 795, 796, 0.03);
    within(timeMs, 4908, 4943, 0.05);
  }, 120_000);

  it('exponential without jitter: far more calls, and an order of magnitude longer', async () => {
    const { calls, timeMs } = await average(exponentialBackoff({ initialMs: 10, maxMs: 2000, jitter: 'none' }));
    within(calls, 1846, 1853, 0.03);
    within(timeMs, 63287, 63412, 0.05);
    expect(calls).toBeGreaterThan(2 * 796);
  }, 120_000);

  it('equal and decorrelated jitter land between them', async () => {
    const equal = await average(exponentialBackoff({ initialMs: 10, maxMs: 2000, jitter: 'equal' }), 50);
    within(equal.calls, 811, 813, 0.03);
    // Decorrelated starts from the base itself: sleep = min(cap, U(base, 3 · sleep)).
    const decorrelated = await average(exponentialBackoff({ initialMs: 5, maxMs: 2000, jitter: 'decorrelated' }), 50);
    within(decorrelated.calls, 996, 1003, 0.03);
  }, 120_000);

  it('no backoff at all: the most calls, but the fastest to finish', async () => {
    const { calls, timeMs } = await average(constantBackoff(0), 30);
    within(calls, 2418, 2425, 0.03);
    within(timeMs, 2026, 2031, 0.05);
  }, 120_000);
});
