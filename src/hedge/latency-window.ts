/**
 * The latest `size` successful latencies in a ring, and a percentile of them. Memory is fixed;
 * the percentile is recomputed (a sort of `size` numbers) only every `size / 8` new samples, so
 * its cost per call stays a small constant while it tracks the downstream within a few calls.
 */
export class LatencyWindow {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private count = 0;
  private next = 0;
  private sinceSort = 0;
  private cached = NaN;
  private readonly refreshEvery: number;

  constructor(
    readonly size: number,
    private readonly percentile: number,
    /** Samples needed before `value` answers. */
    private readonly minSamples: number,
  ) {
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
    this.refreshEvery = Math.max(1, Math.floor(size / 8));
  }

  add(latencyMs: number): void {
    this.ring[this.next] = latencyMs;
    this.next = this.next + 1 === this.size ? 0 : this.next + 1;
    if (this.count < this.size) this.count++;
    this.sinceSort++;
  }

  get samples(): number {
    return this.count;
  }

  /** The percentile of the window (nearest rank), or undefined while it has too few samples. */
  get value(): number | undefined {
    if (this.count < this.minSamples) return undefined;
    if (Number.isNaN(this.cached) || this.sinceSort >= this.refreshEvery) {
      const view = this.sorted.subarray(0, this.count);
      view.set(this.ring.subarray(0, this.count));
      view.sort();
      const rank = Math.ceil(this.percentile * this.count);
      // Stryker disable next-line ArithmeticOperator: `this.count + 1` is equivalent (rank = ceil(percentile × count) ≤ count for a percentile ≤ 1, so rank − 1 is the smaller either way)
      this.cached = view[Math.min(this.count - 1, Math.max(0, rank - 1))]!;
      this.sinceSort = 0;
    }
    return this.cached;
  }
}
