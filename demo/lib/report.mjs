// The side-by-side table (default) and the JSON object (--json).

const RUN_KEYS = ['total', 'succeeded', 'failed', 'shed', 'p50Ms', 'p99Ms', 'maxMs', 'peakInFlight'];

/** The --json object: the documented keys first, then everything else measured. */
export function toJson(config, runs) {
  const pick = (run, extra) => {
    const out = {};
    for (const key of [...RUN_KEYS, ...extra]) out[key] = run[key];
    return { ...out, ...run };
  };
  return {
    config,
    runs: {
      unprotected: pick(runs.unprotected, []),
      protected: pick(runs.protected, ['breakerOpenedAfterMs', 'breakerClosedAfterMs']),
    },
  };
}

const LABEL = 48;
const COL = 14;

export function renderTable(config, runs, machine) {
  const u = runs.unprotected;
  const p = runs.protected;
  const ms = (v) => (v === null || v === undefined ? 'n/a' : `${v >= 100 ? Math.round(v) : v} ms`);
  const n = (v) => String(v);
  const row = (label, a, b) => `${label.padEnd(LABEL)}${a.padStart(COL)}${b.padStart(COL)}`;
  const pct = (v) => `${Math.round(v * 100)} %`;

  const lines = [
    `breakwater cascade demo — ${config.rps} req/s open loop; downstream ${config.normalLatencyMs} ms → ` +
      `${config.badLatencyMs} ms with ${pct(config.badErrorRate)} errors for ${config.badMs / 1000} s, then healed`,
    `protected = pipeline(retry ×${config.maxRetries}, bulkhead ${config.maxConcurrent}, circuitBreaker, timeout ${config.timeoutMs} ms)`,
    `${machine}`,
    '',
    row('', 'unprotected', 'breakwater'),
    row('requests sent', n(u.sent), n(p.sent)),
    row('  succeeded', n(u.succeeded), n(p.succeeded)),
    row('  failed (5xx after trying)', n(u.failed), n(p.failed)),
    row('  shed (503 + Retry-After, at once)', n(u.shed), n(p.shed)),
  ];
  if (u.noAnswer + p.noAnswer > 0) lines.push(row('  no answer at all', n(u.noAnswer), n(p.noAnswer)));
  lines.push(
    'upstream latency of requests during the bad deploy',
    row('  p50', ms(u.p50Ms), ms(p.p50Ms)),
    row('  p99', ms(u.p99Ms), ms(p.p99Ms)),
    row('  max', ms(u.maxMs), ms(p.maxMs)),
    row('peak calls in flight to the downstream', n(u.peakInFlight), n(p.peakInFlight)),
    row('calls the downstream got during the bad deploy', n(u.downstreamCallsDuringBadDeploy), n(p.downstreamCallsDuringBadDeploy)),
    row('breaker opened, after the bad deploy began', '–', p.breakerOpenedAfterMs === null ? 'never' : ms(p.breakerOpenedAfterMs)),
    row('breaker closed, after the downstream healed', '–', p.breakerClosedAfterMs === null ? 'never' : ms(p.breakerClosedAfterMs)),
    '',
    ...sparklines(config, runs),
    '',
    'answers that were not 200:',
    `  unprotected  ${describeOutcomes(u.outcomes)}`,
    `  breakwater   ${describeOutcomes(p.outcomes)}${p.retries ? `; ${p.retries} retries` : ''}`,
    `load generator check (unprotected / breakwater): sends late by ≤ ${u.loadGenerator.maxSendLagMs} / ` +
      `${p.loadGenerator.maxSendLagMs} ms, event-loop delay p99 ${u.loadGenerator.eventLoopDelayP99Ms} / ` +
      `${p.loadGenerator.eventLoopDelayP99Ms} ms`,
  );
  return lines.join('\n');
}

function describeOutcomes(outcomes) {
  const parts = Object.entries(outcomes).map(([reason, count]) => `${reason} ×${count}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

const BARS = ' ▁▂▃▄▅▆▇█';

/** Calls in flight to the downstream over time, both runs on one scale; | marks the bad deploy. */
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
  return [
    `calls in flight to the downstream, sampled every 100 ms (a column = the highest sample in ${bucketMs} ms,`,
    `full bar = ${peak}; | = bad deploy starts / ends)`,
    `  unprotected  ${line(series.unprotected)}`,
    `  breakwater   ${line(series.protected)}`,
  ];
}
