// One run of a scenario: start a downstream and an upstream, drive the upstream with an
// open-loop load through healthy → deploy (bad, or only slower) → rolled back, and measure
// everything.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { SCENARIOS } from './args.mjs';
import { closeServer, startDownstream } from './downstream.mjs';
import { createDownstreamClient } from './downstream-client.mjs';
import { runLoad, warmUp } from './load.mjs';
import { buildProtection } from './protection.mjs';
import { closedAfter, countReasons, limitSummary, openedAfter, round1, summarize } from './stats.mjs';
import { startUpstream } from './upstream.mjs';

const SAMPLE_EVERY_MS = 100;

/** How each run calls the downstream: not at all protected, behind a hand-sized bulkhead, or an adaptive limit. */
export const RUNS = ['unprotected', 'protected', 'adaptive'];

/**
 * @param {'unprotected' | 'protected' | 'adaptive'} run
 * @param {object} config  one scenario's config from parseConfig
 * @param {(sample: object) => void} [onSample]  called every 100 ms while the load runs
 */
export async function runScenario(run, config, onSample = () => {}) {
  // Built first: a dist without the policies fails here, before any server holds the process open.
  const protection =
    run === 'unprotected' ? undefined : buildProtection(config, run === 'adaptive' ? 'adaptive' : 'bulkhead');
  const name = `${config.scenario}/${run}`;
  const label = SCENARIOS[config.scenario].label;
  const downstream = await startDownstream(config);
  const client = createDownstreamClient(downstream.port);
  const upstream = await startUpstream(client, protection?.policy, config);
  await warmUp(upstream.port);
  client.meter.peakInFlight = client.meter.inFlight;
  client.meter.started = 0;
  downstream.resetCounters();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const durationMs = config.normalMs + config.badMs + config.healMs;
  const startAt = performance.now() + 50;
  const badFrom = startAt + config.normalMs;
  const badUntil = badFrom + config.badMs;
  downstream.scheduleBadDeploy(badFrom, badUntil);

  const load = runLoad({
    port: upstream.port,
    rps: config.rps,
    durationMs,
    startAt,
    // The slowest honest answer arrives one bad latency after the last request; allow slack.
    drainMs: config.badLatencyMs + config.normalLatencyMs + 10_000,
  });

  const timeline = [];
  const sampler = setInterval(() => {
    const now = performance.now();
    const sample = {
      name,
      tMs: Math.round(now - startAt),
      phase: now < badFrom ? 'healthy' : now < badUntil ? label : 'healed',
      durationMs,
      inFlight: client.meter.inFlight,
      breaker: protection?.breaker.state,
      ...(protection?.adaptive ? { limit: protection.limiter.limit } : {}),
      ...load.live,
    };
    timeline.push({ tMs: sample.tMs, inFlight: sample.inFlight, breaker: sample.breaker, limit: sample.limit });
    onSample(sample);
  }, SAMPLE_EVERY_MS);

  let raw;
  try {
    raw = await load.done;
  } finally {
    clearInterval(sampler);
    loopDelay.disable();
    await closeServer(upstream.server);
    client.close();
    await downstream.close();
  }

  const transitions = protection?.observed.transitions ?? [];
  const bad = summarize(raw, badFrom, badUntil);
  const all = summarize(raw, -Infinity, Infinity);
  const result = {
    sent: raw.count,
    total: all.total,
    succeeded: all.succeeded,
    failed: all.failed,
    shed: all.shed,
    // Who shed: the open breaker, or the bound on calls in flight (bulkhead or adaptive limit).
    shedByBreaker: countReasons(raw.reasons, ['503 ERR_CIRCUIT_OPEN']),
    shedByConcurrencyBound: countReasons(raw.reasons, ['503 ERR_BULKHEAD_FULL', '503 ERR_CONCURRENCY_LIMIT']),
    noAnswer: all.noAnswer,
    p50Ms: bad.p50Ms,
    p99Ms: bad.p99Ms,
    maxMs: bad.maxMs,
    peakInFlight: client.meter.peakInFlight,
    downstreamCalls: client.meter.started,
    downstreamCallsDuringBadDeploy: downstream.state.receivedDuringBad,
    downstreamPeakActive: downstream.state.peakActive,
    phases: {
      healthy: summarize(raw, -Infinity, badFrom),
      badDeploy: bad,
      healed: summarize(raw, badUntil, Infinity),
    },
    outcomes: Object.fromEntries([...raw.reasons].sort((a, b) => b[1] - a[1])),
    loadGenerator: {
      maxSendLagMs: round1(raw.live.maxSendLagMs),
      maxSendLagAtMs: round1(raw.live.maxSendLagAtMs),
      eventLoopDelayP99Ms: round1(loopDelay.percentile(99) / 1e6),
    },
    timeline,
  };
  if (protection !== undefined) {
    result.breakerOpenedAfterMs = openedAfter(transitions, badFrom, badUntil);
    result.breakerClosedAfterMs = closedAfter(transitions, badUntil);
    result.breakerTransitions = transitions.map(({ at, from, to }) => ({ tMs: round1(at - startAt), from, to }));
    result.retries = protection.observed.retries;
    const boundShedsDuring = protection.observed.boundRejections.filter((at) => at >= badFrom && at < badUntil);
    result.boundShedsDuringBadDeploy = boundShedsDuring.length;
    result.lastBoundShedAfterMs = boundShedsDuring.length === 0 ? null : round1(boundShedsDuring.at(-1) - badFrom);
  }
  if (protection?.adaptive) {
    result.adaptiveLimit = limitSummary(protection.observed, badFrom, badUntil);
  }
  return result;
}
