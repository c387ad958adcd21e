// What the cascade demo prints, and where: stdout carries only the result, progress goes to
// stderr as a status line that fits the terminal or, in a pipe, a line every few seconds.
// The pure parts are fed made-up samples; one tiny real run checks the streams end to end.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot as root } from '../package/built.js';

interface Sample {
  name: string;
  tMs: number;
  phase: string;
  durationMs: number;
  inFlight: number;
  breaker?: string;
  sent: number;
  succeeded: number;
  failed: number;
  shed: number;
}
interface Progress {
  start(name: string): void;
  sample(s: Sample): void;
  end(name: string): void;
}
type ProgressModule = {
  PIPE_EVERY_MS: number;
  formatClock(tMs: number, durationMs: number): string;
  statusLine(s: Sample, width?: number): string;
  createProgress(options: { quiet: boolean; stream: object }): Progress;
};
const { PIPE_EVERY_MS, formatClock, statusLine, createProgress } = (await import(
  new URL('../../demo/lib/progress.mjs', import.meta.url).href
)) as ProgressModule;
const { renderTable } = (await import(new URL('../../demo/lib/report.mjs', import.meta.url).href)) as {
  renderTable(config: object, runs: object): string;
};

/** Samples every 100 ms as the scenario emits them: a little before the start, past the end while answers drain. */
function samples(name: string, durationMs: number, drainMs: number, breaker?: string): Sample[] {
  const out: Sample[] = [];
  for (let tMs = -40; tMs <= durationMs + drainMs; tMs += 100) {
    const sent = Math.min(Math.max(0, tMs), durationMs) * 2;
    out.push({
      name,
      tMs,
      phase: tMs < durationMs / 3 ? 'healthy' : tMs < (2 * durationMs) / 3 ? 'bad deploy' : 'healed',
      durationMs,
      inFlight: 4000,
      ...(breaker === undefined ? {} : { breaker }),
      sent,
      succeeded: Math.floor(sent / 2),
      failed: Math.floor(sent / 4),
      shed: Math.floor(sent / 4),
    });
  }
  return out;
}

function fakeStream(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (text: string) => writes.push(text) } };
}

const clocks = (text: string) => [...text.matchAll(/(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)s/g)].map((m) => [Number(m[1]), Number(m[2])]);

describe('the status line', () => {
  it('never counts past the end of the load, which drains after it', () => {
    expect(formatClock(4900, 4000)).toBe('4.0/4s');
    expect(formatClock(-40, 4000)).toBe('0.0/4s');
    expect(formatClock(2250, 4500)).toBe('2.3/4.5s');
    for (const s of samples('protected', 4000, 2500, 'open')) {
      for (const [elapsed, total] of clocks(statusLine(s))) expect(elapsed).toBeLessThanOrEqual(total!);
    }
    expect(statusLine(samples('unprotected', 4000, 2500).at(-1)!)).toMatch(/^unprotected draining 4\.0\/4s /);
  });

  it('fits any width by dropping whole fields, keeping the run and its clock', () => {
    const s: Sample = {
      name: 'unprotected', tMs: 18_000, phase: 'healed', durationMs: 18_000, inFlight: 4000, breaker: 'half-open',
      sent: 36000, succeeded: 18000, failed: 9000, shed: 9000,
    };
    const full = statusLine(s);
    expect(full).toBe('unprotected draining 18.0/18s sent 36000 ok 18000 fail 9000 shed 9000 in-flight 4000 breaker half-open');
    for (let width = 10; width <= 130; width++) {
      const line = statusLine(s, width);
      expect(line.length, `width ${width}: ${line}`).toBeLessThanOrEqual(width);
      if (width >= 'unprotected 18.0/18s'.length) {
        expect(line.startsWith('unprotected ')).toBe(true);
        expect(line).toContain('18.0/18s');
        // Whole fields only: every word of the line is a word of the full line, in order.
        expect(full.split(' ').filter((w) => line.split(' ').includes(w)).join(' ')).toBe(line);
      }
    }
    expect(statusLine(s, 62)).toBe('unprotected draining 18.0/18s in-flight 4000 breaker half-open');
    expect(statusLine(s, 40)).toBe('unprotected 18.0/18s in-flight 4000');
  });

  it("shows an adaptive run's limit next to the calls in flight, dropped after the breaker's state", () => {
    const s: Sample & { limit: number } = {
      name: 'slower/adaptive', tMs: 3000, phase: 'slow deploy', durationMs: 7000, inFlight: 31, breaker: 'closed', limit: 57,
      sent: 600, succeeded: 590, failed: 0, shed: 10,
    };
    expect(statusLine(s)).toBe('slower/adaptive slow deploy 3.0/7s sent 600 ok 590 fail 0 shed 10 in-flight 31 breaker closed limit 57');
    expect(statusLine(s, 60)).toBe('slower/adaptive slow deploy 3.0/7s in-flight 31 limit 57');
    expect(statusLine(s, 40)).toBe('slower/adaptive 3.0/7s in-flight 31');
  });

  it('on a terminal, every rewrite of the line fits its width', () => {
    for (const columns of [30, 50, 80]) {
      const { writes, stream } = fakeStream(true, columns);
      const progress = createProgress({ quiet: false, stream });
      progress.start('protected');
      for (const s of samples('protected', 18_000, 2000, 'closed')) progress.sample(s);
      progress.end('protected');
      expect(writes.length).toBeGreaterThan(180);
      for (const write of writes) {
        const visible = write.replace('\r\x1b[2K', '');
        expect(visible).not.toContain('\n');
        expect(visible.length).toBeLessThan(columns);
        for (const [elapsed, total] of clocks(visible)) expect(elapsed).toBeLessThanOrEqual(total!);
      }
    }
  });
});

describe('progress in a pipe', () => {
  it('prints a plain line at least every few seconds of each run, not one per sample', () => {
    const { writes, stream } = fakeStream(false);
    const progress = createProgress({ quiet: false, stream });
    for (const name of ['unprotected', 'protected']) {
      progress.start(name);
      for (const s of samples(name, 18_000, 2500)) progress.sample(s);
      progress.end(name);
    }
    expect(writes.every((w) => w.endsWith('\n') && !/[\r\x1b]/.test(w))).toBe(true);
    const lines = writes.map((w) => w.trimEnd());
    for (const name of ['unprotected', 'protected']) {
      const from = lines.indexOf(`running ${name}…`);
      const to = lines.indexOf(`${name} done`);
      expect(from).toBeGreaterThanOrEqual(0);
      const status = lines.slice(from + 1, to);
      // 20.5 s of samples → a line at 3, 6, …, 18 s and one while draining.
      expect(status.length).toBe(Math.floor(20_500 / PIPE_EVERY_MS));
      expect(status.every((line) => line.startsWith(`${name} `))).toBe(true);
      expect(status.at(-1)).toMatch(/ draining 18\.0\/18s /);
    }
  });

  it('prints nothing with --quiet', () => {
    const { writes, stream } = fakeStream(false);
    const progress = createProgress({ quiet: true, stream });
    progress.start('unprotected');
    for (const s of samples('unprotected', 9000, 0)) progress.sample(s);
    progress.end('unprotected');
    expect(writes).toEqual([]);
  });
});

describe('the table', () => {
  const run = (lagMs: number, delayMs: number, extra: object = {}) => ({
    sent: 10, succeeded: 10, failed: 0, shed: 0, shedByBreaker: 0, shedByConcurrencyBound: 0, noAnswer: 0,
    p50Ms: 1, p99Ms: 2, maxMs: 3, peakInFlight: 1, downstreamCallsDuringBadDeploy: 1, timeline: [], outcomes: {}, retries: 0,
    loadGenerator: { maxSendLagMs: lagMs, eventLoopDelayP99Ms: delayMs },
    ...extra,
  });
  const config = {
    scenario: 'slower', rps: 10, normalMs: 1000, badMs: 1000, healMs: 1000, normalLatencyMs: 20, badLatencyMs: 150,
    badErrorRate: 0, maxRetries: 1, maxConcurrent: 20, timeoutMs: 250, slowCallMs: 250, adaptiveLimit: 'aimd',
  };
  const breaker = { breakerOpenedAfterMs: null, breakerClosedAfterMs: 0 };
  const table = renderTable(config, {
    unprotected: run(77.4, 11.1),
    protected: run(26.3, 9.5, breaker),
    adaptive: run(30.2, 8.7, {
      ...breaker,
      adaptiveLimit: { atBadDeploy: 20, minDuringBadDeploy: 20, maxDuringBadDeploy: 61, atEnd: 58, changes: 44 },
    }),
  });
  const lines = table.split('\n');

  it('has a column per run, the hand-sized bulkhead named by its size', () => {
    expect(lines[0]).toBe('slower: 10 req/s open loop; downstream 20 ms → 150 ms with no errors for 1 s, then rolled back');
    expect(lines).toContain('  adaptive    = the same with adaptiveConcurrency({ limit: aimdLimit() }) in place of the bulkhead');
    expect(lines.find((line) => line.trim().startsWith('unprotected'))!.trim().split(/\s{2,}/)).toEqual(['unprotected', 'bulkhead 20', 'adaptive']);
  });

  it('shows the adaptive limit for the adaptive run only', () => {
    expect(lines.find((line) => line.startsWith('adaptive limit when the slow deploy began'))!.trim().split(/\s{2,}/).slice(-3)).toEqual(['–', '–', '20']);
    expect(lines.find((line) => line.startsWith('  lowest – highest'))!.trim().split(/\s{2,}/).slice(-3)).toEqual(['–', '–', '20 – 61']);
    expect(lines.find((line) => line.startsWith('breaker opened'))!.trim().split(/\s{2,}/).slice(-3)).toEqual(['–', 'never', 'never']);
  });

  it('says which run each load-generator number belongs to', () => {
    expect(lines.at(-1)).toBe(
      'load generator check (unprotected / bulkhead 20 / adaptive): sends late by ≤ 77.4 / 26.3 / 30.2 ms, event-loop delay p99 11.1 / 9.5 / 8.7 ms',
    );
  });
});

describe('npm run demo', () => {
  it('sends the build log to stderr, so `npm run demo -- --json` leaves stdout to the demo', () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { scripts: Record<string, string> };
    // Run the script's command line as npm would (`-- --help` appended), with an `npm` that
    // stands in for the build and writes a log to stdout, as tsup does.
    const bin = mkdtempSync(join(tmpdir(), 'breakwater-demo-npm-'));
    try {
      writeFileSync(join(bin, 'npm'), '#!/bin/sh\necho "CLI Building entry: src/index.ts"\necho "build warning" >&2\n');
      chmodSync(join(bin, 'npm'), 0o755);
      const result = spawnSync('/bin/sh', ['-c', `${pkg.scripts['demo']} --help`], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` },
      });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout.startsWith('usage: node demo/cascade.mjs')).toBe(true);
      expect(result.stdout).not.toContain('Building');
      expect(result.stderr).toContain('CLI Building entry');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('a tiny real run with --json in a pipe: one JSON object on stdout, progress on stderr', async () => {
    ensureBuilt();
    const args = ['--json', '--scenario', 'slower', '--rps', '20', '--normal-ms', '300', '--bad-ms', '300', '--heal-ms', '300', '--bad-latency-ms', '100'];
    const child = spawn(process.execPath, ['demo/cascade.mjs', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    expect(code, stderr).toBe(0);
    expect(stdout.endsWith('}\n')).toBe(true);
    expect(stdout.trimEnd().split('\n')).toHaveLength(1);
    const report = JSON.parse(stdout) as { scenarios: Record<string, { runs: Record<string, { sent: number }> }> };
    expect(Object.keys(report.scenarios)).toEqual(['slower']);
    const runs = ['unprotected', 'protected', 'adaptive'];
    for (const name of runs) expect(report.scenarios['slower']!.runs[name]!.sent).toBe(18);
    expect(stderr).toBe(runs.map((name) => `running slower/${name}…\nslower/${name} done\n`).join(''));
  }, 60_000);
});
