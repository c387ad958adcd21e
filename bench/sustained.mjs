// Calls through one breaker and through one pipeline for a while (15 s each; ~1 s with
// --quick): throughput per second, worst event-loop stall, heap at the end.
// Run: node --expose-gc bench/sustained.mjs [--quick]
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { bw, has } from './lib/bw.mjs';
import { emit, isQuick } from './lib/child.mjs';
import { heapUsed, max, median, min } from './lib/stats.mjs';
import { nextTurn } from './lib/workloads.mjs';

const quick = isQuick();
const DURATION_MS = quick ? 1_000 : 15_000;
const BUCKET_MS = quick ? 250 : 1_000;
const IN_FLIGHT = 100;
const MB = 2 ** 20;

async function sustain(policy) {
  let completed = 0;
  let failed = 0;
  let stop = false;
  const buckets = [];
  let heapMax = 0;
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  let last = performance.now();
  let lastCount = 0;
  const sampler = setInterval(() => {
    const now = performance.now();
    buckets.push(Math.round(((completed - lastCount) * 1000) / (now - last)));
    last = now;
    lastCount = completed;
    heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }, BUCKET_MS);
  // The fn awaits setImmediate: with an instant fn the loop would never reach timers.
  const worker = async () => {
    while (!stop) {
      try {
        await policy.execute(nextTurn);
        completed++;
      } catch {
        failed++;
      }
    }
  };
  // GC pauses are recorded to tell a collector stall from the machine taking the core away.
  let gcMaxMs = 0;
  let gcCount = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcMaxMs = Math.max(gcMaxMs, entry.duration);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  histogram.enable();
  const workers = Array.from({ length: IN_FLIGHT }, worker);
  await new Promise((resolve) => setTimeout(resolve, DURATION_MS));
  stop = true;
  await Promise.all(workers);
  clearInterval(sampler);
  histogram.disable();
  gcObserver.disconnect();
  const heapEnd = process.memoryUsage().heapUsed;
  const heapEndAfterGc = heapUsed();
  // The first bucket includes JIT warm-up; flatness is judged on the rest.
  const steady = buckets.length > 1 ? buckets.slice(1) : buckets;
  return {
    calls: completed,
    failed,
    perSecond: { min: min(steady), median: median(steady), max: max(steady), firstBucket: buckets[0] },
    buckets,
    flatness: +(min(steady) / median(steady)).toFixed(2),
    worstStallMs: +(histogram.max / 1e6).toFixed(1),
    worstGcPauseMs: +gcMaxMs.toFixed(1),
    gcCount,
    heapEndMB: +(heapEnd / MB).toFixed(1),
    heapEndAfterGcMB: +(heapEndAfterGc / MB).toFixed(1),
    heapMaxMB: +(heapMax / MB).toFixed(1),
  };
}

// The same load with no policy: the event-loop stalls and GC pauses this VM shows anyway.
const cases = [{ id: 'bare', label: 'bare await fn() (no policy, for reference)', make: () => ({ execute: (fn) => fn() }) }];
if (has.circuitBreaker) {
  cases.push({ id: 'breaker', label: 'circuitBreaker', make: () => bw.circuitBreaker({ halfOpenAfterMs: 30_000 }) });
} else {
  cases.push({ id: 'breaker', label: 'circuitBreaker', unavailable: 'circuitBreaker not exported from dist yet' });
}
{
  // The four-policy pipeline; until every policy is exported, what exists of it (and say so).
  const parts = [
    ['retry', () => bw.retry({ maxRetries: 2 })],
    ['circuitBreaker', () => bw.circuitBreaker({ halfOpenAfterMs: 30_000 })],
    ['bulkhead', () => bw.bulkhead({ maxConcurrent: 1_000 })],
    ['timeout', () => bw.timeout(1_000)],
  ].filter(([name]) => has[name]);
  cases.push({
    id: 'pipeline',
    label: `pipeline(${parts.map(([n]) => n).join(', ')})`,
    partial: parts.length < 4,
    make: () => bw.pipeline(...parts.map(([, make]) => make())),
  });
}

const results = [];
for (const c of cases) {
  if (c.unavailable) {
    results.push({ id: c.id, label: c.label, unavailable: c.unavailable });
    continue;
  }
  const r = await sustain(c.make());
  results.push({ id: c.id, label: c.label, partial: c.partial ?? false, ...r });
  console.error(`  sustained: ${c.label}: ${r.perSecond.median}/s median, stall ${r.worstStallMs} ms, heap ${r.heapEndAfterGcMB} MB`);
}

emit({ durationMs: DURATION_MS, bucketMs: BUCKET_MS, inFlight: IN_FLIGHT, results });
process.exit(0);
