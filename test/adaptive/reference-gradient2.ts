// A line-by-line transcription of concurrency-limits' Gradient2Limit._update and
// ExpAvgMeasurement (Netflix/concurrency-limits @78a74b9, concurrency-limits-core/src/main/java/
// com/netflix/concurrency/limits/limit/), kept apart from src/ so that tests can show what the
// reference does where breakwater deliberately differs, and check that it agrees elsewhere.

class ReferenceExpAvg {
  value = 0;
  private sum = 0;
  private count = 0;
  constructor(
    private readonly window: number,
    private readonly warmupWindow: number,
  ) {}
  add(sample: number): number {
    if (this.count < this.warmupWindow) {
      this.count++;
      this.sum += sample;
      this.value = this.sum / this.count;
    } else {
      const factor = 2 / (this.window + 1);
      this.value = this.value * (1 - factor) + sample * factor;
    }
    return this.value;
  }
}

export class ReferenceGradient2 {
  private estimatedLimit: number;
  private readonly longRtt: ReferenceExpAvg;

  constructor(
    private readonly o: {
      initialLimit: number;
      minLimit: number;
      maxConcurrency: number;
      smoothing: number;
      queueSize: number;
      longWindow: number;
      rttTolerance: number;
    } = { initialLimit: 20, minLimit: 20, maxConcurrency: 200, smoothing: 0.2, queueSize: 4, longWindow: 600, rttTolerance: 1.5 },
  ) {
    this.estimatedLimit = o.initialLimit;
    this.longRtt = new ReferenceExpAvg(o.longWindow, 10);
  }

  get limit(): number {
    return Math.trunc(this.estimatedLimit);
  }

  onSample(rtt: number, inflight: number): void {
    const estimatedLimit = this.estimatedLimit;
    const queueSize = this.o.queueSize;
    const shortRtt = rtt;
    const longRtt = this.longRtt.add(rtt);
    if (longRtt / shortRtt > 2) this.longRtt.value = this.longRtt.value * 0.95;
    if (inflight < estimatedLimit / 2) return;
    const gradient = Math.max(0.5, Math.min(1.0, (this.o.rttTolerance * longRtt) / shortRtt));
    let newLimit = estimatedLimit * gradient + queueSize;
    newLimit = estimatedLimit * (1 - this.o.smoothing) + newLimit * this.o.smoothing;
    newLimit = Math.max(this.o.minLimit, Math.min(this.o.maxConcurrency, newLimit));
    this.estimatedLimit = newLimit;
  }
}
