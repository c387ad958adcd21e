// Every scenario shipped in examples/scenarios/, run as a user runs it — the built `breakwater`
// bin in a child process, `simulate --json` — and held to what its header says it shows.
// Each scenario has a fixed seed, so each check sees the same run every time.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from '../package/built.js';
import type { SimulationCounts, SimulationReport, SimulationSecond } from '../../src/sim/index.js';

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bin = join(projectRoot, pkg.bin['breakwater']!);
const dir = 'examples/scenarios';
type Params = Record<string, string | number | boolean>;

/** The runs each scenario's checks need, started together (two at a time) before the checks. */
const RUNS = {
  cascade: [{ protect: false }, { protect: true }],
  'demo-cascade': [{ protect: false }, { protect: true }],
  inventory: [{ healthy: true }, {}, { timeoutMs: 100, concurrency: 64, breaker: false }],
  'retry-storm': [{ budget: false }, { budget: true }],
  'shared-rate-limit': [{ shared: false }, { shared: true }, { shared: false, perInstanceRps: 40 }, { shared: false, perInstanceRps: 40, instances: 10 }],
  'slow-call-trip': [{ slowCallMs: 100 }, { slowCallMs: 1000 }],
  'slow-canary': [{ hedged: false }, { hedged: true }],
} satisfies Record<string, Params[]>;
type Name = keyof typeof RUNS;

function breakwater(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd: projectRoot, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}

const flags = (params: Params) => Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${String(v)}`]);
const key = (name: Name, params: Params) => `${name} ${JSON.stringify(params)}`;
const reports = new Map<string, SimulationReport>();
const failures: string[] = [];

/** The report of one run (started in beforeAll). */
function report(name: Name, params: Params): SimulationReport {
  const found = reports.get(key(name, params));
  if (found === undefined) throw new Error(`no run of ${key(name, params)}: ${failures.join('; ')}`);
  return found;
}
const totals = (name: Name, params: Params): SimulationCounts => report(name, params).totals;
const seconds = (r: SimulationReport, fromMs: number, toMs: number): SimulationSecond[] =>
  r.series.filter((s) => s.startMs >= fromMs && s.startMs < toMs);
const total = (rows: SimulationSecond[], field: 'goodput' | 'sent' | 'downstreamCalls') => rows.reduce((n, s) => n + s[field], 0);

let scratch = '';
beforeAll(async () => {
  ensureBuilt();
  scratch = mkdtempSync(join(tmpdir(), 'breakwater-scenarios-'));
  const queue = Object.entries(RUNS).flatMap(([name, list]) => list.map((params) => [name as Name, params as Params] as const));
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const [name, params] = job;
      const { code, stdout, stderr } = await breakwater(['simulate', `${dir}/${name}.mjs`, '--json', ...flags(params)]);
      if (code !== 0 || stderr !== '') failures.push(`${key(name, params)} exited ${code}: ${stderr}`);
      else reports.set(key(name, params), JSON.parse(stdout) as SimulationReport);
    }
  };
  await Promise.all([worker(), worker()]);
}, 300_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the shipped scenarios', () => {
  it('each is checked here, runs through the CLI with --json only on stdout, and says what it shows and how to run it', () => {
    const files = readdirSync(join(projectRoot, dir)).filter((f) => f.endsWith('.mjs'));
    expect(files.map((f) => f.replace(/\.mjs$/, '')).sort()).toEqual(Object.keys(RUNS).sort());
    expect(failures).toEqual([]);
    for (const file of files) {
      const text = readFileSync(join(projectRoot, dir, file), 'utf8');
      const header = text.slice(0, text.search(/^import /m));
      expect(header.split('\n').every((line) => line === '' || line.startsWith('//'))).toBe(true);
      expect(header).toContain(`npx breakwater simulate ${dir}/${file}`);
      expect(header).toContain(`npx breakwater tune ${dir}/${file} --grid`);
    }
  });
});

describe('cascade: a bad deploy (20 ms → 2 s), with and without protection', () => {
  const rollbackMs = 20_000;

  it('protected, more requests meet the SLO than unprotected', () => {
    const unprotected = totals('cascade', { protect: false });
    const protectedRun = totals('cascade', { protect: true });
    expect(protectedRun.sent).toBe(unprotected.sent);
    expect(protectedRun.goodput).toBeGreaterThan(unprotected.goodput * 1.2);
  });

  it("unprotected, abandoned work piles up at the downstream and goodput stays at zero for seconds after the rollback", () => {
    const r = report('cascade', { protect: false });
    // Callers send (1 + 1 reload) × 400/s, the slow downstream serves 20/s: ≈ 780 more each second.
    expect(r.totals.peakInFlight).toBeGreaterThan(5_000);
    const after = seconds(r, rollbackMs, rollbackMs + 3_000);
    expect(total(after, 'goodput')).toBe(0);
  });

  it('protected, the downstream holds a few bulkheads’ worth of calls and goodput is back within a second of the rollback', () => {
    const r = report('cascade', { protect: true });
    expect(r.totals.peakInFlight).toBeLessThan(100);
    const [first, ...rest] = seconds(r, rollbackMs, rollbackMs + 5_000);
    expect(first!.goodput).toBeGreaterThan(first!.sent * 0.5);
    for (const second of rest) expect(second.goodput).toBe(second.sent);
  });
});

describe('demo-cascade: the cascade demo in virtual time (test/sim/demo-claims.test.ts checks it in full)', () => {
  it("unprotected, in flight piles up to rps × 2 s; protected, p99 stays within the 250 ms timeout and the breaker opens and closes", () => {
    const unprotected = totals('demo-cascade', { protect: false });
    const protectedRun = report('demo-cascade', { protect: true });
    expect(unprotected.peakInFlight).toBeGreaterThanOrEqual(400);
    expect(unprotected.p99Ms).toBe(2_000);
    expect(protectedRun.totals.maxMs).toBeLessThanOrEqual(250);
    expect(protectedRun.transitions[0]).toMatchObject({ from: 'closed', to: 'open' });
    expect(protectedRun.transitions.at(-1)).toMatchObject({ from: 'half-open', to: 'closed' });
  });
});

describe('inventory: the worked example of docs/tuning.md', () => {
  it('healthy, the simulated latency is the histogram it was given (p50 22 ms, p99 85 ms)', () => {
    const healthy = totals('inventory', { healthy: true });
    expect(Math.abs(healthy.p50Ms! - 22) / 22).toBeLessThan(0.05);
    expect(Math.abs(healthy.p99Ms! - 85) / 85).toBeLessThan(0.1);
    expect(healthy.goodput).toBeGreaterThan(healthy.sent * 0.999);
  });

  it('the settings it chose beat the short-timeout, large-bulkhead, no-breaker ones by far', () => {
    const chosen = totals('inventory', {});
    const worst = totals('inventory', { timeoutMs: 100, concurrency: 64, breaker: false });
    expect(chosen.goodput).toBeGreaterThan(worst.goodput * 2);
    expect(chosen.peakInFlight * 10).toBeLessThan(worst.peakInFlight);
  });

  it("docs/tuning.md shows this run's numbers (regenerate with `node scripts/sim-charts.mjs` when they change)", () => {
    const page = readFileSync(join(projectRoot, 'docs/tuning.md'), 'utf8');
    for (const [params, row] of [
      [{}, /^\d+\s+timeoutMs=250 concurrency=adaptive breaker=true\s+(\d+) \(/m],
      [{ timeoutMs: 100, concurrency: 64, breaker: false }, /^\d+\s+timeoutMs=100 concurrency=64 breaker=false\s+(\d+) \(/m],
    ] as const) {
      const match = row.exec(page);
      expect(match, String(row)).not.toBeNull();
      expect(Number(match![1])).toBe(totals('inventory', params).goodput);
    }
  });
});

describe('retry-storm: naive retries against a retry budget', () => {
  const lastSeconds = (r: SimulationReport) => seconds(r, r.durationMs - 20_000, r.durationMs);

  it('naive retries stay collapsed long after the servers are back: goodput near zero, the backlog still growing', () => {
    const r = report('retry-storm', { budget: false });
    const tail = lastSeconds(r);
    expect(total(tail, 'goodput')).toBeLessThan(total(tail, 'sent') * 0.05);
    expect(tail.at(-1)!.peakInFlight).toBeGreaterThan(tail[0]!.peakInFlight);
    // Each request becomes four attempts.
    expect(r.totals.downstreamCalls).toBeGreaterThan(r.totals.sent * 3);
  });

  it('within a retry budget the same system recovers: nearly every request meets the SLO again', () => {
    const r = report('retry-storm', { budget: true });
    const tail = lastSeconds(r);
    expect(total(tail, 'goodput')).toBeGreaterThan(total(tail, 'sent') * 0.99);
    expect(r.totals.downstreamCalls).toBeLessThan(r.totals.sent * 1.2);
  });
});

describe('shared-rate-limit: a fleet sharing a rate limit', () => {
  // 200 tokens/s with a burst of 20, over 20 s: a bucket grants at most 20 + 200 × 20.
  const grantable = (refillPerSecond: number, durationMs: number) => 20 + (refillPerSecond * durationMs) / 1000;

  it('per process, the fleet lets instances × limit through', () => {
    const r = report('shared-rate-limit', { shared: false });
    const most = 5 * grantable(200, r.durationMs);
    expect(r.totals.downstreamCalls).toBeLessThanOrEqual(most);
    expect(r.totals.downstreamCalls).toBeGreaterThan(most * 0.98);
  });

  it('one limiter shared by the instances (the shape of a Redis limiter) holds the limit for the whole fleet', () => {
    const r = report('shared-rate-limit', { shared: true });
    const most = grantable(200, r.durationMs);
    expect(r.totals.downstreamCalls).toBeLessThanOrEqual(most);
    expect(r.totals.downstreamCalls).toBeGreaterThan(most * 0.99);
    for (const second of r.series.slice(1, r.durationMs / 1000)) expect(second.downstreamCalls).toBeLessThanOrEqual(200 + 1);
  });

  it('dividing the limit by the number of instances holds it only until the fleet grows', () => {
    const planned = report('shared-rate-limit', { shared: false, perInstanceRps: 40 });
    const grown = report('shared-rate-limit', { shared: false, perInstanceRps: 40, instances: 10 });
    expect(planned.totals.downstreamCalls).toBeLessThanOrEqual(5 * grantable(40, planned.durationMs));
    expect(planned.totals.downstreamCalls).toBeLessThan(grantable(200, planned.durationMs) * 1.03);
    expect(grown.totals.downstreamCalls).toBeGreaterThan(grantable(200, grown.durationMs) * 1.9);
  });
});

describe('slow-call-trip: a healthy but slower release and slowCallMs', () => {
  it('slowCallMs below the new healthy latency opens the breaker on a service that never fails', () => {
    const r = report('slow-call-trip', { slowCallMs: 100 });
    expect(r.totals.failed).toBe(0);
    expect(r.transitions.filter((t) => t.to === 'open').length).toBeGreaterThan(0);
    expect(r.totals.shed).toBeGreaterThan(r.totals.sent * 0.5);
  });

  it('a slowCallMs above the healthy p99 never opens it: every request succeeds within the SLO', () => {
    const r = report('slow-call-trip', { slowCallMs: 1000 });
    expect(r.transitions).toEqual([]);
    expect(r.totals.goodput).toBe(r.totals.sent);
  });
});

describe('slow-canary: 10 % of calls slow, with and without a hedge', () => {
  it('hedging cuts p99 from the canary’s latency to the healthy build’s, for less than 15 % more calls', () => {
    const plain = totals('slow-canary', { hedged: false });
    const hedged = totals('slow-canary', { hedged: true });
    expect(plain.p99Ms).toBeGreaterThan(800);
    expect(hedged.p99Ms).toBeLessThan(200);
    expect(hedged.p99Ms! * 5).toBeLessThan(plain.p99Ms!);
    expect(plain.downstreamCalls).toBe(plain.sent);
    expect(hedged.downstreamCalls).toBeGreaterThan(hedged.sent);
    expect(hedged.downstreamCalls).toBeLessThan(hedged.sent * 1.15);
  });

  it('breakwater tune ranks the hedged configurations first', async () => {
    const out = join(scratch, 'canary');
    const { code, stdout, stderr } = await breakwater(['tune', `${dir}/slow-canary.mjs`, '--grid', 'hedged=false,true', '--json', '--out', out]);
    expect([code, stderr.split('\n').filter((l) => l !== '' && !l.startsWith('tune: '))]).toEqual([0, []]);
    const ranking = JSON.parse(stdout) as { results: Array<{ rank: number; params: Params; totals: SimulationCounts }> };
    expect(ranking.results.map((r) => r.params)).toEqual([{ hedged: true }, { hedged: false }]);
    expect(ranking.results[0]!.totals).toEqual(totals('slow-canary', { hedged: true }));
  }, 120_000);
});
