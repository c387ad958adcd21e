// How fast the simulator runs: simulated calls per second of wall time through a four-policy
// pipeline, the wall time of a 60 s × 1,000 rps scenario, where the time goes (the engine's
// per-event hop, the model's bookkeeping, the policies themselves), and a whole
// `breakwater tune` sweep on one worker and on every core.
//
//   npm run build && node bench/sim.mjs [--quick] [--json] [--baseline <other dist/>]
//
// With --baseline, another build (a copy of an earlier dist/) runs the same scenarios in the
// same process, its runs alternating with this build's: on a shared machine both see the same
// interference, so the two columns compare fairly even when the absolute figures wander.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const usage = 'usage: node bench/sim.mjs [--quick] [--json] [--baseline <dist directory>]';
const argv = process.argv.slice(2);
const args = new Set();
let baselineDir;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === '--quick' || arg === '--json') args.add(arg);
  else if (arg === '--baseline' && argv[i + 1] !== undefined) baselineDir = argv[++i];
  else {
    console.error(`bench/sim.mjs: unknown option ${arg}\n${usage}`);
    process.exit(2);
  }
}
const quick = args.has('--quick');
const repeats = quick ? 3 : 7;

async function load(label, dir) {
  const sim = new URL('sim.js', dir);
  if (!existsSync(fileURLToPath(sim))) throw new Error(`bench/sim.mjs: ${fileURLToPath(sim)} is missing — run \`npm run build\` first`);
  return { label, simulate: (await import(sim.href)).simulate, bw: await import(new URL('index.js', dir).href) };
}
const current = await load('this build', new URL('../dist/', import.meta.url));
const baseline = baselineDir === undefined ? undefined : await load(baselineDir, pathToFileURL(resolve(baselineDir) + '/'));
const builds = baseline === undefined ? [current] : [current, baseline];
const bw = current.bw;

const fourPoliciesOf = (bw) => ({ clock, random }) =>
  bw.pipeline(
    bw.retry({ maxRetries: 2, clock, random }),
    bw.circuitBreaker({ halfOpenAfterMs: 5_000, failureRatio: 0.5, windowCalls: 100, minimumThroughput: 50, clock }),
    bw.bulkhead({ maxConcurrent: 400, maxQueue: 100, clock }),
    bw.timeout(250, { clock }),
  );

const fourPolicies = fourPoliciesOf(bw);

/** A healthy, busy downstream: every request is one call through the pipeline. */
const throughput = (policy) => ({
  durationMs: quick ? 20_000 : 60_000,
  load: { rps: 20_000, instances: 4 },
  downstream: { servers: 2_000, latencyMs: { lognormal: { p50Ms: 5, p99Ms: 20 } } },
  policy,
});

/** The 60 s, 1,000 rps scenario: a bad deploy in the middle, callers that time out. */
const cascadeWith = (policy) => ({
  durationMs: 60_000,
  load: { rps: 1_000, instances: 4 },
  downstream: {
    servers: 100,
    latencyMs: { lognormal: { p50Ms: 20, p99Ms: 80 } },
    phases: [
      { atMs: 20_000, latencyMs: 2_000, errorRate: 0.5, label: 'bad deploy' },
      { atMs: 40_000, latencyMs: { lognormal: { p50Ms: 20, p99Ms: 80 } }, errorRate: 0, label: 'rollback' },
    ],
  },
  policy,
  callers: { timeoutMs: 1_000 },
  sloMs: 300,
});

function cpuMs(since) {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** `scenarioOf(build)`: the scenario with that build's policies. Runs alternate between builds. */
async function measure(label, scenarioOf) {
  const runs = builds.map(() => []);
  const scenarios = builds.map(scenarioOf);
  for (let i = 0; i < repeats; i++) {
    for (let b = 0; b < builds.length; b++) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const report = await builds[b].simulate(scenarios[b]);
      runs[b].push({ wallMs: performance.now() - started, cpuMs: cpuMs(cpu), calls: report.totals.downstreamCalls, sent: report.totals.sent });
    }
  }
  const [mine, theirs] = runs.map(summarise);
  return { label, ...mine, ...(theirs === undefined ? {} : { baseline: theirs }) };
}

function summarise(runs) {
  const median = (key) => {
    const sorted = runs.map((r) => r[key]).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const calls = runs[0].calls;
  const wallMs = median('wallMs');
  const cpu = median('cpuMs');
  const bestWallMs = Math.min(...runs.map((r) => r.wallMs));
  return {
    calls,
    medianWallMs: round(wallMs),
    bestWallMs: round(bestWallMs),
    medianCpuMs: round(cpu),
    callsPerWallSecond: Math.round(calls / (wallMs / 1000)),
    callsPerWallSecondBest: Math.round(calls / (bestWallMs / 1000)),
    callsPerCpuSecond: Math.round(calls / (cpu / 1000)),
    nsPerCall: Math.round((wallMs * 1e6) / calls),
    cpuNsPerCall: Math.round((cpu * 1e6) / calls),
  };
}

/** The first run in a fresh process: what `breakwater simulate` costs, JIT warm-up included. */
async function cold(scenario) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await current.simulate(scenario);
  return { wallMs: round(performance.now() - started), cpuMs: round(cpuMs(cpu)), calls: report.totals.downstreamCalls };
}

/** What the engine costs per event where Node has `process._tickCallback`: one reaction, drained synchronously. */
function drainFloor(events) {
  const drain = process._tickCallback;
  if (typeof drain !== 'function') return NaN;
  return new Promise((resolve) => {
    setImmediate(() => {
      const resolved = Promise.resolve();
      const noop = () => {};
      const started = performance.now();
      for (let i = 0; i < events; i++) {
        resolved.then(noop);
        drain.call(process);
      }
      resolve(((performance.now() - started) * 1e6) / events);
    });
  });
}

/** The engine's fallback without that hook: one sentinel reaction and one tick per event. */
function hopFloor(events) {
  return new Promise((resolve) => {
    const started = performance.now();
    const resolved = Promise.resolve();
    let left = events;
    const step = () => {
      if (--left === 0) return resolve(((performance.now() - started) * 1e6) / events);
      resolved.then(sentinel);
    };
    const sentinel = () => process.nextTick(step);
    process.nextTick(step);
  });
}

/** What a full event-loop turn per event would cost instead (setImmediate, the obvious way to let reactions settle). */
function immediateFloor(events) {
  return new Promise((resolve) => {
    const started = performance.now();
    let left = events;
    const step = () => {
      if (--left === 0) return resolve(((performance.now() - started) * 1e6) / events);
      setImmediate(step);
    };
    setImmediate(step);
  });
}

/** The pipeline alone, outside the simulator: execute() of a function that returns a resolved promise. */
async function pipelineAlone(calls) {
  const policy = fourPolicies({ clock: bw.systemClock, random: Math.random });
  const fn = () => Promise.resolve(1);
  for (let i = 0; i < 10_000; i++) await policy.execute(fn);
  const started = performance.now();
  const batch = 100; // below the bulkhead's 400 slots: nothing is refused
  for (let i = 0; i < calls; i += batch) {
    const pending = [];
    for (let j = 0; j < batch; j++) pending.push(policy.execute(fn));
    await Promise.all(pending);
  }
  return ((performance.now() - started) * 1e6) / calls;
}

const round = (value) => Math.round(value * 10) / 10;

/**
 * What a user's sweep gets: `breakwater tune` (the CLI of this build, in a child process) over
 * `configurations` variants of the throughput scenario (bulkhead sizes), with `workers` worker
 * threads; charts and summary included. Calls per wall second over the whole command.
 */
function sweep(workers, configurations) {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-sim-bench-'));
  try {
    const scenario = join(dir, 'throughput.mjs');
    const index = new URL('../dist/index.js', import.meta.url).href;
    writeFileSync(
      scenario,
      `import * as bw from ${JSON.stringify(index)};\n` +
        `export default ({ maxConcurrent = 400 }) => ({\n` +
        `  durationMs: ${quick ? 20_000 : 60_000}, load: { rps: 20_000, instances: 4 },\n` +
        `  downstream: { servers: 2_000, latencyMs: { lognormal: { p50Ms: 5, p99Ms: 20 } } },\n` +
        `  policy: ({ clock, random }) => bw.pipeline(bw.retry({ maxRetries: 2, clock, random }),\n` +
        `    bw.circuitBreaker({ halfOpenAfterMs: 5_000, failureRatio: 0.5, windowCalls: 100, minimumThroughput: 50, clock }),\n` +
        `    bw.bulkhead({ maxConcurrent, maxQueue: 100, clock }), bw.timeout(250, { clock })),\n` +
        `});\n`,
    );
    const sizes = Array.from({ length: configurations }, (_, i) => 400 + i);
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const started = performance.now();
    const run = spawnSync(process.execPath, [cli, 'tune', scenario, '--grid', `maxConcurrent=${sizes.join(',')}`, '--workers', String(workers), '--json', '--out', join(dir, 'out')], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const wallMs = performance.now() - started;
    if (run.status !== 0) throw new Error(`bench/sim.mjs: breakwater tune failed (${run.status}): ${run.stderr}`);
    const calls = JSON.parse(run.stdout).results.reduce((sum, r) => sum + r.totals.downstreamCalls, 0);
    return { workers, configurations, calls, wallMs: round(wallMs), callsPerWallSecond: Math.round(calls / (wallMs / 1000)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cascadeCold = await cold(cascadeWith(fourPolicies));
// Warm the JIT on a short run first, as a sweep's later configurations are.
for (const build of builds) await build.simulate({ ...throughput(fourPoliciesOf(build.bw)), durationMs: 5_000 });

const results = {
  machine: {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    loadAverage1m: round(loadavg()[0]),
  },
  baseline: baselineDir ?? null,
  fourPolicies: await measure('4-policy pipeline (retry, circuitBreaker, bulkhead, timeout)', (b) => throughput(fourPoliciesOf(b.bw))),
  noPolicy: await measure('no policy (engine + downstream + report only)', () => throughput(undefined)),
  cascade60sCold: cascadeCold,
  cascade60s: await measure('60 s × 1,000 rps, bad deploy, callers time out, 4 policies', (b) => cascadeWith(fourPoliciesOf(b.bw))),
  drainFloorNsPerEvent: round(await drainFloor(2_000_000)),
  hopFloorNsPerEvent: round(await hopFloor(2_000_000)),
  immediateNsPerEvent: round(await immediateFloor(500_000)),
  pipelineAloneNsPerCall: round(await pipelineAlone(quick ? 200_000 : 1_000_000)),
  // Four configurations per worker, so that start-up and the last straggler weigh little.
  sweeps: [sweep(1, 4), sweep(availableParallelism(), 4 * availableParallelism())],
};

if (args.has('--json')) {
  console.log(JSON.stringify(results, null, 2));
} else {
  const m = results.machine;
  console.log(`breakwater/sim benchmark — node ${m.node}, ${m.cores} cores (${m.cpu}), load average ${m.loadAverage1m}${quick ? ', quick' : ''}`);
  console.log(`medians of ${repeats} runs${baseline === undefined ? '' : `; baseline ${baselineDir}, its runs alternating with this build's`}`);
  console.log('');
  const line = (name, r) =>
    `  ${name.padEnd(11)}${r.calls.toLocaleString('en-US')} simulated calls: ${r.medianWallMs} ms wall (best ${r.bestWallMs}), ${r.medianCpuMs} ms CPU; ` +
    `${r.callsPerWallSecond.toLocaleString('en-US')} calls per wall second (best ${r.callsPerWallSecondBest.toLocaleString('en-US')}), ` +
    `${r.callsPerCpuSecond.toLocaleString('en-US')} per CPU second; ${r.nsPerCall} ns wall, ${r.cpuNsPerCall} ns CPU per call`;
  for (const r of [results.fourPolicies, results.noPolicy, results.cascade60s]) {
    console.log(`${r.label}`);
    console.log(line('this build', r));
    if (r.baseline !== undefined) console.log(line('baseline', r.baseline));
  }
  const c = results.cascade60sCold;
  console.log(`  the same scenario as the first run of a fresh process (JIT cold): ${c.wallMs} ms wall, ${c.cpuMs} ms CPU`);
  console.log('');
  console.log('where the time goes, per simulated call (about two engine events per call: its arrival and its completion):');
  console.log(`  engine drain floor (one reaction drained per event) × 2:   ${round(results.drainFloorNsPerEvent * 2)} ns`);
  console.log(`  (without process._tickCallback, a reaction + a tick × 2:  ${round(results.hopFloorNsPerEvent * 2)} ns)`);
  console.log(`  (an event-loop turn per event instead, setImmediate × 2:  ${round(results.immediateNsPerEvent * 2)} ns)`);
  console.log(`  the model without policies (hops included):               ${results.noPolicy.nsPerCall} ns (CPU ${results.noPolicy.cpuNsPerCall})`);
  console.log(`  the four policies on top of it:                            ${results.fourPolicies.nsPerCall - results.noPolicy.nsPerCall} ns (CPU ${results.fourPolicies.cpuNsPerCall - results.noPolicy.cpuNsPerCall})`);
  console.log(`  (the same pipeline outside the simulator:                  ${results.pipelineAloneNsPerCall} ns)`);
  console.log('');
  console.log('a sweep as a user runs it (`breakwater tune`, the 4-policy scenario, charts included):');
  for (const r of results.sweeps) {
    console.log(
      `  ${r.workers} worker${r.workers === 1 ? ' ' : 's'}, ${r.configurations} configurations: ${r.calls.toLocaleString('en-US')} simulated calls in ${r.wallMs} ms wall, ` +
        `${r.callsPerWallSecond.toLocaleString('en-US')} calls per wall second`,
    );
  }
}
