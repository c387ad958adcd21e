// Mutation testing (StrykerJS + vitest): `npm run mutation`; a summary: `npm run mutation:summary`.
// One folder or file: `npm run mutation -- --mutate src/retry/backoff.ts`; then the summary merges
// the report into mutation-results/ (committed), so that partial runs accumulate.
// Add `--ignoreStatic` for a file the whole library imports (src/core): each of its static mutants
// (code run at module load) would rerun every related test in a fresh process, minutes apiece.
// Reports go to reports/ (gitignored), with the incremental file: a rerun after a small change
// only tests the mutants in code (or covered by tests) that changed since the last run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** Files with no runtime code (types and re-exports only): nothing to mutate, nothing to score. */
export function typeOnlyFiles(dir) {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
  return files.filter((file) => {
    const js = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    // What is left once the types are erased: only imports and re-exports, or nothing at all.
    const statements = ts.createSourceFile(file, js, ts.ScriptTarget.ES2022).statements;
    return statements.every((s) => ts.isImportDeclaration(s) || ts.isExportDeclaration(s));
  });
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: {
    // The project's configuration minus the tests of the built package (test/package,
    // test/bench, the docs examples): they run dist/, never a mutant.
    configFile: 'vitest.mutation.config.ts',
    // Only tests that import a mutated file (directly or not) run for it.
    related: true,
  },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/**/*.ts',
    // Test utilities ship to users, but they are the yardstick here, not the subject.
    '!src/testing/**',
    ...typeOnlyFiles('src').map((file) => `!${file.split('\\').join('/')}`),
  ],
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false, reportScoreTable: true },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // A mutant that turns a loop infinite is a timeout, not a hang: the default factor 1.5 of the
  // test's own time plus this margin.
  timeoutMS: 10_000,
};
