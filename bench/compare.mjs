// Several builds side by side in one process: the per-policy rows of the throughput suite for
// each build, measured by the same harness (shuffled order, bare `await fn()` baselines between
// rows, median over rounds), so that two builds meet the same machine noise.
//   node --expose-gc bench/compare.mjs before=/path/to/dist after=dist [--rounds 7] [--time ms]
//        [--workloads immediate/100,immediate/1] [--only adaptive,breaker] [--out results.json]
// The first build is the reference: every other one gets Δ and ratio against it. Δ is the
// median over rounds of (row − the baselines around it), in wall time and in CPU time of the
// process (steadier on a shared machine: not charged while another process has the core).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { measure } from './lib/harness.mjs';
import { POLICY_ROWS } from './lib/policy-rows.mjs';
import { workloads } from './lib/workloads.mjs';

if (typeof globalThis.gc !== 'function') {
  process.stderr.write('bench/compare: run with node --expose-gc\n');
  process.exit(2);
}

const argv = process.argv.slice(2);
const builds = [];
let rounds = 7;
let time = 100;
let out;
let workloadIds = ['immediate/100', 'immediate/1'];
let only;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === '--rounds') rounds = Number(argv[++i]);
  else if (arg === '--out') out = argv[++i];
  else if (arg === '--time') time = Number(argv[++i]);
  else if (arg === '--only') only = argv[++i].split(',');
  else if (arg === '--workloads') workloadIds = argv[++i].split(',');
  else {
    const eq = arg.indexOf('=');
    if (eq < 1) throw new Error(`bench/compare: expected name=dist-folder, got ${arg}`);
    builds.push({ name: arg.slice(0, eq), dir: resolve(arg.slice(eq + 1)) });
  }
}
if (builds.length < 2) throw new Error('bench/compare: give at least two builds, name=dist-folder');

for (const build of builds) {
  const entry = resolve(build.dir, 'index.js');
  if (!existsSync(entry)) throw new Error(`bench/compare: ${entry} is missing`);
  build.bw = await import(pathToFileURL(entry).href);
}

const rows = [];
for (const [id, label] of POLICY_ROWS) {
  if (only !== undefined && !only.includes(id)) continue;
  for (const build of builds) {
    const make = POLICY_ROWS.find((p) => p[0] === id)[2];
    let unavailable;
    try {
      make(build.bw);
    } catch (error) {
      unavailable = String(error?.message ?? error);
    }
    rows.push({
      id: `${build.name}.${id}`,
      group: id,
      lib: build.name,
      label,
      unavailable,
      setup: (w) => {
        const policy = make(build.bw);
        return () => policy.execute(w.fn);
      },
    });
  }
}

const selected = workloads.filter((w) => workloadIds.includes(w.id));
const log = (msg) => process.stderr.write(`${msg}\n`);
log(`compare: ${builds.map((b) => `${b.name}=${b.dir}`).join(', ')}; ${rounds} rounds`);
const results = await measure(rows, selected, { rounds, time, iterations: 32, warmupTime: 60, batch: 100, log });

const ref = builds[0].name;
const fmt = (x) => (Number.isFinite(x) ? x.toFixed(0) : '—');
const lines = [];
const table = (workload, byId, key, what) => {
  const head = ['policy', ...builds.map((b) => `${b.name} Δ ${what}`)];
  for (const b of builds.slice(1)) head.push(`${b.name}/${ref}`);
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`);
  for (const [id, label] of POLICY_ROWS) {
    if (only !== undefined && !only.includes(id)) continue;
    const cells = [label];
    const deltas = builds.map((b) => byId.get(`${b.name}.${id}`)?.[key]);
    for (const d of deltas) cells.push(fmt(d));
    for (let i = 1; i < builds.length; i++) {
      const r = deltas[i] / deltas[0];
      cells.push(Number.isFinite(r) ? r.toFixed(2) : '—');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
};
for (const workload of selected) {
  const byId = new Map(results[workload.id].map((r) => [r.id, r]));
  const bare = byId.get('bare');
  lines.push(
    `### ${workload.title}`,
    '',
    `bare \`await fn()\`: ${fmt(bare.meanNs)} ns/call wall, ${fmt(bare.cpuNs)} ns CPU; baseline drift within a round ${(100 * bare.baselineDrift).toFixed(0)} %`,
    '',
  );
  table(workload, byId, 'deltaNs', 'ns wall');
  table(workload, byId, 'deltaCpuNs', 'ns CPU');
  // Each adaptive row against the bulkhead of the same build, measured in the same rounds.
  const adaptiveIds = POLICY_ROWS.map((p) => p[0]).filter((id) => id.startsWith('adaptive') && (only === undefined || only.includes(id)));
  if (adaptiveIds.length > 0 && (only === undefined || only.includes('bulkhead'))) {
    const head = ['Δ ÷ bulkhead Δ (wall / CPU)', ...builds.map((b) => b.name)];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`);
    for (const id of adaptiveIds) {
      const cells = [POLICY_ROWS.find((p) => p[0] === id)[1]];
      for (const b of builds) {
        const row = byId.get(`${b.name}.${id}`);
        const bulk = byId.get(`${b.name}.bulkhead`);
        const ratio = (key) => {
          const r = row?.[key] / bulk?.[key];
          return Number.isFinite(r) ? r.toFixed(2) : '—';
        };
        cells.push(`${ratio('deltaNs')} / ${ratio('deltaCpuNs')}`);
      }
      lines.push(`| ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
}
const markdown = lines.join('\n');
process.stdout.write(`${markdown}\n`);
if (out !== undefined) {
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, JSON.stringify({ builds: builds.map((b) => ({ name: b.name, dir: b.dir })), rounds, results }, null, 2));
  log(`wrote ${out}`);
}
process.exit(0);
