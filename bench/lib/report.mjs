import { existsSync, readFileSync } from 'node:fs';
// The targets and the markdown written to docs/benchmarks.md.
import { groups } from './rows.mjs';
import { httpSection } from './http-report.mjs';
import { redisSection } from './redis-report.mjs';
import { soakSection } from './soak-report.mjs';
import { TARGET_WORKLOAD, workloads } from './workloads.mjs';

// ---------------------------------------------------------------- formatting

const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 });

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
export const int = (x) => (isNum(x) ? nf0.format(x) : '—');
export const ns = (x) => (isNum(x) ? (Math.abs(x) < 10 ? nf1.format(x) : nf0.format(x)) : '—');
const signedNs = (x) => (isNum(x) ? `${x >= 0 ? '+' : '−'}${ns(Math.abs(x))}` : '—');
const ratio = (x) => (isNum(x) ? `${nf2.format(x)}×` : '—');
const esc = (s) => String(s).replaceAll('|', '\\|');

function table(header, rows) {
  const line = (cells) => `| ${cells.map(esc).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- targets

const find = (list, id) => list?.find((r) => r.id === id);
const notMeasured = (entry, fallback) => entry?.unavailable ?? entry?.error ?? fallback;

/** Each target reads its number from the data; `max` is inclusive unless `strict`. */
function targetDefs(data) {
  const t = data.throughput?.[TARGET_WORKLOAD];
  const delta = (id) => {
    const r = find(t, id);
    return {
      value: r?.deltaNs,
      display: isNum(r?.deltaNs) ? `${signedNs(r.deltaNs)} ns (CPU ${signedNs(r.deltaCpuNs)}, p50 ${signedNs(r.deltaP50Ns)})` : undefined,
      missing: notMeasured(r, data.throughput ? 'row not run' : 'throughput suite not run'),
    };
  };
  const sustained = (id, key) => {
    const r = find(data.sustained?.results, id);
    const value = r === undefined || r.unavailable ? undefined : key(r);
    const note = r?.partial ? `measured on ${r.label} (the other policies are not exported yet)` : undefined;
    return { value, missing: notMeasured(r, 'sustained suite not run'), note };
  };
  const proof = (() => {
    const zero = find(t, 'proof.breaker0');
    const detached = find(t, 'proof.breakerDetached');
    if (!isNum(zero?.deltaCpuNs) || !isNum(detached?.deltaCpuNs)) {
      return { value: undefined, missing: notMeasured(zero, 'row not run') };
    }
    const diff = detached.deltaCpuNs - zero.deltaCpuNs;
    const tolerance = Math.max(15, 0.15 * Math.abs(zero.deltaCpuNs));
    return { value: diff, max: tolerance, display: `${signedNs(diff)} ns (Δ CPU ${ns(detached.deltaCpuNs)} vs ${ns(zero.deltaCpuNs)} ns; noise allowance ±${ns(tolerance)} ns)`, abs: true };
  })();
  const controllers = (() => {
    const reads = find(data.allocations?.results, 'bw.pipelineSignal');
    const ignores = find(data.allocations?.results, 'bw.pipeline');
    return {
      value: reads?.controllersPerCall,
      missing: notMeasured(reads, 'allocation check not run'),
      display: isNum(reads?.controllersPerCall)
        ? `${reads.controllersPerCall} per call (${ignores?.controllersPerCall ?? '—'} when fn ignores it)`
        : undefined,
    };
  })();
  const memory = (list, id) => {
    const r = find(list, id);
    return { value: r?.bytes, missing: notMeasured(r, 'memory suite not run') };
  };
  const timers = (() => {
    const r = find(data.scale?.results, 'bw.timeout');
    return {
      value: r?.timersAlive,
      max: Math.floor((data.scale?.calls ?? 100_000) / 100),
      missing: notMeasured(r, 'scale suite not run'),
      display: isNum(r?.timersAlive) ? `${int(r.timersAlive)} timer(s) for ${int(data.scale.calls)} calls (${int(r.bytesPerCall)} B per call in flight)` : undefined,
    };
  })();
  const open = find(t, 'bw.breakerOpen');
  // Both rows measured in the same rounds of the same run: machine noise moves both.
  const adaptive = (() => {
    const a = find(t, 'bw.adaptive');
    const b = find(t, 'bw.bulkhead');
    const value = a?.deltaNs / b?.deltaNs;
    const cpu = a?.deltaCpuNs / b?.deltaCpuNs;
    return {
      value: isNum(value) && b.deltaNs > 0 ? value : undefined,
      missing: notMeasured(a, data.throughput ? 'row not run' : 'throughput suite not run'),
      display: isNum(value)
        ? `${ratio(value)} (Δ ${signedNs(a.deltaNs)} vs ${signedNs(b.deltaNs)} ns; CPU ${ratio(cpu)}, ${signedNs(a.deltaCpuNs)} vs ${signedNs(b.deltaCpuNs)} ns)`
        : undefined,
    };
  })();

  return [
    { id: 'breaker', what: 'circuit breaker (closed) Δ per call', limit: '≤ 100 ns', max: 100, unit: 'ns', ...delta('bw.breaker') },
    { id: 'bulkhead', what: 'bulkhead Δ per call', limit: '≤ 80 ns', max: 80, unit: 'ns', ...delta('bw.bulkhead') },
    { id: 'rateLimiter', what: 'rate limiter (not rejecting) Δ per call', limit: '≤ 80 ns', max: 80, unit: 'ns', ...delta('bw.rateLimiter') },
    { id: 'retry', what: 'retry (no failure) Δ per call', limit: '≤ 80 ns', max: 80, unit: 'ns', ...delta('bw.retry') },
    { id: 'adaptive', what: 'adaptiveConcurrency (windowed Gradient2) Δ ÷ bulkhead Δ, same run', limit: '≤ 1.5×', max: 1.5, unit: '', ...adaptive },
    { id: 'pipeline', what: 'pipeline(retry, circuitBreaker, bulkhead, timeout) Δ per call, fn ignores ctx.signal', limit: '≤ 500 ns', max: 500, unit: 'ns', ...delta('bw.pipeline') },
    { id: 'controllers', what: 'AbortControllers per call through that pipeline when fn reads ctx.signal', limit: '≤ 1', max: 1, unit: '', ...controllers },
    {
      id: 'open', what: 'open-breaker rejection, time per call (wall mean, not Δ)', limit: '≤ 1,000 ns', max: 1000, unit: 'ns',
      value: open?.meanNs, missing: notMeasured(open, 'row not run'),
      display: isNum(open?.meanNs)
        ? `${ns(open.meanNs)} ns (CPU ${ns(open.cpuNs)} ns; a bare \`Promise.reject\` alone takes ${ns(find(t, 'floor.reject')?.meanNs)} ns)`
        : undefined,
    },
    { id: 'proof', what: 'breaker Δ with listeners attached then detached − Δ with none', limit: '= 0 (within noise)', unit: 'ns', ...proof },
    { id: 'breakerBytes', what: 'retained memory per circuit breaker', limit: '≤ 600 B', max: 600, unit: 'B', ...memory(data.memory?.breakers, 'bw.breaker') },
    { id: 'keyBytes', what: 'retained memory per active key of keyedRateLimiter', limit: '≤ 100 B', max: 100, unit: 'B', ...memory(data.memory?.keyed, 'bw.keyed') },
    { id: 'timers', what: `${int(data.scale?.calls ?? 100_000)} concurrent timeout-wrapped calls: Node timers alive`, limit: '≪ one per call (≤ 1 %)', unit: '', ...timers },
    { id: 'flatBreaker', what: 'sustained, one breaker: slowest second ÷ median second', limit: '≥ 0.70 (flat)', min: 0.7, unit: '', ...sustained('breaker', (r) => r.flatness) },
    { id: 'flatPipeline', what: 'sustained, one pipeline: slowest second ÷ median second', limit: '≥ 0.70 (flat)', min: 0.7, unit: '', ...sustained('pipeline', (r) => r.flatness) },
    { id: 'stallBreaker', what: 'sustained, one breaker: worst event-loop stall', limit: '< 10 ms', max: 10, strict: true, unit: 'ms', ...sustained('breaker', (r) => r.worstStallMs) },
    { id: 'stallPipeline', what: 'sustained, one pipeline: worst event-loop stall', limit: '< 10 ms', max: 10, strict: true, unit: 'ms', ...sustained('pipeline', (r) => r.worstStallMs) },
    { id: 'heapBreaker', what: 'sustained, one breaker: heap at the end (after GC)', limit: '< 15 MB', max: 15, strict: true, unit: 'MB', ...sustained('breaker', (r) => r.heapEndAfterGcMB) },
    { id: 'heapPipeline', what: 'sustained, one pipeline: heap at the end (after GC)', limit: '< 15 MB', max: 15, strict: true, unit: 'MB', ...sustained('pipeline', (r) => r.heapEndAfterGcMB) },
  ];
}

const withUnit = (value, unit) => {
  if (!isNum(value)) return '—';
  const text = unit === 'ns' ? ns(value) : Number.isInteger(value) ? int(value) : nf2.format(value);
  return unit ? `${text} ${unit}` : text;
};

export function evaluateTargets(data) {
  return targetDefs(data).map((d) => {
    const base = { id: d.id, what: d.what, limit: d.limit };
    if (!isNum(d.value)) return { ...base, status: 'n/a', measured: d.missing ?? 'not measured' };
    const measured = d.display ?? withUnit(d.value, d.unit);
    const v = d.abs ? Math.abs(d.value) : d.value;
    let pass = true;
    let by = '';
    if (d.max !== undefined) {
      pass = d.strict ? v < d.max : v <= d.max;
      if (!pass) by = `over by ${withUnit(v - d.max, d.unit)} (${nf0.format(((v - d.max) / d.max) * 100)} %)`;
    }
    if (d.min !== undefined && v < d.min) {
      pass = false;
      by = `under by ${nf2.format(d.min - v)}`;
    }
    return { ...base, value: d.value, measured: d.note ? `${measured} — ${d.note}` : measured, status: pass ? 'pass' : 'MISS', by };
  });
}

// ---------------------------------------------------------------- markdown

const PEER_REFERENCE = [
  ['cockatiel circuitBreaker Δ', 'ck.breaker', 246, 'ns'],
  ['cockatiel bulkhead Δ', 'ck.bulkhead', 144, 'ns'],
  ['cockatiel wrap(retry, breaker, bulkhead, timeout) Δ', 'ck.wrap', 30_200, 'ns'],
  ['opossum fire Δ', 'op.fire', 1_309, 'ns'],
  ['limiter RateLimiter.removeTokens Δ', 'lim.removeTokens', 229, 'ns'],
  ['rate-limiter-flexible consume Δ', 'rlf.consume', 412, 'ns'],
  ['rate-limiter-flexible per key', 'mem:rlf.memory', 413, 'B'],
  ['cockatiel breaker memory', 'mem:ck.breaker', 1_233, 'B'],
  ['opossum breaker memory', 'mem:op.breaker', 6_864, 'B'],
];

function cell(r, key, fmt) {
  if (r.unavailable) return key === 'meanNs' ? `n/a: ${r.unavailable}` : '';
  if (r.error) return key === 'meanNs' ? `error: ${r.error}` : '';
  return fmt(r[key]);
}

function throughputSection(data) {
  const out = [];
  for (const w of workloads) {
    const list = data.throughput?.[w.id];
    if (!list) continue;
    out.push(`### ${w.title}`, '');
    const bare = find(list, 'bare');
    out.push(
      `Baseline: bare \`await fn()\` = ${ns(bare?.meanNs)} ns per call (${int(bare?.opsPerSec)} calls/s); ` +
        `within a round its measurements spread over ${nf0.format((bare?.baselineDrift ?? NaN) * 100)} % of its mean (median over rounds).`,
      '',
    );
    const rows = [];
    let lastGroup;
    for (const r of list) {
      if (r.id === 'bare') continue;
      const title = groups.find(([g]) => g === r.group)?.[1] ?? r.group;
      const groupCell = r.group === lastGroup ? '' : title;
      lastGroup = r.group;
      const lib = r.lib === 'breakwater' ? '**breakwater**' : r.lib;
      rows.push([
        groupCell,
        lib,
        r.label,
        cell(r, 'opsPerSec', int),
        cell(r, 'meanNs', ns),
        cell(r, 'p99Ns', ns),
        cell(r, 'ratio', ratio),
        cell(r, 'deltaNs', signedNs),
        cell(r, 'deltaCpuNs', signedNs),
        cell(r, 'deltaP50Ns', signedNs),
      ]);
    }
    out.push(table(['what', 'library', 'row', 'calls/s', 'mean ns', 'p99 ns', '× bare', '**Δ wall ns**', 'Δ CPU ns', 'Δ p50 ns'], rows), '');
  }
  return out.join('\n');
}

function peerReferenceSection(data) {
  const t = data.throughput?.[TARGET_WORKLOAD];
  const rows = PEER_REFERENCE.map(([what, id, ref, unit]) => {
    let value;
    if (id.startsWith('mem:')) {
      const key = id.slice(4);
      value = find(data.memory?.breakers, key)?.bytes ?? find(data.memory?.keyed, key)?.bytes;
    } else value = find(t, id)?.deltaNs;
    return [what, `${int(ref)} ${unit}`, isNum(value) ? `${unit === 'ns' ? ns(value) : int(value)} ${unit}` : '—'];
  });
  return table(['peer', 'reference', 'this run (Δ wall, or retained bytes)'], rows);
}

function proofSection(data) {
  const t = data.throughput?.[TARGET_WORKLOAD];
  const ids = ['proof.breaker0', 'proof.breakerDetached', 'proof.breakerListening', 'proof.timeout0', 'proof.timeoutDetached'];
  const rows = ids.map((id) => find(t, id)).filter(Boolean).map((r) => [
    r.label,
    r.unavailable ? `n/a: ${r.unavailable}` : r.error ? `error: ${r.error}` : `${signedNs(r.deltaCpuNs)}`,
    r.unavailable || r.error ? '' : signedNs(r.deltaNs),
    Array.isArray(r.deltaCpuNsPerRound) ? r.deltaCpuNsPerRound.map((x) => ns(x)).join(', ') : '',
  ]);
  return table(['policy', 'Δ CPU ns per call (median)', 'Δ wall ns', 'Δ CPU per round'], rows);
}

function allocationsSection(data) {
  const list = data.allocations?.results ?? [];
  return table(
    ['case', 'library', 'AbortControllers / call', 'setTimeout calls / call', 'listeners left on caller signal'],
    list.map((r) =>
      r.unavailable
        ? [r.label, r.lib, `n/a: ${r.unavailable}`, '', '']
        : [r.label, r.lib, String(r.controllersPerCall), String(r.timersPerCall), String(r.listenersLeftOnCallerSignal)],
    ),
  );
}

function memorySection(data) {
  const m = data.memory;
  if (!m) return '_not run_';
  const rowsOf = (list) => list.map((r) => [r.lib === 'breakwater' ? '**breakwater**' : r.lib, r.label, r.unavailable ? `n/a: ${r.unavailable}` : `${int(r.bytes)} B`]);
  return [
    `### Per circuit breaker (${int(m.instances)} instances, each served one call)`,
    '',
    table(['library', 'breaker', 'retained per instance'], rowsOf(m.breakers)),
    '',
    `### Per active key (${int(m.keys)} keys, one token taken from each)`,
    '',
    'Key strings are allocated before the first reading (every library keeps them), so the figures are each library\'s own per-key state.',
    '',
    table(['library', 'limiter', 'retained per key'], rowsOf(m.keyed)),
  ].join('\n');
}

function sustainedSection(data) {
  const s = data.sustained;
  if (!s) return '_not run_';
  const rows = s.results.map((r) =>
    r.unavailable
      ? [r.label, `n/a: ${r.unavailable}`, '', '', '', '', '']
      : [
          r.label + (r.partial ? ' (partial: not every policy is exported yet)' : ''),
          int(r.calls),
          `${int(r.perSecond.min)} / ${int(r.perSecond.median)} / ${int(r.perSecond.max)}`,
          nf2.format(r.flatness),
          `${r.worstStallMs} ms (longest GC pause ${r.worstGcPauseMs ?? '—'} ms of ${int(r.gcCount)})`,
          `${r.heapEndAfterGcMB} MB (${r.heapEndMB} MB before GC)`,
          `${r.heapMaxMB} MB`,
        ],
  );
  return [
    `${int(s.inFlight)} calls kept in flight for ${nf1.format(s.durationMs / 1000)} s per policy; fn awaits \`setImmediate\`. ` +
      `Throughput is counted in ${int(s.bucketMs)} ms buckets; min/median/max leave out the first bucket (JIT warm-up).`,
    '',
    table(['policy', 'calls', 'calls/s min / median / max', 'min ÷ median', 'worst stall', 'heap at end', 'heap max seen'], rows),
  ].join('\n');
}

function scaleSection(data) {
  const s = data.scale;
  if (!s) return '_not run_';
  const rows = s.results.map((r) =>
    r.unavailable
      ? [r.lib, r.label, `n/a: ${r.unavailable}`, '', '', '', '']
      : [
          r.lib === 'breakwater' ? '**breakwater**' : r.lib,
          r.label,
          int(r.timersAlive),
          `${int(r.bytesPerCall)} B (${r.heapMB} MB)`,
          `${int(r.launchMs)} ms / ${int(r.settleMs)} ms`,
          int(r.timersAfter),
          r.expiry.skipped ? r.expiry.skipped : `${int(r.expiry.allRejectedAfterMs)} ms, worst stall ${r.expiry.worstStallMs} ms`,
        ],
  );
  return [
    `${int(s.calls)} calls start at once; each fn waits on one shared promise. Memory is the heap growth while they are in flight ` +
      '(the caller\'s promises included), then the promise resolves and everything settles. Mass expiry: the same number of calls ' +
      'that never settle, all timing out together: time from the first deadline until the last rejection, and the worst event-loop stall.',
    '',
    table(['library', 'case', 'Node timers alive', 'memory per call in flight', 'launch / settle', 'timers after', 'mass expiry'], rows),
  ].join('\n');
}

export function renderMarkdown(data, targets) {
  const e = data.env;
  const s = data.settings;
  const pkgs = Object.entries(e.packages).map(([k, v]) => `${k} ${v}`).join(', ');
  const missed = targets.filter((t) => t.status === 'MISS');
  const na = targets.filter((t) => t.status === 'n/a');
  return `# breakwater benchmarks

<!-- Generated by bench/run.mjs (\`npm run bench -- --write-docs\`). Do not edit by hand: rerun it. -->

${s.quick ? '> **Quick mode** (a smoke run with few iterations): the numbers below are indicative only.\n\n' : ''}| | |
| --- | --- |
| date | ${e.date} |
| machine | ${e.cpu}, ${e.cores} cores, ${e.memoryGB} GB, ${e.os} |
| Node | ${e.node} (V8 ${e.v8}) |
| breakwater | ${e.breakwater} (the built \`dist/\`) |
| peers | ${pkgs} |
| method | ${s.rounds} round(s) × ${s.time} ms per row and workload; every figure is the median over rounds |

## How to read this

- Every row runs in **one process** with tinybench. One tinybench iteration launches ${s.batch} calls: all together and awaited
  with \`Promise.all\` (“100 in flight”), or one after the other (“one at a time”). Figures are **per call**: the iteration's
  mean and p99 divided by ${s.batch}; calls/s = 10⁹ ÷ mean ns.
- **× bare** and the **Δ** columns compare a row with a bare \`await fn()\` of the same workload, measured in the same round
  just before and just after the row (the baseline runs after every few rows); each Δ is the median of the per-round Δs.
  - **Δ wall** — time added per call: the wall-clock mean (tinybench's latency mean), row minus baseline. It includes
    allocation and the GC it causes. **The targets are judged on Δ wall**, as the targets define Δ (ns added per call over
    a bare await); on a busy machine it is inflated by preemption, so run the suite on a quiet one.
  - **Δ CPU** — process CPU time (user + system, all threads) per call, row minus baseline. GC helper threads that run in
    parallel count too, so on a quiet machine it is a little above Δ wall; on a busy one it is the steadier figure.
  - **Δ p50** — the same from the median iteration: the time the code path takes when no GC or preemption hits;
    Δ CPU − Δ p50 is roughly what the row's allocations cost in GC.
- Task order is shuffled per round and a full GC runs before each task, so no row pays for another's garbage.
- Rows that reject (open breaker, empty limiter) are awaited with a no-op rejection handler; the baseline is the same bare call.
- The targets are judged on “${workloads.find((w) => w.id === TARGET_WORKLOAD).title}”. The machine may be shared: small Δs
  (tens of ns) move by ±10–20 ns between runs.

## Targets

${missed.length === 0 ? 'Every measured target passes.' : `**${missed.length} target(s) missed:** ${missed.map((t) => t.id).join(', ')}.`}${na.length ? ` ${na.length} not measurable in this build (${na.map((t) => t.id).join(', ')}).` : ''}

${table(['target', 'limit', 'measured', 'result'], targets.map((t) => [t.what, t.limit, t.measured, t.status === 'MISS' ? `**MISS**: ${t.by}` : t.status]))}

## Peers: reference measurements vs this run

${peerReferenceSection(data)}

## Time added per call

${throughputSection(data)}
## Zero-listener proof

A breaker (and a timeout) whose listeners were all attached and then detached must cost what one that never had a listener
costs: events cost nothing when unused. One with a listener attached is shown for scale.

${proofSection(data)}

## AbortControllers and timers per call

Counted by replacing \`globalThis.AbortController\` and \`globalThis.setTimeout\` with counting wrappers before any library loads,
over ${int(data.allocations?.calls)} calls (100 in flight unless noted).

${allocationsSection(data)}

## Memory

${memorySection(data)}

## Sustained load

${sustainedSection(data)}

## ${int(data.scale?.calls ?? 100_000)} timeouts in flight

${scaleSection(data)}
${analysisSection()}
${soakSection()}
${httpSection()}
${redisSection()}`;
}

/** Why targets are missed: written by people (bench/analysis.md), kept next to the numbers. */
function analysisSection() {
  const file = new URL('../analysis.md', import.meta.url);
  return existsSync(file) ? `\n${readFileSync(file, 'utf8').trim()}\n` : '';
}
