// Regenerates the simulator's worked examples with the `breakwater` CLI: the charts under
// docs/images/ and the ranking tables between `<!-- tune:NAME:begin -->` / `<!-- tune:NAME:end -->`
// markers (docs/simulator.md: `tune:begin` / `tune:end`). The simulator is deterministic, so
// the output only changes when the code or a scenario does.
//
//   npm run build && node scripts/sim-charts.mjs             # both pages
//   npm run build && node scripts/sim-charts.mjs tuning      # docs/tuning.md only (or: simulator)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli.js');
if (!existsSync(cli)) {
  console.error('sim-charts: dist/cli.js is missing: run `npm run build` first');
  process.exit(1);
}
const run = (...args) => execFileSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
const params = (values) => Object.entries(values).flatMap(([k, v]) => ['--param', `${k}=${v}`]);
const written = [];

/** `breakwater simulate` of one configuration, its chart written to docs/images/NAME.svg. */
function chart(scenario, name, values = {}) {
  run('simulate', scenario, ...params(values), '--svg', `docs/images/${name}.svg`);
  written.push(`docs/images/${name}.svg`);
}

/** `breakwater tune` of a grid: returns the ranking table it printed. */
function tune(scenario, grid, fixed = {}) {
  const out = mkdtempSync(join(tmpdir(), 'breakwater-docs-'));
  try {
    const ranking = run('tune', scenario, ...Object.entries(grid).flatMap(([k, v]) => ['--grid', `${k}=${v}`]), ...params(fixed), '--out', out);
    return ranking.split('\n\nwrote')[0].trimEnd();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Replaces what stands between the markers `begin` and `end` of `page` with a text block. */
function replaceBetween(page, begin, end, table) {
  const path = join(root, page);
  const text = readFileSync(path, 'utf8');
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from === -1 || to === -1) throw new Error(`${page} needs the ${begin} and ${end} markers`);
  writeFileSync(path, `${text.slice(0, from + begin.length)}\n\`\`\`text\n${table}\n\`\`\`\n${text.slice(to)}`);
  written.push(`the table ${begin} in ${page}`);
}

function simulatorPage() {
  const scenario = 'docs/scenarios/bad-deploy.mjs';
  chart(scenario, 'bad-deploy-before', { timeoutMs: 1000, maxConcurrent: 32, breaker: false });
  chart(scenario, 'bad-deploy-after', { timeoutMs: 100, maxConcurrent: 8 });
  const table = tune(scenario, { timeoutMs: '100,250,1000', maxConcurrent: '8,32', breaker: 'true,false' });
  replaceBetween('docs/simulator.md', '<!-- tune:begin -->', '<!-- tune:end -->', table);
}

function tuningPage() {
  const inventory = 'examples/scenarios/inventory.mjs';
  const tables = {
    limits: tune(inventory, { timeoutMs: '100,250,1000', concurrency: '8,16,64,adaptive', breaker: 'true,false' }),
    breaker: tune(inventory, { slowCallMs: '60,125,250', failureRatio: '0.25,0.5', halfOpenAfterMs: '1000,5000' }),
    retries: tune(inventory, { maxRetries: '0,1,3', budget: 'true,false' }),
  };
  for (const [name, table] of Object.entries(tables)) {
    replaceBetween('docs/tuning.md', `<!-- tune:${name}:begin -->`, `<!-- tune:${name}:end -->`, table);
  }
  chart(inventory, 'tuning-worst', { timeoutMs: 100, concurrency: 64, breaker: false });
  chart(inventory, 'tuning-chosen');
  chart(inventory, 'tuning-slow-call-60', { slowCallMs: 60 });
  const storm = 'examples/scenarios/retry-storm.mjs';
  chart(storm, 'retry-storm-naive', { budget: false });
  chart(storm, 'retry-storm-budget', { budget: true });
}

const pages = { simulator: simulatorPage, tuning: tuningPage };
const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in pages)) throw new Error(`sim-charts: unknown page "${name}" (known: ${Object.keys(pages).join(', ')})`);
for (const [name, page] of Object.entries(pages)) if (wanted.length === 0 || wanted.includes(name)) page();
console.log(`wrote ${written.join(', ')}`);
