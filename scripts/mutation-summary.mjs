// Keeps the mutation-testing record and turns it into docs/mutation.md: the score per file, the
// survivors, and the mutants marked equivalent (with their reasons).
//   node scripts/mutation-summary.mjs [--in reports/mutation/mutation.json] [--results mutation-results] [--out docs/mutation.md]
// A full Stryker run over src/ takes hours, so runs are partial (`npm run mutation -- --mutate
// <files>`) and their results accumulate: each file's result is kept in mutation-results/<file>.json
// (committed), with the sha256 of the source it was measured on. This script merges the last
// report (reports/, gitignored) into that record, then renders the page from the whole record. A
// row whose source has changed since it was measured is stale: listed, not counted. Without a
// report it only renders the record. `--out -` prints the page instead.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { excludedTests } from './mutation-exclude.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Where the targets differ: adapters to other libraries are held to a lower bar. */
const OUTER_DIRS = ['src/http/', 'src/telemetry/'];
const TARGET_CORE = 90;
const TARGET_OUTER = 80;
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const ERRORS = new Set(['CompileError', 'RuntimeError']);
const MAX_LISTED = 300;
/**
 * A static mutant (one in code that runs when the module loads) needs the whole suite rerun in
 * a fresh process: over a core file that is minutes per mutant. `--ignoreStatic` skips them, and
 * Stryker reports them Ignored with this reason; they are counted apart from the equivalent ones.
 */
const isStaticSkip = (m) => m.status === 'Ignored' && /^Static mutant/.test(m.statusReason ?? '');
/** The version of one file's record below; a record of another version is refused, not misread. */
const RECORD_VERSION = 1;

export function parseArgs(argv) {
  const args = {
    in: join(root, 'reports/mutation/mutation.json'),
    results: join(root, 'mutation-results'),
    out: join(root, 'docs/mutation.md'),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if ((flag === '--in' || flag === '--out' || flag === '--results') && value !== undefined) {
      args[flag.slice(2)] = value === '-' && flag === '--out' ? '-' : resolve(value);
      i++;
    } else throw new Error(`unknown argument ${flag} (usage: mutation-summary.mjs [--in report.json] [--results dir] [--out page.md | -])`);
  }
  return args;
}

/** Counts of one file's (or a group's) mutants by status. */
export function countStatuses(mutants) {
  const c = { total: mutants.length, killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, staticSkipped: 0, pending: 0 };
  for (const m of mutants) {
    if (isStaticSkip(m)) c.staticSkipped++;
    else if (m.status === 'Killed') c.killed++;
    else if (m.status === 'Timeout') c.timeout++;
    else if (m.status === 'Survived') c.survived++;
    else if (m.status === 'NoCoverage') c.noCoverage++;
    else if (ERRORS.has(m.status)) c.errors++;
    else if (m.status === 'Ignored') c.ignored++;
    else c.pending++;
  }
  return c;
}

/** The scores Stryker would print for these counts. */
export function scoresOf(counts) {
  const detected = counts.killed + counts.timeout;
  const valid = detected + counts.survived + counts.noCoverage;
  const covered = valid - counts.noCoverage;
  // Stryker's definitions: detected / (detected + undetected); the second ignores uncovered code.
  return { score: valid === 0 ? null : (100 * detected) / valid, coveredScore: covered === 0 ? null : (100 * detected) / covered };
}

/** Counts and scores of a list of mutants. */
export function tally(mutants) {
  const counts = countStatuses(mutants);
  return { ...counts, ...scoresOf(counts) };
}

const sumCounts = (list) => {
  const sum = { total: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, staticSkipped: 0, pending: 0 };
  for (const c of list) for (const key of Object.keys(sum)) sum[key] += c[key] ?? 0;
  return sum;
};

export const sha256 = (text) => createHash('sha256').update(text).digest('hex');

const pct = (x) => (x === null ? '—' : `${x.toFixed(1)} %`);
const esc = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
const short = (s, n = 60) => {
  const one = String(s).replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};
const targetOf = (file) => (OUTER_DIRS.some((d) => file.startsWith(d)) ? TARGET_OUTER : TARGET_CORE);
const posix = (path) => path.split('\\').join('/');

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

/**
 * One file's record from its entry in a Stryker report: what was measured (the sha256 of the
 * source text in the report), when, the counts, and the mutants a reader needs to see.
 */
export function entryFromReport(name, file, measuredAt, testsLeftOut = []) {
  const source = file.source ?? '';
  const byPosition = (a, b) => a.line - b.line || a.column - b.column || a.mutator.localeCompare(b.mutator);
  return {
    version: RECORD_VERSION,
    file: name,
    sha256: sha256(source),
    measuredAt,
    counts: countStatuses(file.mutants),
    survivors: file.mutants
      .filter((m) => UNDETECTED.has(m.status))
      .map((m) => ({
        line: m.location.start.line,
        column: m.location.start.column,
        mutator: m.mutatorName,
        original: original(source, m.location),
        replacement: m.replacement ?? '',
        status: m.status,
      }))
      .sort(byPosition),
    ignored: file.mutants
      .filter((m) => m.status === 'Ignored' && !isStaticSkip(m))
      // The replacement tells apart the mutants one mark covers: `// Stryker disable next-line
      // ConditionalExpression` ignores both the `true` and the `false` of one condition.
      .map((m) => ({ line: m.location.start.line, column: m.location.start.column, mutator: m.mutatorName, replacement: m.replacement ?? '', reason: m.statusReason ?? '' }))
      .sort(byPosition),
    // A run that left tests out (MUTATION_EXCLUDE) can only have scored lower than a full one.
    ...(testsLeftOut.length > 0 ? { testsLeftOut: [...testsLeftOut] } : {}),
  };
}

/** `items` in groups of one key, in first-seen order (Node 20 has no Map.groupBy). */
function groupedBy(items, keyOf) {
  const groups = new Map();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** The globs a run left out: the same reading of `MUTATION_EXCLUDE` as vitest.mutation.config.ts's. */
export { excludedTests as testsLeftOutBy };

/**
 * The record with a report merged in: each file of the report replaces that file's entry, unless
 * the entry was measured later than the report (an old report left in reports/ must not undo a
 * newer result from another branch). A file with mutants still pending (a run cut short) is not
 * merged. Returns the merged record and the names of the entries that changed.
 */
export function mergeReport(record, report, { measuredAt, rootDir = root, testsLeftOut = [] } = {}) {
  const merged = { ...record };
  const changed = [];
  const skipped = [];
  for (const [path, file] of Object.entries(report.files ?? {})) {
    const name = posix(relative(rootDir, resolve(rootDir, path)));
    const entry = entryFromReport(name, file, measuredAt, testsLeftOut);
    const previous = record[name];
    if (entry.counts.pending > 0) skipped.push({ name, why: `${entry.counts.pending} mutant(s) still pending` });
    else if (previous && previous.measuredAt > measuredAt) skipped.push({ name, why: `the record is newer (${previous.measuredAt})` });
    else if (!previous || JSON.stringify(previous) !== JSON.stringify(entry)) {
      merged[name] = entry;
      changed.push(name);
    }
  }
  return { record: merged, changed, skipped };
}

/** Every entry kept under `dir` (mutation-results/src/core/abort.ts.json for src/core/abort.ts). */
export function readRecord(dir) {
  if (!existsSync(dir)) return {};
  const record = {};
  for (const path of readdirSync(dir, { recursive: true }).map(String)) {
    if (!path.endsWith('.ts.json')) continue;
    const entry = JSON.parse(readFileSync(join(dir, path), 'utf8'));
    if (entry.version !== RECORD_VERSION) throw new Error(`${join(dir, path)}: record version ${entry.version}, expected ${RECORD_VERSION}`);
    record[entry.file] = entry;
  }
  return record;
}

export function writeEntry(dir, entry) {
  const path = join(dir, `${entry.file}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(entry, null, 2)}\n`);
}

/** The .ts files under `dir` of the repository, as repository paths. */
export function sourceFiles(dir, rootDir = root) {
  return readdirSync(join(rootDir, dir), { recursive: true })
    .map((f) => `${dir}/${posix(String(f))}`)
    .filter((f) => f.endsWith('.ts') && statSync(join(rootDir, f)).isFile());
}

/**
 * The page, from the record. `hashOf(file)` is the sha256 of the file's source today (undefined:
 * the file is gone); `candidates` are the files that should be measured (src/ with runtime code,
 * outside src/testing).
 */
export function renderSummary(record, { hashOf, candidates, generatedAt = new Date().toISOString() }) {
  const entries = Object.values(record).sort((a, b) => a.file.localeCompare(b.file));
  const isFresh = (e) => hashOf(e.file) === e.sha256;
  const fresh = entries.filter(isFresh);
  const stale = entries.filter((e) => !isFresh(e));
  const measured = new Set(entries.map((e) => e.file));
  const notRun = candidates.filter((f) => !measured.has(f)).sort();

  const verdictOf = (score, target) => (score === null ? '—' : score >= target ? 'meets' : `**below** (${target} %)`);
  const countCells = (c) => [c.total, c.killed, c.timeout, c.survived, c.noCoverage, c.errors, c.ignored, c.staticSkipped ?? 0];
  const fileRows = entries.map((e) => {
    const { score, coveredScore } = scoresOf(e.counts);
    const gone = hashOf(e.file) === undefined;
    const verdict = isFresh(e) ? verdictOf(score, targetOf(e.file)) : gone ? '**stale** (file removed)' : '**stale** (source changed)';
    const bound = e.testsLeftOut === undefined ? '' : ' (lower bound)';
    return [`\`${e.file}\``, e.measuredAt.slice(0, 10), ...countCells(e.counts), pct(score) + bound, pct(coveredScore) + bound, verdict];
  });
  const groupRow = (label, group, target) => {
    const counts = sumCounts(group.map((e) => e.counts));
    const { score, coveredScore } = scoresOf(counts);
    return [label, '', ...countCells(counts), `**${pct(score)}**`, pct(coveredScore), target === undefined ? '' : verdictOf(score, target)];
  };
  const core = fresh.filter((e) => targetOf(e.file) === TARGET_CORE);
  const outer = fresh.filter((e) => targetOf(e.file) === TARGET_OUTER);

  const survivors = fresh.flatMap((e) => e.survivors.map((s) => ({ file: e.file, ...s })));
  const ignored = fresh.flatMap((e) => e.ignored.map((s) => ({ file: e.file, ...s })));
  const ignoredRows = groupIgnored(ignored);
  const list = (files) => files.map((f) => `\`${f}\``).join(', ');
  const leftOut = fresh.filter((e) => e.testsLeftOut !== undefined);
  const leftOutNote =
    leftOut.length === 0
      ? ''
      : `A **lower bound** is a score measured with tests left out of the run (\`MUTATION_EXCLUDE\`): a test left out can only let a mutant survive. ${[...groupedBy(leftOut, (e) => e.testsLeftOut.join(',')).values()].map((group) => `${list(group.map((e) => e.file))} left out ${list(group[0].testsLeftOut)}`).join('; ')}.`;

  const header = ['file', 'measured', 'mutants', 'killed', 'timeout', 'survived', 'no coverage', 'errors', 'ignored', 'static, not run', 'score', 'score of covered', 'target'];
  const staticTotal = sumCounts(fresh.map((e) => e.counts)).staticSkipped;
  return `# Mutation testing

<!-- Generated by scripts/mutation-summary.mjs from the record in mutation-results/ (\`npm run mutation -- --mutate <files>\`, then \`npm run mutation:summary\`). Do not edit by hand. -->

[StrykerJS](https://stryker-mutator.io) changes the code under \`src/\` one small edit at a time (a \`<\` becomes \`<=\`, a
condition becomes \`true\`, a block is emptied) and runs the tests that cover it: a mutant the tests notice is **killed**, one
they do not notice **survived**. The score is killed (or timed out) ÷ (killed + timed out + survived + not covered). Targets:
≥ ${TARGET_CORE} % over \`src/\`, ≥ ${TARGET_OUTER} % in \`src/http/\` and \`src/telemetry/\` (adapters to other libraries). \`src/testing/\` and files
with no runtime code are not mutated. A mutant that cannot be told apart from the original (an equivalent mutant) is
marked in the source with \`// Stryker disable next-line <mutator>: <why>\` and counted as **ignored**. Such a mark covers
every mutant of that mutator on the line (a condition's \`true\` and its \`false\`: a comment cannot name one replacement),
so the table of ignored mutants lists each of them with its replacement, and the reason says which one is equivalent.

A run over all of \`src/\` takes hours, so files are measured a few at a time and the results accumulate in
\`mutation-results/\` (one file per source file, with the sha256 of the source it was measured on). A row whose source has
changed since it was measured is **stale**: it is listed but not counted until the file is measured again.
A **static** mutant (in code that runs when the module loads: a constant, a class declaration) can only be tested by
rerunning every related test in a fresh process, minutes each for a file the whole library imports; a run with
\`--ignoreStatic\` skips them. They are counted under "static, not run", apart from the equivalent ones, and not scored.

Page generated ${generatedAt.slice(0, 10)}: ${fresh.length} file(s) measured${stale.length ? `, ${stale.length} stale` : ''}, ${notRun.length} not run yet${staticTotal ? `; ${staticTotal} static mutant(s) of the measured files not run` : ''}.
${stale.length ? `\n**Stale** (measure again): ${list(stale.map((e) => e.file))}.\n` : ''}${notRun.length ? `\n**Not run yet** (${notRun.length}): ${list(notRun)}.\n` : ''}
## Score per file

${leftOutNote ? `${leftOutNote}\n\n` : ''}${table(header, [
  ...fileRows,
  groupRow(`**all measured files** (${fresh.length})`, fresh),
  groupRow('outside src/http and src/telemetry', core, TARGET_CORE),
  groupRow('src/http and src/telemetry', outer, TARGET_OUTER),
])}

## Survivors (${survivors.length})

${survivors.length === 0 ? 'None.' : `${survivors.length > MAX_LISTED ? `The first ${MAX_LISTED}; the HTML report of a run (reports/mutation/mutation.html) has all of its own.\n\n` : ''}${table(
  ['file:line', 'mutator', 'original', 'mutant', 'status'],
  survivors.slice(0, MAX_LISTED).map((s) => [
    `\`${s.file}:${s.line}\``,
    s.mutator,
    `\`${short(s.original)}\``,
    `\`${short(s.replacement)}\``,
    s.status === 'NoCoverage' ? 'no coverage' : 'survived',
  ]),
)}`}

## Ignored as equivalent (${ignored.length})

${ignored.length === 0 ? 'None.' : table(['file:line', 'mutator', 'mutant', 'reason'], ignoredRows.map((s) => [`\`${s.file}:${s.line}\``, s.mutator, ignoredMutantCell(s), s.reason]))}
`;
}

/**
 * The ignored mutants, one row per distinct mutant: those of one mark differ by their replacement
 * (a condition's `true` and `false`). A record written before replacements were kept has
 * identical entries for them: they become one row with their count, so none is lost from the sum.
 */
export function groupIgnored(ignored) {
  const rows = new Map();
  for (const m of ignored) {
    const key = JSON.stringify([m.file, m.line, m.column, m.mutator, m.replacement ?? null, m.reason]);
    const row = rows.get(key);
    if (row) row.count++;
    else rows.set(key, { ...m, count: 1 });
  }
  return [...rows.values()];
}

const ignoredMutantCell = (row) => {
  const mutant = row.replacement === undefined ? 'not recorded' : `\`${short(row.replacement)}\``;
  return row.count > 1 ? `${mutant} (${row.count} mutants)` : mutant;
};

/** The files that should have a row: src/ outside src/testing, minus the files with no runtime code. */
export async function candidateFiles(rootDir = root) {
  const { typeOnlyFiles } = await import('../stryker.config.mjs');
  const typeOnly = new Set(typeOnlyFiles(join(rootDir, 'src')).map((f) => posix(relative(rootDir, f))));
  return sourceFiles('src', rootDir).filter((f) => !f.startsWith('src/testing/') && !typeOnly.has(f));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`mutation-summary: ${error.message}`);
    process.exit(2);
  }
  let record = readRecord(args.results);
  if (existsSync(args.in)) {
    const report = JSON.parse(readFileSync(args.in, 'utf8'));
    // The report carries no date: the time Stryker wrote it is when its files were measured.
    const measuredAt = statSync(args.in).mtime.toISOString();
    // Set MUTATION_EXCLUDE here as it was for the run: the report does not say what it left out.
    const merge = mergeReport(record, report, { measuredAt, testsLeftOut: excludedTests() });
    record = merge.record;
    for (const name of merge.changed) writeEntry(args.results, record[name]);
    for (const { name, why } of merge.skipped) console.error(`mutation-summary: ${name} not merged: ${why}`);
    console.error(`mutation-summary: merged ${relative(root, args.in)} (${merge.changed.length} file(s) changed in ${relative(root, args.results)}/)`);
  } else console.error(`mutation-summary: no report at ${relative(root, args.in)}; rendering the record only`);
  const hashOf = (file) => (existsSync(join(root, file)) ? sha256(readFileSync(join(root, file), 'utf8')) : undefined);
  const page = renderSummary(record, { hashOf, candidates: await candidateFiles() });
  if (args.out === '-') process.stdout.write(page);
  else {
    writeFileSync(args.out, page);
    console.error(`wrote ${relative(root, args.out)}`);
  }
}
