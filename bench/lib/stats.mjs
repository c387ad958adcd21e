// Small statistics helpers shared by the suites.

export function median(values) {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

export function min(values) {
  return values.reduce((a, b) => (b < a ? b : a), Infinity);
}

export function max(values) {
  return values.reduce((a, b) => (b > a ? b : a), -Infinity);
}

/** Deterministic shuffle (mulberry32) so a run's task order is reproducible from its seed. */
export function shuffled(items, seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Forces a full collection (twice: weak callbacks and finalizers may free more on the second). */
export function fullGc() {
  if (typeof globalThis.gc !== 'function') throw new Error('run node with --expose-gc');
  globalThis.gc();
  globalThis.gc();
}

/** Retained memory after a full GC: the JS heap plus the buffers of typed arrays, which live outside it. */
export function heapUsed() {
  fullGc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

export function countTimers() {
  return process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
}
