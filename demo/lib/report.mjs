// The side-by-side tables (default) and the JSON object (--json).
import { SCENARIOS } from './args.mjs';

const RUN_KEYS = ['total', 'succeeded', 'failed', 'shed', 'p50Ms', 'p99Ms', 'maxMs', 'peakInFlight'];
const EXTRA_KEYS = {
  unprotected: [],
  protected: ['breakerOpenedAfterMs', 'breakerClosedAfterMs'],
  adaptive: ['breakerOpenedAfterMs', 'breakerClosedAfterMs', 'adaptiveLimit'],
};

/**
 * The --json object: `{ machine, scenarios: { <name>: { config, runs } } }`, each run with the
 * documented keys first, then everything else measured.
 * @param {object} machine
 * @param {{ config: object, runs: object }[]} results  one per scenario, in the order run
 */
export function toJson(machine, results) {
  const pick = (name, run) => {
    const out = {};
    for (const key of [...RUN_KEYS, ...(EXTRA_KEYS[name] ?? [])]) out[key] = run[key];
    return { ...out, ...run };
  };
  const scenarios = {};
  for (const { config, runs } of results) {
    scenarios[config.scenario] = {
      config,
      runs: Object.fromEntries(Object.entries(runs).map(([name, run]) => [name, pick(name, run)])),
    };
  }
  return { machine, scenarios };
}

const LABEL = 46;
const COL = 13;

/** The column heading of a run. */
export function columnName(name, config) {
  return name === 'protected' ? `bulkhead ${config.maxConcurrent}` : name;
}

/** What the adaptive run's limit is estimated by, as code. */
function estimatorCode(config) {
  if (config.adaptiveLimit === 'gradient2') return 'adaptiveConcurrency()';
  return `adaptiveConcurrency({ limit: ${config.adaptiveLimit === 'vegas' ? 'windowedLimit(vegasLimit())' : 'aimdLimit()'} })`;
}

/**
 * One scenario's table: one column per run, in the order of `runs`.
 * @param {object} config  the scenario's config from parseConfig
 * @param {Record<string, object>} runs  run name → its result
 */
export function renderTable(config, runs) {
  const names = Object.keys(runs);
  const all = names.map((name) => runs[name]);
  const label = SCENARIOS[config.scenario]?.label ?? 'bad deploy';
  const ms = (v) => (v === null || v === undefined ? 'n/a' : `${v >= 100 ? Math.round(v) : v} ms`);
  const row = (text, cell) => `${text.padEnd(LABEL)}${all.map((run, i) => cell(run, names[i]).padStart(COL)).join('')}`;
  const count = (key) => (run) => String(run[key]);
  const ifBreaker = (format) => (run) => (run.breakerOpenedAfterMs === undefined ? '–' : format(run));
  const ifAdaptive = (format) => (run) => (run.adaptiveLimit === undefined ? '–' : format(run.adaptiveLimit));
  const errors = config.badErrorRate === 0 ? 'no errors' : `${Math.round(config.badErrorRate * 100)} % errors`;

  const lines = [
    `${config.scenario}: ${config.rps} req/s open loop; downstream ${config.normalLatencyMs} ms → ` +
      `${config.badLatencyMs} ms with ${errors} for ${config.badMs / 1000} s, then rolled back`,
  ];
  if (names.includes('protected')) {
    lines.push(`  bulkhead ${config.maxConcurrent} = pipeline(retry ×${config.maxRetries}, bulkhead ${config.maxConcurrent}, circuitBreaker slow-call ${config.slowCallMs} ms, timeout ${config.timeoutMs} ms)`);
  }
  if (names.includes('adaptive')) {
    lines.push(`  adaptive    = the same with ${estimatorCode(config)} in place of the bulkhead`);
  }
  lines.push(
    '',
    row('', (_, name) => columnName(name, config)),
    row('requests sent', count('sent')),
    row('  succeeded', count('succeeded')),
    row('  failed (5xx after trying)', count('failed')),
    row('  shed (503 + Retry-After, at once)', count('shed')),
    row('    by the open breaker', count('shedByBreaker')),
    row('    by the bound on calls in flight', count('shedByConcurrencyBound')),
    row(`      of them during the ${label}`, ifBreaker((run) => String(run.boundShedsDuringBadDeploy))),
    row(`      the last, after the ${label} began`, ifBreaker((run) => (run.lastBoundShedAfterMs === null ? 'none' : ms(run.lastBoundShedAfterMs)))),
  );
  if (all.some((run) => run.noAnswer > 0)) lines.push(row('  no answer at all', count('noAnswer')));
  lines.push(
    `upstream latency of requests during the ${label}`,
    row('  p50', (run) => ms(run.p50Ms)),
    row('  p99', (run) => ms(run.p99Ms)),
    row('  max', (run) => ms(run.maxMs)),
    row('peak calls in flight to the downstream', count('peakInFlight')),
    row(`calls the downstream got during the ${label}`, count('downstreamCallsDuringBadDeploy')),
  );
  if (names.includes('adaptive')) {
    lines.push(
      row(`adaptive limit when the ${label} began`, ifAdaptive((l) => String(l.atBadDeploy))),
      row('  lowest – highest while it lasted', ifAdaptive((l) => `${l.minDuringBadDeploy} – ${l.maxDuringBadDeploy}`)),
    );
  }
  lines.push(
    row(`breaker opened, after the ${label} began`, ifBreaker((run) => (run.breakerOpenedAfterMs === null ? 'never' : ms(run.breakerOpenedAfterMs)))),
    row('breaker closed, after the rollback', ifBreaker((run) => (run.breakerClosedAfterMs === null ? 'never' : ms(run.breakerClosedAfterMs)))),
    '',
    ...sparklines(config, runs),
    '',
    'answers that were not 200:',
    ...names.map((name) => {
      const run = runs[name];
      return `  ${columnName(name, config).padEnd(12)} ${describeOutcomes(run.outcomes)}${run.retries ? `; ${run.retries} retries` : ''}`;
    }),
    `load generator check (${names.map((name) => columnName(name, config)).join(' / ')}): ` +
      `sends late by ≤ ${all.map((run) => run.loadGenerator.maxSendLagMs).join(' / ')} ms, ` +
      `event-loop delay p99 ${all.map((run) => run.loadGenerator.eventLoopDelayP99Ms).join(' / ')} ms`,
  );
  return lines.join('\n');
}

function describeOutcomes(outcomes) {
  const parts = Object.entries(outcomes).map(([reason, count]) => `${reason} ×${count}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

const BARS = ' ▁▂▃▄▅▆▇█';

/** Calls in flight to the downstream over time, all runs on one scale; | marks the deploy. */
function sparklines(config, runs) {
  const bucketMs = Math.max(100, Math.ceil((config.normalMs + config.badMs + config.healMs) / 60 / 100) * 100);
  const series = {};
  let peak = 1;
  for (const [name, run] of Object.entries(runs)) {
    const buckets = [];
    for (const { tMs, inFlight } of run.timeline) {
      if (tMs < 0) continue;
      const b = Math.floor(tMs / bucketMs);
      buckets[b] = Math.max(buckets[b] ?? 0, inFlight);
      peak = Math.max(peak, inFlight);
    }
    series[name] = buckets;
  }
  const badFromBucket = Math.floor(config.normalMs / bucketMs);
  const badUntilBucket = Math.floor((config.normalMs + config.badMs) / bucketMs);
  const line = (buckets) => {
    let out = '';
    for (let i = 0; i < buckets.length; i++) {
      if (i === badFromBucket || i === badUntilBucket) out += '|';
      const v = buckets[i] ?? 0;
      out += BARS[v === 0 ? 0 : Math.max(1, Math.round((v / peak) * (BARS.length - 1)))];
    }
    return out;
  };
  const label = SCENARIOS[config.scenario]?.label ?? 'bad deploy';
  return [
    `calls in flight to the downstream, sampled every 100 ms (a column = the highest sample in ${bucketMs} ms,`,
    `full bar = ${peak}; | = ${label} starts / ends)`,
    ...Object.keys(runs).map((name) => `  ${columnName(name, config).padEnd(12)} ${line(series[name])}`),
  ];
}
