// Heap bytes each call allocates, per policy, for several builds side by side: a count that
// the load of a shared machine does not move (unlike ns), to tell GC pressure apart.
//   node --expose-gc --max-semi-space-size=128 bench/bytes-per-call.mjs wave1=/path/to/dist now=dist [only=retry,fallback]
// 100 calls in flight, fn resolves at once; the young generation is made big enough that no
// scavenge runs while 2 000 calls are counted. Best of 3, minus the bare `await fn()` loop.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (typeof globalThis.gc !== 'function') {
  process.stderr.write('bench/bytes-per-call: run with node --expose-gc --max-semi-space-size=128\n');
  process.exit(2);
}
const builds = [];
let only;
for (const arg of process.argv.slice(2)) {
  const [key, value] = arg.split('=');
  if (key === 'only') only = value.split(',');
  else builds.push({ name: key, bw: await import(pathToFileURL(resolve(value, 'index.js')).href) });
}
const policies = {
  retry: (bw) => bw.retry({ maxRetries: 3 }),
  breaker: (bw) => bw.circuitBreaker({ halfOpenAfterMs: 60_000 }),
  bulkhead: (bw) => bw.bulkhead({ maxConcurrent: 1_000 }),
  rateLimiter: (bw) => bw.rateLimiter({ capacity: 1e9, refillPerSecond: 1e9 }),
  fallback: (bw) => bw.fallback(0),
  pipeline: (bw) =>
    bw.pipeline(bw.retry({ maxRetries: 3 }), bw.circuitBreaker({ halfOpenAfterMs: 60_000 }), bw.bulkhead({ maxConcurrent: 1_000 }), bw.timeout(10_000)),
};
const fn = async () => 1;
// Compiled per row, so that every row has its own inline caches.
const compile = (call) =>
  new Function('call', 'return async function task(n) { for (let j = 0; j < n; j++) { const ps = new Array(100); for (let i = 0; i < 100; i++) ps[i] = call(); await Promise.all(ps); } };')(call);
async function bytesPerCall(task) {
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    await task(50);
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    await task(20);
    best = Math.min(best, (process.memoryUsage().heapUsed - before) / 2_000);
  }
  return best;
}
const bare = await bytesPerCall(compile(() => fn()));
console.log(`bare \`await fn()\`: ${bare.toFixed(0)} B/call\n`);
console.log(`| policy | ${builds.map((b) => `${b.name} B/call`).join(' | ')} |`);
console.log(`| --- | ${builds.map(() => '---').join(' | ')} |`);
for (const [id, make] of Object.entries(policies)) {
  if (only !== undefined && !only.includes(id)) continue;
  const cells = [];
  for (const build of builds) {
    const policy = make(build.bw);
    cells.push((await bytesPerCall(compile(() => policy.execute(fn))) - bare).toFixed(0));
  }
  console.log(`| ${id} | ${cells.join(' | ')} |`);
}
