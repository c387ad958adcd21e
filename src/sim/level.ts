/**
 * A quantity that changes at instants (busy servers, open breakers), summed per second of the
 * run: its time integral (for averages such as utilisation) and its peak. Changes at or after
 * `horizonMs` (the longest a run can last) are ignored. Changes come in time order; the
 * common case — a change in the same second as the one before — costs a few additions.
 */
export class LevelSeries {
  readonly integral: Float64Array;
  readonly peak: Float64Array;
  private level = 0;
  private since = 0;
  private highest = 0;
  /** The second `since` falls in, and where it ends. */
  private second = 0;
  private boundaryMs = 1000;

  constructor(
    private readonly horizonMs: number,
    /** Peak only: skip the integral (calls in flight need no average). */
    private readonly peakOnly = false,
  ) {
    const seconds = Math.ceil(horizonMs / 1000);
    this.integral = new Float64Array(peakOnly ? 0 : seconds);
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
    if (now < this.boundaryMs) {
      if (!this.peakOnly) this.integral[this.second]! += this.level * (now - this.since);
    } else this.cross(now);
    this.level = value;
    this.since = now;
    if (value > this.peak[this.second]!) {
      this.peak[this.second] = value;
      if (value > this.highest) this.highest = value;
    }
  }

  /** Closes the last interval at the end of the run. */
  close(endMs: number): void {
    const end = Math.min(endMs, this.horizonMs);
    if (end >= this.boundaryMs) this.cross(end);
    else if (!this.peakOnly) this.integral[this.second]! += this.level * (end - this.since);
    this.since = end;
  }

  /** Carries the level from `since` through every second up to the one `now` falls in. */
  private cross(now: number): void {
    const level = this.level;
    let t = this.since;
    let second = this.second;
    const last = Math.min(Math.floor(now / 1000), this.peak.length - 1);
    while (second < last) {
      const end = (second + 1) * 1000;
      if (!this.peakOnly) this.integral[second]! += level * (end - t);
      t = end;
      second++;
      // The level held into this second: it saw at least this peak.
      if (level > this.peak[second]!) this.peak[second] = level;
    }
    if (!this.peakOnly) this.integral[second]! += level * (now - t);
    this.second = second;
    this.boundaryMs = (second + 1) * 1000;
  }
}
