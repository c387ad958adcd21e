import type { SimulationEngine } from './engine.js';
import { Timer } from './heap.js';
import type { Recorder } from './report.js';
import type { ResolvedPhase } from './scenario.js';

/** What a successful downstream call resolves with: anything else reaching a caller came from a fallback. */
export const DOWNSTREAM_RESULT: unique symbol = Symbol('breakwater/sim: downstream result');

/**
 * The error a failing downstream call rejects with (one instance, like an HTTP 500 body).
 *
 * @example
 * ```ts
 * import { fallback } from 'breakwater';
 * import { DownstreamError } from 'breakwater/sim';
 *
 * // in a scenario's policy: answer a default for the downstream's own failures only
 * const policy = fallback('default', { handle: (error) => error instanceof DownstreamError });
 * ```
 */
export class DownstreamError extends Error {
  /** The simulator makes one; a model of your own may throw it too. */
  constructor() {
    super('downstream error (simulated)');
  }
}
// On the prototype, like the library's own errors: `name` is the class name in the build too.
Object.defineProperty(DownstreamError.prototype, 'name', { value: 'DownstreamError', configurable: true, writable: true });

/** One call at the downstream; it is its own completion timer. */
class Job extends Timer {
  next: Job | undefined = undefined;
  failed = false;
  resolve: (value: typeof DOWNSTREAM_RESULT) => void = noop;
  reject: (error: unknown) => void = noop;

  constructor(private readonly downstream: Downstream) {
    super();
  }

  override fire(): void {
    this.downstream.complete(this);
  }
}

function noop(): void {}

// One shared executor instead of a closure per call: it hands the resolving functions over
// through these two slots, read right after `new Promise` returns.
let handedResolve: (value: typeof DOWNSTREAM_RESULT) => void = noop;
let handedReject: (error: unknown) => void = noop;
function executor(resolve: (value: typeof DOWNSTREAM_RESULT) => void, reject: (error: unknown) => void): void {
  handedResolve = resolve;
  handedReject = reject;
}

/**
 * A service with `servers` parallel servers and one FIFO queue. A call occupies a server for
 * its service time, drawn when it starts being served, whether or not its caller still waits:
 * the work of abandoned calls is done, as in a real server that never hears of the timeout.
 */
export class Downstream {
  private phase: ResolvedPhase;
  private busy = 0;
  private inFlight = 0;
  /** Servers in existence: the phase's, plus busy ones finishing after a phase removed them. */
  private capacity: number;
  private head: Job | undefined = undefined;
  private tail: Job | undefined = undefined;
  private readonly error = new DownstreamError();

  constructor(
    private readonly engine: SimulationEngine,
    phases: readonly ResolvedPhase[],
    private readonly recorder: Recorder,
    private readonly random: () => number,
  ) {
    this.phase = phases[0]!;
    this.capacity = this.phase.servers;
    recorder.servers.set(0, this.capacity);
    for (const phase of phases.slice(1)) engine.at(phase.atMs, () => this.enter(phase));
  }

  /** The function every policy wraps: one call to the downstream. It ignores `ctx.signal`. */
  readonly call = (): Promise<typeof DOWNSTREAM_RESULT> => {
    const job = new Job(this);
    const promise = new Promise<typeof DOWNSTREAM_RESULT>(executor);
    job.resolve = handedResolve;
    job.reject = handedReject;
    this.admit(job);
    return promise;
  };

  private admit(job: Job): void {
    const now = this.engine.now;
    this.recorder.downstreamCall(now);
    this.recorder.inFlight.set(now, ++this.inFlight);
    if (this.busy < this.phase.servers) this.serve(job);
    else if (this.tail === undefined) this.head = this.tail = job;
    else this.tail = this.tail.next = job;
  }

  private serve(job: Job): void {
    const phase = this.phase;
    // Two draws per call whatever the phase, so a phase change does not shift later draws.
    const serviceMs = phase.sampler(this.random());
    job.failed = this.random() < phase.errorRate;
    const now = this.engine.now;
    this.recorder.busy.set(now, ++this.busy);
    this.engine.schedule(job, now + serviceMs);
  }

  private updateCapacity(now: number): void {
    const capacity = this.busy > this.phase.servers ? this.busy : this.phase.servers;
    if (capacity !== this.capacity) this.recorder.servers.set(now, (this.capacity = capacity));
  }

  /** @internal The job's service time is over. */
  complete(job: Job): void {
    const now = this.engine.now;
    this.recorder.busy.set(now, --this.busy);
    this.recorder.inFlight.set(now, --this.inFlight);
    if (job.failed) job.reject(this.error);
    else job.resolve(DOWNSTREAM_RESULT);
    this.startWaiting();
    if (this.capacity !== this.phase.servers) this.updateCapacity(now);
  }

  private startWaiting(): void {
    while (this.head !== undefined && this.busy < this.phase.servers) {
      const job = this.head;
      this.head = job.next;
      if (this.head === undefined) this.tail = undefined;
      job.next = undefined;
      this.serve(job);
    }
  }

  private enter(phase: ResolvedPhase): void {
    this.phase = phase;
    this.startWaiting();
    this.updateCapacity(this.engine.now);
  }
}
