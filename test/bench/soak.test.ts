import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

// Runs the soak in --quick mode (100 000 calls per case) against the built package and checks
// what it promises: every case ran, every outcome of the mix happened, and every counter adds
// up, from the caller's side and from the policy's own events. The counters are recomputed
// here from the raw tallies rather than read from the soak's own verdicts. No timing or heap
// figure is asserted: on a shared CI machine they mean nothing.

const root = resolve(import.meta.dirname, '../..');
const OUTCOMES = ['successes', 'failures', 'refusals', 'timeouts', 'aborts'] as const;
type Outcome = (typeof OUTCOMES)[number];
type Tally = Record<Outcome | 'unexpected', number>;

interface Result {
  id: string;
  label: string;
  calls: number;
  callsPerSecond: number;
  mix: Record<string, number>;
  own: Tally & { fallbacks: number; abortsBeforeFn: number };
  events?: Tally & { fallbacks: number; retries: number; retriedTimeouts: number; opened: number };
  layers?: Record<string, Tally>;
  fnCalls: number;
  driverYields: number;
  outcomes: Outcome[];
  heap: { samples: number; afterWarmupMB: number | null; endMB: number; driftMB: number | null; series: Array<{ atMs: number; settled: number; heapMB: number }> };
  loop: { worstDelayMs: number; medianWindowWorstDelayMs: number; worstGcPauseMs: number };
  timersLeft: number;
  unhandledRejections: number;
}
interface Check {
  case: string;
  kind: 'invariant' | 'coverage' | 'target';
  id: string;
  pass: boolean;
  detail: string;
}
interface Soak {
  env: { node: string };
  settings: { calls: number; quick: boolean };
  results: Result[];
  checks: Check[];
}

const CASES = ['bare', 'timeout', 'retry', 'circuitBreaker', 'bulkhead', 'rateLimiter', 'keyedRateLimiter', 'fallback', 'pipeline'];
/** Their events do not report a caller that aborted while waiting for a slot or a token. */
const SILENT_WHILE_WAITING = ['bulkhead', 'rateLimiter', 'keyedRateLimiter'];

const { evaluateSoak } = (await import(new URL('../../bench/lib/soak-report.mjs', import.meta.url).href)) as {
  evaluateSoak: (data: Soak) => Check[];
};

const soak = (...args: string[]) =>
  spawnSync(process.execPath, ['bench/soak.mjs', ...args], { cwd: root, encoding: 'utf8', timeout: 400_000 });

let data: Soak;
const byId = (id: string): Result => data.results.find((r) => r.id === id)!;
const sum = (t: Tally) => OUTCOMES.reduce((n, o) => n + t[o], 0);

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.js'))) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
  const run = soak('--quick', '--json');
  if (run.status !== 0) throw new Error(`bench/soak.mjs --quick exited with ${run.status ?? run.signal}\n${run.stderr.slice(-3000)}`);
  data = JSON.parse(run.stdout) as Soak;
}, 420_000);

describe('bench/soak.mjs --quick --json', () => {
  it('runs every case for 100 000 calls, with heap and event-loop figures', () => {
    expect(data.settings).toMatchObject({ calls: 100_000, quick: true });
    expect(data.env.node).toBe(process.version);
    expect(data.results.map((r) => r.id)).toEqual(CASES);
    for (const r of data.results) {
      expect(r.calls, r.id).toBe(100_000);
      expect(r.callsPerSecond, r.id).toBeGreaterThan(0);
      expect(r.heap.samples, r.id).toBeGreaterThan(2);
      expect(r.heap.series.every((s) => s.heapMB > 0), r.id).toBe(true);
      expect(Number.isFinite(r.heap.driftMB), `${r.id} drift`).toBe(true);
      for (const key of ['worstDelayMs', 'medianWindowWorstDelayMs', 'worstGcPauseMs'] as const) {
        expect(Number.isFinite(r.loop[key]) && r.loop[key] >= 0, `${r.id} ${key}`).toBe(true);
      }
    }
  });

  it('gives every case the same mix of calls', () => {
    const mix = byId('bare').mix;
    expect(Object.values(mix).reduce((a, b) => a + b, 0)).toBe(100_000);
    for (const kind of ['okNow', 'okNextTurn', 'fail', 'flaky', 'slow', 'abort']) expect(mix[kind], kind).toBeGreaterThan(0);
    for (const r of data.results) expect(r.mix, r.id).toEqual(mix);
  });

  it('counts every call exactly once: successes + failures + refusals + timeouts + aborts = calls', () => {
    for (const r of data.results) {
      expect(r.own.unexpected, r.id).toBe(0);
      expect(sum(r.own), r.id).toBe(r.calls);
    }
  });

  it("agrees with the policy's own events, outcome by outcome", () => {
    for (const r of data.results.filter((x) => x.id !== 'bare')) {
      const silent = SILENT_WHILE_WAITING.includes(r.id) ? r.own.abortsBeforeFn : 0;
      for (const o of OUTCOMES) expect(r.events![o], `${r.id} ${o}`).toBe(r.own[o] - (o === 'aborts' ? silent : 0));
      expect(r.events!.unexpected, r.id).toBe(0);
      expect(r.events!.fallbacks, r.id).toBe(r.own.fallbacks);
    }
    // Where a caller cannot wait, every abort reached fn and the events saw it.
    for (const id of ['bare', 'timeout', 'retry', 'circuitBreaker', 'fallback']) expect(byId(id).own.abortsBeforeFn, id).toBe(0);
  });

  it('ran fn exactly as often as the counters say', () => {
    for (const id of ['bare', 'timeout', 'fallback']) expect(byId(id).fnCalls, id).toBe(100_000);
    const retry = byId('retry');
    expect(retry.fnCalls).toBe(retry.calls + retry.events!.retries);
    for (const id of ['circuitBreaker', 'bulkhead', 'rateLimiter', 'keyedRateLimiter']) {
      const r = byId(id);
      expect(r.fnCalls, id).toBe(r.calls - r.own.refusals - r.own.abortsBeforeFn);
    }
    const p = byId('pipeline');
    const t = p.layers!['timeout']!;
    expect(p.fnCalls).toBe(t.successes + t.failures + t.refusals + t.aborts + p.events!.retriedTimeouts + p.own.timeouts);
  });

  it('makes every outcome a policy can produce happen, and no other', () => {
    for (const r of data.results) {
      for (const o of OUTCOMES) {
        if (r.outcomes.includes(o)) expect(r.own[o], `${r.id} ${o}`).toBeGreaterThan(0);
        else expect(r.own[o], `${r.id} ${o}`).toBe(0);
      }
    }
    expect(byId('timeout').outcomes).toContain('timeouts');
    expect(byId('pipeline').outcomes).toEqual([...OUTCOMES]);
    expect(byId('circuitBreaker').events!.opened).toBeGreaterThan(0);
    expect(byId('retry').events!.retries).toBeGreaterThan(0);
    expect(byId('fallback').own.fallbacks).toBeGreaterThan(0);
  });

  it('bounds the launches of a turn only where calls are refused at once, never in the baseline', () => {
    expect(byId('bare').driverYields).toBe(0);
    expect(byId('circuitBreaker').driverYields).toBeGreaterThan(0);
  });

  it('leaves no timer and no unhandled rejection behind', () => {
    for (const r of data.results) {
      expect(r.timersLeft, r.id).toBe(0);
      expect(r.unhandledRejections, r.id).toBe(0);
    }
  });

  it("reports the same verdicts as this test, and every invariant holds", () => {
    expect(evaluateSoak(data)).toEqual(data.checks);
    const broken = data.checks.filter((c) => c.kind !== 'target' && !c.pass);
    expect(broken).toEqual([]);
    const kinds = new Set(data.checks.map((c) => `${c.case}:${c.id}`));
    for (const id of CASES) for (const check of ['adds-up', 'fn-calls', 'timers', 'coverage']) expect(kinds, `${id} ${check}`).toContain(`${id}:${check}`);
  });

  it('its checks fail when a counter is off by one', () => {
    const tamper = (id: string, change: (r: Result) => void): string[] => {
      const copy = structuredClone(data);
      change(copy.results.find((r) => r.id === id)!);
      return evaluateSoak(copy).filter((c) => c.case === id && !c.pass).map((c) => c.id);
    };
    expect(tamper('bulkhead', (r) => r.own.successes++)).toContain('adds-up');
    expect(tamper('timeout', (r) => r.events!.timeouts--)).toContain('events-agree');
    expect(tamper('retry', (r) => r.fnCalls++)).toContain('fn-calls');
    expect(tamper('fallback', (r) => r.timersLeft++)).toContain('timers');
    expect(tamper('circuitBreaker', (r) => (r.events!.opened = 0))).toContain('coverage');
    expect(tamper('bare', (r) => (r.own.timeouts = 1))).toContain('impossible');
  });
});

describe('bench/soak.mjs flags', () => {
  it.each([
    [['--bogus'], 'unknown argument --bogus'],
    [['--calls', '0'], '--calls needs a positive integer, received 0'],
    [['--calls', 'many'], '--calls needs a positive integer, received many'],
    [['--calls'], '--calls needs a value'],
    [['--write-docs', '--quick'], '--write-docs records a real run'],
  ])('%j prints the usage and exits 2', (argv, message) => {
    const result = soak(...argv);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.startsWith(`soak: ${message}`)).toBe(true);
    expect(result.stderr).toContain('usage: node --expose-gc bench/soak.mjs');
  });
});
