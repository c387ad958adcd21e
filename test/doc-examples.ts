// The machinery behind test/examples.test.ts: finds the code blocks of a Markdown page, runs the
// ```js ones as a user would and compares what they print with what the page promises, and
// type-checks the ```ts ones. Kept apart from the test so the test can also feed it pages that
// must fail.
//
// The page promises output in exactly three ways:
//   console.log(x); // text        the text that this call prints
//   console.log(x);
//   // → text                      the same, on the line below (one `// →` line per printed line)
//   Output:                        after a ```js block, a fenced block that is the whole stdout
// A comment right after a console.log in any other shape is refused rather than ignored: it
// reads as a promise, so it must be checked as one.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { projectRoot } from './package/built.js';

export interface CodeBlock {
  /** The page, relative to the project (`docs/http.md`). */
  readonly source: string;
  /** 1-based position among the page's blocks of the same language. */
  readonly index: number;
  readonly lang: 'js' | 'ts';
  readonly code: string;
  /** Line of the page on which the block's first line of code stands. */
  readonly line: number;
  /** The "Output:" block that follows a js block, if any: the whole stdout it promises. */
  readonly output: string | undefined;
}

export interface Page {
  readonly blocks: CodeBlock[];
  /** Things on the page that look like examples but cannot be checked. */
  readonly problems: string[];
}

const FENCE = /^(\s*)```\s*([^\s`]*)/;
const CLOSING_FENCE = /^\s*```\s*$/;
/** A line after a js block that announces its output in another wording than "Output:". */
const OUTPUT_LIKE = /^(output|it prints|this prints|prints)\b.*:$/i;
const OTHER_SPELLINGS = new Set(['javascript', 'mjs', 'cjs', 'jsx', 'typescript', 'mts', 'cts', 'tsx']);

/** The ```js and ```ts blocks of a page, with the "Output:" block that follows a js block. */
export function parsePage(source: string, markdown: string): Page {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  const problems: string[] = [];
  const counts = { js: 0, ts: 0 };
  type Fenced = { lang: string; code: string; line: number; end: number };
  const fenced: Fenced[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !CLOSING_FENCE.test(lines[end]!)) end++;
    if (end === lines.length) problems.push(`${source}:${i + 1}: a code block that is never closed`);
    // A block nested in a list is indented like its fence: take that indentation off.
    const indent = open[1]!.length;
    const code = lines.slice(start, end).map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)));
    fenced.push({ lang: open[2]!.toLowerCase(), code: code.join('\n') + '\n', line: start + 1, end });
    i = end;
  }
  for (let f = 0; f < fenced.length; f++) {
    const block = fenced[f]!;
    const output = outputAfter(lines, block.end, fenced[f + 1]);
    // The "Output:" block is the promise of the block before it, not an example of its own.
    if (output.kind === 'block') f++;
    if (OTHER_SPELLINGS.has(block.lang)) {
      problems.push(`${source}:${block.line - 1}: write \`\`\`js or \`\`\`ts, not \`\`\`${block.lang}: only those are checked`);
      continue;
    }
    if (block.lang !== 'js' && block.lang !== 'ts') {
      if (output.kind !== 'none') problems.push(`${source}:${block.line - 1}: "Output:" follows a block that does not run (\`\`\`${block.lang})`);
      continue;
    }
    if (output.kind === 'malformed') {
      problems.push(`${source}:${output.line}: show a block's output as a line "Output:" followed by a fenced block`);
    }
    if (block.lang === 'ts' && output.kind === 'block') {
      problems.push(`${source}:${output.line}: "Output:" after a \`\`\`ts block, which is type-checked, not run: make it \`\`\`js`);
    }
    const lang = block.lang;
    blocks.push({
      source,
      index: ++counts[lang],
      lang,
      code: block.code,
      line: block.line,
      output: lang === 'js' && output.kind === 'block' ? output.text : undefined,
    });
  }
  return { blocks, problems };
}

type OutputAfter = { kind: 'none' } | { kind: 'malformed'; line: number } | { kind: 'block'; line: number; text: string };

/** "Output:" on the first non-blank line after a block's closing fence, then a fenced block. */
function outputAfter(lines: string[], closingFence: number, next: { line: number; code: string } | undefined): OutputAfter {
  let i = closingFence + 1;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (i >= lines.length) return { kind: 'none' };
  if (lines[i]!.trim() !== 'Output:') return OUTPUT_LIKE.test(lines[i]!.trim()) ? { kind: 'malformed', line: i + 1 } : { kind: 'none' };
  const label = i + 1;
  i++;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (next === undefined || next.line !== i + 2) return { kind: 'malformed', line: label };
  return { kind: 'block', line: label, text: next.code };
}

export function readPage(source: string): Page {
  return parsePage(source, readFileSync(join(projectRoot, source), 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Promised output of a js block

export interface Promised {
  /** Lines of the block (1-based) the console.log statement spans. */
  readonly from: number;
  readonly to: number;
  readonly text: string;
}

const ARROW = /^\s*\/\/\s*→ ?(.*)$/;
const COMMENT_ONLY = /^\s*\/\//;

function isConsoleLog(node: ts.Node): node is ts.CallExpression {
  return (
    ts.isCallExpression(node) &&
    ts.isPropertyAccessExpression(node.expression) &&
    ts.isIdentifier(node.expression.expression) &&
    node.expression.expression.text === 'console' &&
    node.expression.name.text === 'log'
  );
}

/** The outputs a js block promises for its console.log calls, and the comments it cannot read. */
export function promisesOf(code: string, kind: 'js' | 'ts' = 'js'): { promises: Promised[]; problems: string[] } {
  const file = ts.createSourceFile(
    kind === 'js' ? 'example.mjs' : 'example.mts',
    code,
    ts.ScriptTarget.ES2022,
    true,
    kind === 'js' ? ts.ScriptKind.JS : ts.ScriptKind.TS,
  );
  const lines = code.split('\n');
  const lineOf = (pos: number): number => file.getLineAndCharacterOfPosition(pos).line + 1;
  const promises: Promised[] = [];
  const problems: string[] = [];
  /** Lines (0-based) of `// →` comments that belong to a console.log. */
  const attached = new Set<number>();
  const visit = (node: ts.Node): void => {
    if (ts.isExpressionStatement(node)) {
      const from = lineOf(node.getStart(file));
      const to = lineOf(node.getEnd());
      const trailing = ts.getTrailingCommentRanges(code, node.getEnd()) ?? [];
      const comment = trailing[0];
      const sameLine = comment !== undefined && lineOf(comment.pos) === to ? code.slice(comment.pos, comment.end) : undefined;
      if (isConsoleLog(node.expression)) {
        const below: string[] = [];
        for (let l = to; l < lines.length; l++) {
          const m = ARROW.exec(lines[l]!);
          if (m === null) break;
          attached.add(l);
          below.push(m[1]!.trimEnd());
        }
        if (sameLine !== undefined && below.length > 0) {
          problems.push(`line ${to}: output promised twice (same line and \`// →\` below): keep one`);
        } else if (sameLine !== undefined) {
          if (!sameLine.startsWith('//')) problems.push(`line ${to}: promise output with \`// text\`, not a block comment`);
          else promises.push({ from, to, text: sameLine.slice(2).trim().replace(/^→ ?/, '') });
        } else if (below.length > 0) {
          promises.push({ from, to, text: below.join('\n') });
        } else if (to < lines.length && COMMENT_ONLY.test(lines[to]!)) {
          problems.push(
            `line ${to + 1}: a comment right below console.log reads as its output: write \`// → output\`, or leave a blank line`,
          );
        }
      } else if (sameLine !== undefined && containsConsoleLog(node)) {
        problems.push(
          `line ${to}: a comment after a statement that logs inside a callback cannot be checked: ` +
            'move it, or log with its own `console.log(…); // output`',
        );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  lines.forEach((line, l) => {
    if (ARROW.test(line) && !attached.has(l)) {
      problems.push(`line ${l + 1}: a \`// →\` output line must follow its console.log directly`);
    }
  });
  return { promises, problems };
}

function containsConsoleLog(node: ts.Node): boolean {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (isConsoleLog(n)) found = true;
    else ts.forEachChild(n, visit);
  };
  ts.forEachChild(node, visit);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Running a js block

/** Inside the project, so that `import 'breakwater'` resolves to this package (self-reference). */
export const scratchDir = join(projectRoot, 'test', '.readme-examples');

// Preloaded into each example: records which line of the example each console.log call came
// from, so a promise is compared with what that very call printed, not with any line of stdout.
const RECORDER = `
import { writeFileSync } from 'node:fs';
import { format } from 'node:util';
const target = process.env.EXAMPLE_URL;
const records = [];
const log = console.log;
console.log = function (...args) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  let line = null;
  for (const frame of stack.split('\\n').slice(1)) {
    const at = frame.indexOf(target + ':');
    if (at !== -1) { line = Number(frame.slice(at + target.length + 1).split(':')[0]); break; }
  }
  records.push({ line, text: format(...args) });
  return log.apply(this, args);
};
process.on('exit', () => writeFileSync(process.env.EXAMPLE_RECORD, JSON.stringify(records)));
`;

export interface RunResult {
  readonly problems: string[];
  readonly stdout: string;
  readonly stderr: string;
}

function normalise(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
}

/**
 * Runs a js block with node, as a user would (`node example.mjs`), and lists every way it fails
 * the page: a non-zero exit, anything on stderr, a promise not kept, an example promising nothing.
 */
export function runJs(block: CodeBlock): RunResult {
  const where = (line: number): string => `${block.source}:${block.line + line - 1}`;
  const { promises, problems: unreadable } = promisesOf(block.code);
  const problems = unreadable.map((p) => `${block.source} js example ${block.index}: ${p}`);
  if (promises.length === 0 && block.output === undefined) {
    problems.push(
      `${block.source} js example ${block.index}: promises no output: show what it prints (\`console.log(…); // output\` or "Output:")`,
    );
  }
  mkdirSync(scratchDir, { recursive: true });
  const name = `${block.source.replace(/[/.]/g, '-')}-${block.index}-${process.pid}`;
  const file = `${scratchDir}/${name}.mjs`;
  const recorder = `${scratchDir}/${name}.recorder.mjs`;
  const record = `${scratchDir}/${name}.json`;
  writeFileSync(file, block.code);
  writeFileSync(recorder, RECORDER);
  try {
    const result = spawnSync(process.execPath, ['--import', pathToFileURL(recorder).href, file], {
      cwd: projectRoot,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, EXAMPLE_URL: pathToFileURL(file).href, EXAMPLE_RECORD: record },
    });
    const label = `${block.source} js example ${block.index} (line ${block.line})`;
    if (result.error !== undefined) problems.push(`${label}: did not finish: ${result.error.message}`);
    if (result.status !== 0) problems.push(`${label}: exited with ${result.signal ?? result.status}`);
    if (result.stderr !== '') problems.push(`${label}: wrote to stderr:\n${result.stderr}`);
    let records: Array<{ line: number | null; text: string }> = [];
    try {
      records = JSON.parse(readFileSync(record, 'utf8')) as typeof records;
    } catch {
      problems.push(`${label}: recorded no console.log calls (did it run?)`);
    }
    for (const promise of promises) {
      const printed = records.filter((r) => r.line !== null && r.line >= promise.from && r.line <= promise.to);
      if (printed.length !== 1) {
        problems.push(`${where(promise.to)}: promises "${promise.text}", but that console.log printed ${printed.length} times`);
      } else if (normalise(printed[0]!.text) !== normalise(promise.text)) {
        problems.push(`${where(promise.to)}: promises "${promise.text}", printed "${printed[0]!.text}"`);
      }
    }
    if (block.output !== undefined && normalise(result.stdout) !== normalise(block.output)) {
      problems.push(`${label}: its "Output:" block differs from what it printed:\n${result.stdout}`);
    }
    return { problems, stdout: result.stdout, stderr: result.stderr };
  } finally {
    for (const path of [file, recorder, record]) rmSync(path, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Type-checking ts blocks

export interface TypeCheck {
  /** Diagnostics of each block, keyed by `source#index`, as `docs/x.md:LINE: message`. */
  readonly byBlock: ReadonlyMap<string, string[]>;
  readonly program: ts.Program;
}

export const blockKey = (block: CodeBlock): string => `${block.source}#${block.index}`;

/** The project's compiler options (strict, exactOptionalPropertyTypes, …), every file a module. */
function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(projectRoot, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, projectRoot);
  return { ...parsed.options, noEmit: true, moduleDetection: ts.ModuleDetectionKind.Force };
}

/**
 * Type-checks every block in one program, as files of a user's project importing `breakwater`
 * (which resolves to this package's built types: run `npm run build` after changing src/).
 * The blocks live in memory at paths inside the project so that the self-reference resolves.
 */
export function typeCheck(blocks: readonly CodeBlock[]): TypeCheck {
  const options = compilerOptions();
  const virtual = new Map<string, CodeBlock>();
  for (const block of blocks) {
    virtual.set(join(scratchDir, `${block.source.replace(/[/.]/g, '-')}-${block.index}.mts`), block);
  }
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (path) => virtual.has(path) || fileExists.call(host, path);
  host.readFile = (path) => virtual.get(path)?.code ?? readFile.call(host, path);
  host.getSourceFile = (path, language, onError, shouldCreate) => {
    const block = virtual.get(path);
    if (block !== undefined) return ts.createSourceFile(path, block.code, language, true, ts.ScriptKind.TS);
    return getSourceFile.call(host, path, language, onError, shouldCreate);
  };
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });
  const byBlock = new Map<string, string[]>(blocks.map((block) => [blockKey(block), []]));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const block = diagnostic.file === undefined ? undefined : virtual.get(diagnostic.file.fileName);
    if (block === undefined || diagnostic.file === undefined || diagnostic.start === undefined) {
      // A problem outside the blocks (options, a broken dependency): charge it to every block.
      for (const list of byBlock.values()) list.push(`TS${diagnostic.code}: ${message}`);
      continue;
    }
    const line = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line;
    byBlock.get(blockKey(block))!.push(`${block.source}:${block.line + line}: TS${diagnostic.code}: ${message}`);
  }
  return { byBlock, program };
}
