// Turns Stryker's JSON report into docs/mutation.md: the score per file, the survivors, and
// the mutants marked equivalent (with their reasons).
//   node scripts/mutation-summary.mjs [--in reports/mutation/mutation.json] [--out docs/mutation.md]
// `--out -` prints the page instead. Run it after `npm run mutation`.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Where the targets differ: adapters to other libraries are held to a lower bar. */
const OUTER_DIRS = ['src/http/', 'src/telemetry/'];
const TARGET_CORE = 90;
const TARGET_OUTER = 80;
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const ERRORS = new Set(['CompileError', 'RuntimeError']);
const MAX_LISTED = 300;

export function parseArgs(argv) {
  const args = { in: join(root, 'reports/mutation/mutation.json'), out: join(root, 'docs/mutation.md') };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if ((flag === '--in' || flag === '--out') && value !== undefined) {
      args[flag.slice(2)] = value === '-' ? '-' : resolve(value);
      i++;
    } else throw new Error(`unknown argument ${flag} (usage: mutation-summary.mjs [--in report.json] [--out page.md | -])`);
  }
  return args;
}

/** Counts of one file's (or a group's) mutants by status, and the score Stryker would print. */
export function tally(mutants) {
  const t = { total: mutants.length, killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, pending: 0 };
  for (const m of mutants) {
    if (m.status === 'Killed') t.killed++;
    else if (m.status === 'Timeout') t.timeout++;
    else if (m.status === 'Survived') t.survived++;
    else if (m.status === 'NoCoverage') t.noCoverage++;
    else if (ERRORS.has(m.status)) t.errors++;
    else if (m.status === 'Ignored') t.ignored++;
    else t.pending++;
  }
  const detected = mutants.filter((m) => DETECTED.has(m.status)).length;
  const valid = detected + mutants.filter((m) => UNDETECTED.has(m.status)).length;
  const covered = valid - t.noCoverage;
  // Stryker's definitions: detected / (detected + undetected); the second ignores uncovered code.
  t.score = valid === 0 ? null : (100 * detected) / valid;
  t.coveredScore = covered === 0 ? null : (100 * detected) / covered;
  return t;
}

const pct = (x) => (x === null ? '—' : `${x.toFixed(1)} %`);
const esc = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
const short = (s, n = 60) => {
  const one = String(s).replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};
const targetOf = (file) => (OUTER_DIRS.some((d) => file.startsWith(d)) ? TARGET_OUTER : TARGET_CORE);

function table(header, rows) {
  const line = (cells) => `| ${cells.map(esc).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** The source text a mutant replaced, from the report's copy of the file. */
function original(source, location) {
  const lines = source.split('\n');
  const { start, end } = location;
  if (start.line === end.line) return lines[start.line - 1]?.slice(start.column - 1, end.column - 1) ?? '';
  return [lines[start.line - 1]?.slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1]?.slice(0, end.column - 1)].join('\n');
}

function sourceFiles(dir) {
  return readdirSync(join(root, dir), { recursive: true })
    .map((f) => `${dir}/${String(f).split('\\').join('/')}`)
    .filter((f) => f.endsWith('.ts') && statSync(join(root, f)).isFile());
}

export function renderSummary(report, { generatedAt = new Date().toISOString(), inputName = 'reports/mutation/mutation.json', typeOnly = new Set() } = {}) {
  const files = Object.entries(report.files)
    .map(([name, file]) => [relative(root, resolve(root, name)).split('\\').join('/'), file])
    .sort(([a], [b]) => a.localeCompare(b));
  const all = files.flatMap(([, f]) => f.mutants);
  const core = files.filter(([n]) => targetOf(n) === TARGET_CORE).flatMap(([, f]) => f.mutants);
  const outer = files.filter(([n]) => targetOf(n) === TARGET_OUTER).flatMap(([, f]) => f.mutants);
  const measured = new Set(files.map(([n]) => n));
  const notRun = sourceFiles('src').filter((f) => !measured.has(f) && !f.startsWith('src/testing/') && !typeOnly.has(f));

  const fileRows = files.map(([name, f]) => {
    const t = tally(f.mutants);
    const target = targetOf(name);
    const verdict = t.score === null ? '—' : t.score >= target ? 'meets' : `**below** (${target} %)`;
    return [`\`${name}\``, t.total, t.killed, t.timeout, t.survived, t.noCoverage, t.errors, t.ignored, pct(t.score), pct(t.coveredScore), verdict];
  });
  const groupRow = (label, mutants, target) => {
    const t = tally(mutants);
    const verdict = t.score === null ? '—' : target === undefined ? '' : t.score >= target ? 'meets' : `**below** (${target} %)`;
    return [label, t.total, t.killed, t.timeout, t.survived, t.noCoverage, t.errors, t.ignored, `**${pct(t.score)}**`, pct(t.coveredScore), verdict];
  };

  const survivors = files.flatMap(([name, f]) =>
    f.mutants
      .filter((m) => UNDETECTED.has(m.status))
      .map((m) => ({ name, m, text: original(f.source ?? '', m.location) })),
  );
  survivors.sort((a, b) => a.name.localeCompare(b.name) || a.m.location.start.line - b.m.location.start.line);
  const ignored = files.flatMap(([name, f]) => f.mutants.filter((m) => m.status === 'Ignored').map((m) => ({ name, m })));

  const header = ['file', 'mutants', 'killed', 'timeout', 'survived', 'no coverage', 'errors', 'ignored', 'score', 'score of covered', 'target'];
  return `# Mutation testing

<!-- Generated by scripts/mutation-summary.mjs from ${inputName} (\`npm run mutation\`, then \`npm run mutation:summary\`). Do not edit by hand. -->

[StrykerJS](https://stryker-mutator.io) changes the code under \`src/\` one small edit at a time (a \`<\` becomes \`<=\`, a
condition becomes \`true\`, a block is emptied) and runs the tests that cover it: a mutant the tests notice is **killed**, one
they do not notice **survived**. The score is killed (or timed out) ÷ (killed + timed out + survived + not covered). Targets:
≥ ${TARGET_CORE} % over \`src/\`, ≥ ${TARGET_OUTER} % in \`src/http/\` and \`src/telemetry/\` (adapters to other libraries). \`src/testing/\` and files
with no runtime code are not mutated. A mutant that cannot be told apart from the original (an equivalent mutant) is
marked in the source with \`// Stryker disable next-line <mutator>: <why>\` and counted as **ignored**.

Report generated ${generatedAt.slice(0, 10)}${report.thresholds ? ` (Stryker thresholds: high ${report.thresholds.high}, low ${report.thresholds.low})` : ''}.
${notRun.length ? `\n**Partial run**: ${files.length} file(s) mutated; not run yet: ${notRun.map((f) => `\`${f}\``).join(', ')}.\n` : ''}
## Score per file

${table(header, [
  ...fileRows,
  groupRow('**all files above**', all),
  ...(core.length && outer.length ? [groupRow(`outside src/http and src/telemetry`, core, TARGET_CORE), groupRow('src/http and src/telemetry', outer, TARGET_OUTER)] : []),
])}

## Survivors (${survivors.length})

${survivors.length === 0 ? 'None.' : `${survivors.length > MAX_LISTED ? `The first ${MAX_LISTED}; the HTML report (reports/mutation/mutation.html) has all of them.\n\n` : ''}${table(
  ['file:line', 'mutator', 'original', 'mutant', 'status'],
  survivors.slice(0, MAX_LISTED).map(({ name, m, text }) => [
    `\`${name}:${m.location.start.line}\``,
    m.mutatorName,
    `\`${short(text)}\``,
    `\`${short(m.replacement ?? '')}\``,
    m.status === 'NoCoverage' ? 'no coverage' : 'survived',
  ]),
)}`}

## Ignored as equivalent (${ignored.length})

${ignored.length === 0 ? 'None.' : table(['file:line', 'mutator', 'reason'], ignored.map(({ name, m }) => [`\`${name}:${m.location.start.line}\``, m.mutatorName, m.statusReason ?? '']))}
`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`mutation-summary: ${error.message}`);
    process.exit(2);
  }
  if (!existsSync(args.in)) {
    console.error(`mutation-summary: ${args.in} not found — run \`npm run mutation\` first`);
    process.exit(1);
  }
  const report = JSON.parse(readFileSync(args.in, 'utf8'));
  // The files Stryker is told to skip for having no runtime code are not "not run yet".
  const { typeOnlyFiles } = await import('../stryker.config.mjs');
  const typeOnly = new Set(typeOnlyFiles(join(root, 'src')).map((f) => relative(root, f).split('\\').join('/')));
  const page = renderSummary(report, { inputName: relative(root, args.in).split('\\').join('/'), typeOnly });
  if (args.out === '-') process.stdout.write(page);
  else {
    writeFileSync(args.out, page);
    console.error(`wrote ${relative(root, args.out)}`);
  }
}
