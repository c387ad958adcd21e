// Regenerates the worked example of docs/simulator.md with the `breakwater` CLI: the two
// charts under docs/images/ and the ranking table between the `tune:begin`/`tune:end`
// markers. The simulator is deterministic, so the output only changes when the code does.
//
//   npm run build && node scripts/sim-charts.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli.js');
const scenario = 'docs/scenarios/bad-deploy.mjs';
const run = (...args) => execFileSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });

run('simulate', scenario, '--param', 'timeoutMs=1000', '--param', 'maxConcurrent=32', '--param', 'breaker=false', '--svg', 'docs/images/bad-deploy-before.svg');
run('simulate', scenario, '--param', 'timeoutMs=100', '--param', 'maxConcurrent=8', '--svg', 'docs/images/bad-deploy-after.svg');

const out = mkdtempSync(join(tmpdir(), 'breakwater-docs-'));
try {
  const ranking = run('tune', scenario, '--grid', 'timeoutMs=100,250,1000', '--grid', 'maxConcurrent=8,32', '--grid', 'breaker=true,false', '--out', out);
  const table = ranking.split('\n\nwrote')[0].trimEnd();
  const doc = join(root, 'docs/simulator.md');
  const text = readFileSync(doc, 'utf8');
  const begin = '<!-- tune:begin -->';
  const end = '<!-- tune:end -->';
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from === -1 || to === -1) throw new Error(`docs/simulator.md needs the ${begin} and ${end} markers`);
  writeFileSync(doc, `${text.slice(0, from + begin.length)}\n\`\`\`text\n${table}\n\`\`\`\n${text.slice(to)}`);
  console.log(table);
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log('\nwrote docs/images/bad-deploy-before.svg, docs/images/bad-deploy-after.svg and the ranking in docs/simulator.md');
