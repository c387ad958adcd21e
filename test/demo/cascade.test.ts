// A smoke run of `npm run demo` (demo/cascade.mjs --json): both scenarios, each with its three
// runs (unprotected, hand-sized bulkhead, adaptive limit), under a second of real load per run,
// real servers on 127.0.0.1. It checks only what a slow machine cannot change: the process exits
// by itself with one JSON object on stdout, the report has every scenario and run with every
// documented field, and every request sent got an answer. What the demo claims about latency,
// shedding, the breaker and the limit depends on the machine's speed in real time, so it is not
// asserted here.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot as root } from '../package/built.js';

// Given flags apply to every scenario; the others keep each scenario's defaults.
const config = {
  rps: 50,
  normalMs: 200,
  badMs: 400,
  healMs: 200,
  badLatencyMs: 200,
  timeoutMs: 100,
  maxConcurrent: 5,
};
const scenarioDefaults = {
  cascade: { badErrorRate: 0.5, slowCallMs: 50 },
  slower: { badErrorRate: 0, slowCallMs: 100 },
};
const RUNS = ['unprotected', 'protected', 'adaptive'] as const;

/** The demo exits by itself well within this, even on a loaded machine; it is killed after it. */
const KILL_AFTER_MS = 60_000;

interface Phase {
  sent: number;
  succeeded: number;
  total: number;
}
interface Run {
  sent: number;
  total: number;
  succeeded: number;
  failed: number;
  shed: number;
  noAnswer: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  peakInFlight: number;
  downstreamCallsDuringBadDeploy: number;
  phases: Record<'healthy' | 'badDeploy' | 'healed', Phase>;
  shedByBreaker: number;
  shedByConcurrencyBound: number;
  breakerOpenedAfterMs?: number | null;
  breakerClosedAfterMs?: number | null;
  adaptiveLimit?: Record<'atBadDeploy' | 'minDuringBadDeploy' | 'maxDuringBadDeploy' | 'atEnd' | 'changes', number>;
}
interface Report {
  machine: Record<string, unknown>;
  scenarios: Record<string, { config: Record<string, unknown>; runs: Record<(typeof RUNS)[number], Run> }>;
}

function runDemo(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['demo/cascade.mjs', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // The demo must exit by itself: a leftover socket or timer would keep it alive past this.
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('cascade demo (real HTTP, smoke run)', () => {
  let result: Awaited<ReturnType<typeof runDemo>>;
  let report: Report;

  beforeAll(async () => {
    ensureBuilt();
    result = await runDemo([
      '--json',
      '--quiet',
      '--rps', String(config.rps),
      '--normal-ms', String(config.normalMs),
      '--bad-ms', String(config.badMs),
      '--heal-ms', String(config.healMs),
      '--bad-latency-ms', String(config.badLatencyMs),
      '--timeout-ms', String(config.timeoutMs),
      '--max-concurrent', String(config.maxConcurrent),
    ]);
    report = JSON.parse(result.stdout) as Report;
  }, KILL_AFTER_MS + 10_000);

  it('exits by itself with status 0, printing one JSON object and nothing else', () => {
    expect(result.signal, 'killed: something kept the demo alive').toBeNull();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(typeof report).toBe('object');
    expect(Object.keys(report)).toEqual(['machine', 'scenarios']);
  });

  it('runs every scenario, each with the configuration it ran with', () => {
    expect(Object.keys(report.scenarios)).toEqual(['cascade', 'slower']);
    for (const [name, own] of Object.entries(scenarioDefaults)) {
      expect(report.scenarios[name]!.config).toMatchObject({
        scenario: name,
        ...config,
        normalLatencyMs: 20,
        adaptiveLimit: 'aimd',
        ...own,
      });
    }
  });

  it('reports the three runs of each scenario with every documented field', () => {
    for (const { runs } of Object.values(report.scenarios)) {
      expect(Object.keys(runs)).toEqual(RUNS);
      for (const run of Object.values(runs)) {
        for (const key of ['total', 'succeeded', 'failed', 'shed', 'shedByBreaker', 'shedByConcurrencyBound', 'p50Ms', 'p99Ms', 'maxMs', 'peakInFlight', 'downstreamCallsDuringBadDeploy'] as const) {
          expect(Number.isFinite(run[key]), key).toBe(true);
          expect(run[key], key).toBeGreaterThanOrEqual(0);
        }
        expect(Object.keys(run.phases)).toEqual(['healthy', 'badDeploy', 'healed']);
      }
      // Measured from the deploy's start and end; null when it did not happen in this run.
      for (const run of [runs.protected, runs.adaptive]) {
        for (const key of ['breakerOpenedAfterMs', 'breakerClosedAfterMs'] as const) {
          const value = run[key];
          expect(value === null || Number.isFinite(value), key).toBe(true);
        }
      }
      expect(runs.unprotected.adaptiveLimit).toBeUndefined();
      expect(runs.protected.adaptiveLimit).toBeUndefined();
      const limit = runs.adaptive.adaptiveLimit!;
      // aimdLimit's defaults: the limit lives in [20, 200].
      for (const key of ['atBadDeploy', 'minDuringBadDeploy', 'maxDuringBadDeploy', 'atEnd'] as const) {
        expect(Number.isInteger(limit[key]), key).toBe(true);
        expect(limit[key], key).toBeGreaterThanOrEqual(20);
        expect(limit[key], key).toBeLessThanOrEqual(200);
      }
      expect(limit.minDuringBadDeploy).toBeLessThanOrEqual(limit.atBadDeploy);
      expect(limit.maxDuringBadDeploy).toBeGreaterThanOrEqual(limit.atBadDeploy);
    }
  });

  it('answers every request it sent, in every run', () => {
    const expected = Math.floor(((config.normalMs + config.badMs + config.healMs) * config.rps) / 1000);
    for (const { runs } of Object.values(report.scenarios)) {
      for (const run of Object.values(runs)) {
        expect(run.sent).toBe(expected);
        expect(run.noAnswer).toBe(0);
        expect(run.total).toBe(run.sent);
        expect(run.succeeded + run.failed + run.shed).toBe(run.total);
        expect(run.shedByBreaker + run.shedByConcurrencyBound).toBe(run.shed);
        const phases = Object.values(run.phases);
        expect(phases.reduce((sum, phase) => sum + phase.sent, 0)).toBe(run.sent);
        expect(phases.reduce((sum, phase) => sum + phase.total, 0)).toBe(run.total);
      }
      // An unprotected client never sheds: it has nothing to shed with.
      expect(runs.unprotected.shed).toBe(0);
    }
  });
});
