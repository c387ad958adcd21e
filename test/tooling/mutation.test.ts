import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The mutation-testing setup: what Stryker is told to mutate, and how its JSON report becomes
// docs/mutation.md. Stryker itself is not run here (it takes hours over src/).

const stryker = (await import(new URL('../../stryker.config.mjs', import.meta.url).href)) as {
  default: { mutate: string[]; thresholds: { high: number; low: number; break: number | null }; incremental: boolean; testRunner: string };
  typeOnlyFiles: (dir: string) => string[];
};
type Entry = {
  file: string;
  sha256: string;
  measuredAt: string;
  counts: Record<string, number>;
  survivors: Array<{ line: number; mutator: string; original: string; replacement: string; status: string }>;
  ignored: Array<{ line: number; column?: number; mutator: string; replacement?: string; reason: string }>;
  testsLeftOut?: string[];
};
type MutationRecord = Record<string, Entry>;
const summary = (await import(new URL('../../scripts/mutation-summary.mjs', import.meta.url).href)) as {
  tally: (mutants: Array<{ status: string }>) => { score: number | null; coveredScore: number | null; survived: number; ignored: number };
  sha256: (text: string) => string;
  entryFromReport: (name: string, file: unknown, measuredAt: string, testsLeftOut?: string[]) => Entry;
  mergeReport: (record: MutationRecord, report: unknown, options: { measuredAt: string; testsLeftOut?: string[] }) => { record: MutationRecord; changed: string[]; skipped: Array<{ name: string; why: string }> };
  readRecord: (dir: string) => MutationRecord;
  writeEntry: (dir: string, entry: Entry) => void;
  renderSummary: (record: MutationRecord, options: { hashOf: (file: string) => string | undefined; candidates: string[]; generatedAt?: string }) => string;
  candidateFiles: () => Promise<string[]>;
  testsLeftOutBy: (value: string | undefined) => string[];
};
const { tally, sha256, entryFromReport, mergeReport, readRecord, writeEntry, renderSummary, candidateFiles, testsLeftOutBy } = summary;

describe('stryker.config.mjs', () => {
  it('mutates src/ except src/testing and the files with no runtime code', () => {
    const { mutate, thresholds, incremental, testRunner } = stryker.default;
    expect(testRunner).toBe('vitest');
    expect(mutate[0]).toBe('src/**/*.ts');
    expect(mutate).toContain('!src/testing/**');
    expect(mutate).toContain('!src/index.ts');
    expect(mutate).not.toContain('!src/core/abort.ts');
    expect(thresholds).toEqual({ high: 90, low: 80, break: null });
    expect(incremental).toBe(true);
  });

  it('runs the mutants against every test but those of the built package, which never load src/', async () => {
    const { builtPackageTests } = (await import(new URL('../../vitest.mutation.config.ts', import.meta.url).href)) as { builtPackageTests: (dir?: string) => string[] };
    const skipped = builtPackageTests();
    // test/sim/scenarios.test.ts imports only types from src/.
    for (const file of ['test/http/recipe.test.ts', 'test/examples.test.ts', 'test/package/dual-build.test.ts', 'test/adversarial/execute.test.ts', 'test/sim/scenarios.test.ts']) {
      expect(skipped).toContain(file);
    }
    for (const file of ['test/core/errors.test.ts', 'test/timeout/timeout.test.ts']) expect(skipped).not.toContain(file);
    // A test that uses the build but also imports code from src/ can kill mutants: it stays.
    const dir = mkdtempSync(join(tmpdir(), 'breakwater-mutation-tests-'));
    try {
      writeFileSync(join(dir, 'both.test.ts'), "import { ensureBuilt } from '../package/built.js';\nimport {\n  timeout,\n} from '../../src/timeout/timeout.js';\n");
      writeFileSync(join(dir, 'types.test.ts'), "import { ensureBuilt } from '../package/built.js';\nimport type { Policy } from '../../src/index.js';\n");
      expect(builtPackageTests(dir)).toEqual([`${dir.split('\\').join('/')}/types.test.ts`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((stryker.default as unknown as { vitest: { configFile: string } }).vitest.configFile).toBe('vitest.mutation.config.ts');
  });

  it('leaves out of one run the tests MUTATION_EXCLUDE names, and none when it is unset', async () => {
    const { excludedByEnv } = (await import(new URL('../../vitest.mutation.config.ts', import.meta.url).href)) as { excludedByEnv: (value?: string) => string[] };
    expect(excludedByEnv('test/redis/**, test/http/recipe.test.ts,')).toEqual(['test/redis/**', 'test/http/recipe.test.ts']);
    expect(excludedByEnv('')).toEqual([]);
    expect(excludedByEnv(undefined)).toEqual([]);
  });

  it('tells a file of types and re-exports from one with code', () => {
    const typeOnly = stryker.typeOnlyFiles('src').map((f) => f.split('\\').join('/'));
    expect(typeOnly).toEqual(expect.arrayContaining(['src/index.ts', 'src/retry/index.ts', 'src/timeout/index.ts']));
    // clock.ts declares an interface, but also systemClock: it has code.
    for (const file of ['src/core/clock.ts', 'src/core/events.ts', 'src/retry/backoff.ts']) expect(typeOnly).not.toContain(file);
  });
});


// Small Stryker reports (the shape of reports/mutation/mutation.json, schema 2).
const loc = (line: number, column: number, length: number) => ({ start: { line, column }, end: { line, column: column + length } });
const mutant = (status: string, line: number, extra: object = {}) => ({
  id: `${line}-${status}`,
  mutatorName: 'EqualityOperator',
  replacement: 'a <= b',
  status,
  location: loc(line, 11, 5),
  ...extra,
});
const abortSource = 'line one\nline two\nconst x = a < b;\n';
const fetchSource = 'const y = a < b;\n';
const backoffSource = 'const z = a < b;\n';
const firstRun = {
  schemaVersion: '2',
  files: {
    'src/core/abort.ts': {
      language: 'typescript',
      source: abortSource,
      mutants: [mutant('Killed', 3), mutant('Killed', 3), mutant('Timeout', 3), mutant('Survived', 3), mutant('CompileError', 3)],
    },
    'src/http/fetch.ts': {
      language: 'typescript',
      source: fetchSource,
      mutants: [mutant('Killed', 1), mutant('NoCoverage', 1), mutant('Ignored', 1, { statusReason: 'same value either way' })],
    },
  },
};
// A later partial run: abort.ts again (its survivor now killed) and a file the first run did not mutate.
const secondRun = {
  schemaVersion: '2',
  files: {
    'src/core/abort.ts': { language: 'typescript', source: abortSource, mutants: [mutant('Killed', 3), mutant('Killed', 3), mutant('Timeout', 3), mutant('Killed', 3), mutant('CompileError', 3)] },
    'src/retry/backoff.ts': {
      language: 'typescript',
      source: backoffSource,
      mutants: [mutant('Killed', 1), mutant('Survived', 1), mutant('Ignored', 1, { statusReason: 'Static mutant (and "ignoreStatic" was enabled)' })],
    },
  },
};
const DAY1 = '2026-01-02T10:00:00.000Z';
const DAY2 = '2026-01-03T10:00:00.000Z';
const today = (sources: Record<string, string>) => (file: string) => (file in sources ? sha256(sources[file]!) : undefined);
const candidates = ['src/core/abort.ts', 'src/core/fifo.ts', 'src/http/fetch.ts', 'src/retry/backoff.ts'];

describe('scripts/mutation-summary.mjs', () => {
  it("scores as Stryker does: detected ÷ (detected + survived + not covered), errors and ignored aside", () => {
    expect(tally(firstRun.files['src/core/abort.ts'].mutants).score).toBe(75);
    expect(tally(firstRun.files['src/http/fetch.ts'].mutants).score).toBe(50);
    expect(tally(firstRun.files['src/http/fetch.ts'].mutants).coveredScore).toBe(100);
    expect(tally([mutant('CompileError', 1)]).score).toBeNull();
  });

  it("records a file as the sha256 of the source measured, the date, the counts, the survivors' code and the reasons for the ignored", () => {
    expect(entryFromReport('src/http/fetch.ts', firstRun.files['src/http/fetch.ts'], DAY1)).toEqual({
      version: 1,
      file: 'src/http/fetch.ts',
      // sha256sum of the same text.
      sha256: '3039766de3f94ae9f4177710b66de7fc1af138324d76a0544d337f63a0e098bc',
      measuredAt: DAY1,
      counts: { total: 3, killed: 1, timeout: 0, survived: 0, noCoverage: 1, errors: 0, ignored: 1, staticSkipped: 0, pending: 0 },
      survivors: [{ line: 1, column: 11, mutator: 'EqualityOperator', original: 'a < b', replacement: 'a <= b', status: 'NoCoverage' }],
      ignored: [{ line: 1, column: 11, mutator: 'EqualityOperator', replacement: 'a <= b', reason: 'same value either way' }],
    });
  });

  it('accumulates partial runs: a file measured again is replaced, the others are kept', () => {
    const one = mergeReport({}, firstRun, { measuredAt: DAY1 });
    expect(one.changed.sort()).toEqual(['src/core/abort.ts', 'src/http/fetch.ts']);
    const two = mergeReport(one.record, secondRun, { measuredAt: DAY2 });
    expect(two.changed.sort()).toEqual(['src/core/abort.ts', 'src/retry/backoff.ts']);
    expect(Object.keys(two.record).sort()).toEqual(['src/core/abort.ts', 'src/http/fetch.ts', 'src/retry/backoff.ts']);
    expect(two.record['src/core/abort.ts']!.counts.survived).toBe(0);
    expect(two.record['src/core/abort.ts']!.measuredAt).toBe(DAY2);
    expect(two.record['src/http/fetch.ts']).toEqual(one.record['src/http/fetch.ts']);
    // Merging the same report again changes nothing.
    expect(mergeReport(two.record, secondRun, { measuredAt: DAY2 }).changed).toEqual([]);
  });

  it('does not let an older report undo a newer result, nor merge a file whose mutants are still pending', () => {
    const newer = mergeReport({}, secondRun, { measuredAt: DAY2 }).record;
    const older = mergeReport(newer, firstRun, { measuredAt: DAY1 });
    expect(older.changed).toEqual(['src/http/fetch.ts']);
    expect(older.skipped).toEqual([{ name: 'src/core/abort.ts', why: `the record is newer (${DAY2})` }]);
    expect(older.record['src/core/abort.ts']!.counts.survived).toBe(0);

    const cutShort = { files: { 'src/core/fifo.ts': { source: 'x', mutants: [mutant('Killed', 1), mutant('Pending', 1)] } } };
    const merged = mergeReport(newer, cutShort, { measuredAt: DAY2 });
    expect(merged.changed).toEqual([]);
    expect(merged.record['src/core/fifo.ts']).toBeUndefined();
  });

  it('keeps one JSON file per source file, read back as written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'breakwater-mutation-'));
    try {
      const { record } = mergeReport(mergeReport({}, firstRun, { measuredAt: DAY1 }).record, secondRun, { measuredAt: DAY2 });
      for (const entry of Object.values(record)) writeEntry(dir, entry);
      expect(existsSync(join(dir, 'src/core/abort.ts.json'))).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'src/retry/backoff.ts.json'), 'utf8')).file).toBe('src/retry/backoff.ts');
      expect(readRecord(dir)).toEqual(record);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders each file against its target, the totals over the measured files, and what is not run yet', () => {
    const { record } = mergeReport(mergeReport({}, firstRun, { measuredAt: DAY1 }).record, secondRun, { measuredAt: DAY2 });
    const sources = { 'src/core/abort.ts': abortSource, 'src/http/fetch.ts': fetchSource, 'src/retry/backoff.ts': backoffSource, 'src/core/fifo.ts': '' };
    const page = renderSummary(record, { hashOf: today(sources), candidates, generatedAt: '2026-01-04T00:00:00.000Z' });
    expect(page).toContain('| `src/core/abort.ts` | 2026-01-03 | 5 | 3 | 1 | 0 | 0 | 1 | 0 | 0 | 100.0 % | 100.0 % | meets |');
    expect(page).toContain('| `src/http/fetch.ts` | 2026-01-02 | 3 | 1 | 0 | 0 | 1 | 0 | 1 | 0 | 50.0 % | 100.0 % | **below** (80 %) |');
    expect(page).toContain('| `src/retry/backoff.ts` | 2026-01-03 | 3 | 1 | 0 | 1 | 0 | 0 | 0 | 1 | 50.0 % | 50.0 % | **below** (90 %) |');
    expect(page).toContain('| **all measured files** (3) |  | 11 | 5 | 1 | 1 | 1 | 1 | 1 | 1 | **75.0 %** |');
    // abort.ts + backoff.ts: 5 detected of 6; fetch.ts alone: 1 of 2.
    expect(page).toContain('| outside src/http and src/telemetry |  | 8 | 4 | 1 | 1 | 0 | 1 | 0 | 1 | **83.3 %** | 83.3 % | **below** (90 %) |');
    expect(page).toContain('| src/http and src/telemetry |  | 3 | 1 | 0 | 0 | 1 | 0 | 1 | 0 | **50.0 %** | 100.0 % | **below** (80 %) |');
    expect(page).toContain('**Not run yet** (1): `src/core/fifo.ts`.');
    expect(page).toContain('Page generated 2026-01-04: 3 file(s) measured, 1 not run yet; 1 static mutant(s) of the measured files not run.');
    expect(page).toContain('## Survivors (2)');
    expect(page).toContain('| `src/retry/backoff.ts:1` | EqualityOperator | `a < b` | `a <= b` | survived |');
    expect(page).toContain('| `src/http/fetch.ts:1` | EqualityOperator | `a < b` | `a <= b` | no coverage |');
    expect(page).toContain('| `src/http/fetch.ts:1` | EqualityOperator | `a <= b` | same value either way |');
    // The static mutant a run skipped is not listed as an equivalent one.
    expect(page).toContain('## Ignored as equivalent (1)');
    expect(page).not.toContain('**Stale**');
  });

  it('a run that left tests out (MUTATION_EXCLUDE) is recorded with them, and its score shows as a lower bound', () => {
    expect(testsLeftOutBy(' test/sim/**, test/redis/** ,')).toEqual(['test/sim/**', 'test/redis/**']);
    expect(testsLeftOutBy(undefined)).toEqual([]);
    const source = 'a;\n';
    const report = { files: { 'src/core/abort.ts': { source, mutants: [mutant('Killed', 1), mutant('Survived', 1)] } } };
    const partial = mergeReport({}, report, { measuredAt: DAY1, testsLeftOut: ['test/sim/**'] }).record;
    expect(partial['src/core/abort.ts']!.testsLeftOut).toEqual(['test/sim/**']);
    const page = renderSummary(partial, { hashOf: today({ 'src/core/abort.ts': source }), candidates, generatedAt: DAY2 });
    expect(page).toContain('| 50.0 % (lower bound) | 50.0 % (lower bound) | **below** (90 %) |');
    expect(page).toContain('`src/core/abort.ts` left out `test/sim/**`.');
    // A full run records no such field, and its page has no lower bound.
    const full = mergeReport({}, report, { measuredAt: DAY1 }).record;
    expect('testsLeftOut' in full['src/core/abort.ts']!).toBe(false);
    expect(renderSummary(full, { hashOf: today({ 'src/core/abort.ts': source }), candidates, generatedAt: DAY2 })).not.toContain('lower bound');
  });

  it('lists each ignored mutant once: the two of one mark by their replacements, identical entries of an older record as one row with their count', () => {
    const source = 'if (done) return;\n';
    const reason = '`false` is equivalent (never done here); `true` was killed before this mark';
    const condition = (replacement: string) =>
      mutant('Ignored', 1, { mutatorName: 'ConditionalExpression', replacement, statusReason: reason, location: loc(1, 5, 4) });
    const report = { files: { 'src/core/abort.ts': { source, mutants: [condition('true'), condition('false'), mutant('Killed', 1)] } } };
    const { record } = mergeReport({}, report, { measuredAt: DAY1 });
    // An entry of fifo.ts from before replacements were recorded: its two mutants look the same.
    const old = { line: 4, column: 9, mutator: 'ConditionalExpression', reason: 'same either way' };
    record['src/core/fifo.ts'] = {
      ...entryFromReport('src/core/fifo.ts', { source: 'x', mutants: [] }, DAY1),
      counts: { total: 3, killed: 1, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 2, staticSkipped: 0, pending: 0 },
      ignored: [old, old],
    };
    const page = renderSummary(record, { hashOf: today({ 'src/core/abort.ts': source, 'src/core/fifo.ts': 'x' }), candidates, generatedAt: DAY2 });
    const rows = page.split('\n').filter((line) => /^\| `src\/core\/(abort|fifo)\.ts:\d+` \| ConditionalExpression/.test(line));
    expect(rows).toEqual([
      `| \`src/core/abort.ts:1\` | ConditionalExpression | \`true\` | ${reason} |`,
      `| \`src/core/abort.ts:1\` | ConditionalExpression | \`false\` | ${reason} |`,
      '| `src/core/fifo.ts:4` | ConditionalExpression | not recorded (2 mutants) | same either way |',
    ]);
    // The heading and the score table still count mutants, not rows: 2 + 2.
    expect(page).toContain('## Ignored as equivalent (4)');
    expect(page).toContain('| **all measured files** (2) |  | 6 | 2 | 0 | 0 | 0 | 0 | 4 | 0 |');
  });

  it('marks a row stale once its source changes (or goes), and leaves it out of the totals and the survivors', () => {
    const { record } = mergeReport(mergeReport({}, firstRun, { measuredAt: DAY1 }).record, secondRun, { measuredAt: DAY2 });
    // backoff.ts has been edited since it was measured; fetch.ts has been deleted.
    const sources = { 'src/core/abort.ts': abortSource, 'src/retry/backoff.ts': `${backoffSource}// edited\n` };
    const page = renderSummary(record, { hashOf: today(sources), candidates: ['src/core/abort.ts', 'src/retry/backoff.ts'], generatedAt: DAY2 });
    expect(page).toContain('| `src/retry/backoff.ts` | 2026-01-03 | 3 | 1 | 0 | 1 | 0 | 0 | 0 | 1 | 50.0 % | 50.0 % | **stale** (source changed) |');
    expect(page).toContain('| `src/http/fetch.ts` | 2026-01-02 | 3 | 1 | 0 | 0 | 1 | 0 | 1 | 0 | 50.0 % | 100.0 % | **stale** (file removed) |');
    expect(page).toContain('**Stale** (measure again): `src/http/fetch.ts`, `src/retry/backoff.ts`.');
    expect(page).toContain('| **all measured files** (1) |  | 5 | 3 | 1 | 0 | 0 | 1 | 0 | 0 | **100.0 %** |');
    expect(page).toContain('| src/http and src/telemetry |  | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | **—** |');
    expect(page).toContain('## Survivors (0)');
    expect(page).toContain('## Ignored as equivalent (0)');
    expect(page).toContain('1 file(s) measured, 2 stale, 0 not run yet.');
  });

  it('expects a row for every file of src/ with runtime code, in every folder, and none for src/testing or type-only files', async () => {
    const files = await candidateFiles();
    for (const file of [
      'src/adaptive/gradient2.ts',
      'src/hedge/hedge.ts',
      'src/chaos/chaos.ts',
      'src/redis/redis-rate-limiter.ts',
      'src/sim/engine.ts',
      'src/core/errors.ts',
      'src/http/fetch.ts',
      'src/telemetry/otel.ts',
    ]) expect(files).toContain(file);
    for (const file of ['src/testing/test-clock.ts', 'src/index.ts', 'src/hedge/index.ts', 'src/core/context.ts']) expect(files).not.toContain(file);
  });

  it('has a row in docs/mutation.md for every file in the committed record', () => {
    const record = readRecord(fileURLToPath(new URL('../../mutation-results', import.meta.url)));
    const page = readFileSync(new URL('../../docs/mutation.md', import.meta.url), 'utf8');
    for (const entry of Object.values(record)) {
      expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(page).toContain(`| \`${entry.file}\` | ${entry.measuredAt.slice(0, 10)} | ${entry.counts['total']} |`);
    }
  });
});
