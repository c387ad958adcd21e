// The throughput harness: tinybench, several rounds, per-round baseline, medians.
//
// Robustness on a noisy, shared machine:
// - every round measures the bare `await fn()` baseline first, last and after every few rows,
//   and each row's Δ is taken against the baselines measured just before and after it, so
//   drift (other processes on a shared machine) mostly cancels out;
// - the task order is shuffled per round (seeded), so no row always runs right after a
//   heavy one;
// - each reported figure is the median over rounds;
// - a full GC runs before each task, so no row pays for the garbage of the one before.
import { Bench } from 'tinybench';
import { median, shuffled } from './stats.mjs';

const noop = () => {};
const BASELINE_EVERY = 5;

/**
 * One task function per row and workload, compiled from its own source so every row gets
 * its own inline caches (a shared loop would turn megamorphic and tax every row alike).
 * Declared `async`: tinybench calls non-async functions once at `add` time to sniff them.
 */
function compileTask(call, { inFlight, batch }, rejects) {
  const src =
    inFlight > 1
      ? `return async function task() {
           const ps = new Array(${batch});
           for (let i = 0; i < ${batch}; i++) ps[i] = call()${rejects ? '.then(undefined, noop)' : ''};
           await Promise.all(ps);
         };`
      : `return async function task() {
           for (let i = 0; i < ${batch}; i++) {
             ${rejects ? 'try { await call(); } catch {}' : 'await call();'}
           }
         };`;
  return new Function('call', 'noop', src)(call, noop);
}

/** Runs a row once alone and once `inFlight` at a time to prove it does what its label says. */
async function sanityCheck(row, call, workload) {
  const check = async () => {
    try {
      const value = await call();
      if (row.rejects) throw new Error(`${row.id}: expected a rejection, got ${String(value)}`);
    } catch (error) {
      if (!row.rejects) throw new Error(`${row.id} (${workload.id}): expected success, got ${error?.stack ?? error}`);
      if (row.expectError && !row.expectError(error)) {
        throw new Error(`${row.id}: rejected with an unexpected error: ${error?.stack ?? error}`);
      }
    }
  };
  await check();
  await Promise.all(Array.from({ length: workload.inFlight }, check));
}

function appliesTo(row, workload) {
  return row.workloads === undefined || row.workloads.includes(workload.id);
}

/**
 * @param rows      [{ id, label, lib, rejects?, expectError?, workloads?, unavailable?, setup(workload) }]
 *                  `setup` returns the call function `() => Promise` (or { call, dispose }).
 * @param options   { rounds, time, iterations, warmupTime, log }
 */
export async function measure(rows, workloads, options) {
  const { rounds, time, iterations, warmupTime, log = () => {} } = options;
  const baseline = { id: 'bare', label: 'bare `await fn()` (baseline)', lib: '—', setup: (w) => w.fn };
  const prepared = new Map(); // workload id → [{ row, task }]
  const disposers = [];
  const failures = new Map();
  for (const workload of workloads) {
    const list = [];
    for (const row of [baseline, ...rows]) {
      if (row.unavailable || !appliesTo(row, workload)) continue;
      try {
        const made = await row.setup(workload);
        const call = typeof made === 'function' ? made : made.call;
        if (typeof made === 'object' && made.dispose) disposers.push(made.dispose);
        await sanityCheck(row, call, workload);
        list.push({ row, call, task: compileTask(call, workload, row.rejects) });
      } catch (error) {
        // A broken row is reported as such; it must not take the whole run down.
        if (row === baseline) throw error;
        failures.set(`${workload.id}|${row.id}`, String(error?.message ?? error).split('\n')[0]);
        log(`  ! ${row.id} (${workload.id}) setup failed: ${error?.message ?? error}`);
      }
    }
    prepared.set(workload.id, list);
  }

  const samples = new Map(); // `${workload}|${row}` → per-round results
  const push = (w, r, v) => {
    const key = `${w}|${r}`;
    if (!samples.has(key)) samples.set(key, []);
    samples.get(key).push(v);
  };

  for (let round = 0; round < rounds; round++) {
    for (const workload of workloads) {
      const [base, ...others] = prepared.get(workload.id);
      // The baseline runs first, last and after every BASELINE_EVERY rows; each row is compared
      // with the mean of the baselines just before and just after it.
      const order = [base];
      shuffled(others, 0x5eed + round * 7919 + workload.id.length).forEach((entry, i) => {
        order.push(entry);
        if ((i + 1) % BASELINE_EVERY === 0) order.push(base);
      });
      if (order[order.length - 1] !== base) order.push(base);
      const bench = new Bench({
        name: `${workload.id} round ${round + 1}`,
        time,
        iterations,
        // JIT warm-up matters in the first round; later rounds are already warm.
        warmup: true,
        warmupTime: round === 0 ? warmupTime : Math.max(1, warmupTime / 4),
        warmupIterations: round === 0 ? 16 : 4,
        throws: true,
        setup: (task, mode) => {
          globalThis.gc?.();
          if (mode === 'run') cpu.set(task, process.cpuUsage());
        },
        teardown: (task, mode) => {
          if (mode !== 'run') return;
          const used = process.cpuUsage(cpu.get(task));
          cpu.set(task, (used.user + used.system) * 1e3); // ns, all threads (GC helpers included)
        },
      });
      const cpu = new Map();
      order.forEach(({ row, task }, index) => bench.add(`${index}:${row.id}`, task));
      await bench.run();
      const perTask = bench.tasks.map((task) => {
        const result = task.result;
        if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state} ${result.error?.stack ?? ''}`);
        const meanNs = (result.latency.mean * 1e6) / workload.batch;
        return {
          meanNs,
          // CPU time is not charged while another process has the core: steadier on a shared machine.
          cpuNs: cpu.get(task) / (task.runs * workload.batch),
          p50Ns: (result.latency.p50 * 1e6) / workload.batch,
          p99Ns: (result.latency.p99 * 1e6) / workload.batch,
          opsPerSec: 1e9 / meanNs,
        };
      });
      const baseIdx = order.flatMap((entry, i) => (entry === base ? [i] : []));
      const baseMean = (key) => baseIdx.reduce((sum, i) => sum + perTask[i][key], 0) / baseIdx.length;
      const baseNs = baseMean('meanNs');
      const spread = Math.max(...baseIdx.map((i) => perTask[i].meanNs)) - Math.min(...baseIdx.map((i) => perTask[i].meanNs));
      push(workload.id, 'bare', {
        meanNs: baseNs,
        p50Ns: baseMean('p50Ns'),
        p99Ns: baseMean('p99Ns'),
        cpuNs: baseMean('cpuNs'),
        opsPerSec: 1e9 / baseNs,
        deltaNs: 0,
        deltaCpuNs: 0,
        deltaP50Ns: 0,
        ratio: 1,
        drift: spread / baseNs,
      });
      let before = 0;
      for (let i = 1; i < order.length - 1; i++) {
        if (order[i] === base) {
          before = i;
          continue;
        }
        const after = baseIdx.find((j) => j > i);
        const local = (key) => (perTask[before][key] + perTask[after][key]) / 2;
        const r = perTask[i];
        push(workload.id, order[i].row.id, {
          ...r,
          deltaNs: r.meanNs - local('meanNs'),
          deltaP50Ns: r.p50Ns - local('p50Ns'),
          deltaCpuNs: r.cpuNs - local('cpuNs'),
          ratio: r.meanNs / local('meanNs'),
        });
      }
      log(`  round ${round + 1}/${rounds} ${workload.id}: ${order.length} tasks, bare ${baseNs.toFixed(0)} ns/call`);
    }
  }
  // A row must still do what its label says after the run (an open breaker must not have
  // gone half-open midway, a limiter must still reject): otherwise its figures are void.
  for (const workload of workloads) {
    for (const { row, call } of prepared.get(workload.id)) {
      try {
        await sanityCheck(row, call, workload);
      } catch (error) {
        failures.set(`${workload.id}|${row.id}`, `behaviour changed during the run: ${String(error?.message ?? error).split('\n')[0]}`);
        log(`  ! ${row.id} (${workload.id}) changed behaviour during the run: ${error?.message ?? error}`);
      }
    }
  }
  for (const dispose of disposers) await dispose();

  const results = {};
  for (const workload of workloads) {
    results[workload.id] = [];
    for (const row of [baseline, ...rows]) {
      if (!appliesTo(row, workload)) continue;
      const entry = { id: row.id, label: row.label, lib: row.lib, group: row.group };
      if (row.unavailable) {
        results[workload.id].push({ ...entry, unavailable: row.unavailable });
        continue;
      }
      const failure = failures.get(`${workload.id}|${row.id}`);
      if (failure !== undefined) {
        results[workload.id].push({ ...entry, error: failure });
        continue;
      }
      const runs = samples.get(`${workload.id}|${row.id}`) ?? [];
      const pick = (k) => median(runs.map((x) => x[k]));
      results[workload.id].push({
        ...entry,
        rounds: runs.length,
        opsPerSec: pick('opsPerSec'),
        meanNs: pick('meanNs'),
        p50Ns: pick('p50Ns'),
        p99Ns: pick('p99Ns'),
        ratio: pick('ratio'),
        deltaNs: pick('deltaNs'),
        deltaP50Ns: pick('deltaP50Ns'),
        cpuNs: pick('cpuNs'),
        deltaCpuNs: pick('deltaCpuNs'),
        deltaNsPerRound: runs.map((x) => x.deltaNs),
        deltaCpuNsPerRound: runs.map((x) => x.deltaCpuNs),
        ...(row.id === 'bare' ? { baselineDrift: pick('drift') } : {}),
      });
    }
  }
  return results;
}
