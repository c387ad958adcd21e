// Packs the package, installs the tarball into a scratch project and loads every public
// subpath with both `import` and `require`, as a user would. Fails on any missing name.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Contract names (DESIGN.md) each subpath must export. */
const expected = {
  '.': [
    'systemClock', 'pipeline', 'timeout', 'retry', 'constantBackoff', 'exponentialBackoff', 'fallback',
    'circuitBreaker', 'bulkhead', 'rateLimiter', 'keyedRateLimiter',
    'BreakwaterError', 'CircuitOpenError', 'CircuitIsolatedError', 'BulkheadFullError', 'RateLimitedError', 'TimeoutError',
  ],
  './testing': ['TestClock'],
  './express': ['guard', 'requestSignal'],
  './fastify': ['guard', 'requestSignal'],
  './fetch': ['resilientFetch'],
  './otel': ['instrument'],
  './prometheus': ['instrument'],
  './sim': ['simulate', 'SimulationEngine'],
};

const scratch = mkdtempSync(join(tmpdir(), 'breakwater-pack-'));
let failures = 0;
try {
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop();
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
      console.log('${specifier}: ' + Object.keys(mod).length + ' exports ok');`;
    for (const [kind, file, source] of [
      ['import', 'check.mjs', `const mod = await import('${specifier}');${check}`],
      ['require', 'check.cjs', `const mod = require('${specifier}');${check}`],
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
