// Every public factory, described by its options: what each option accepts and refuses, and
// the other options it needs beside it. The option lists are complete: a factory refuses any
// other key, so a property over unknown keys checks them against these lists.
import fc from 'fast-check';
import { bw, redis, sim, TestClock } from './built.js';
import {
  notNumber,
  backoffs,
  budgets,
  clocks,
  functions,
  names,
  notFunction,
  numberOrFunction,
  numbers,
  oneOf,
  randoms,
  type OptionValues,
} from './arbitraries.js';

export interface OptionSpec {
  readonly valid: fc.Arbitrary<unknown>;
  /** Absent when every value is valid (a chaos fault may be anything). */
  readonly invalid?: fc.Arbitrary<unknown>;
  /** Options this one needs beside it (a ratio needs a window, a queue timeout needs a queue). */
  readonly with?: Readonly<Record<string, unknown>>;
  /** Options that must be absent when this one is given (`fault` excludes `latencyMs`). */
  readonly without?: readonly string[];
}

export interface FactorySpec {
  /** Builds from one options object; for `simulate`, returns its promise. */
  readonly build: (options: unknown) => unknown;
  /** The smallest valid options object. */
  readonly base: () => Record<string, unknown>;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Prefix of option names in error messages (`load.` for a scenario's `load` object). */
  readonly prefix?: string;
  /** Positional arguments dressed as an object: no unknown-key or container checks. */
  readonly positional?: boolean;
  /** `build` returns a promise that rejects instead of throwing. */
  readonly async?: boolean;
}

/** A client object with the right method names, for option validation only: it never decides. */
const fakeRedisClient = (): object => ({
  evalsha: () => Promise.reject(new Error('fake client: never used for decisions')),
  eval: () => Promise.reject(new Error('fake client: never used for decisions')),
});

const anything: fc.Arbitrary<unknown> = fc.anything({ maxDepth: 1 }).filter((v) => v !== undefined);

const limits: OptionValues = {
  valid: fc.oneof(
    fc.constant(null).map(() => bw.gradient2Limit()),
    fc.constant(null).map(() => bw.vegasLimit({ random: () => 0.5 })),
    fc.constant(null).map(() => bw.aimdLimit()),
    fc.constant(null).map(() => bw.windowedLimit(bw.aimdLimit(), { clock: new TestClock() })),
    fc.integer({ min: 1, max: 1000 }).map((limit) => ({ limit, onSample: () => {} })),
  ),
  invalid: fc.oneof(
    notFunction,
    fc.constant({}),
    fc.constantFrom(0, 0.5, -1, Number.NaN, '5', null).map((limit) => ({ limit, onSample: () => {} })),
    fc.constant({ limit: 5 }),
    fc.constant({ limit: 5, onSample: 1 }),
    fc.constant({ limit: 5, onSample: () => {}, subscribe: 'yes' }),
  ),
};

const snapshots: OptionValues = {
  valid: fc.constant(null).map(() => bw.circuitBreaker({ halfOpenAfterMs: 100, clock: new TestClock() }).toJSON()),
  invalid: fc.oneof(
    notFunction,
    fc.constant({}),
    fc.constant(null).map(() => ({ ...bw.circuitBreaker({ halfOpenAfterMs: 100, clock: new TestClock() }).toJSON(), version: 2 })),
    fc.constant(null).map(() => ({ ...bw.circuitBreaker({ halfOpenAfterMs: 100, clock: new TestClock() }).toJSON(), openings: -1 })),
  ),
};

const bucket = {
  capacity: numbers({ min: 1 }),
  refillPerSecond: numbers({ above: 0 }),
  maxWaitMs: numbers({ min: 0, infinite: true }),
  clock: clocks,
  name: names,
};

const WINDOW = { failureRatio: 0.5, windowMs: 1000 };

export const FACTORIES: Readonly<Record<string, FactorySpec>> = {
  'timeout(ms)': {
    build: (o) => bw.timeout((o as { ms: number }).ms),
    base: () => ({ ms: 1000 }),
    options: { ms: numbers({ above: 0 }) },
    positional: true,
  },
  timeout: {
    build: (o) => bw.timeout(1000, o as never),
    base: () => ({}),
    options: { clock: clocks, name: names },
  },
  retry: {
    build: (o) => bw.retry(o as never),
    base: () => ({ maxRetries: 2 }),
    options: {
      maxRetries: numbers({ min: 0, integer: true, infinite: true }),
      backoff: backoffs,
      maxDelayMs: numbers({ min: 0 }),
      handle: functions,
      handleResult: functions,
      budget: budgets,
      clock: clocks,
      random: randoms,
      name: names,
    },
  },
  circuitBreaker: {
    build: (o) => bw.circuitBreaker(o as never),
    base: () => ({ halfOpenAfterMs: 1000 }),
    options: {
      halfOpenAfterMs: {
        valid: fc.oneof(numbers({ above: 0 }).valid, backoffs.valid.filter((b) => (b as { maxMs: number }).maxMs > 0)),
        invalid: fc.oneof(numbers({ above: 0 }).invalid, fc.constant(bw.constantBackoff(0))),
      },
      consecutiveFailures: numbers({ min: 1, integer: true }),
      failureRatio: { ...numbers({ above: 0, max: 1 }), with: { windowCalls: 10 } },
      windowMs: { ...numbers({ above: 0 }), with: { failureRatio: 0.5 } },
      windowBuckets: { ...numbers({ min: 1, max: 10_000, integer: true }), with: WINDOW },
      windowCalls: { ...numbers({ min: 1, max: 1_000_000, integer: true }), with: { failureRatio: 0.5 } },
      minimumThroughput: { ...numbers({ min: 0, integer: true }), with: WINDOW },
      slowCallMs: { ...numbers({ min: 0 }), with: { slowCallRatio: 0.5, windowMs: 1000 } },
      slowCallRatio: { ...numbers({ above: 0, max: 1 }), with: { slowCallMs: 100, windowMs: 1000 } },
      halfOpenProbes: numbers({ min: 1, integer: true }),
      probeTimeoutMs: numbers({ above: 0 }),
      handle: functions,
      handleResult: functions,
      initialState: snapshots,
      clock: clocks,
      random: randoms,
      name: names,
    },
  },
  bulkhead: {
    build: (o) => bw.bulkhead(o as never),
    base: () => ({ maxConcurrent: 2 }),
    options: {
      maxConcurrent: numbers({ min: 1, integer: true }),
      maxQueue: numbers({ min: 0, integer: true, infinite: true }),
      queueTimeoutMs: { ...numbers({ above: 0, infinite: true }), with: { maxQueue: 5 } },
      clock: clocks,
      name: names,
    },
  },
  rateLimiter: {
    build: (o) => bw.rateLimiter(o as never),
    base: () => ({ capacity: 10, refillPerSecond: 10 }),
    options: bucket,
  },
  keyedRateLimiter: {
    build: (o) => bw.keyedRateLimiter(o as never),
    base: () => ({ capacity: 10, refillPerSecond: 10 }),
    options: { ...bucket, maxKeys: numbers({ min: 1, integer: true }) },
  },
  fallback: {
    build: (o) => bw.fallback('fallback', o as never),
    base: () => ({}),
    options: { clock: clocks, handle: functions, handleResult: functions, name: names },
  },
  pipeline: {
    build: (o) => bw.pipeline(o as never, bw.timeout(1000)),
    base: () => ({}),
    options: { clock: clocks, name: names },
  },
  adaptiveConcurrency: {
    build: (o) => bw.adaptiveConcurrency(o as never),
    base: () => ({}),
    options: {
      limit: limits,
      maxQueue: numbers({ min: 0, integer: true, infinite: true }),
      queueTimeoutMs: { ...numbers({ above: 0, infinite: true }), with: { maxQueue: 5 } },
      isDrop: functions,
      clock: clocks,
      name: names,
    },
  },
  gradient2Limit: {
    build: (o) => bw.gradient2Limit(o as never),
    base: () => ({}),
    options: {
      // Defaults: initialLimit 20, minLimit 20, maxConcurrency 200; initialLimit within [min, max].
      initialLimit: numbers({ min: 20, max: 200, integer: true }),
      minLimit: numbers({ min: 1, max: 20, integer: true }),
      maxConcurrency: numbers({ min: 20, integer: true }),
      smoothing: numbers({ above: 0, max: 1 }),
      queueSize: numberOrFunction({ min: 0 }),
      longWindow: numbers({ min: 1, integer: true }),
      rttTolerance: numbers({ min: 1 }),
    },
  },
  vegasLimit: {
    build: (o) => bw.vegasLimit(o as never),
    base: () => ({}),
    options: {
      // Defaults: initialLimit 20, minLimit 1, maxConcurrency 1000.
      initialLimit: numbers({ min: 1, max: 1000, integer: true }),
      maxConcurrency: numbers({ min: 20, integer: true }),
      minLimit: numbers({ min: 1, max: 20, integer: true }),
      smoothing: numbers({ above: 0, max: 1 }),
      alpha: numberOrFunction({ min: 0 }),
      beta: numberOrFunction({ min: 0 }),
      threshold: numberOrFunction({ min: 0 }),
      increase: functions,
      decrease: functions,
      probeMultiplier: numbers({ min: 1, integer: true }),
      random: randoms,
    },
  },
  aimdLimit: {
    build: (o) => bw.aimdLimit(o as never),
    base: () => ({}),
    options: {
      // Defaults: initialLimit 20, minLimit 20, maxLimit 200.
      initialLimit: numbers({ min: 20, max: 200, integer: true }),
      minLimit: numbers({ min: 1, max: 20, integer: true }),
      maxLimit: numbers({ min: 20, integer: true }),
      backoffRatio: {
        valid: fc.double({ min: 0.5, max: 1, maxExcluded: true, noNaN: true }),
        invalid: fc.oneof(numbers({ min: 0.5, max: 1 }).invalid, fc.constant(1)),
      },
      timeoutMs: numbers({ above: 0, infinite: true }),
    },
  },
  'windowedLimit(limit)': {
    build: (o) => bw.windowedLimit((o as { limit: never }).limit),
    base: () => ({ limit: bw.aimdLimit() }),
    options: { limit: { valid: limits.valid, invalid: fc.oneof(notFunction, fc.constant({}), fc.constant({ limit: 5 })) } },
    positional: true,
  },
  windowedLimit: {
    build: (o) => bw.windowedLimit(bw.aimdLimit(), o as never),
    base: () => ({}),
    options: {
      // Defaults: both windows 1000 ms; minWindowMs ≤ maxWindowMs.
      minWindowMs: numbers({ min: 100, max: 1000 }),
      maxWindowMs: numbers({ min: 1000 }),
      windowSize: numbers({ min: 10, integer: true }),
      minRttThresholdMs: numbers({ min: 0 }),
      clock: clocks,
    },
  },
  hedge: {
    build: (o) => bw.hedge(o as never),
    base: () => ({ delayMs: 10 }),
    options: {
      maxAttempts: numbers({ min: 1, max: 10, integer: true }),
      delayMs: numbers({ min: 0, infinite: true }),
      delayPercentile: { ...numbers({ above: 0, max: 1 }), without: ['delayMs'] },
      handle: functions,
      budget: budgets,
      clock: clocks,
      name: names,
    },
  },
  chaos: {
    build: (o) => bw.chaos(o as never),
    base: () => ({ injectionRate: 0.5, latencyMs: 10 }),
    options: {
      injectionRate: numbers({ min: 0, max: 1 }),
      enabled: {
        valid: fc.constantFrom(true, false, () => true),
        invalid: notFunction.filter((v) => typeof v !== 'boolean'),
      },
      latencyMs: { valid: fc.oneof(numbers({ min: 0 }).valid, fc.constant(() => 5)), invalid: numbers({ min: 0 }).invalid.filter((v) => typeof v !== 'function') },
      fault: { valid: anything, without: ['latencyMs'] },
      result: { valid: anything, without: ['latencyMs'] },
      random: randoms,
      clock: clocks,
      name: names,
    },
  },
  redisRateLimiter: {
    build: (o) => redis.redisRateLimiter(o as never),
    base: () => ({ client: fakeRedisClient(), capacity: 10, refillPerSecond: 10 }),
    options: {
      client: {
        valid: fc.constant(null).map(fakeRedisClient),
        invalid: fc.oneof(notFunction, fc.constant({}), fc.constant({ eval: () => 1 }), fc.constant({ evalsha: () => 1 }), fc.constant({ evalSha: () => 1 })),
      },
      ...bucket,
      prefix: { valid: fc.string({ maxLength: 8 }), invalid: notFunction.filter((v) => typeof v !== 'string') },
      redisTimeoutMs: numbers({ above: 0 }),
      onUnavailable: oneOf(['local', 'allow', 'reject']),
    },
  },
  simulate: {
    build: (o) => sim.simulate(o as never),
    base: () => ({ durationMs: 200, drainMs: 100, load: { rps: 20 }, downstream: { servers: 1, latencyMs: 5 } }),
    options: {
      // Valid values are kept small: a valid scenario runs.
      durationMs: { valid: fc.integer({ min: 1, max: 300 }), invalid: numbers({ above: 0 }).invalid },
      seed: {
        valid: fc.oneof(fc.integer(), fc.constantFrom(-(2 ** 53), 2 ** 53, 0, -0)),
        invalid: fc.oneof(notNumber, fc.constantFrom(Number.NaN, Infinity, -Infinity, 0.5, -1e-9)),
      },
      drainMs: { valid: fc.integer({ min: 0, max: 300 }), invalid: numbers({ min: 0 }).invalid },
      name: { valid: fc.string({ maxLength: 8 }), invalid: notFunction.filter((v) => typeof v !== 'string') },
      sloMs: numbers({ above: 0 }),
      policy: { valid: fc.constant((env: { clock: never }) => bw.timeout(50, { clock: env.clock })), invalid: notFunction },
      callers: { valid: fc.constant({ timeoutMs: 20, retries: 1 }), invalid: fc.oneof(notFunction, fc.constant({ timeout: 20 })) },
      load: { valid: fc.constant({ rps: 10 }), invalid: fc.oneof(notFunction, fc.constant({}), fc.constant({ rate: 10 })) },
      downstream: { valid: fc.constant({ servers: 2, latencyMs: 3 }), invalid: fc.oneof(notFunction, fc.constant({ servers: 1 })) },
    },
    async: true,
  },
  'simulate load': {
    build: (o) => sim.simulate({ durationMs: 200, drainMs: 100, load: o as never, downstream: { servers: 1, latencyMs: 5 } }),
    base: () => ({ rps: 20 }),
    prefix: 'load.',
    options: {
      rps: { valid: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant([{ atMs: 0, rps: 10 }, { atMs: 100, rps: 0 }])), invalid: fc.oneof(numbers({ min: 0 }).invalid, fc.constant([{ atMs: 0, rps: -1 }])) },
      arrivals: oneOf(['poisson', 'uniform']),
      instances: { valid: fc.integer({ min: 1, max: 3 }), invalid: numbers({ min: 1, integer: true }).invalid },
    },
    async: true,
  },
  'simulate downstream': {
    build: (o) => sim.simulate({ durationMs: 200, drainMs: 100, load: { rps: 20 }, downstream: o as never }),
    base: () => ({ servers: 1, latencyMs: 5 }),
    prefix: 'downstream.',
    options: {
      servers: { valid: fc.integer({ min: 1, max: 100 }), invalid: numbers({ min: 1, integer: true }).invalid },
      latencyMs: {
        valid: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant({ exponential: { meanMs: 5 } }), fc.constant({ constant: 3 })),
        invalid: fc.oneof(numbers({ min: 0 }).invalid, fc.constant({ gaussian: 3 })),
      },
      errorRate: numbers({ min: 0, max: 1 }),
      phases: {
        valid: fc.constant([{ atMs: 100, errorRate: 0.5, label: 'bad deploy' }]),
        invalid: fc.oneof(notFunction, fc.constant([{ atMs: -1 }]), fc.constant([{ at: 5 }])),
      },
    },
    async: true,
  },
};
