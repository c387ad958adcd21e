// Every throughput row, grouped so each breakwater row sits next to its peers.
import { breakwaterRows } from './breakwater.mjs';
import { cockatielRows } from '../peers/cockatiel.mjs';
import { opossumRows } from '../peers/opossum.mjs';
import { pLimitRows } from '../peers/p-limit.mjs';
import { limiterRows } from '../peers/limiter.mjs';
import { rateLimiterFlexibleRows } from '../peers/rate-limiter-flexible.mjs';

export const groups = [
  ['breaker', 'Circuit breaker, closed'],
  ['breaker-open', 'Circuit breaker, open (fast rejection)'],
  ['bulkhead', 'Bulkhead / concurrency limit'],
  ['rate-limiter', 'Rate limiter, never rejecting'],
  ['rate-limiter-reject', 'Rate limiter, rejecting'],
  ['retry', 'Retry, no failure'],
  ['timeout', 'Timeout, fn ignores the signal'],
  ['timeout-signal', 'Timeout, fn reads the signal'],
  ['fallback', 'Fallback, no failure'],
  ['pipeline', 'Four policies composed, fn ignores the signal'],
  ['pipeline-signal', 'Four policies composed, fn reads the signal'],
  ['proof', 'Zero-listener proof'],
];

const all = [
  ...breakwaterRows,
  ...cockatielRows,
  ...opossumRows,
  ...pLimitRows,
  ...limiterRows,
  ...rateLimiterFlexibleRows,
];

export const rows = groups.flatMap(([group]) => all.filter((row) => row.group === group));
