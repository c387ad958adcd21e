// A reference model of the circuit breaker for model-based tests. It is written for obviousness,
// not speed, and shares no code with src/circuit-breaker: it keeps the full list of counted
// outcomes since the breaker last closed and recomputes windows from it on every call.

export type ModelState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface ModelConfig {
  halfOpenAfterMs: number;
  halfOpenProbes: number;
  consecutiveFailures?: number;
  failureRatio?: number;
  windowCalls?: number;
  windowMs?: number;
  windowBuckets?: number;
  minimumThroughput?: number;
  slowCallMs?: number;
  slowCallRatio?: number;
}

export interface ModelCall {
  readonly period: number;
  readonly startedAt: number;
  readonly probe: boolean;
}

export type Admission =
  | { admitted: true; call: ModelCall }
  | { admitted: false; retryAfterMs: number; isolated: boolean };

interface Outcome {
  at: number;
  failed: boolean;
  slow: boolean;
}

/** Branches the model took, summed over all instances: lets a test check its generator reaches them. */
export const modelCoverage: Record<string, number> = {};
function hit(branch: string): void {
  modelCoverage[branch] = (modelCoverage[branch] ?? 0) + 1;
}

export class BreakerModel {
  now = 0;
  state: ModelState = 'closed';
  transitions: Array<{ from: ModelState; to: ModelState }> = [];
  private period = 0;
  private openedAt = 0;
  private streak = 0;
  private history: Outcome[] = [];
  private probes: ModelCall[] = [];
  private probeWins = 0;
  private isolations = 0;

  constructor(readonly config: ModelConfig) {}

  private get hasWindow(): boolean {
    return this.config.windowCalls !== undefined || this.config.windowMs !== undefined;
  }

  /** What `state` should read right now. */
  visibleState(): ModelState {
    if (this.state === 'open' && this.now - this.openedAt >= this.config.halfOpenAfterMs) return 'half-open';
    return this.state;
  }

  private enter(to: ModelState): void {
    hit(`${this.state}->${to}`);
    this.transitions.push({ from: this.state, to });
    this.state = to;
    this.period++;
    this.probes = [];
    this.probeWins = 0;
  }

  private trip(): void {
    this.openedAt = this.now;
    this.enter('open');
  }

  private close(): void {
    this.history = [];
    this.streak = 0;
    this.enter('closed');
  }

  windowed(): Outcome[] {
    const { windowCalls, windowMs } = this.config;
    if (windowCalls !== undefined) return this.history.slice(-windowCalls);
    if (windowMs !== undefined) {
      const bucketMs = windowMs / (this.config.windowBuckets ?? 10);
      const buckets = this.config.windowBuckets ?? 10;
      const current = Math.floor(this.now / bucketMs);
      return this.history.filter((o) => Math.floor(o.at / bucketMs) > current - buckets);
    }
    return this.history;
  }

  stats(): { calls: number; failures: number; slowCalls: number; consecutiveFailures: number } {
    const outcomes = this.windowed();
    return {
      calls: outcomes.length,
      failures: outcomes.filter((o) => o.failed).length,
      slowCalls: outcomes.filter((o) => o.slow).length,
      consecutiveFailures: this.streak,
    };
  }

  admit(): Admission {
    const h = this.config.halfOpenAfterMs;
    if (this.state === 'isolated') return { admitted: false, retryAfterMs: Infinity, isolated: true };
    if (this.state === 'open') {
      if (this.now - this.openedAt < h) {
        return { admitted: false, retryAfterMs: this.openedAt + h - this.now, isolated: false };
      }
      this.enter('half-open');
    }
    if (this.state === 'closed') {
      return { admitted: true, call: { period: this.period, startedAt: this.now, probe: false } };
    }
    // half-open: a probe older than halfOpenAfterMs no longer holds a slot
    const running = this.probes.filter((p) => this.now - p.startedAt < h);
    if (running.length < this.probes.length) hit('hung probe replaced');
    if (running.length + this.probeWins < this.config.halfOpenProbes) {
      if (this.probeWins > 0) hit('probe admitted after a win');
      const call = { period: this.period, startedAt: this.now, probe: true };
      this.probes.push(call);
      return { admitted: true, call };
    }
    if (this.probeWins > 0) hit('probe refused after a win');
    const earliest = Math.min(...running.map((p) => p.startedAt));
    return { admitted: false, retryAfterMs: earliest + h - this.now, isolated: false };
  }

  settle(call: ModelCall, kind: 'ok' | 'fail' | 'abort'): void {
    const duration = this.now - call.startedAt;
    const slow = this.config.slowCallMs !== undefined && duration > this.config.slowCallMs;
    if (call.period !== this.period) {
      hit(call.probe ? 'late probe result' : 'late closed result');
      return;
    }
    if (call.probe) {
      this.probes = this.probes.filter((p) => p !== call);
      // A probe past its timeout lost its slot, not its say: while its half-open period lasts,
      // its outcome decides like any other probe's.
      if (duration >= this.config.halfOpenAfterMs) hit(kind === 'fail' ? 'timed-out probe failed' : kind === 'ok' ? 'timed-out probe succeeded' : 'timed-out probe aborted');
      if (kind === 'abort') {
        hit('probe aborted');
        return;
      }
      if (slow && kind === 'ok') hit('slow probe');
      if (kind === 'fail' || slow) this.trip();
      else if (++this.probeWins === this.config.halfOpenProbes) this.close();
      return;
    }
    if (kind === 'abort') {
      hit('closed call aborted');
      return;
    }
    const failed = kind === 'fail';
    this.history.push({ at: this.now, failed, slow });
    this.streak = failed ? this.streak + 1 : 0;
    if (this.shouldTrip()) this.trip();
  }

  private shouldTrip(): boolean {
    const c = this.config;
    if (c.consecutiveFailures !== undefined && this.streak >= c.consecutiveFailures) return true;
    if (!this.hasWindow) return false;
    const w = this.windowed();
    const calls = w.length;
    if (calls === 0 || calls < (c.minimumThroughput ?? 0)) return false;
    const failures = w.filter((o) => o.failed).length;
    const slowCalls = w.filter((o) => o.slow).length;
    if (c.failureRatio !== undefined && failures / calls >= c.failureRatio) return true;
    if (c.slowCallRatio !== undefined && slowCalls / calls >= c.slowCallRatio) return true;
    return false;
  }

  isolate(): () => void {
    this.isolations++;
    if (this.isolations === 1) {
      if (this.visibleState() === 'half-open' && this.state === 'open') this.enter('half-open');
      this.enter('isolated');
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.isolations--;
      if (this.isolations === 0) this.close();
    };
  }
}
