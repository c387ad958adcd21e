#!/usr/bin/env node
// The `breakwater` command: `simulate` one scenario, or `tune` a grid of its parameters.
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { renderChart } from './chart.js';
import { formatRanking, formatReport, markdownSummary, type TuneResult } from './format.js';
import {
  UsageError,
  describeParams,
  expandGrid,
  parseAssignment,
  parseGridFlag,
  parseValue,
  rankByGoodput,
  slugOf,
  type ParamValue,
  type Params,
} from './grid.js';
import type { SimulationReport } from './report.js';
import type { Scenario } from './scenario.js';
import { simulate } from './simulate.js';

const USAGE = `Usage:
  breakwater simulate <scenario.mjs> [--json] [--svg <out.svg>] [--param name=value]... [--seed <n>]
  breakwater tune <scenario.mjs> --grid 'name=v1,v2,...' [--grid ...] [--out <dir>] [--json]
                  [--param name=value]... [--seed <n>] [--workers <n>]

A scenario module default-exports a Scenario, or a function of parameters returning one
(see docs/simulator.md). simulate runs it once in virtual time and prints totals and a
per-second table (--json: the whole report as JSON; --svg: a chart). tune runs every
combination of the --grid values (in parallel worker threads), ranks them by goodput within
the scenario's SLO, and writes one SVG chart per configuration and summary.md into --out
(default ./breakwater-tune).
`;

interface Flags {
  json: boolean;
  svg: string | undefined;
  out: string | undefined;
  seed: number | undefined;
  workers: number | undefined;
  params: Record<string, ParamValue>;
  grid: Array<[string, ParamValue[]]>;
}

interface Command {
  readonly command: 'simulate' | 'tune' | 'help';
  readonly scenario: string;
  readonly flags: Flags;
}

const VALUE_FLAGS: Readonly<Record<string, ReadonlyArray<'simulate' | 'tune'>>> = {
  '--svg': ['simulate'],
  '--out': ['tune'],
  '--grid': ['tune'],
  '--param': ['simulate', 'tune'],
  '--seed': ['simulate', 'tune'],
  '--workers': ['tune'],
};

function positiveInteger(flag: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${flag} needs an integer >= ${min}, received ${JSON.stringify(raw)}`);
  return value;
}

export function parseCommandLine(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    return { command: 'help', scenario: '', flags: emptyFlags() };
  }
  if (command !== 'simulate' && command !== 'tune') throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const flags = emptyFlags();
  let scenario: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--help' || arg === '-h') return { command: 'help', scenario: '', flags };
    if (!arg.startsWith('-')) {
      if (scenario !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
      scenario = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    if (name === '--json') {
      if (eq !== -1) throw new UsageError('--json takes no value');
      flags.json = true;
      continue;
    }
    const allowed = VALUE_FLAGS[name];
    if (allowed === undefined || !allowed.includes(command)) throw new UsageError(`unknown option ${JSON.stringify(name)} for ${command}`);
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = rest[++i];
      if (next === undefined) throw new UsageError(`${name} needs a value`);
      value = next;
    }
    switch (name) {
      case '--svg':
        flags.svg = value;
        break;
      case '--out':
        flags.out = value;
        break;
      case '--grid':
        flags.grid.push(parseGridFlag(value));
        break;
      case '--param': {
        const [key, raw] = parseAssignment('--param', value);
        flags.params[key] = parseValue(raw);
        break;
      }
      case '--seed':
        flags.seed = positiveInteger('--seed', value, 0);
        break;
      case '--workers':
        flags.workers = positiveInteger('--workers', value, 1);
        break;
    }
  }
  if (scenario === undefined) throw new UsageError(`${command} needs a scenario file`);
  if (command === 'tune' && flags.grid.length === 0) throw new UsageError("tune needs at least one --grid 'name=v1,v2'");
  const names = flags.grid.map(([n]) => n);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`--grid ${twice} is given twice`);
  return { command, scenario, flags };
}

function emptyFlags(): Flags {
  return { json: false, svg: undefined, out: undefined, seed: undefined, workers: undefined, params: {}, grid: [] };
}

/** Imports a scenario module and builds its scenario for `params`. */
export async function loadScenario(path: string, params: Params, seed: number | undefined): Promise<Scenario> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  const exported = module.default;
  if (exported === undefined) throw new Error(`${path} has no default export (a Scenario or a function returning one)`);
  const scenario = (typeof exported === 'function' ? await (exported as (p: Params) => unknown)(params) : exported) as Scenario;
  if (typeof scenario !== 'object' || scenario === null) throw new Error(`${path} did not produce a scenario object`);
  return seed === undefined ? scenario : { ...scenario, seed };
}

function write(path: string, content: string): void {
  writeFileSync(path, content);
}

async function runSimulate(command: Command): Promise<void> {
  const { flags } = command;
  const scenario = await loadScenario(command.scenario, flags.params, flags.seed);
  const started = performance.now();
  const report = await simulate(scenario);
  const wallMs = performance.now() - started;
  if (flags.svg !== undefined) write(flags.svg, renderChart(report));
  if (flags.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    process.stdout.write(formatReport(report, wallMs));
    if (flags.svg !== undefined) process.stdout.write(`chart: ${flags.svg}\n`);
  }
}

interface Job {
  readonly index: number;
  readonly params: Params;
}

type WorkerReply = { index: number; report: SimulationReport } | { index: number; error: string };

const WORKER_ROLE = 'breakwater-tune-worker';

/** Runs the configurations, in worker threads when there are several and cores to spare. */
async function runAll(
  path: string,
  jobs: readonly Job[],
  seed: number | undefined,
  workers: number,
  onDone: (index: number, report: SimulationReport) => void,
): Promise<void> {
  if (workers <= 1) {
    for (const job of jobs) onDone(job.index, await simulate(await loadScenario(path, job.params, seed)));
    return;
  }
  const queue = [...jobs];
  const pool = Array.from({ length: workers }, () => new Worker(new URL(import.meta.url), { workerData: { role: WORKER_ROLE } }));
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolvePool, rejectPool) => {
            const next = (): void => {
              const job = queue.shift();
              if (job === undefined) return resolvePool();
              worker.postMessage({ path, params: job.params, index: job.index, seed });
            };
            worker.on('message', (reply: WorkerReply) => {
              if ('error' in reply) return rejectPool(new Error(`configuration ${describeParams(jobs[reply.index]!.params)}: ${reply.error}`));
              onDone(reply.index, reply.report);
              next();
            });
            worker.on('error', rejectPool);
            next();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
}

function startWorker(): void {
  parentPort!.on('message', (job: { path: string; params: Params; index: number; seed: number | undefined }) => {
    loadScenario(job.path, job.params, job.seed)
      .then(simulate)
      .then(
        (report) => parentPort!.postMessage({ index: job.index, report } satisfies WorkerReply),
        (error: unknown) =>
          parentPort!.postMessage({ index: job.index, error: error instanceof Error ? error.message : String(error) } satisfies WorkerReply),
      );
  });
}

async function runTune(command: Command): Promise<void> {
  const { flags } = command;
  const outDir = resolve(flags.out ?? 'breakwater-tune');
  const combos = expandGrid(flags.grid, flags.params);
  // Fail fast, before any worker starts, on a scenario that does not build.
  await loadScenario(command.scenario, combos[0]!, flags.seed);
  const jobs = combos.map((params, index) => ({ index, params }));
  const workers = Math.max(1, Math.min(flags.workers ?? availableParallelism(), jobs.length));
  mkdirSync(outDir, { recursive: true });

  const results: Array<TuneResult & { report: SimulationReport }> = new Array(jobs.length);
  const started = performance.now();
  let done = 0;
  const showProgress = jobs.length > 1;
  const progress = (last: Params): void => {
    if (!showProgress) return;
    const elapsed = ((performance.now() - started) / 1000).toFixed(1);
    const line = `tune: ${done}/${jobs.length} configurations (${elapsed} s) — last ${describeParams(last)}`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}${done === jobs.length ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  };
  const gridNames = flags.grid.map(([name]) => name);
  /** What varies between configurations (the fixed --param values are the same for all). */
  const varied = (params: Params): Params => Object.fromEntries(gridNames.map((name) => [name, params[name]!]));
  await runAll(command.scenario, jobs, flags.seed, workers, (index, report) => {
    const params = varied(jobs[index]!.params);
    const chart = `config-${String(index + 1).padStart(String(jobs.length).length, '0')}-${slugOf(params)}.svg`;
    write(join(outDir, chart), renderChart(report, { subtitle: describeParams(params) + ` — goodput ${report.totals.goodput} of ${report.totals.sent}, p99 ${report.totals.p99Ms ?? '–'} ms` }));
    results[index] = { params, totals: report.totals, chart, report };
    done++;
    progress(params);
  });

  const ranked = rankByGoodput(results);
  const reference = results[0]!.report;
  const title = `breakwater tune: ${command.scenario}`;
  const summaryPath = join(outDir, 'summary.md');
  write(summaryPath, markdownSummary(title, command.scenario, reference, flags.grid, ranked, flags.params));
  if (flags.json) {
    const out = {
      scenario: command.scenario,
      grid: Object.fromEntries(flags.grid),
      fixed: flags.params,
      outDir,
      summary: summaryPath,
      results: ranked.map(({ rank, item }) => ({ rank, params: item.params, chart: join(outDir, item.chart), totals: item.totals })),
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else {
    process.stdout.write(formatRanking(ranked));
    process.stdout.write(`\nwrote ${results.length} charts and summary.md to ${outDir}\n`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`breakwater: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (command.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    if (command.command === 'simulate') await runSimulate(command);
    else await runTune(command);
    return 0;
  } catch (error) {
    process.stderr.write(`breakwater: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

/** True when this file is the program node was started with (the `breakwater` bin, a symlink to it, or `node dist/cli.js`). */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === WORKER_ROLE) startWorker();
else if (isMainThread && isEntryPoint()) {
  // `breakwater simulate … | head` closes stdout early: that is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`breakwater: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
