// The project's mission, measured: a short run of `npm run demo` (demo/cascade.mjs --json) and
// assertions on the numbers it measured. Real servers on 127.0.0.1, real time — parameters
// chosen with margin for a loaded 2-core machine (timeout 300 ms vs a 1500 ms bad latency).
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot as root } from '../package/built.js';

const config = {
  rps: 100,
  normalMs: 1500,
  badMs: 3000,
  healMs: 2500,
  badLatencyMs: 1500,
  badErrorRate: 0.5,
  timeoutMs: 300,
  maxConcurrent: 20,
};

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
  phases: Record<'healthy' | 'badDeploy' | 'healed', { sent: number; succeeded: number; total: number }>;
  breakerOpenedAfterMs?: number | null;
  breakerClosedAfterMs?: number | null;
}
interface Report {
  config: Record<string, number>;
  runs: { unprotected: Run; protected: Run };
}

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['demo/cascade.mjs', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // The demo must exit by itself: a leftover socket or timer would keep it alive past this.
    const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('cascade demo (real HTTP, real time)', () => {
  let report: Report;
  let elapsedMs: number;

  beforeAll(async () => {
    ensureBuilt();
    const result = await runDemo([
      '--json',
      '--rps', String(config.rps),
      '--normal-ms', String(config.normalMs),
      '--bad-ms', String(config.badMs),
      '--heal-ms', String(config.healMs),
      '--bad-latency-ms', String(config.badLatencyMs),
      '--bad-error-rate', String(config.badErrorRate),
      '--timeout-ms', String(config.timeoutMs),
      '--max-concurrent', String(config.maxConcurrent),
    ]);
    expect(result.code, result.stderr).toBe(0);
    report = JSON.parse(result.stdout) as Report;
    elapsedMs = result.ms;
  }, 60_000);

  it('echoes the configuration it ran with', () => {
    expect(report.config).toMatchObject({
      rps: config.rps,
      timeoutMs: config.timeoutMs,
      maxConcurrent: config.maxConcurrent,
      normalLatencyMs: 20,
      badLatencyMs: config.badLatencyMs,
      badErrorRate: config.badErrorRate,
    });
  });

  it('answers every request it sent, in both runs', () => {
    const expected = Math.floor(((config.normalMs + config.badMs + config.healMs) * config.rps) / 1000);
    for (const run of [report.runs.unprotected, report.runs.protected]) {
      expect(run.sent).toBe(expected);
      expect(run.noAnswer).toBe(0);
      expect(run.total).toBe(run.sent);
      expect(run.succeeded + run.failed + run.shed).toBe(run.total);
      // Healthy before and after: the demo measures a fault, not a broken setup.
      expect(run.phases.healthy.succeeded).toBe(run.phases.healthy.sent);
    }
  });

  it('unprotected: the bad deploy cascades — latency follows the downstream and calls pile up', () => {
    const u = report.runs.unprotected;
    expect(u.p99Ms).toBeGreaterThanOrEqual(config.badLatencyMs);
    expect(u.p50Ms).toBeGreaterThanOrEqual(config.badLatencyMs);
    // Little's law: rps × bad latency calls in flight (150 here); the client must not cap it.
    expect(u.peakInFlight).toBeGreaterThanOrEqual(0.8 * config.rps * (config.badLatencyMs / 1000));
    expect(u.shed).toBe(0);
  });

  it('protected: latency stays bounded by the timeout and in-flight calls by the bulkhead', () => {
    const p = report.runs.protected;
    expect(p.p99Ms).toBeLessThanOrEqual(1.2 * config.timeoutMs);
    expect(p.maxMs).toBeLessThan(config.badLatencyMs);
    expect(p.peakInFlight).toBeGreaterThan(0);
    expect(p.peakInFlight).toBeLessThanOrEqual(config.maxConcurrent);
    expect(p.shed).toBeGreaterThan(0);
    // The sick service is left alone instead of being hammered.
    expect(p.downstreamCallsDuringBadDeploy).toBeLessThan(report.runs.unprotected.downstreamCallsDuringBadDeploy / 3);
  });

  it('protected: the breaker opens within 1 s of the bad deploy and closes after the downstream heals', () => {
    const p = report.runs.protected;
    expect(typeof p.breakerOpenedAfterMs).toBe('number');
    expect(p.breakerOpenedAfterMs).toBeGreaterThanOrEqual(0);
    expect(p.breakerOpenedAfterMs).toBeLessThanOrEqual(1000);
    expect(typeof p.breakerClosedAfterMs).toBe('number');
    expect(p.breakerClosedAfterMs).toBeGreaterThanOrEqual(0);
    expect(p.breakerClosedAfterMs).toBeLessThan(config.healMs);
    // Once closed again, the rest of the healed phase is served.
    expect(p.phases.healed.succeeded).toBeGreaterThan(0.25 * p.phases.healed.sent);
  });

  it('exits by itself promptly', () => {
    const planned = 2 * (config.normalMs + config.badMs + config.healMs);
    expect(elapsedMs).toBeLessThan(planned + config.badLatencyMs + 10_000);
  });
});
