// breakwater benchmark suite. Usage (`--help` for all flags):
//   npm run bench                         full run (~3–4 min), report in build/benchmarks.md
//   npm run bench -- --write-docs         the same, and it rewrites the committed docs/benchmarks.md
//   node bench/run.mjs --quick --out <file.md>    smoke run (~15 s)
// Imports the BUILT package (dist/): build first (`npx tsup`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { flagsOrExit, parseArgs, reportPath, rerunWithExposeGc, USAGE } from './lib/args.mjs';

const args = flagsOrExit('bench', parseArgs, USAGE);
// Memory figures and the per-task GC need it.
rerunWithExposeGc(import.meta.url);

const { environment } = await import('./lib/env.mjs');
const { measure } = await import('./lib/harness.mjs');
const { rows } = await import('./lib/rows.mjs');
const { workloads } = await import('./lib/workloads.mjs');
const { runChild } = await import('./lib/child.mjs');
const { evaluateTargets, renderMarkdown } = await import('./lib/report.mjs');

const started = performance.now();
const log = (msg) => console.error(msg);
const quick = args.quick;
const settings = quick
  ? { quick, rounds: 1, time: 10, iterations: 8, warmupTime: 10, batch: 100 }
  : { quick, rounds: 7, time: 100, iterations: 32, warmupTime: 60, batch: 100 };

const suites = ['allocations', 'memory', 'sustained', 'scale'];
const only = args.only;
const onlySuite = suites.includes(only) ? only : undefined;
const runThroughput = onlySuite === undefined;
const runSuite = (name) => (only === undefined ? true : onlySuite === name);

// A full run writes build/benchmarks.md; only --write-docs touches the committed page.
const out = reportPath(args);

const data = { env: environment(), settings };
log(`breakwater bench (${quick ? 'quick' : 'full'}): Node ${data.env.node}, ${data.env.cpu} × ${data.env.cores}`);

if (runThroughput) {
  const selected = only ? rows.filter((r) => r.id.includes(only) || r.group.includes(only)) : rows;
  log(`throughput: ${selected.length} rows × ${workloads.length} workloads × ${settings.rounds} rounds`);
  data.throughput = await measure(selected, workloads, { ...settings, log });
}

const childArgs = quick ? ['--quick'] : [];
for (const suite of suites) {
  if (!runSuite(suite)) continue;
  log(`${suite}…`);
  data[suite] = await runChild(`${suite}.mjs`, childArgs);
}

const targets = evaluateTargets(data);
data.targets = targets;
const markdown = renderMarkdown(data, targets);
const seconds = ((performance.now() - started) / 1000).toFixed(0);

if (out) {
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, markdown);
  log(`wrote ${out}`);
}
if (args.json) {
  mkdirSync(dirname(resolve(args.json)), { recursive: true });
  writeFileSync(args.json, JSON.stringify(data, null, 2));
  log(`wrote ${args.json}`);
}
if (!out && !args.json) process.stdout.write(markdown);

log(`\ntargets (${seconds} s):`);
for (const t of targets) log(`  ${t.status.padEnd(4)} ${t.what}: ${t.measured}${t.by ? ` — ${t.by}` : ''}`);
// Peers leave timers behind (rate-limiter-flexible, opossum): do not wait for them.
process.exit(0);
