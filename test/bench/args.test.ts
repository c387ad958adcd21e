import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm run bench` must not dirty the checkout: only --write-docs rewrites the committed
// docs/benchmarks.md. A flag it does not know gets the usage and exit code 2, not a stack trace.

const root = resolve(import.meta.dirname, '../..');
const { parseArgs, reportPath, DOCS_PAGE, DEFAULT_REPORT, USAGE } = (await import(
  new URL('../../bench/lib/args.mjs', import.meta.url).href
)) as {
  parseArgs: (argv: string[]) => object;
  reportPath: (args: object) => string | undefined;
  DOCS_PAGE: string;
  DEFAULT_REPORT: string;
  USAGE: string;
};

/** Runs bench/run.mjs with `args`; every case here stops at the flags, before any measurement. */
const bench = (...args: string[]) =>
  spawnSync(process.execPath, ['bench/run.mjs', ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });

describe('where the bench report goes', () => {
  it('a full run writes an untracked file under build/, never the committed page', () => {
    expect(DEFAULT_REPORT).toBe(resolve(root, 'build/benchmarks.md'));
    expect(reportPath(parseArgs([]))).toBe(DEFAULT_REPORT);
    const ignored = spawnSync('git', ['check-ignore', '--no-index', '-q', 'build/benchmarks.md'], { cwd: root });
    expect(ignored.status, 'build/ is not in .gitignore').toBe(0);
    const tracked = spawnSync('git', ['ls-files', '--error-unmatch', 'docs/benchmarks.md'], { cwd: root });
    expect(tracked.status, 'docs/benchmarks.md is the committed page').toBe(0);
  });

  it('only --write-docs rewrites docs/benchmarks.md', () => {
    expect(DOCS_PAGE).toBe(resolve(root, 'docs/benchmarks.md'));
    expect(reportPath(parseArgs(['--write-docs']))).toBe(DOCS_PAGE);
    for (const argv of [[], ['--quick'], ['--only', 'breaker'], ['--out', 'x.md'], ['--json', 'x.json'], ['--quick', '--out=docs.md']]) {
      expect(reportPath(parseArgs(argv)), argv.join(' ')).not.toBe(DOCS_PAGE);
    }
    expect(reportPath(parseArgs(['--out', 'x.md']))).toBe('x.md');
    expect(reportPath(parseArgs(['--quick']))).toBeUndefined(); // stdout
  });
});

describe('bench flags', () => {
  it.each([
    [['--bogus'], 'unknown argument --bogus'],
    [['--quick', '--qiuck'], 'unknown argument --qiuck'],
    [['--out'], '--out needs a value'],
    [['--out', '--quick'], '--out needs a value'],
    [['--write-docs', '--quick'], '--write-docs rewrites docs/benchmarks.md from a full run'],
  ])('%j prints the usage and exits 2, without a stack trace', (argv, message) => {
    const result = bench(...argv);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.startsWith(`bench: ${message}`)).toBe(true);
    expect(result.stderr.endsWith(`\n\n${USAGE}\n`)).toBe(true);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('--help prints the usage on stdout and exits 0', () => {
    const result = bench('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${USAGE}\n`);
    expect(USAGE).toContain('--write-docs');
  });
});

describe('bench/instructions.mjs flags', () => {
  const instructions = (...args: string[]) =>
    spawnSync(process.execPath, ['bench/instructions.mjs', ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });

  it('without a build, an unknown row or an unknown flag: usage and exit code 2, before any run', () => {
    for (const [args, problem] of [
      [[], 'name at least one build'],
      [['now=dist', '--only', 'pipelin'], 'unknown row pipelin'],
      [['now=dist', '--fast'], 'unknown argument --fast'],
      [['now=dist', '--calls', '10'], '--calls must be a whole number'],
    ] as const) {
      const run = instructions(...args);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toContain(problem);
      expect(run.stderr).toContain('usage: node bench/instructions.mjs');
    }
  });
});
