// Draws docs/images/adaptive.svg: the default adaptiveConcurrency() (a windowed Gradient2) in
// front of a downstream with 40 servers, through steady overload, a bad deploy (service time
// × 50) and the recovery — the run test/adaptive/system.test.ts checks, in virtual time,
// against the BUILT package. Usage: npm run build && node scripts/adaptive-chart.mjs [out.svg]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedDownstream, runScenario, seededRandom } from './lib/adaptive-scenario.mjs';
import { lineChart } from './lib/svg.mjs';

const dist = new URL('../dist/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('index.js', dist)))) {
  console.error('adaptive-chart: dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { adaptiveConcurrency } = await import(new URL('index.js', dist).href);
const { TestClock } = await import(new URL('testing.js', dist).href);

const SERVERS = 40;
const phases = [
  { durationMs: 60_000, slowdown: 1 },
  { durationMs: 30_000, slowdown: 50 },
  { durationMs: 60_000, slowdown: 1 },
];
const clock = new TestClock();
const policy = adaptiveConcurrency({ maxQueue: Infinity, clock });
const downstream = new SimulatedDownstream({ clock, servers: SERVERS, serviceMs: 25, random: seededRandom(1) });
const trace = await runScenario({ clock, policy, downstream, clients: 400, phases });

const seconds = (p) => p.tMs / 1000;
const svg = lineChart({
  title: 'adaptiveConcurrency() in front of a downstream with 40 servers',
  xLabel: 'virtual time (s)',
  yLabel: 'calls',
  xMax: 150,
  yMax: 80,
  bands: [{ from: 60, to: 90, label: 'bad deploy: service time × 50', color: '#fdebd0' }],
  rules: [
    { y: 60, label: 'a bulkhead sized by hand holds 60 in flight throughout', color: '#a33' },
    { y: SERVERS, label: 'downstream capacity: 40 servers', color: '#666666' },
  ],
  series: [
    { label: 'calls in flight', color: '#f2a541', width: 4, points: trace.map((p) => [seconds(p), p.active]) },
    { label: 'limit', color: '#1f5fbf', width: 1.5, points: trace.map((p) => [seconds(p), p.limit]) },
  ],
});
const out = process.argv[2] ?? fileURLToPath(new URL('../docs/images/adaptive.svg', import.meta.url));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, svg);
console.log(`wrote ${out} (${trace.length} points, ${trace.at(-1).completed} calls)`);
