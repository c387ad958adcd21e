// The vitest configuration of mutation runs (stryker.config.mjs): the project's, minus the tests
// of the built package. Those run dist/ (in this process or a child one), never the mutated src/,
// so they cannot kill a mutant; Stryker's sandbox has no dist/, and building it inside their
// setup hook outlasts the hook timeout on a loaded machine, which fails Stryker's initial run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultExclude, defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';
import { excludedTests } from './scripts/mutation-exclude.mjs';

/** Test files that load the built package and import nothing but types from src/ themselves. */
export function builtPackageTests(dir = 'test'): string[] {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)).split('\\').join('/'))
    .filter((f) => f.endsWith('.test.ts'))
    .filter((f) => {
      const text = readFileSync(f, 'utf8');
      const usesBuild = /\bensureBuilt\b|\bdist\/|doc-examples\.js|\/built\.js'/.test(text);
      const importsSrc = /^import (?!type )[^;]*? from '(\.\.\/)+src\//m.test(text);
      return usesBuild && !importsSrc;
    });
}

/**
 * More tests to leave out of one run, comma-separated globs (`MUTATION_EXCLUDE='test/redis/**'`):
 * tests against a real server whose timing flakes on a loaded machine fail Stryker's initial run,
 * and leaving a test out can only lower a score, never raise it.
 */
export function excludedByEnv(value = process.env['MUTATION_EXCLUDE']): string[] {
  return excludedTests(value);
}

export default mergeConfig(
  base,
  defineConfig({
    // The project's testTimeout stays: a shorter one (8 s) failed Stryker's initial run on a
    // loaded machine (a bulkhead regression test queues 100,000 callers).
    test: { exclude: [...defaultExclude, ...builtPackageTests(), ...excludedByEnv()] },
  }),
);
