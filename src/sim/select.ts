/**
 * The k-th smallest (0-based) of `values[0..count)`, reordering them in place: quickselect
 * with a three-way partition, so runs of equal values (every request timed out at 1000 ms)
 * cost O(n) rather than O(n²). Sorting to read two percentiles costs ~30× more on a large run
 * (V8's typed-array sort is slow for doubles).
 *
 * On a large range the pivot is chosen as Floyd and Rivest do: the k-th value of a sample
 * around k's expected place, selected first, so one partition leaves a small range. A
 * median-of-three pivot degrades on arrays an earlier selection left partitioned (p99 right
 * after p50 touched 10–25× the elements); the value found is the same either way.
 */
export function select(values: Float64Array, count: number, k: number): number {
  return selectIn(values, 0, count - 1, k);
}

/**
 * `select(values, count, k)` right after `select(values, count, below)` with `below <= k`: that
 * selection left every value above index `below` no smaller than the one at it, so the k-th
 * smallest is among them and only `values[below..count)` is searched (p99 after p50: half).
 */
export function selectAbove(values: Float64Array, count: number, below: number, k: number): number {
  return selectIn(values, below, count - 1, k);
}

/** Ranges above this size take their pivot from a sample (Floyd–Rivest's own cut-off). */
const SAMPLED = 600;

function selectIn(values: Float64Array, lo: number, hi: number, k: number): number {
  while (lo < hi) {
    let pivot: number;
    if (hi - lo > SAMPLED) {
      const n = hi - lo + 1;
      const i = k - lo + 1;
      const z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) * (i < n / 2 ? -1 : 1);
      const sampleLo = Math.max(lo, Math.floor(k - (i * s) / n + sd));
      const sampleHi = Math.min(hi, Math.floor(k + ((n - i) * s) / n + sd));
      pivot = selectIn(values, sampleLo, sampleHi, k);
    } else {
      const a = values[lo]!;
      const b = values[(lo + hi) >>> 1]!;
      const c = values[hi]!;
      pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    }
    // Dutch national flag: [lo, lt) < pivot, [lt, i) = pivot, (gt, hi] > pivot.
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const v = values[i]!;
      if (v < pivot) {
        values[i] = values[lt]!;
        values[lt] = v;
        lt++;
        i++;
      } else if (v > pivot) {
        values[i] = values[gt]!;
        values[gt] = v;
        gt--;
      } else i++;
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return pivot;
  }
  return values[lo]!;
}
