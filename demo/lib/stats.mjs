// Turns one run's raw measurements into the numbers the report prints.
import { OUTCOME } from './load.mjs';

/** Nearest-rank percentile of a sorted array (p in 0..100); null when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const round1 = (value) => (value === null ? null : Math.round(value * 10) / 10);

/** Outcome counts and latency percentiles of the requests due in [from, until). */
export function summarize(load, from, until) {
  const latencies = [];
  const counts = { sent: 0, succeeded: 0, failed: 0, shed: 0, noAnswer: 0 };
  for (let i = 0; i < load.count; i++) {
    const due = load.dueAt[i];
    if (due < from || due >= until) continue;
    counts.sent++;
    const outcome = load.outcome[i];
    if (outcome === OUTCOME.SUCCEEDED) counts.succeeded++;
    else if (outcome === OUTCOME.FAILED) counts.failed++;
    else if (outcome === OUTCOME.SHED) counts.shed++;
    else {
      counts.noAnswer++;
      continue;
    }
    latencies.push(load.latencyMs[i]);
  }
  latencies.sort((a, b) => a - b);
  return {
    ...counts,
    total: counts.succeeded + counts.failed + counts.shed,
    p50Ms: round1(percentile(latencies, 50)),
    p99Ms: round1(percentile(latencies, 99)),
    maxMs: round1(latencies.length === 0 ? null : latencies[latencies.length - 1]),
  };
}

/** How many answers had one of these reasons (`<status> <code>`, as the load generator records them). */
export function countReasons(reasons, which) {
  let count = 0;
  for (const reason of which) count += reasons.get(reason) ?? 0;
  return count;
}

/** The breaker's state at time t, given its transitions in order (closed before the first). */
export function stateAt(transitions, t) {
  let state = 'closed';
  for (const { at, to } of transitions) {
    if (at > t) break;
    state = to;
  }
  return state;
}

/**
 * ms from the start of the bad deploy until the breaker opened (0 if it was already open);
 * null if it never opened during the bad deploy.
 */
export function openedAfter(transitions, badFrom, badUntil) {
  if (stateAt(transitions, badFrom) === 'open') return 0;
  const hit = transitions.find(({ at, to }) => to === 'open' && at >= badFrom && at < badUntil);
  return hit === undefined ? null : round1(hit.at - badFrom);
}

/** ms from the end of the bad deploy until the breaker was closed again (0 if it already was); null if never. */
export function closedAfter(transitions, badUntil) {
  if (stateAt(transitions, badUntil) === 'closed') return 0;
  const hit = transitions.find(({ at, to }) => to === 'closed' && at > badUntil);
  return hit === undefined ? null : round1(hit.at - badUntil);
}

/**
 * The adaptive limit around the bad deploy, from its changes in order (`initialLimit` before
 * the first): the limit when it began, its lowest and highest while it lasted, and at the end.
 */
export function limitSummary({ initialLimit, limitChanges }, badFrom, badUntil) {
  let limit = initialLimit;
  let i = 0;
  for (; i < limitChanges.length && limitChanges[i].at <= badFrom; i++) limit = limitChanges[i].to;
  const atBadDeploy = limit;
  let min = limit;
  let max = limit;
  for (; i < limitChanges.length && limitChanges[i].at < badUntil; i++) {
    limit = limitChanges[i].to;
    min = Math.min(min, limit);
    max = Math.max(max, limit);
  }
  const atEnd = limitChanges.length === 0 ? initialLimit : limitChanges[limitChanges.length - 1].to;
  return { atBadDeploy, minDuringBadDeploy: min, maxDuringBadDeploy: max, atEnd, changes: limitChanges.length };
}

export { round1 };
