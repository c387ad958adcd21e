// The tests a mutation run leaves out: MUTATION_EXCLUDE, comma-separated globs
// (`MUTATION_EXCLUDE='test/redis/**'`). vitest.mutation.config.ts leaves them out of the run;
// mutation-summary.mjs records them with the run's scores, which can only be lower for it.

/**
 * The globs in `value` (default: the MUTATION_EXCLUDE environment variable).
 * @param {string | undefined} [value]
 * @returns {string[]}
 */
export function excludedTests(value = process.env['MUTATION_EXCLUDE']) {
  return (value ?? '').split(',').map((glob) => glob.trim()).filter((glob) => glob !== '');
}
