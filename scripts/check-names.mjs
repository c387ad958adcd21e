// What users read in logs and stack traces: every exported class is named after its export,
// every error prints as `Name: message`, and a policy's `constructor.name` is its class.
// scripts/pack-smoke.mjs runs this on the installed tarball; test/package/names.test.ts on dist/.

/** Arguments that build one instance of each exported error class (null: abstract). */
export const errorArguments = {
  BreakwaterError: null,
  CircuitOpenError: () => [1000],
  CircuitIsolatedError: () => [],
  BulkheadFullError: () => [],
  RateLimitedError: () => [40],
  TimeoutError: () => [250],
  ConcurrencyLimitError: () => [],
  DownstreamError: () => [],
  RequestRefusedError: () => [{ status: 503, code: 'ERR_BULKHEAD_FULL', message: 'Server is at capacity', retryAfterSeconds: 1 }, undefined, {}],
  RateLimiterUnavailableError: () => [],
  HttpStatusError: () => [new Response(null, { status: 503, statusText: 'Service Unavailable' }), undefined],
};

/** Factory → arguments and the class its policy is an instance of. */
const factories = {
  pipeline: [[], 'Pipeline'],
  timeout: [[100], 'TimeoutPolicy'],
  retry: [[{ maxRetries: 1 }], 'RetryPolicy'],
  fallback: [['fallback value'], 'FallbackPolicy'],
  circuitBreaker: [[{ halfOpenAfterMs: 1000 }], 'CircuitBreaker'],
  bulkhead: [[{ maxConcurrent: 1 }], 'Bulkhead'],
  rateLimiter: [[{ capacity: 1, refillPerSecond: 1 }], 'RateLimiter'],
  keyedRateLimiter: [[{ capacity: 1, refillPerSecond: 1 }], 'KeyedRateLimiter'],
  hedge: [[{ delayMs: 10 }], 'HedgePolicy'],
  chaos: [[{ injectionRate: 0, result: 1 }], 'ChaosPolicy'],
};

export function isClass(value) {
  return typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value));
}

/** Problems found in one loaded module (an empty list when every name is right). */
export function nameProblems(mod) {
  const problems = [];
  for (const [exportName, value] of Object.entries(mod)) {
    if (!isClass(value)) continue;
    if (value.name !== exportName) problems.push(`class ${exportName} is named ${JSON.stringify(value.name)}`);
    if (!(value.prototype instanceof Error)) continue;
    if (value.prototype.name !== exportName) {
      problems.push(`${exportName}.prototype.name is ${JSON.stringify(value.prototype.name)}`);
    }
    if (!(exportName in errorArguments)) {
      problems.push(`error class ${exportName} has no sample arguments in scripts/check-names.mjs`);
      continue;
    }
    const args = errorArguments[exportName];
    if (args === null) continue;
    const builds = [['new', () => new value(...args())]];
    if (typeof value.fast === 'function') builds.push(['fast', () => value.fast(...args())]);
    for (const [how, build] of builds) {
      const error = build();
      const label = `${how === 'new' ? 'new ' : ''}${exportName}${how === 'fast' ? '.fast' : ''}()`;
      const expected = `${exportName}: ${error.message}`;
      if (error.name !== exportName) problems.push(`${label}.name is ${JSON.stringify(error.name)}`);
      if (String(error) !== expected) problems.push(`String(${label}) is ${JSON.stringify(String(error))}`);
      const header = String(error.stack).split('\n')[0];
      if (header !== expected) problems.push(`${label}.stack starts ${JSON.stringify(header)}`);
    }
  }
  for (const [factory, [args, className]] of Object.entries(factories)) {
    if (typeof mod[factory] !== 'function') continue;
    const name = mod[factory](...args).constructor.name;
    if (name !== className) problems.push(`${factory}().constructor.name is ${JSON.stringify(name)}, not ${className}`);
  }
  return problems;
}
