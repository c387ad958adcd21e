import { describe, expect, it } from 'vitest';

// The mutation-testing setup: what Stryker is told to mutate, and how its JSON report becomes
// docs/mutation.md. Stryker itself is not run here (it takes hours over src/).

const stryker = (await import(new URL('../../stryker.config.mjs', import.meta.url).href)) as {
  default: { mutate: string[]; thresholds: { high: number; low: number; break: number | null }; incremental: boolean; testRunner: string };
  typeOnlyFiles: (dir: string) => string[];
};
const { renderSummary, tally } = (await import(new URL('../../scripts/mutation-summary.mjs', import.meta.url).href)) as {
  renderSummary: (report: unknown, options?: { generatedAt?: string; typeOnly?: Set<string> }) => string;
  tally: (mutants: Array<{ status: string }>) => { score: number | null; coveredScore: number | null; survived: number; ignored: number };
};

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

  it('tells a file of types and re-exports from one with code', () => {
    const typeOnly = stryker.typeOnlyFiles('src').map((f) => f.split('\\').join('/'));
    expect(typeOnly).toEqual(expect.arrayContaining(['src/index.ts', 'src/retry/index.ts', 'src/timeout/index.ts']));
    // clock.ts declares an interface, but also systemClock: it has code.
    for (const file of ['src/core/clock.ts', 'src/core/events.ts', 'src/retry/backoff.ts']) expect(typeOnly).not.toContain(file);
  });
});

const loc = (line: number, column: number, length: number) => ({ start: { line, column }, end: { line, column: column + length } });
const mutant = (status: string, line: number, extra: object = {}) => ({
  id: `${line}-${status}`,
  mutatorName: 'EqualityOperator',
  replacement: 'a <= b',
  status,
  location: loc(line, 11, 5),
  ...extra,
});
const report = {
  schemaVersion: '2',
  thresholds: { high: 90, low: 80 },
  files: {
    'src/core/abort.ts': {
      language: 'typescript',
      source: 'line one\nline two\nconst x = a < b;\n',
      mutants: [mutant('Killed', 3), mutant('Killed', 3), mutant('Timeout', 3), mutant('Survived', 3), mutant('CompileError', 3)],
    },
    'src/http/fetch.ts': {
      language: 'typescript',
      source: 'const y = a < b;\n',
      mutants: [mutant('Killed', 1), mutant('NoCoverage', 1), mutant('Ignored', 1, { statusReason: 'same value either way' })],
    },
  },
};

describe('scripts/mutation-summary.mjs', () => {
  it("scores as Stryker does: detected ÷ (detected + survived + not covered), errors and ignored aside", () => {
    expect(tally(report.files['src/core/abort.ts'].mutants).score).toBe(75);
    expect(tally(report.files['src/http/fetch.ts'].mutants).score).toBe(50);
    expect(tally(report.files['src/http/fetch.ts'].mutants).coveredScore).toBe(100);
    expect(tally([mutant('CompileError', 1)]).score).toBeNull();
  });

  it('renders the score per file against its target, the survivors with their code, and the reasons for the ignored', () => {
    const page = renderSummary(report, { generatedAt: '2026-01-02T00:00:00.000Z' });
    expect(page).toContain('| `src/core/abort.ts` | 5 | 2 | 1 | 1 | 0 | 1 | 0 | 75.0 % | 75.0 % | **below** (90 %) |');
    expect(page).toContain('| `src/http/fetch.ts` | 3 | 1 | 0 | 0 | 1 | 0 | 1 | 50.0 % | 100.0 % | **below** (80 %) |');
    expect(page).toContain('| **all files above** | 8 | 3 | 1 | 1 | 1 | 1 | 1 | **66.7 %** |');
    expect(page).toContain('| outside src/http and src/telemetry | 5 |');
    expect(page).toContain('## Survivors (2)');
    expect(page).toContain('| `src/core/abort.ts:3` | EqualityOperator | `a < b` | `a <= b` | survived |');
    expect(page).toContain('| `src/http/fetch.ts:1` | EqualityOperator | `a < b` | `a <= b` | no coverage |');
    expect(page).toContain('| `src/http/fetch.ts:1` | EqualityOperator | same value either way |');
    expect(page).toContain('Report generated 2026-01-02');
    expect(page).toMatch(/\*\*Partial run\*\*: 2 file\(s\) mutated; not run yet: .*`src\/core\/context\.ts`/);
    expect(page).not.toContain('`src/testing/test-clock.ts`');
  });
});
