// The `breakwater` command, run as a user runs it: the built bin in a child process.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from '../package/built.js';
import type { SimulationReport } from '../../src/sim/index.js';

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bin = join(projectRoot, pkg.bin['breakwater']!);
const fixture = 'test/sim/fixtures/cascade.mjs';
let scratch = '';

function breakwater(...args: string[]) {
  // Run the bin file itself: its shebang starts node, as it does from node_modules/.bin.
  const result = spawnSync(bin, args, { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  ensureBuilt();
  if (!existsSync(bin)) spawnSync('npx', ['tsup'], { cwd: projectRoot, stdio: 'ignore' });
  scratch = mkdtempSync(join(tmpdir(), 'breakwater-cli-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('breakwater CLI', () => {
  it('is the package bin: an executable file starting with a node shebang', () => {
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
  });

  it('simulate --json prints the report as JSON and nothing else', () => {
    const { code, stdout, stderr } = breakwater('simulate', fixture, '--json', '--param', 'durationMs=4000', '--param', 'timeoutMs=100');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as SimulationReport;
    expect(report.name).toBe('cascade (timeoutMs=100, maxConcurrent=20)');
    expect(report.durationMs).toBe(4000);
    expect(report.totals.sent).toBeGreaterThan(500);
    expect(report.series.length).toBeGreaterThanOrEqual(4);
  });

  it('simulate prints a readable summary and writes a chart with --svg', () => {
    const svg = join(scratch, 'one.svg');
    const { code, stdout, stderr } = breakwater('simulate', fixture, '--svg', svg, '--param=durationMs=4000', '--seed', '3');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/goodput \(≤ 300 ms\)\s+\d+/);
    expect(stdout).toMatch(/^second\s+sent\s+ok/m);
    expect(stdout).toContain('seed 3');
    expect(XMLValidator.validate(readFileSync(svg, 'utf8'))).toBe(true);
  });

  it.each([
    [['simulate', fixture, '--bogus'], /unknown option "--bogus"/],
    [['simulate', fixture, '--grid', 'a=1'], /unknown option "--grid" for simulate/],
    [['simulate'], /needs a scenario file/],
    [['tune', fixture], /needs at least one --grid/],
    [['tune', fixture, '--grid', 'timeoutMs'], /--grid needs name=value/],
    [['tune', fixture, '--grid', 'a=1', '--grid', 'a=2'], /given twice/],
    [['tune', fixture, '--grid', 'a=1', '--workers', '0'], /--workers needs an integer >= 1/],
    [['simulate', fixture, '--svg'], /--svg needs a value/],
    [['explode', fixture], /unknown command "explode"/],
  ])('%j: usage on stderr, exit code 2', (args, message) => {
    const { code, stdout, stderr } = breakwater(...args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toContain('Usage:');
  });

  it('--help prints the usage and exits 0', () => {
    const { code, stdout } = breakwater('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('breakwater tune <scenario.mjs>');
  });

  it('a scenario that does not validate: the message, exit code 1', () => {
    const { code, stderr } = breakwater('simulate', 'test/sim/fixtures/broken.mjs');
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown option "latency" in downstream \(did you mean "latencyMs"/);
  });

  it('tune runs the grid, ranks by goodput, and writes a chart per configuration and a summary', () => {
    const out = join(scratch, 'sweep');
    const { code, stdout, stderr } = breakwater(
      'tune', fixture,
      '--grid', 'timeoutMs=100,2500',
      '--grid', 'maxConcurrent=4,20',
      '--param', 'durationMs=25000',
      '--out', out,
      '--json',
    );
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as {
      results: Array<{ rank: number; params: Record<string, number>; chart: string; totals: SimulationReport['totals'] }>;
      summary: string;
    };
    expect(result.results.map((r) => r.rank)).toEqual([1, 2, 3, 4]);
    const goodput = result.results.map((r) => r.totals.goodput);
    expect([...goodput].sort((a, b) => b - a)).toEqual(goodput);
    expect(result.results.map((r) => r.params).sort((a, b) => a['timeoutMs']! - b['timeoutMs']! || a['maxConcurrent']! - b['maxConcurrent']!)).toEqual([
      { timeoutMs: 100, maxConcurrent: 4 },
      { timeoutMs: 100, maxConcurrent: 20 },
      { timeoutMs: 2500, maxConcurrent: 4 },
      { timeoutMs: 2500, maxConcurrent: 20 },
    ]);
    for (const r of result.results) {
      expect(r.totals.sent).toBeGreaterThan(4000);
      expect(XMLValidator.validate(readFileSync(r.chart, 'utf8'))).toBe(true);
    }
    // The fixed parameter reached every configuration: 25 s of arrivals, not the default 30 s.
    expect(result.results.every((r) => r.totals.sent < 200 * 2 * 27)).toBe(true);
    const files = readdirSync(out).sort();
    expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(4);
    expect(files).toContain('summary.md');
    const summary = readFileSync(result.summary, 'utf8');
    expect(summary).toMatch(/^# breakwater tune: test\/sim\/fixtures\/cascade.mjs/);
    expect(summary).toContain('| rank | parameters | goodput |');
    expect(summary).toContain('Fixed: durationMs=25000.');
    const best = result.results[0]!.params;
    expect(summary).toContain(`| 1 | [timeoutMs=${best['timeoutMs']} maxConcurrent=${best['maxConcurrent']}](config-`);
    // Progress goes to stderr, one line per finished configuration when stderr is not a TTY.
    expect(stderr).toMatch(/tune: 4\/4 configurations/);
  }, 90_000);
});
