/**
 * A quantity that changes at instants (calls in flight, busy servers, open breakers), summed
 * per second of the run: its time integral (for averages such as utilisation) and its peak.
 * Changes at or after `horizonMs` (the longest a run can last) are ignored.
 */
export class LevelSeries {
  readonly integral: Float64Array;
  readonly peak: Float64Array;
  private level = 0;
  private since = 0;
  private highest = 0;

  constructor(private readonly horizonMs: number) {
    const seconds = Math.ceil(horizonMs / 1000);
    this.integral = new Float64Array(seconds);
    this.peak = new Float64Array(seconds);
  }

  get value(): number {
    return this.level;
  }

  /** Overall peak over the run. */
  get max(): number {
    return this.highest;
  }

  /** The level becomes `value` at virtual time `now` (never before the previous change). */
  set(now: number, value: number): void {
    if (now >= this.horizonMs) return;
    this.accumulate(this.since, now);
    this.level = value;
    this.since = now;
    if (value > this.highest) this.highest = value;
    const second = Math.floor(now / 1000);
    if (value > this.peak[second]!) this.peak[second] = value;
  }

  /** Closes the last interval at the end of the run. */
  close(endMs: number): void {
    this.accumulate(this.since, Math.min(endMs, this.horizonMs));
    this.since = endMs;
  }

  private accumulate(from: number, to: number): void {
    if (to <= from) return;
    const level = this.level;
    let second = Math.floor(from / 1000);
    let t = from;
    while (t < to) {
      const end = Math.min(to, (second + 1) * 1000);
      this.integral[second]! += level * (end - t);
      // The level held through every second it spans: each of them saw at least this peak.
      if (level > this.peak[second]!) this.peak[second] = level;
      t = end;
      second++;
    }
  }
}
