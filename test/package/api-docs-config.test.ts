import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The API reference (`npm run docs:api`, checked by `npm run docs:api:check`) documents every
// public subpath: its entry points are read from tsup.config.ts, and a missing doc comment on
// an exported name or member is a validation warning, which the check turns into a failure.

const root = resolve(import.meta.dirname, '../..');
const config = (await import(new URL('../../typedoc.config.mjs', import.meta.url).href)).default as {
  entryPoints: string[];
  validation: Record<string, boolean>;
  requiredToBeDocumented: string[];
  out: string;
};
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  scripts: Record<string, string>;
};

describe('typedoc.config.mjs', () => {
  it('documents one entry point per public subpath, the files tsup builds', () => {
    const tsup = readFileSync(resolve(root, 'tsup.config.ts'), 'utf8');
    const entryBlock = /entry:\s*\{([^}]*)\}/.exec(tsup)?.[1] ?? '';
    // The `bin` (the CLI) is built too, but it is a program, not a documented module.
    const binNames = Object.values((pkg as { bin?: Record<string, string> }).bin ?? {}).map((file) => String(file).replace(/^\.\/dist\//, '').replace(/\.(c|m)?js$/, ''));
    const built = [...entryBlock.matchAll(/(\w+):\s*'([^']+\.ts)'/g)].filter((m) => !binNames.includes(m[1]!)).map((m) => m[2]);
    expect(built.length).toBeGreaterThan(0);
    expect(config.entryPoints).toEqual(built);
    const subpaths = Object.keys(pkg.exports).filter((s) => s !== './package.json');
    expect(config.entryPoints).toHaveLength(subpaths.length);
    expect(config.entryPoints).toContain('src/index.ts');
    expect(config.entryPoints).toContain('src/testing/index.ts');
  });

  it('requires a doc comment on every exported name, and the check fails on a warning', () => {
    expect(config.validation['notDocumented']).toBe(true);
    expect(config.requiredToBeDocumented).toEqual(expect.arrayContaining(['Class', 'Function', 'Variable', 'Interface', 'TypeAlias']));
    // scripts/check-api-docs.mjs runs TypeDoc with treatValidationWarningsAsErrors, then its own
    // @example check (test/tooling/api-docs.test.ts holds it to fixtures).
    expect(pkg.scripts['docs:api:check']).toBe('node scripts/check-api-docs.mjs');
    expect(pkg.scripts['docs:api']).toMatch(/^typedoc\b/);
    expect(config.out).toBe('build/api');
  });
});
