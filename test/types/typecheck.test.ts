// The compile-time checks of the public types run as a test too, so `vitest run` catches a
// regression without a separate `tsc` step: test/types.test.ts (expectTypeOf, @ts-expect-error)
// and test/types/exact-optional.ts, compiled with exactOptionalPropertyTypes.
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const configPath = fileURLToPath(new URL('./tsconfig.json', import.meta.url));

function diagnosticsOf(path: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(path, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (config === undefined) throw new Error(`cannot read ${path}`);
  expect(config.options.exactOptionalPropertyTypes).toBe(true);
  expect(config.fileNames.some((file) => file.endsWith('exact-optional.ts'))).toBe(true);
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}

describe('public types', () => {
  it('compile under exactOptionalPropertyTypes, every expectTypeOf and @ts-expect-error holding', () => {
    expect(diagnosticsOf(configPath)).toEqual([]);
  }, 120_000);
});
