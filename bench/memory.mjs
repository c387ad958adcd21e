// Retained heap per circuit breaker and per active key of a keyed limiter, vs the peers.
// Run: node --expose-gc bench/memory.mjs [--quick]
import * as ck from 'cockatiel';
import { createRequire } from 'node:module';
import { TokenBucket } from 'limiter';
import { bw, missing } from './lib/bw.mjs';
import { caseArg, emit, isQuick, runCasesIsolated } from './lib/child.mjs';
import { heapUsed } from './lib/stats.mjs';

const require = createRequire(import.meta.url);
const Opossum = require('opossum');
const { RateLimiterMemory } = require('rate-limiter-flexible');

const quick = isQuick();
const BREAKERS = quick ? 2_000 : 10_000;
const KEYS = quick ? 20_000 : 100_000;
const ok = async () => 1;

/**
 * Creates `n` instances (each then serves one successful call, so lazily built state exists),
 * keeps them reachable, and returns the retained bytes per instance after a full GC. The
 * holding array is allocated before the first reading so it is not counted.
 */
async function perInstance(create, use, dispose, n) {
  // Warm up: shapes, maps and code are created once per process, not per instance.
  const warm = [];
  for (let i = 0; i < 100; i++) warm.push(create());
  for (const x of warm) await use(x);
  const held = new Array(n).fill(0);
  const before = heapUsed();
  for (let i = 0; i < n; i++) held[i] = create();
  for (let i = 0; i < n; i++) await use(held[i]);
  const after = heapUsed();
  if (dispose) for (const x of [...warm, ...held]) dispose(x);
  return Math.round((after - before) / n);
}

const breakerCases = [
  {
    id: 'bw.breaker', lib: 'breakwater', label: 'circuitBreaker({ halfOpenAfterMs }) (consecutive failures)',
    unavailable: missing('circuitBreaker'),
    create: () => bw.circuitBreaker({ halfOpenAfterMs: 60_000 }),
    use: (b) => b.execute(ok),
  },
  {
    id: 'bw.breakerCalls', lib: 'breakwater', label: 'circuitBreaker, failureRatio over windowCalls: 100',
    unavailable: missing('circuitBreaker'),
    create: () => bw.circuitBreaker({ halfOpenAfterMs: 60_000, failureRatio: 0.5, windowCalls: 100, minimumThroughput: 10 }),
    use: (b) => b.execute(ok),
  },
  {
    id: 'bw.breakerTime', lib: 'breakwater', label: 'circuitBreaker, failureRatio over windowMs: 10 000',
    unavailable: missing('circuitBreaker'),
    create: () => bw.circuitBreaker({ halfOpenAfterMs: 60_000, failureRatio: 0.5, windowMs: 10_000, minimumThroughput: 10 }),
    use: (b) => b.execute(ok),
  },
  {
    id: 'ck.breaker', lib: 'cockatiel', label: 'circuitBreaker(ConsecutiveBreaker(5))',
    create: () => ck.circuitBreaker(ck.handleAll, { halfOpenAfter: 60_000, breaker: new ck.ConsecutiveBreaker(5) }),
    use: (b) => b.execute(ok),
  },
  {
    id: 'ck.breakerSampling', lib: 'cockatiel', label: 'circuitBreaker(SamplingBreaker 50 % over 10 s)',
    create: () => ck.circuitBreaker(ck.handleAll, { halfOpenAfter: 60_000, breaker: new ck.SamplingBreaker({ threshold: 0.5, duration: 10_000 }) }),
    use: (b) => b.execute(ok),
  },
  {
    id: 'op.breaker', lib: 'opossum', label: 'new CircuitBreaker(fn, { timeout: false })',
    create: () => new Opossum(ok, { timeout: false }),
    use: (b) => b.fire(),
    dispose: (b) => b.shutdown(),
  },
];

// Keys are built before the first reading: every library keeps them, so they would add the
// same ~20 B to each; what is compared is each library's own per-key state.
const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);

async function perKey(make, take) {
  const limiter = make();
  for (let i = 0; i < 100; i++) await take(limiter, `warm:${i}`);
  const before = heapUsed();
  for (let i = 0; i < KEYS; i += 1_000) {
    const batch = [];
    for (let j = i; j < i + 1_000 && j < KEYS; j++) batch.push(take(limiter, keys[j]));
    await Promise.all(batch);
  }
  const after = heapUsed();
  const bytes = Math.round((after - before) / KEYS);
  return { bytes, limiter };
}

const keyCases = [
  {
    id: 'bw.keyed', lib: 'breakwater', label: 'keyedRateLimiter(…).get(key).tryAcquire()',
    unavailable: missing('keyedRateLimiter'),
    // Refill is slow so no bucket is full again (and forgettable) during the measurement.
    make: () => bw.keyedRateLimiter({ capacity: 10, refillPerSecond: 0.001, maxKeys: KEYS * 2 }),
    take: (l, key) => {
      if (!l.get(key).tryAcquire()) throw new Error('breakwater keyed limiter refused the first token');
    },
  },
  {
    id: 'rlf.memory', lib: 'rate-limiter-flexible', label: 'RateLimiterMemory.consume(key)',
    make: () => new RateLimiterMemory({ points: 10, duration: 3_600 }),
    take: (l, key) => l.consume(key),
  },
  {
    id: 'lim.map', lib: 'limiter', label: 'Map<key, TokenBucket> (hand-rolled)',
    make: () => new Map(),
    take: (map, key) => {
      let bucket = map.get(key);
      if (bucket === undefined) {
        bucket = new TokenBucket({ bucketSize: 10, tokensPerInterval: 1, interval: 'hour' });
        bucket.content = 10;
        map.set(key, bucket);
      }
      bucket.tryRemoveTokens(1);
    },
  },
];

async function runCase(c) {
  if (c.kind === 'breaker') {
    const bytes = await perInstance(c.create, c.use, c.dispose, BREAKERS);
    console.error(`  memory: ${c.lib} ${c.label}: ${bytes} B per breaker`);
    return { id: c.id, kind: c.kind, lib: c.lib, label: c.label, bytes };
  }
  const { bytes } = await perKey(c.make, c.take);
  console.error(`  memory: ${c.lib} ${c.label}: ${bytes} B per key`);
  return { id: c.id, kind: c.kind, lib: c.lib, label: c.label, bytes };
}

const cases = [
  ...breakerCases.map((c) => ({ ...c, kind: 'breaker' })),
  ...keyCases.map((c) => ({ ...c, kind: 'key' })),
];
const results = await runCasesIsolated('memory.mjs', cases, runCase);
const kindOf = (r) => cases.find((c) => c.id === r.id).kind;
emit(
  caseArg()
    ? results
    : {
        breakers: results.filter((r) => kindOf(r) === 'breaker'),
        keyed: results.filter((r) => kindOf(r) === 'key'),
        instances: BREAKERS,
        keys: KEYS,
      },
);
process.exit(0); // rate-limiter-flexible keeps one (unref'd) timer per key
