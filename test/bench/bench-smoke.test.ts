import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs the benchmark suite in --quick mode against the built package and checks that the
// report is complete. No timing is asserted: numbers on a CI machine mean nothing.

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'breakwater-bench-'));
const mdPath = join(dir, 'benchmarks.md');
const jsonPath = join(dir, 'benchmarks.json');

interface Row {
  id: string;
  label: string;
  lib: string;
  unavailable?: string;
  error?: string;
  meanNs?: number;
  cpuNs?: number;
  p99Ns?: number;
  opsPerSec?: number;
  deltaNs?: number;
  deltaCpuNs?: number;
  ratio?: number;
}
interface Target {
  id: string;
  what: string;
  status: string;
  measured: string;
  by?: string;
}
interface Report {
  env: { node: string; cpu: string; date: string; packages: Record<string, string> };
  throughput: Record<string, Row[]>;
  targets: Target[];
  allocations: { results: Array<{ id: string; unavailable?: string; controllersPerCall?: number; timersPerCall?: number }> };
  memory: { breakers: Array<{ id: string; unavailable?: string; bytes?: number }>; keyed: Array<{ id: string; unavailable?: string; bytes?: number }> };
  sustained: { results: Array<{ id: string; unavailable?: string; calls?: number; worstStallMs?: number; heapEndAfterGcMB?: number }> };
  scale: { calls: number; results: Array<{ id: string; unavailable?: string; timersAlive?: number; timersAfter?: number; failed?: number }> };
}

const WORKLOADS = ['immediate/100', 'immediate/1', 'setImmediate/100', 'setImmediate/1'];
// The rows the benchmark report promises, in every workload (the proof rows and a few extras run in the first only).
const EVERY_WORKLOAD = [
  'bare',
  'bw.breaker', 'ck.breaker', 'op.fire', 'op.fireTimeout',
  'bw.breakerOpen', 'ck.breakerOpen', 'op.open',
  'bw.bulkhead', 'bw.adaptive', 'ck.bulkhead', 'pl.limit',
  'bw.rateLimiter', 'lim.removeTokens', 'lim.tryRemoveTokens', 'rlf.consume',
  'bw.rateLimiterReject', 'lim.reject', 'rlf.reject',
  'bw.retry', 'ck.retry',
  'bw.timeout', 'ck.timeout', 'bw.timeoutSignal', 'ck.timeoutSignal',
  'bw.fallback', 'ck.fallback',
  'bw.pipeline', 'ck.wrap', 'bw.pipelineSignal', 'ck.wrapSignal',
];
const FIRST_WORKLOAD_ONLY = ['proof.breaker0', 'proof.breakerDetached', 'proof.timeout0', 'proof.timeoutDetached'];
const TARGETS = [
  'breaker', 'bulkhead', 'rateLimiter', 'retry', 'adaptive', 'pipeline', 'controllers', 'open', 'proof', 'breakerBytes',
  'keyBytes', 'timers', 'flatBreaker', 'flatPipeline', 'stallBreaker', 'stallPipeline', 'heapBreaker', 'heapPipeline',
];

let report: Report;
let markdown: string;
let stderr: string;

beforeAll(() => {
  // CI builds before testing; a local run without dist builds it once.
  if (!existsSync(join(root, 'dist/index.js'))) {
    execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
  }
  const run = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--out', mdPath, '--json', jsonPath], {
    cwd: root,
    encoding: 'utf8',
    timeout: 150_000,
  });
  stderr = run.stderr;
  if (run.status !== 0) throw new Error(`bench/run.mjs --quick exited with ${run.status ?? run.signal}\n${run.stderr.slice(-3000)}`);
  report = JSON.parse(readFileSync(jsonPath, 'utf8')) as Report;
  markdown = readFileSync(mdPath, 'utf8');
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A row is either measured (finite, positive figures) or says which export it is waiting for. */
function expectMeasuredOrPending(row: Row): void {
  expect(row.error, `${row.id} failed: ${row.error}`).toBeUndefined();
  if (row.unavailable !== undefined) {
    expect(row.unavailable).toMatch(/not exported from dist yet/);
    expect(row.id.startsWith('bw.') || row.id.startsWith('proof.')).toBe(true);
    return;
  }
  for (const key of ['meanNs', 'cpuNs', 'p99Ns', 'opsPerSec', 'ratio'] as const) {
    const value = row[key];
    expect(Number.isFinite(value) && (value as number) > 0, `${row.id}.${key} = ${value}`).toBe(true);
  }
  expect(Number.isFinite(row.deltaNs), `${row.id}.deltaNs`).toBe(true);
  expect(Number.isFinite(row.deltaCpuNs), `${row.id}.deltaCpuNs`).toBe(true);
}

describe('bench/run.mjs --quick', () => {
  it('reports the machine and the versions measured', () => {
    expect(report.env.node).toBe(process.version);
    expect(report.env.cpu.length).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(report.env.date))).toBe(false);
    for (const peer of ['cockatiel', 'opossum', 'p-limit', 'limiter', 'rate-limiter-flexible', 'tinybench']) {
      expect(report.env.packages[peer]).toMatch(/^\d+\.\d+\.\d+/);
    }
    expect(markdown).toContain(report.env.node);
    expect(markdown).toContain(report.env.cpu);
  });

  it('has every throughput row in every workload, measured or waiting for its export', () => {
    for (const workload of WORKLOADS) {
      const rows = report.throughput[workload];
      expect(rows, workload).toBeDefined();
      const ids = rows!.map((r) => r.id);
      const wanted = workload === 'immediate/100' ? [...EVERY_WORKLOAD, ...FIRST_WORKLOAD_ONLY] : EVERY_WORKLOAD;
      for (const id of wanted) expect(ids, `${workload} lacks ${id}`).toContain(id);
      for (const row of rows!) expectMeasuredOrPending(row);
    }
  });

  it('writes one markdown table per workload with a line for every row', () => {
    const sections = markdown.split('\n### ').slice(1);
    for (const workload of WORKLOADS) {
      const rows = report.throughput[workload]!;
      const section = sections.find((s) => rows.every((r) => r.id === 'bare' || s.includes(r.label)));
      expect(section, `no section lists every row of ${workload}`).toBeDefined();
    }
    expect(markdown).toMatch(/\| what \| library \| row \| calls\/s \| mean ns \| p99 ns \| × bare \|/);
  });

  it('judges every target, saying by how much a missed one misses', () => {
    expect(report.targets.map((t) => t.id)).toEqual(TARGETS);
    for (const target of report.targets) {
      expect(['pass', 'MISS', 'n/a']).toContain(target.status);
      expect(markdown).toContain(target.what);
      if (target.status === 'MISS') expect(target.by).toMatch(/(over|under) by/);
    }
    expect(markdown).toContain('## Targets');
  });

  it('runs the allocation, memory, sustained and scale suites', () => {
    const bwTimeout = report.allocations.results.find((r) => r.id === 'bw.timeout');
    expect(bwTimeout?.controllersPerCall).toBe(0);
    const bwTimeoutSignal = report.allocations.results.find((r) => r.id === 'bw.timeoutSignal');
    expect(bwTimeoutSignal?.controllersPerCall).toBeGreaterThan(0);
    for (const r of [...report.memory.breakers, ...report.memory.keyed]) {
      if (r.unavailable === undefined) expect(Number.isFinite(r.bytes), r.id).toBe(true);
      // Only breakwater's own rows may wait for an export; a peer's row is always measured.
      else expect(r.id.startsWith('bw.'), `${r.id} was not measured: ${r.unavailable}`).toBe(true);
    }
    expect(report.memory.breakers.map((r) => r.id)).toEqual(expect.arrayContaining(['bw.breaker', 'ck.breaker', 'op.breaker']));
    expect(report.memory.keyed.map((r) => r.id)).toEqual(expect.arrayContaining(['bw.keyed', 'rlf.memory']));
    const pipeline = report.sustained.results.find((r) => r.id === 'pipeline');
    expect(pipeline?.calls).toBeGreaterThan(0);
    const scale = report.scale.results.find((r) => r.id === 'bw.timeout');
    expect(scale?.failed).toBe(0);
    expect(scale?.timersAfter).toBe(0); // nothing outlives the calls
    const cockatiel = report.scale.results.find((r) => r.id === 'ck.timeout');
    expect(cockatiel?.timersAlive).toBe(report.scale.calls); // proves the counter counts
    expect(stderr).not.toMatch(/setup failed/);
  });
});
