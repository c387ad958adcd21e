// Soak: millions of calls through each policy, and through a five-policy pipeline, with a mix
// of successes, failures, timeouts, caller aborts and refusals, on the real clock and the
// built package. Per run: the heap after a forced GC every second (does it stay flat after
// warm-up?), the worst event-loop delay (against the same mix with no policy), and whether
// every counter adds up, both from the caller's side and from the policy's own events.
//
//   npm run bench:soak                            10 000 000 calls per case (long: see docs/benchmarks.md)
//   npm run bench:soak -- --calls 1000000         fewer calls
//   npm run bench:soak -- --quick --json          100 000 calls, JSON on stdout (the test uses it)
//   npm run bench:soak -- --write-docs            full run; writes bench/results/soak.json and the
//                                                 soak section of docs/benchmarks.md
// Each case runs in its own process (clean heap, its own timers). Imports the BUILT package.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { eachFlag, flagsOrExit, rerunWithExposeGc, UsageError } from './lib/args.mjs';

export const USAGE = `usage: node --expose-gc bench/soak.mjs [--calls N] [--quick] [--json] [--write-docs]
  (no flag)     10,000,000 calls per case; a markdown summary on stdout
  --calls N     calls per case (a positive integer; 1e6 and 1_000_000 work too)
  --quick       100,000 calls per case, heap sampled every 50 ms (a smoke run)
  --json        print every measurement as JSON instead of the summary
  --write-docs  also write bench/results/soak.json and the soak section of docs/benchmarks.md
  -h, --help    show this help`;

function parseSoakArgs(argv) {
  const args = { calls: undefined, quick: false, json: false, writeDocs: false, help: false, caseId: undefined, emitJson: false };
  eachFlag(argv, (flag, take) => {
    switch (flag) {
      case '--calls': {
        const raw = take();
        const n = Number(raw.replaceAll('_', ''));
        if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--calls needs a positive integer, received ${raw}`);
        args.calls = n;
        break;
      }
      case '--quick': args.quick = true; break;
      case '--json': args.json = true; break;
      case '--write-docs': args.writeDocs = true; break;
      case '-h': case '--help': args.help = true; break;
      // Internal: the parent starts one child per case.
      case '--case': args.caseId = take(); break;
      case '--emit-json': args.emitJson = true; break;
      default: return false;
    }
    return true;
  });
  if (args.writeDocs && args.quick) throw new UsageError('--write-docs records a real run: it takes no --quick');
  return args;
}

const args = flagsOrExit('soak', parseSoakArgs, USAGE);
// The heap samples force a full GC first.
rerunWithExposeGc(import.meta.url);

const { bw } = await import('./lib/bw.mjs');
const { runChild } = await import('./lib/child.mjs');
const { environment } = await import('./lib/env.mjs');
const { fullGc, median } = await import('./lib/stats.mjs');
const { evaluateSoak, renderSoakSummary, writeSoakDocs, SOAK_JSON } = await import('./lib/soak-report.mjs');

const CALLS = args.calls ?? (args.quick ? 100_000 : 10_000_000);
const SAMPLE_MS = args.quick ? 50 : 1_000;
/** Calls in flight at once, outside surges. */
const IN_FLIGHT = 100;
/**
 * Calls launched in one turn of the event loop before the driver waits for the next. A call
 * refused at once settles in a microtask, and its settling launches the next one: without a
 * bound, an open breaker (or a half-open one whose probe waits for a timer or a turn) would
 * be driven in a microtask loop that never lets the loop turn, so the probe could not finish
 * and the stall measured would be the driver's. Real callers arrive through I/O. Three
 * times the calls in flight: the normal mix (about two launches per call settling in a turn)
 * does not reach it (the baseline never yields); `driverYields` in the results says how often
 * a case did.
 */
const MAX_LAUNCHES_PER_TURN = 3 * IN_FLIGHT;
const LOOP_RESOLUTION_MS = 10;
const MB = 2 ** 20;

// ---------------------------------------------------------------- the mix
//
// Which outcome a call asks for depends only on its index (a hash of it, and its position in
// the periodic bursts and surges), so every case, the no-policy baseline included, gets the
// very same sequence. What a call *gets* can differ from what it asked for (a failure the
// breaker refused, a success a timeout cut short, an abort that came after the call was done):
// the counters below count what happened, and the mix is reported next to them.

/** A slow call waits this long on a real timer: longer than the timeout, so a timeout fires. */
const SLOW_MS = 100;
const TIMEOUT_MS = 50;
const P_SLOW = 0.0005;
const P_ABORT = 0.005;
const P_FAIL = 0.03;
/** Fails on its first attempt only: a retry turns it into a success. */
const P_FLAKY = 0.02;
/**
 * Every BURST_EVERY calls, BURST_LEN failures in a row: twice the calls in flight, so for a
 * while every call that settles fails and the breaker opens. A burst's failures all come a
 * turn later, like a dependency that is down and answers with errors: a failure settling at
 * once would launch the next burst call at once, and a chain of them would use up the burst
 * while the calls launched before it are still settling, their successes breaking every
 * streak (the breaker's 20 in a row then rarely or never happened).
 */
const BURST_EVERY = 20_000;
const BURST_LEN = 200;
/** Every SURGE_EVERY calls, SURGE calls arrive at once on top of the IN_FLIGHT: bulkheads and limiters refuse. */
const SURGE_EVERY = 25_000;
const SURGE = 300;
/** Distinct keys of the keyed limiter's normal traffic (more than its maxKeys: keys get evicted). */
const KEYS = 5_000;
const MAX_KEYS = 1_000;

const OK_NOW = 0;
const OK_TURN = 1;
const FAIL = 2;
const FLAKY = 3;
const SLOW = 4;
const ABORT = 5;
const KIND_NAMES = ['okNow', 'okNextTurn', 'fail', 'flaky', 'slow', 'abort'];

/** An integer hash of the call index (splitmix32 finaliser), as a number in [0, 1). */
function unitOf(i) {
  let x = (i + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  x ^= x >>> 16;
  return (x >>> 0) / 4294967296;
}

const isBurst = (i) => i % BURST_EVERY >= BURST_EVERY - BURST_LEN;

function kindOf(i) {
  if (isBurst(i)) return FAIL;
  const u = unitOf(i);
  if (u < P_SLOW) return SLOW;
  if (u < P_SLOW + P_ABORT) return ABORT;
  if (u < P_SLOW + P_ABORT + P_FAIL) return FAIL;
  if (u < P_SLOW + P_ABORT + P_FAIL + P_FLAKY) return FLAKY;
  return i & 1 ? OK_TURN : OK_NOW;
}

const isSurgeStart = (i) => i % SURGE_EVERY === SURGE_EVERY - SURGE;

// ---------------------------------------------------------------- the user functions

class FnError extends Error {}
/** One instance, thrown by every failing fn: a caller or an event that sees it is a user failure. */
const FN_ERROR = new FnError('downstream failed');
const ABORT_REASON = new Error('caller gave up');
const VALUE = 1;
const FALLBACK_VALUE = -1;

let fnCalls = 0;
const okNow = () => {
  fnCalls++;
  return Promise.resolve(VALUE);
};
const okTurn = () => {
  fnCalls++;
  return new Promise((resolve) => setImmediate(resolve, VALUE));
};
const failNow = () => {
  fnCalls++;
  return Promise.reject(FN_ERROR);
};
const failTurn = () => {
  fnCalls++;
  return new Promise((_, reject) => setImmediate(reject, FN_ERROR));
};
const flaky = (ctx) => {
  fnCalls++;
  return ctx.attempt === 1 ? Promise.reject(FN_ERROR) : Promise.resolve(VALUE);
};
const slow = () => {
  fnCalls++;
  // Ignores ctx.signal on purpose, like a client without cancellation: the timer runs out anyway.
  return new Promise((resolve) => setTimeout(resolve, SLOW_MS, VALUE));
};

/** A call whose caller aborts its signal one turn after `execute`. Its fn waits for that abort. */
class AbortingCall {
  controller = new AbortController();
  started = false;
  fn = (ctx) => {
    fnCalls++;
    this.started = true;
    const signal = ctx.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  };
}
const abortCall = (call) => call.controller.abort(ABORT_REASON);

// ---------------------------------------------------------------- outcome counters

const OUTCOMES = ['successes', 'failures', 'refusals', 'timeouts', 'aborts'];
const newTally = () => ({ successes: 0, failures: 0, refusals: 0, timeouts: 0, aborts: 0, unexpected: 0 });

const isRefusal = (error) =>
  error instanceof bw.CircuitOpenError || error instanceof bw.BulkheadFullError || error instanceof bw.RateLimitedError;

/** Which outcome a rejection reason stands for. */
function classify(error) {
  if (error === ABORT_REASON) return 'aborts';
  if (error === FN_ERROR) return 'failures';
  if (error instanceof bw.TimeoutError) return 'timeouts';
  if (isRefusal(error)) return 'refusals';
  return 'unexpected';
}

/**
 * Counts a policy's own events as outcomes: a `failure` event is sorted by its error (a
 * policy reports a caller abort, or an inner policy's refusal, as a failure of the call).
 */
function listen(policy, { skip = [] } = {}) {
  const tally = { ...newTally(), fallbacks: 0, retries: 0, retriedTimeouts: 0, opened: 0, unexpectedErrors: [] };
  const on = (event, listener) => {
    if (!skip.includes(event)) policy.on(event, listener);
  };
  on('success', () => tally.successes++);
  on('failure', (e) => {
    const outcome = classify(e.error);
    tally[outcome]++;
    if (outcome === 'unexpected' && tally.unexpectedErrors.length < 3) tally.unexpectedErrors.push(String(e.error));
  });
  on('rejected', () => tally.refusals++);
  on('timeout', () => tally.timeouts++);
  on('fallback', () => tally.fallbacks++);
  on('retry', (e) => {
    tally.retries++;
    if (e.error instanceof bw.TimeoutError) tally.retriedTimeouts++;
  });
  on('stateChange', (e) => {
    if (e.to === 'open') tally.opened++;
  });
  return tally;
}

// ---------------------------------------------------------------- the cases

const breakerOptions = () => ({ halfOpenAfterMs: 5, consecutiveFailures: 20 });
const bulkheadOptions = () => ({ maxConcurrent: 64, maxQueue: 64, queueTimeoutMs: 1_000 });
// Waits of up to 2 ms absorb the normal traffic (at most IN_FLIGHT callers wait, 1 ms of tokens);
// a surge needs more than capacity + 2 ms of tokens, and that excess is refused.
const limiterOptions = () => ({ capacity: 100, refillPerSecond: 100_000, maxWaitMs: 2 });
const retryOptions = () => ({ maxRetries: 2, backoff: bw.constantBackoff(0) });
const keys = Array.from({ length: KEYS }, (_, i) => `tenant-${i}`);
const HOT_KEY = 'tenant-hot';

/**
 * Each case: how to make the policy, which policy's events describe a whole call (`observed`),
 * and which outcomes it can produce at all (each must happen, or the mix does not test it).
 */
const CASES = [
  {
    id: 'bare', label: 'no policy: `fn(ctx)` (the baseline)',
    outcomes: ['successes', 'failures', 'aborts'],
    make: () => ({ execute: (fn, options) => fn({ signal: options?.signal, attempt: 1 }) }),
  },
  {
    id: 'timeout', label: `timeout(${TIMEOUT_MS})`,
    outcomes: ['successes', 'failures', 'timeouts', 'aborts'],
    make: () => bw.timeout(TIMEOUT_MS),
  },
  {
    id: 'retry', label: 'retry({ maxRetries: 2, backoff: constantBackoff(0) })',
    outcomes: ['successes', 'failures', 'aborts'],
    make: () => bw.retry(retryOptions()),
  },
  {
    id: 'circuitBreaker', label: 'circuitBreaker({ halfOpenAfterMs: 5, consecutiveFailures: 20 })',
    outcomes: ['successes', 'failures', 'refusals', 'aborts'],
    make: () => bw.circuitBreaker(breakerOptions()),
  },
  {
    id: 'bulkhead', label: 'bulkhead({ maxConcurrent: 64, maxQueue: 64, queueTimeoutMs: 1000 })',
    outcomes: ['successes', 'failures', 'refusals', 'aborts'],
    make: () => bw.bulkhead(bulkheadOptions()),
  },
  {
    id: 'rateLimiter', label: 'rateLimiter({ capacity: 100, refillPerSecond: 100000, maxWaitMs: 2 })',
    outcomes: ['successes', 'failures', 'refusals', 'aborts'],
    make: () => bw.rateLimiter(limiterOptions()),
  },
  {
    id: 'keyedRateLimiter',
    label: `keyedRateLimiter({ capacity: 20, refillPerSecond: 1000, maxWaitMs: 5, maxKeys: ${MAX_KEYS} }).get(key), ${KEYS} keys + a hot key in surges`,
    outcomes: ['successes', 'failures', 'refusals', 'aborts'],
    make: () => bw.keyedRateLimiter({ capacity: 20, refillPerSecond: 1_000, maxWaitMs: 5, maxKeys: MAX_KEYS }),
    keyed: true,
  },
  {
    id: 'fallback', label: `fallback(${FALLBACK_VALUE})`,
    outcomes: ['successes', 'aborts'],
    make: () => bw.fallback(FALLBACK_VALUE),
  },
  {
    id: 'pipeline',
    label: `pipeline(retry, circuitBreaker, rateLimiter, bulkhead, timeout(${TIMEOUT_MS})), same options as above`,
    outcomes: ['successes', 'failures', 'refusals', 'timeouts', 'aborts'],
    make: () => {
      const layers = {
        retry: bw.retry(retryOptions()),
        circuitBreaker: bw.circuitBreaker(breakerOptions()),
        rateLimiter: bw.rateLimiter(limiterOptions()),
        bulkhead: bw.bulkhead(bulkheadOptions()),
        timeout: bw.timeout(TIMEOUT_MS),
      };
      const policy = bw.pipeline(...Object.values(layers));
      // The outermost layer sees every call to its end: its events describe the whole call.
      return Object.assign(policy, { observed: layers.retry, layers });
    },
  },
];

// ---------------------------------------------------------------- one soak

const lateMs = (ns) => (Number.isFinite(ns) ? +Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS).toFixed(1) : 0);

function timersAlive() {
  return process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
}

async function soak(c, calls) {
  const made = c.make();
  const events = c.id === 'bare' ? undefined : listen(made.observed ?? made);
  // Inside the pipeline the timeout layer is not asked for its `timeout` event: a listener for
  // it makes the policy capture the caller's async context on every call
  // (AsyncLocalStorage.snapshot, tens of µs on Node 20), which would drown what the other
  // layers cost. The standalone timeout case keeps that listener, as the telemetry bridges do.
  const layerEvents = made.layers
    ? Object.fromEntries(Object.entries(made.layers).map(([k, p]) => [k, listen(p, { skip: k === 'timeout' ? ['timeout'] : [] })]))
    : undefined;
  const execute = c.keyed
    ? (fn, options, i) => made.get(i === -1 ? HOT_KEY : keys[i % KEYS]).execute(fn, options)
    : (fn, options) => made.execute(fn, options);

  const own = { ...newTally(), fallbacks: 0, abortsBeforeFn: 0 };
  const mix = Object.fromEntries(KIND_NAMES.map((k) => [k, 0]));
  const unexpectedErrors = [];
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);

  // Heap and event-loop delay. The forced GC of a sample would show up as a stall of its own,
  // so the delay histogram is replaced after each sample: the ~10 ms right after a sample is
  // the only time not watched.
  const samples = [];
  const windowMaxNs = [];
  let gcSampleMaxMs = 0;
  let loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const closeLoopWindow = () => {
    loop.disable();
    if (loop.count > 0) windowMaxNs.push(loop.max);
  };
  // Collector pauses the runtime made by itself (not the forced ones): they explain most stalls.
  // Entries arrive asynchronously: the forced ones are told apart by when they started.
  const forcedWindows = [];
  const wasForced = (entry) => forcedWindows.some(([from, to]) => entry.startTime >= from && entry.startTime <= to);
  const gc = { count: 0, worstMs: 0, totalMs: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (wasForced(entry)) continue;
      gc.count++;
      gc.totalMs += entry.duration;
      gc.worstMs = Math.max(gc.worstMs, entry.duration);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  let settled = 0;
  const started = performance.now();
  const sample = () => {
    closeLoopWindow();
    const t0 = performance.now();
    fullGc();
    const heap = process.memoryUsage().heapUsed;
    const t1 = performance.now();
    gcSampleMaxMs = Math.max(gcSampleMaxMs, t1 - t0);
    forcedWindows.push([t0, t1]);
    if (forcedWindows.length > 8) forcedWindows.shift();
    samples.push({ atMs: Math.round(t0 - started), settled, heapMB: +(heap / MB).toFixed(3) });
    loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);

  let launched = 0;
  let inFlight = 0;
  let launchedThisTurn = 0;
  let driverYields = 0;
  const nextTurn = () => {
    launchedThisTurn = 0;
    pump();
  };
  let lastLog = started;
  let done;
  const finished = new Promise((resolve) => (done = resolve));

  const settle = () => {
    inFlight--;
    settled++;
    if (settled === calls) done();
    else pump();
  };
  const onValue = (value) => {
    own.successes++;
    if (value === FALLBACK_VALUE) own.fallbacks++;
    settle();
  };
  const onError = (error) => {
    const outcome = classify(error);
    own[outcome]++;
    if (outcome === 'unexpected' && unexpectedErrors.length < 3) unexpectedErrors.push(String(error?.stack ?? error));
    settle();
  };

  const launch = (i, surge) => {
    const kind = kindOf(i);
    mix[KIND_NAMES[kind]]++;
    inFlight++;
    const key = surge ? -1 : i;
    if (kind === ABORT) {
      const call = new AbortingCall();
      execute(call.fn, { signal: call.controller.signal }, key).then(onValue, (error) => {
        if (error === ABORT_REASON && !call.started) own.abortsBeforeFn++;
        onError(error);
      });
      setImmediate(abortCall, call);
      return;
    }
    const fn = kind === OK_NOW ? okNow : kind === OK_TURN ? okTurn : kind === FLAKY ? flaky : kind === SLOW ? slow : i & 2 || isBurst(i) ? failTurn : failNow;
    execute(fn, undefined, key).then(onValue, onError);
  };

  function pump() {
    while (inFlight < IN_FLIGHT && launched < calls) {
      // The first launch of a turn books the next turn, which starts the count again.
      if (launchedThisTurn === 0) setImmediate(nextTurn);
      if (launchedThisTurn >= MAX_LAUNCHES_PER_TURN) {
        driverYields++;
        break;
      }
      launchedThisTurn++;
      if (isSurgeStart(launched)) {
        const end = Math.min(launched + SURGE, calls);
        while (launched < end) launch(launched++, true);
      } else launch(launched++, false);
    }
    const now = performance.now();
    if (now - lastLog > 15_000) {
      lastLog = now;
      console.error(`  soak ${c.id}: ${settled.toLocaleString('en-US')} / ${calls.toLocaleString('en-US')} calls`);
    }
  }

  pump();
  await finished;
  const elapsedMs = performance.now() - started;
  clearInterval(sampler);
  sample();
  closeLoopWindow();
  const heapAtEndMB = samples.at(-1).heapMB;

  // Slow fns still hold their (ignored) timers for up to SLOW_MS: after that, nothing may remain.
  await new Promise((resolve) => setTimeout(resolve, SLOW_MS + 50));
  const timersLeft = timersAlive();
  gcObserver.disconnect();
  process.off('unhandledRejection', onUnhandled);

  return {
    id: c.id,
    label: c.label,
    calls,
    elapsedMs: Math.round(elapsedMs),
    callsPerSecond: Math.round((calls * 1000) / elapsedMs),
    mix,
    own,
    unexpectedErrors,
    events: events && { ...events, unexpectedErrors: undefined, unexpectedErrorSamples: events.unexpectedErrors },
    layers: layerEvents && Object.fromEntries(Object.entries(layerEvents).map(([k, t]) => [k, { ...t, unexpectedErrors: undefined }])),
    fnCalls,
    driverYields,
    outcomes: c.outcomes,
    heap: heapFigures(samples, calls, heapAtEndMB),
    loop: {
      resolutionMs: LOOP_RESOLUTION_MS,
      // Delay beyond the sampling interval: how late the loop was.
      worstDelayMs: lateMs(Math.max(0, ...windowMaxNs)),
      // The worst delay of a typical sampling window: a one-off stall, or a steady one?
      medianWindowWorstDelayMs: lateMs(median(windowMaxNs)),
      worstForcedGcMs: +gcSampleMaxMs.toFixed(1),
      worstGcPauseMs: +gc.worstMs.toFixed(1),
      gcPauses: gc.count,
      gcTotalMs: Math.round(gc.totalMs),
    },
    timersLeft,
    unhandledRejections: unhandled,
  };
}

/**
 * Warm-up is the first 10 % of the calls (JIT, shapes, pools reaching their size). Drift is
 * the median of the last three samples minus the median of the first three after warm-up;
 * the slope of a least-squares line over all of them is given too, per million calls.
 */
function heapFigures(samples, calls, heapAtEndMB) {
  const steady = samples.filter((s) => s.settled >= calls * 0.1);
  const first = steady.slice(0, 3).map((s) => s.heapMB);
  const last = steady.slice(-3).map((s) => s.heapMB);
  const figures = {
    sampleMs: SAMPLE_MS,
    samples: samples.length,
    steadySamples: steady.length,
    startMB: samples[0]?.heapMB,
    afterWarmupMB: first.length ? +median(first).toFixed(2) : null,
    endMB: heapAtEndMB,
    maxMB: +Math.max(...steady.map((s) => s.heapMB)).toFixed(2),
    driftMB: steady.length >= 2 ? +(median(last) - median(first)).toFixed(2) : null,
    slopeMBPerMillionCalls: null,
    series: thin(samples, 120),
  };
  if (steady.length >= 3) {
    const xs = steady.map((s) => s.settled / 1e6);
    const ys = steady.map((s) => s.heapMB);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let num = 0;
    let den = 0;
    for (let k = 0; k < xs.length; k++) {
      num += (xs[k] - mx) * (ys[k] - my);
      den += (xs[k] - mx) ** 2;
    }
    figures.slopeMBPerMillionCalls = den > 0 ? +(num / den).toFixed(3) : null;
  }
  return figures;
}

/** At most `n` samples, evenly spread, first and last kept: the JSON stays readable. */
function thin(samples, n) {
  if (samples.length <= n) return samples;
  const out = [];
  for (let k = 0; k < n; k++) out.push(samples[Math.round((k * (samples.length - 1)) / (n - 1))]);
  return out;
}

// ---------------------------------------------------------------- driver

if (args.caseId !== undefined) {
  const c = CASES.find((x) => x.id === args.caseId);
  if (c === undefined) throw new Error(`unknown case ${args.caseId}`);
  const result = await soak(c, CALLS);
  if (args.emitJson) process.stdout.write(`\n@@RESULT@@${JSON.stringify(result)}\n`);
  else console.dir(result, { depth: 4 });
  process.exit(0);
}

const started = performance.now();
console.error(`soak: ${CALLS.toLocaleString('en-US')} calls per case, ${CASES.length} cases, heap every ${SAMPLE_MS} ms`);
const results = [];
for (const c of CASES) {
  const extra = ['--calls', String(CALLS), ...(args.quick ? ['--quick'] : [])];
  // Generous (1 ms a call): a loaded machine may run a case at a hundredth of its usual speed.
  const timeoutMs = Math.max(120_000, CALLS);
  const r = await runChild('soak.mjs', ['--case', c.id, ...extra], { timeoutMs });
  results.push(r);
  console.error(
    `  ${c.id}: ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.callsPerSecond.toLocaleString('en-US')} calls/s, ` +
      `heap drift ${r.heap.driftMB ?? '—'} MB, worst loop delay ${r.loop.worstDelayMs} ms`,
  );
}
const data = {
  env: environment(),
  settings: {
    calls: CALLS, quick: args.quick, inFlight: IN_FLIGHT, maxLaunchesPerTurn: MAX_LAUNCHES_PER_TURN, sampleMs: SAMPLE_MS, timeoutMs: TIMEOUT_MS, slowMs: SLOW_MS,
    mix: { pSlow: P_SLOW, pAbort: P_ABORT, pFail: P_FAIL, pFlaky: P_FLAKY, burstEvery: BURST_EVERY, burstLen: BURST_LEN, surgeEvery: SURGE_EVERY, surge: SURGE },
  },
  results,
};
data.checks = evaluateSoak(data);
data.seconds = Math.round((performance.now() - started) / 1000);

if (args.writeDocs) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(SOAK_JSON, `${JSON.stringify(data, null, 2)}\n`);
  writeSoakDocs(data, readFileSync, writeFileSync);
  console.error(`wrote ${fileURLToPath(SOAK_JSON)} and the soak section of docs/benchmarks.md`);
}
if (args.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
else process.stdout.write(renderSoakSummary(data));
const failed = data.checks.filter((c) => c.kind === 'invariant' && !c.pass);
console.error(`soak: ${data.seconds} s; ${failed.length === 0 ? 'every counter adds up' : `${failed.length} invariant(s) broken`}`);
process.exit(failed.length === 0 ? 0 : 1);
