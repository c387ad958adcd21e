// A smoke run of `npm run demo` (demo/cascade.mjs --json): about a second of real load per run,
// real servers on 127.0.0.1. It checks only what a slow machine cannot change: the process exits
// by itself with one JSON object on stdout, the report has both runs with every documented
// field, and every request sent got an answer. What the demo claims about latency, shedding and
// the breaker depends on the machine's speed in real time, so it is not asserted here.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot as root } from '../package/built.js';

const config = {
  rps: 50,
  normalMs: 300,
  badMs: 400,
  healMs: 300,
  badLatencyMs: 200,
  badErrorRate: 0.5,
  timeoutMs: 100,
  maxConcurrent: 5,
};

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
  breakerOpenedAfterMs?: number | null;
  breakerClosedAfterMs?: number | null;
}
interface Report {
  config: Record<string, number>;
  runs: { unprotected: Run; protected: Run };
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
      '--bad-error-rate', String(config.badErrorRate),
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
  });

  it('echoes the configuration it ran with', () => {
    expect(report.config).toMatchObject({
      rps: config.rps,
      normalMs: config.normalMs,
      badMs: config.badMs,
      healMs: config.healMs,
      timeoutMs: config.timeoutMs,
      maxConcurrent: config.maxConcurrent,
      normalLatencyMs: 20,
      badLatencyMs: config.badLatencyMs,
      badErrorRate: config.badErrorRate,
    });
  });

  it('reports both runs with every documented field', () => {
    expect(Object.keys(report.runs)).toEqual(['unprotected', 'protected']);
    for (const run of [report.runs.unprotected, report.runs.protected]) {
      for (const key of ['total', 'succeeded', 'failed', 'shed', 'p50Ms', 'p99Ms', 'maxMs', 'peakInFlight', 'downstreamCallsDuringBadDeploy'] as const) {
        expect(Number.isFinite(run[key]), key).toBe(true);
        expect(run[key], key).toBeGreaterThanOrEqual(0);
      }
      expect(Object.keys(run.phases)).toEqual(['healthy', 'badDeploy', 'healed']);
    }
    // Measured from the bad deploy's start and end; null when it did not happen in this run.
    for (const key of ['breakerOpenedAfterMs', 'breakerClosedAfterMs'] as const) {
      const value = report.runs.protected[key];
      expect(value === null || Number.isFinite(value), key).toBe(true);
    }
  });

  it('answers every request it sent, in both runs', () => {
    const expected = Math.floor(((config.normalMs + config.badMs + config.healMs) * config.rps) / 1000);
    for (const run of [report.runs.unprotected, report.runs.protected]) {
      expect(run.sent).toBe(expected);
      expect(run.noAnswer).toBe(0);
      expect(run.total).toBe(run.sent);
      expect(run.succeeded + run.failed + run.shed).toBe(run.total);
      const phases = Object.values(run.phases);
      expect(phases.reduce((sum, phase) => sum + phase.sent, 0)).toBe(run.sent);
      expect(phases.reduce((sum, phase) => sum + phase.total, 0)).toBe(run.total);
    }
    // An unprotected client never sheds: it has nothing to shed with.
    expect(report.runs.unprotected.shed).toBe(0);
  });
});
