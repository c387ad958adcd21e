import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// scripts/check-api-docs.mjs (`npm run docs:api:check`, run by .ci/run) on tiny fixtures
// converted by the real TypeDoc: it passes a module where every name has a comment and every
// function and class an @example, and names each export that breaks a rule.

const { checkApiDocs } = (await import(new URL('../../scripts/check-api-docs.mjs', import.meta.url).href)) as {
  checkApiDocs: (options: { optionsFile: string }) => Promise<{ typedocFailed: boolean; typedocMessages: string[]; problems: string[] }>;
};

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'breakwater-api-docs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `source` as a one-module project with the validation typedoc.config.mjs uses. */
function fixture(name: string, source: string): string {
  writeFileSync(join(dir, `${name}.ts`), source);
  writeFileSync(
    join(dir, `${name}.tsconfig.json`),
    JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', skipLibCheck: true, types: [] }, files: [`${name}.ts`] }),
  );
  const optionsFile = join(dir, `${name}.typedoc.json`);
  writeFileSync(
    optionsFile,
    JSON.stringify({
      name,
      entryPoints: [join(dir, `${name}.ts`)],
      tsconfig: join(dir, `${name}.tsconfig.json`),
      skipErrorChecking: true,
      disableSources: true,
      readme: 'none',
      logLevel: 'None',
      validation: { notExported: true, invalidLink: true, notDocumented: true },
      requiredToBeDocumented: ['Class', 'Function', 'Variable', 'Interface', 'TypeAlias', 'Property', 'Method', 'Accessor'],
    }),
  );
  return optionsFile;
}

const EXAMPLE = ' * @example\n * ```ts\n * greet("Ada");\n * ```\n';

describe('check-api-docs', () => {
  it('passes a module whose names all have comments, and whose function and class have examples', async () => {
    const result = await checkApiDocs({
      optionsFile: fixture(
        'complete',
        `/**\n * Says hello.\n${EXAMPLE} */\nexport function greet(name: string): string {\n  return 'hello ' + name;\n}\n` +
          `/**\n * A greeter.\n${EXAMPLE} */\nexport class Greeter {\n  /** Who is greeted. */\n  readonly name = 'Ada';\n}\n` +
          `/** Options of greet. */\nexport interface GreetOptions {\n  /** Exclaim, default false. */\n  loud?: boolean;\n}\n` +
          `/** The default name. */\nexport const DEFAULT_NAME = 'Ada';\n`,
      ),
    });
    expect(result).toEqual({ typedocFailed: false, typedocMessages: [], problems: [] });
  }, 30_000);

  it('fails on a function or class without @example, a comment without a summary, a name without a comment', async () => {
    const result = await checkApiDocs({
      optionsFile: fixture(
        'defects',
        `/** Says hello. */\nexport function greet(name: string): string {\n  return 'hello ' + name;\n}\n` +
          `/** A greeter, without an example. */\nexport class Greeter {}\n` +
          `/**\n${EXAMPLE} */\nexport class Waver {}\n` +
          `/** Documented. */\nexport interface GreetOptions {\n  loud?: boolean;\n}\n` +
          `export type Name = string;\n`,
      ),
    });
    expect([...result.problems].sort()).toEqual(
      [
        'greet (Function): no @example',
        'Greeter (Class): no @example',
        'Waver (Class): no doc comment saying what it is for',
        'Name (TypeAlias): no doc comment saying what it is for',
      ].sort(),
    );
    // Members and names without any comment are TypeDoc's own `notDocumented` warnings.
    expect(result.typedocFailed).toBe(true);
    expect(result.typedocMessages.join('\n')).toMatch(/GreetOptions\.loud \(Property\).*does not have any documentation/);
    expect(result.typedocMessages.join('\n')).toMatch(/Name \(TypeAlias\).*does not have any documentation/);
  }, 30_000);
});

describe('the API docs check in CI', () => {
  it('is `npm run docs:api:check`, which .ci/run runs', () => {
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['docs:api:check']).toBe('node scripts/check-api-docs.mjs');
    expect(readFileSync(resolve(root, '.ci/run'), 'utf8')).toMatch(/^npm run docs:api:check$/m);
  });
});
