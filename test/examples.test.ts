// Every ```js example in README.md and docs/*.md runs, as a user would run it, against the
// built package; where an example shows its output in a comment, the output must match.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from './package/built.js';

const sources = ['README.md', ...readdirSync(`${projectRoot}/docs`).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const examples = sources.flatMap((source) =>
  [...readFileSync(`${projectRoot}/${source}`, 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m, i) => ({
    source,
    index: i + 1,
    code: m[1]!,
  })),
);
// Inside the project so that `import 'breakwater'` resolves to this package (self-reference).
const dir = `${projectRoot}/test/.readme-examples`;

describe('documentation examples', () => {
  it('README has examples', () => {
    expect(examples.filter((e) => e.source === 'README.md').length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples.map((e) => [e.source, e.index, e.code]))(
    '%s example %i runs and exits cleanly',
    (source, index, code) => {
      ensureBuilt();
      mkdirSync(dir, { recursive: true });
      const file = `${dir}/${String(source).replace(/[/.]/g, '-')}-${index}.mjs`;
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
