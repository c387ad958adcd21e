// Packs the package, installs the tarball into a scratch project and loads every public
// subpath with both `import` and `require`, as a user would. Fails on any missing name, on a
// class or error that does not carry its own name (scripts/check-names.mjs), and on a tarball
// without its licence, README or docs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const checkNames = new URL('./check-names.mjs', import.meta.url).href;

/** The public names each subpath must export (see the guides in docs/). */
const expected = {
  '.': [
    'systemClock', 'pipeline', 'timeout', 'retry', 'constantBackoff', 'exponentialBackoff', 'fallback',
    'circuitBreaker', 'bulkhead', 'rateLimiter', 'keyedRateLimiter',
    'adaptiveConcurrency', 'gradient2Limit', 'vegasLimit', 'aimdLimit', 'ConcurrencyLimitError',
    'BreakwaterError', 'CircuitOpenError', 'CircuitIsolatedError', 'BulkheadFullError', 'RateLimitedError', 'TimeoutError',
  ],
  './testing': ['TestClock'],
  './express': ['guard', 'requestSignal'],
  './fastify': ['guard', 'requestSignal'],
  './fetch': ['resilientFetch'],
  './otel': ['instrument'],
  './prometheus': ['instrument'],
  './redis': ['redisRateLimiter', 'RateLimiterUnavailableError'],
  './sim': ['simulate', 'SimulationEngine'],
};

const scratch = mkdtempSync(join(tmpdir(), 'breakwater-pack-'));
let failures = 0;
try {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' }));
  const tarball = packed.filename;
  const shipped = new Set(packed.files.map((f) => f.path));
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  for (const file of ['LICENSE', 'README.md', 'package.json', ...docs]) {
    if (!shipped.has(file)) {
      failures++;
      console.error(`FAILED: the tarball lacks ${file}`);
    }
  }
  for (const field of ['repository', 'homepage', 'bugs', 'license']) {
    if (pkg[field] === undefined) {
      failures++;
      console.error(`FAILED: package.json has no "${field}"`);
    }
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', join(scratch, tarball)], { cwd: scratch, stdio: 'inherit' });

  for (const subpath of Object.keys(pkg.exports)) {
    if (subpath === './package.json') continue;
    const specifier = subpath === '.' ? 'breakwater' : `breakwater/${subpath.slice(2)}`;
    const names = expected[subpath] ?? [];
    if (!(subpath in expected)) console.warn(`note: no contract list for ${subpath}`);
    const check = `
      const names = ${JSON.stringify(names)};
      const missing = names.filter((n) => !(n in mod));
      if (missing.length) { console.error('${specifier}: missing ' + missing.join(', ')); process.exit(1); }
      const { nameProblems } = await import(${JSON.stringify(checkNames)});
      const problems = nameProblems(mod);
      if (problems.length) { console.error('${specifier}: ' + problems.join('; ')); process.exit(1); }
      console.log('${specifier}: ' + Object.keys(mod).length + ' exports ok, names ok');`;
    for (const [kind, file, source] of [
      ['import', 'check.mjs', `const mod = await import('${specifier}');${check}`],
      ['require', 'check.cjs', `(async () => { const mod = require('${specifier}');${check} })();`],
    ]) {
      writeFileSync(join(scratch, file), source);
      try {
        execFileSync(process.execPath, [file], { cwd: scratch, stdio: 'inherit' });
      } catch {
        failures++;
        console.error(`FAILED: ${kind} ${specifier}`);
      }
    }
  }
  for (const subpath of Object.keys(expected)) {
    if (!(subpath in pkg.exports)) {
      failures++;
      console.error(`FAILED: package.json does not export ${subpath}`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`pack-smoke: ${failures} failure(s)`);
  process.exit(1);
}
console.log('pack-smoke: every subpath loads with import and require');
