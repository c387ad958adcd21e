// Every code example in README.md and docs/*.md is held to what the page shows:
// - each ```js block runs, as a user would run it, against the built package: it exits with 0,
//   writes nothing to stderr, and prints exactly what it promises (see test/doc-examples.ts for
//   the three ways a page promises output);
// - every ```ts block type-checks, with the project's strict options, against the built types.
// The last describe feeds the same machinery pages that must fail, so these checks can fail.
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockKey, parsePage, promisesOf, readPage, runJs, typeCheck, type CodeBlock, type TypeCheck } from './doc-examples.js';
import { ensureBuilt, projectRoot } from './package/built.js';

const sources = ['README.md', ...readdirSync(`${projectRoot}/docs`).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const pages = sources.map((source) => readPage(source));
const blocks = pages.flatMap((page) => page.blocks);
const jsBlocks = blocks.filter((b) => b.lang === 'js');
const tsBlocks = blocks.filter((b) => b.lang === 'ts');
const row = (b: CodeBlock) => [b.source, b.index, b] as const;

describe('documentation examples', () => {
  it('README and docs have examples of both kinds', () => {
    expect(jsBlocks.filter((b) => b.source === 'README.md').length).toBeGreaterThanOrEqual(5);
    expect(tsBlocks.length).toBeGreaterThanOrEqual(10);
  });

  it('no page has a block that looks like an example but is not checked', () => {
    expect(pages.flatMap((page) => page.problems)).toEqual([]);
  });

  it.each(jsBlocks.map(row))('%s js example %i runs, exits cleanly and prints what it promises', (_source, _index, block) => {
    ensureBuilt();
    expect(runJs(block).problems).toEqual([]);
  });

  describe('ts blocks', () => {
    let checked: TypeCheck;
    beforeAll(() => {
      ensureBuilt();
      checked = typeCheck(tsBlocks);
    }, 120_000);

    it.each(tsBlocks.map(row))('%s ts block %i type-checks and promises no output', (_source, _index, block) => {
      expect(checked.byBlock.get(blockKey(block))).toEqual([]);
      // A ts block is not run: an output it shows could never be checked.
      expect(promisesOf(block.code, 'ts').promises).toEqual([]);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The checks above must be able to fail.

const fence = '```';
const badPage = [
  '# A page that lies',
  '',
  `${fence}js`,
  'console.log(1 + 1); // 3',
  'console.log([1, 2].join(" "));',
  '// → 1 and 2',
  'console.log("fine"); // fine',
  `${fence}`,
  '',
  `${fence}js`,
  'console.log("shown");',
  '// an explanation where the output belongs',
  `${fence}`,
  '',
  `${fence}js`,
  'console.log("a");',
  'console.log("b");',
  `${fence}`,
  '',
  'Output:',
  '',
  `${fence}text`,
  'a',
  'c',
  `${fence}`,
  '',
  `${fence}js`,
  'const quiet = 1 + 1;',
  `${fence}`,
  '',
  `${fence}ts`,
  "import { timeout } from 'breakwater';",
  '',
  "const policy = timeout('50 ms');",
  `${fence}`,
  '',
].join('\n');

describe('the examples check can fail', () => {
  const page = parsePage('docs/lies.md', badPage);
  const [wrong, unreadable, wrongOutput, silent] = page.blocks.filter((b) => b.lang === 'js');

  it('finds the blocks and the "Output:" block, and does not take the Output block for an example', () => {
    expect(page.problems).toEqual([]);
    expect(page.blocks.map((b) => `${b.lang}${b.index}@${b.line}`)).toEqual(['js1@4', 'js2@11', 'js3@16', 'js4@28', 'ts1@32']);
    expect(wrongOutput!.output).toBe('a\nc\n');
  });

  it('an output announced in other words, or an "Output:" with no block after it, is refused', () => {
    const other = parsePage('docs/x.md', `${fence}js\nconsole.log(1);\n${fence}\n\nIt prints:\n\n${fence}\n1\n${fence}\n`);
    expect(other.problems).toEqual(['docs/x.md:5: show a block\'s output as a line "Output:" followed by a fenced block']);
    const dangling = parsePage('docs/y.md', `${fence}js\nconsole.log(1);\n${fence}\n\nOutput:\n\nand then prose.\n`);
    expect(dangling.problems).toEqual(['docs/y.md:5: show a block\'s output as a line "Output:" followed by a fenced block']);
  });

  it('a block nested in a list is found and checked too', () => {
    const nested = parsePage('docs/z.md', `- item\n\n  ${fence}js\n  console.log(2); // 2\n  ${fence}\n`);
    expect(nested.blocks.map((b) => [b.lang, b.code])).toEqual([['js', 'console.log(2); // 2\n']]);
  });

  it('a wrong same-line promise and a wrong `// →` promise fail; a right one passes', () => {
    ensureBuilt();
    const problems = runJs(wrong!).problems;
    expect(problems).toEqual([
      'docs/lies.md:4: promises "3", printed "2"',
      'docs/lies.md:5: promises "1 and 2", printed "1 2"',
    ]);
  });

  it('a comment right below console.log that is not `// →` is refused, not ignored', () => {
    expect(runJs(unreadable!).problems).toEqual([
      'docs/lies.md js example 2: line 2: a comment right below console.log reads as its output: write `// → output`, or leave a blank line',
      'docs/lies.md js example 2: promises no output: show what it prints (`console.log(…); // output` or "Output:")',
    ]);
  });

  it('an "Output:" block that differs from stdout fails', () => {
    const problems = runJs(wrongOutput!).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^docs\/lies\.md js example 3 \(line 16\): its "Output:" block differs/);
  });

  it('an example that promises nothing fails', () => {
    expect(runJs(silent!).problems).toEqual([
      'docs/lies.md js example 4: promises no output: show what it prints (`console.log(…); // output` or "Output:")',
    ]);
  });

  it('an example that throws or writes to stderr fails', () => {
    const [throwing] = parsePage('docs/x.md', `${fence}js\nconsole.log('x'); // x\nconsole.error('oops');\nthrow new Error('boom');\n${fence}\n`).blocks;
    const problems = runJs(throwing!).problems;
    expect(problems.some((p) => p.endsWith('exited with 1'))).toBe(true);
    expect(problems.some((p) => p.includes('wrote to stderr') && p.includes('oops') && p.includes('boom'))).toBe(true);
  });

  it("the README's bulkhead example with its promised output replaced by nonsense fails", () => {
    ensureBuilt();
    const bulkheadExample = jsBlocks.find((b) => b.source === 'README.md' && b.code.includes('bulkhead({ maxConcurrent: 2'));
    expect(bulkheadExample).toBeDefined();
    const honest = runJs(bulkheadExample!);
    expect(honest.problems).toEqual([]);
    const promised = promisesOf(bulkheadExample!.code).promises;
    expect(promised).toHaveLength(1);
    const nonsense = { ...bulkheadExample!, code: bulkheadExample!.code.replace(promised[0]!.text, 'nonsense, all of it') };
    expect(nonsense.code).not.toBe(bulkheadExample!.code);
    expect(runJs(nonsense).problems).toEqual([
      expect.stringMatching(/^README\.md:\d+: promises "nonsense, all of it", printed "done done done ERR_BULKHEAD_FULL"$/),
    ]);
  });

  it('a ts block with a type error fails, naming the page and line; a correct one passes', () => {
    ensureBuilt();
    const correct = parsePage('docs/right.md', `${fence}ts\nimport { timeout, type Policy } from 'breakwater';\nconst policy: Policy = timeout(50);\nawait policy.execute(() => 1);\n${fence}\n`).blocks;
    const checked = typeCheck([...page.blocks.filter((b) => b.lang === 'ts'), ...correct]);
    const errors = checked.byBlock.get('docs/lies.md#1')!;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^docs\/lies\.md:34: TS2345: Argument of type 'string' is not assignable to parameter of type 'number'/);
    expect(checked.byBlock.get('docs/right.md#1')).toEqual([]);
  }, 120_000);

  it('a ts block that shows output is refused (it is never run)', () => {
    expect(promisesOf("console.log(1); // 1\n", 'ts').promises).toHaveLength(1);
  });
});
