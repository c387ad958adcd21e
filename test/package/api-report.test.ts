import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from './built.js';

// The published types are the public surface: what they declare, users program against. The
// committed api-report.txt is that surface; internal machinery stays out of it.

interface Types {
  files: string[];
  diagnostics: string[];
}
interface ApiReportModule {
  reportFile: string;
  loadTypes: () => Types;
  apiReport: (types: Types, condition: 'import' | 'require') => string;
  identifiersIn: (types: Types) => Map<string, Set<string>>;
}

/** Not exported, yet declared in the types because every exported policy class extends it. */
const declaredBases = new Set(['PolicyBase', 'LimitBase']);
/** Internal declarations that are not classes but must not surface either. */
const internalTypes = ['RUN', 'Runnable', 'Next', 'UserFunction', 'BucketTable', 'BucketSettings', 'CircuitBreakerSettings', 'RetrySettings'];

function classesDeclaredIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/^\s*(?:export\s+)?(?:abstract\s+)?class\s+(\w+)/gm)].map((m) => m[1]!));
}

let api: ApiReportModule;
let types: Types;
beforeAll(async () => {
  ensureBuilt();
  api = (await import(new URL('../../scripts/api-report.mjs', import.meta.url).href)) as ApiReportModule;
  types = api.loadTypes();
}, 60_000);

describe('the published types', () => {
  it('type-check on their own, as a strict user compiler reads them', () => {
    expect(types.files.length).toBeGreaterThanOrEqual(14);
    expect(types.diagnostics).toEqual([]);
  });

  it('are what api-report.txt says, for import and require alike (`npm run api:report` rewrites it)', () => {
    const committed = readFileSync(api.reportFile, 'utf8');
    const hint = 'the public types changed: run `npm run api:report` and review the diff of api-report.txt';
    expect(api.apiReport(types, 'import'), hint).toBe(committed);
    expect(api.apiReport(types, 'require'), hint).toBe(committed);
  });

  it('name no internal class of src/, nor the internal policy protocol', () => {
    const report = readFileSync(api.reportFile, 'utf8');
    const exports = report.slice(0, report.indexOf('\n## declared for the exports'));
    const exported = new Set([...exports.matchAll(/^(?:abstract )?(?:class|interface|type|function|const) (\w+)/gm)].map((m) => m[1]!));
    const internalClasses = classesDeclaredIn(join(projectRoot, 'src')).filter((name) => !exported.has(name) && !declaredBases.has(name));
    expect(internalClasses).toEqual(expect.arrayContaining(['Scope', 'TokenBuckets', 'KeyTable', 'Fifo', 'EventHub', 'DeadlineQueue']));
    const identifiers = api.identifiersIn(types);
    const leaks = [...internalClasses, ...internalTypes]
      .filter((name) => identifiers.has(name))
      .map((name) => `${name} in ${[...identifiers.get(name)!].sort().join(', ')}`);
    expect(leaks).toEqual([]);
    // The check reads identifiers, and would see one: public names are there.
    expect(identifiers.has('CircuitOpenError') && identifiers.has('PolicyBase')).toBe(true);
  });
});
