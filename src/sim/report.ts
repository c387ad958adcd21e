import type { Distribution } from './distribution.js';
import { LevelSeries } from './level.js';
import { select, selectAbove } from './select.js';
import type { ResolvedScenario } from './scenario.js';

/** How a request ended, from its caller's point of view. */
export const OUTCOME = { UNFINISHED: 0, SUCCEEDED: 1, FALLBACK: 2, FAILED: 3, SHED: 4 } as const;
export type OutcomeCode = (typeof OUTCOME)[keyof typeof OUTCOME];

/**
 * Request outcomes (each request counted in the second it arrived in, whenever it finished)
 * and what happened during a stretch of time (retries, downstream calls, in flight,
 * utilisation, transitions: counted in the second they happened). Always
 * `sent = succeeded + fallbacks + failed + shed + unfinished`.
 */
export interface SimulationCounts {
  /** Requests that arrived (open loop; a caller's resend is not a new request). */
  readonly sent: number;
  /** Answered with the downstream's own result (after any retries). */
  readonly succeeded: number;
  /** Answered with a fallback's value instead of the downstream's. */
  readonly fallbacks: number;
  /** Ended in an error: the downstream's, a timeout, or the caller giving up. */
  readonly failed: number;
  /** Refused fast by a policy: circuit open, bulkhead full, rate limited. */
  readonly shed: number;
  /** Still in flight when the run ended (`durationMs + drainMs` at the latest). */
  readonly unfinished: number;
  /** Successes within `sloMs` of arrival (every success when there is no SLO). */
  readonly goodput: number;
  /** Latency of finished requests, every outcome, from arrival to answer (caller resends included). */
  readonly p50Ms: number | null;
  /** 99th percentile of the same latencies (null when none finished). */
  readonly p99Ms: number | null;
  /** Slowest of the same latencies. */
  readonly maxMs: number | null;
  /** Mean of the same latencies. */
  readonly meanMs: number | null;
  /** Attempts the callers sent: requests plus their resends. */
  readonly attempts: number;
  /** Resends by the callers (after their timeout or an error), counted with the request. */
  readonly callerRetries: number;
  /** `retry` events of the policies (each one a new attempt on the downstream). */
  readonly retries: number;
  /** Calls that reached the downstream (abandoned ones included). */
  readonly downstreamCalls: number;
  /** Most calls at the downstream at once, waiting or being served. */
  readonly peakInFlight: number;
  /** Busy server time ÷ server time, 0..1 (a server a phase removed counts until it finishes its call). */
  readonly utilisation: number;
  /** Circuit-breaker `stateChange` events, all instances. */
  readonly breakerTransitions: number;
}

/** One second of a run (`report.series`): the counts of the requests that arrived in it, and what happened during it. */
export interface SimulationSecond extends SimulationCounts {
  /** Start of this second, in virtual ms. */
  readonly startMs: number;
  /** Share of breaker-time spent open (or isolated) during this second, 0..1. */
  readonly breakerOpen: number;
  /** Share of breaker-time spent half-open during this second, 0..1. */
  readonly breakerHalfOpen: number;
}

/** A circuit breaker's state change during a run (`report.transitions`). */
export interface SimulationTransition {
  /** Virtual time of the change. */
  readonly atMs: number;
  /** 0-based index of the upstream instance whose breaker changed. */
  readonly instance: number;
  /** Which breaker of the instance's pipeline (0 = outermost). */
  readonly breaker: number;
  /** The state before (`closed`, `open`, `half-open`). */
  readonly from: string;
  /** The state after. */
  readonly to: string;
}

/** What `simulate` resolves to: the scenario as run, the totals, one row per second and the breaker transitions. Plain JSON: the same scenario and seed give the same bytes. */
export interface SimulationReport {
  /** The scenario's `name` (null when it had none). */
  readonly name: string | null;
  /** The seed the run used. */
  readonly seed: number;
  /** Arrivals happen in [0, durationMs). */
  readonly durationMs: number;
  /** When the run ended: the last request finished (or `durationMs + drainMs`); at least durationMs. */
  readonly endMs: number;
  /** Upstream instances in the run. */
  readonly instances: number;
  /** The scenario's `sloMs` (null when it had none). */
  readonly sloMs: number | null;
  /** Breakers found in one instance's policy (0 when none). */
  readonly breakersPerInstance: number;
  /** The downstream's phases, the first being its initial behaviour, with every field resolved. */
  readonly phases: ReadonlyArray<{
    /** Virtual time the phase began. */
    readonly atMs: number;
    /** The phase's `label` (null when it had none). */
    readonly label: string | null;
    /** Parallel servers in the phase. */
    readonly servers: number;
    /** Fraction of calls failing in the phase. */
    readonly errorRate: number;
    /** Service time in the phase. */
    readonly latencyMs: Distribution;
  }>;
  /** Counts over the whole run. */
  readonly totals: SimulationCounts;
  /** One row per second of [0, endMs): the seconds after durationMs have no arrivals, only the drain. */
  readonly series: readonly SimulationSecond[];
  /** Every breaker state change, in time order. */
  readonly transitions: readonly SimulationTransition[];
}

/** Rounds to the µs: reports stay readable, and equal runs still print equal bytes. */
function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function ratio(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** The 0-based index of the nearest-rank percentile p (0..1) of `count` values. */
function rankIndex(count: number, p: number): number {
  return Math.min(count, Math.max(1, Math.ceil(p * count))) - 1;
}

/** Nearest-rank p50 and p99 of `values[0..count)` (count ≥ 1), which it reorders. */
function medianAndP99(values: Float64Array, count: number): [number, number] {
  const k50 = rankIndex(count, 0.5);
  const p50 = select(values, count, k50);
  return [p50, selectAbove(values, count, k50, rankIndex(count, 0.99))];
}

/**
 * Collects everything a run measures. Requests are numbered in arrival order, so the
 * requests of one second are a contiguous range and their latencies are kept exactly (8
 * bytes each): percentiles are exact (nearest rank), selected at the end.
 */
export class Recorder {
  private arrivalMs = new Float64Array(1024);
  private latencyMs = new Float64Array(1024);
  private outcome = new Uint8Array(1024);
  private count = 0;
  /** First request id of each second (arrivals come in time order). */
  private readonly firstOfSecond: Int32Array;
  private readonly retries: Float64Array;
  private readonly callerRetries: Float64Array;
  private readonly downstreamCalls: Float64Array;
  private readonly transitionCounts: Float64Array;
  readonly inFlight: LevelSeries;
  readonly busy: LevelSeries;
  readonly servers: LevelSeries;
  readonly breakersOpen: LevelSeries;
  readonly breakersHalfOpen: LevelSeries;
  readonly transitions: SimulationTransition[] = [];

  /** `horizonMs`: the longest the run can last (durationMs + drainMs). */
  constructor(private readonly horizonMs: number) {
    const seconds = Math.ceil(horizonMs / 1000);
    this.firstOfSecond = new Int32Array(seconds + 1).fill(-1);
    this.retries = new Float64Array(seconds);
    this.callerRetries = new Float64Array(seconds);
    this.downstreamCalls = new Float64Array(seconds);
    this.transitionCounts = new Float64Array(seconds);
    this.inFlight = new LevelSeries(horizonMs, true);
    this.busy = new LevelSeries(horizonMs);
    this.servers = new LevelSeries(horizonMs);
    this.breakersOpen = new LevelSeries(horizonMs);
    this.breakersHalfOpen = new LevelSeries(horizonMs);
  }

  /** A request arrives at `now` (< durationMs); returns its id. */
  arrive(now: number): number {
    const id = this.count;
    if (id === this.arrivalMs.length) this.grow();
    this.arrivalMs[id] = now;
    this.latencyMs[id] = NaN;
    this.count = id + 1;
    const second = Math.floor(now / 1000);
    if (this.firstOfSecond[second] === -1) this.firstOfSecond[second] = id;
    return id;
  }

  arrivedAt(id: number): number {
    return this.arrivalMs[id]!;
  }

  finish(id: number, outcome: OutcomeCode, now: number): void {
    this.outcome[id] = outcome;
    this.latencyMs[id] = now - this.arrivalMs[id]!;
  }

  private grow(): void {
    const size = this.arrivalMs.length * 2;
    const arrival = new Float64Array(size);
    arrival.set(this.arrivalMs);
    const latency = new Float64Array(size);
    latency.set(this.latencyMs);
    const outcome = new Uint8Array(size);
    outcome.set(this.outcome);
    this.arrivalMs = arrival;
    this.latencyMs = latency;
    this.outcome = outcome;
  }

  private secondOf(now: number): number {
    return now < this.horizonMs ? Math.floor(now / 1000) : -1;
  }

  retry(now: number): void {
    const s = this.secondOf(now);
    if (s >= 0) this.retries[s]!++;
  }

  /** A caller resends request `id`: counted in the second the request arrived, like its outcome. */
  callerRetry(id: number): void {
    this.callerRetries[Math.floor(this.arrivalMs[id]! / 1000)]!++;
  }

  downstreamCall(now: number): void {
    const s = this.secondOf(now);
    if (s >= 0) this.downstreamCalls[s]!++;
  }

  transition(entry: SimulationTransition): void {
    const s = this.secondOf(entry.atMs);
    if (s < 0) return;
    this.transitionCounts[s]!++;
    this.transitions.push(entry);
  }

  /** `endMs`: when the run ended. */
  report(scenario: ResolvedScenario, breakersPerInstance: number, endMs: number): SimulationReport {
    for (const level of [this.inFlight, this.busy, this.servers, this.breakersOpen, this.breakersHalfOpen]) level.close(endMs);
    const seconds = Math.max(1, Math.ceil(endMs / 1000));
    // Seconds nobody arrived in start where the next second with arrivals does.
    this.firstOfSecond[seconds] = this.count;
    for (let s = seconds - 1; s >= 0; s--) {
      if (this.firstOfSecond[s] === -1) this.firstOfSecond[s] = this.firstOfSecond[s + 1]!;
    }
    // One pass over the requests: each second's finished latencies land in their own stretch of
    // `scratch`, so afterwards it holds the run's (the order is irrelevant to a percentile).
    const scratch = new Float64Array(this.count);
    const slo = scenario.sloMs ?? Infinity;
    const all = new Tally();
    const breakers = breakersPerInstance * scenario.instances;
    const series: SimulationSecond[] = [];
    for (let s = 0; s < seconds; s++) {
      const spanMs = Math.min(1000, endMs - s * 1000);
      const from = this.firstOfSecond[s]!;
      const to = this.firstOfSecond[s + 1]!;
      const tally = new Tally();
      const offset = all.finished;
      this.scan(from, to, slo, scratch, offset, tally, all);
      const counts = this.counts(to - from, tally, scratch.subarray(offset, offset + tally.finished), {
        retries: this.retries[s]!,
        callerRetries: this.callerRetries[s]!,
        downstreamCalls: this.downstreamCalls[s]!,
        peakInFlight: this.inFlight.peak[s]!,
        busy: this.busy.integral[s]!,
        capacity: this.servers.integral[s]!,
        breakerTransitions: this.transitionCounts[s]!,
      });
      series.push({
        startMs: s * 1000,
        ...counts,
        breakerOpen: breakers === 0 ? 0 : ratio(this.breakersOpen.integral[s]! / (breakers * spanMs)),
        breakerHalfOpen: breakers === 0 ? 0 : ratio(this.breakersHalfOpen.integral[s]! / (breakers * spanMs)),
      });
    }
    const sum = (values: Float64Array): number => values.subarray(0, seconds).reduce((a, b) => a + b, 0);
    const totals = this.counts(this.count, all, scratch, {
      retries: sum(this.retries),
      callerRetries: sum(this.callerRetries),
      downstreamCalls: sum(this.downstreamCalls),
      peakInFlight: this.inFlight.max,
      busy: sum(this.busy.integral),
      capacity: sum(this.servers.integral),
      breakerTransitions: sum(this.transitionCounts),
    });
    return {
      name: scenario.name ?? null,
      seed: scenario.seed,
      durationMs: scenario.durationMs,
      endMs,
      instances: scenario.instances,
      sloMs: scenario.sloMs ?? null,
      breakersPerInstance,
      phases: scenario.phases.map((p) => ({
        atMs: p.atMs,
        label: p.label ?? null,
        servers: p.servers,
        errorRate: p.errorRate,
        latencyMs: p.latencyMs,
      })),
      totals,
      series,
      transitions: this.transitions,
    };
  }

  /**
   * Tallies requests `[from, to)` into `tally` and `all` (the run's totals, which see every
   * request in id order, so their latency sum adds up in the same order as one pass over the
   * run would). Finished latencies go to `scratch` from `tally.finished + offset` on.
   */
  private scan(from: number, to: number, slo: number, scratch: Float64Array, offset: number, tally: Tally, all: Tally): void {
    const outcomes = this.outcome;
    const latencies = this.latencyMs;
    let finished = offset;
    let total = 0;
    let max = -Infinity;
    let allTotal = all.totalMs;
    for (let id = from; id < to; id++) {
      const outcome = outcomes[id]!;
      if (outcome === OUTCOME.UNFINISHED) {
        tally.unfinished++;
        continue;
      }
      const latency = latencies[id]!;
      scratch[finished++] = latency;
      total += latency;
      allTotal += latency;
      if (latency > max) max = latency;
      if (outcome === OUTCOME.SUCCEEDED) {
        tally.succeeded++;
        if (latency <= slo) tally.goodput++;
      } else if (outcome === OUTCOME.FALLBACK) tally.fallbacks++;
      else if (outcome === OUTCOME.FAILED) tally.failed++;
      else tally.shed++;
    }
    tally.finished = finished - offset;
    tally.totalMs = total;
    tally.maxMs = max;
    all.totalMs = allTotal;
    all.succeeded += tally.succeeded;
    all.fallbacks += tally.fallbacks;
    all.failed += tally.failed;
    all.shed += tally.shed;
    all.unfinished += tally.unfinished;
    all.goodput += tally.goodput;
    all.finished += tally.finished;
    if (max > all.maxMs) all.maxMs = max;
  }

  /** `latencies`: the finished requests' latencies (reordered by the percentile selection). */
  private counts(
    sent: number,
    tally: Tally,
    latencies: Float64Array,
    timed: {
      retries: number;
      callerRetries: number;
      downstreamCalls: number;
      peakInFlight: number;
      busy: number;
      capacity: number;
      breakerTransitions: number;
    },
  ): SimulationCounts {
    const finished = tally.finished;
    const [p50, p99] = finished === 0 ? [null, null] : medianAndP99(latencies, finished);
    return {
      sent,
      succeeded: tally.succeeded,
      fallbacks: tally.fallbacks,
      failed: tally.failed,
      shed: tally.shed,
      unfinished: tally.unfinished,
      goodput: tally.goodput,
      p50Ms: p50 === null ? null : ms(p50),
      p99Ms: p99 === null ? null : ms(p99),
      maxMs: finished === 0 ? null : ms(tally.maxMs),
      meanMs: finished === 0 ? null : ms(tally.totalMs / finished),
      attempts: sent + timed.callerRetries,
      callerRetries: timed.callerRetries,
      retries: timed.retries,
      downstreamCalls: timed.downstreamCalls,
      peakInFlight: timed.peakInFlight,
      utilisation: timed.capacity === 0 ? 0 : ratio(timed.busy / timed.capacity),
      breakerTransitions: timed.breakerTransitions,
    };
  }
}

/** Outcome counts and latency sums of a range of requests. */
class Tally {
  succeeded = 0;
  fallbacks = 0;
  failed = 0;
  shed = 0;
  unfinished = 0;
  goodput = 0;
  finished = 0;
  totalMs = 0;
  maxMs = -Infinity;
}
