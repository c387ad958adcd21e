// The per-policy rows that compare builds side by side (bench/compare.mjs in time,
// bench/instructions.mjs in instructions): [id, label, factory of the policy from a build's exports].

/** The per-policy rows, as bench/lib/breakwater.mjs builds them. */
export const POLICY_ROWS = [
  ['timeout', 'timeout(10 s)', (bw) => bw.timeout(10_000)],
  ['retry', 'retry (maxRetries 3)', (bw) => bw.retry({ maxRetries: 3 })],
  ['breaker', 'circuitBreaker (closed)', (bw) => bw.circuitBreaker({ halfOpenAfterMs: 60_000 })],
  ['bulkhead', 'bulkhead (maxConcurrent 1000)', (bw) => bw.bulkhead({ maxConcurrent: 1_000 })],
  ['rateLimiter', 'rateLimiter (never rejects)', (bw) => bw.rateLimiter({ capacity: 1e9, refillPerSecond: 1e9 })],
  ['fallback', 'fallback (no failure)', (bw) => bw.fallback(0)],
  // Every estimator pinned at 1000, like the bulkhead's 1000 slots: no call ever waits, and
  // the rows differ from the bulkhead by what it costs to time each call and feed the estimator.
  [
    'adaptive',
    'adaptiveConcurrency (windowed Gradient2, the default, pinned at 1000)',
    (bw) =>
      bw.adaptiveConcurrency({
        limit: bw.windowedLimit(bw.gradient2Limit({ initialLimit: 1_000, minLimit: 1_000, maxConcurrency: 1_000 })),
      }),
  ],
  [
    'adaptiveGradient2',
    'adaptiveConcurrency (Gradient2 per call, pinned at 1000)',
    (bw) => bw.adaptiveConcurrency({ limit: bw.gradient2Limit({ initialLimit: 1_000, minLimit: 1_000, maxConcurrency: 1_000 }) }),
  ],
  [
    'adaptiveVegas',
    'adaptiveConcurrency (Vegas per call, pinned at 1000)',
    (bw) => bw.adaptiveConcurrency({ limit: bw.vegasLimit({ initialLimit: 1_000, minLimit: 1_000, maxConcurrency: 1_000 }) }),
  ],
  [
    'adaptiveAimd',
    'adaptiveConcurrency (AIMD per call, pinned at 1000)',
    (bw) => bw.adaptiveConcurrency({ limit: bw.aimdLimit({ initialLimit: 1_000, minLimit: 1_000, maxLimit: 1_000 }) }),
  ],
  [
    'pipeline',
    'pipeline(retry, breaker, bulkhead, timeout)',
    (bw) =>
      bw.pipeline(
        bw.retry({ maxRetries: 3 }),
        bw.circuitBreaker({ halfOpenAfterMs: 60_000 }),
        bw.bulkhead({ maxConcurrent: 1_000 }),
        bw.timeout(10_000),
      ),
  ],
];
