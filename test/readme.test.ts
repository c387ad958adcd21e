// Every ```js example in README.md runs, as a user would run it, against the built package.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from './package/built.js';

const readme = readFileSync(`${projectRoot}/README.md`, 'utf8');
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
// Inside the project so that `import 'breakwater'` resolves to this package (self-reference).
const dir = `${projectRoot}/test/.readme-examples`;

describe('README examples', () => {
  it('has examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it.each(blocks.map((code, i) => [i + 1, code.split('\n').find((l) => l.startsWith('import')) ?? '', code]))(
    'example %i (%s) runs and exits cleanly',
    (index, _first, code) => {
      ensureBuilt();
      mkdirSync(dir, { recursive: true });
      const file = `${dir}/example-${index}.mjs`;
      writeFileSync(file, code as string);
      try {
        const result = spawnSync(process.execPath, [file], { cwd: projectRoot, encoding: 'utf8', timeout: 20_000 });
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        expect(result.stdout.length).toBeGreaterThan(0);
        // `console.log(x); // shown` in an example promises that output: hold it to that, in order.
        const promised = (code as string)
          .split('\n')
          .map((line) => /console\.log\(.*\);\s*\/\/\s*(.+)$/.exec(line)?.[1]?.trim())
          .filter((text): text is string => text !== undefined);
        const lines = result.stdout.trim().split('\n');
        let from = 0;
        for (const text of promised) {
          const at = lines.findIndex((line, i) => i >= from && line.trim() === text);
          expect(at, `output line "${text}" in:\n${result.stdout}`).toBeGreaterThanOrEqual(0);
          from = at + 1;
        }
      } finally {
        rmSync(file, { force: true });
      }
    },
  );
});
