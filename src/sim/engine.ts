import type { Clock } from '../core/clock.js';
import { checkNumber, checkOptionsObject, optionalNumber } from '../core/validate.js';
import { Timer, TimerHeap } from './heap.js';
import { createRandom } from './random.js';

// How the engine keeps virtual time exact while the policies it runs use promises.
//
// A timer callback at virtual time t usually settles promises, and the reactions of those
// promises (the policies' `then`s and `await`s) must all run while `now()` is still t, before
// the next timer fires. So after each timer the engine waits until the microtask queue is
// empty. Node offers an exact, cheap test for that: a `process.nextTick` callback scheduled
// *from inside a microtask* runs only once V8 has drained the whole microtask queue (Node
// runs its tick queue after each microtask checkpoint, never during one). The engine fires a
// timer, queues one promise reaction (the "sentinel"), and the sentinel schedules the next
// step with `nextTick`: the step can only run once every reaction queued so far, and every
// reaction those queued, has run. Each step costs one reaction and one tick (a few hundred
// ns) instead of an event-loop turn (`setImmediate`, µs). The order of everything is fixed
// by the order of timers and the FIFO order of microtasks: same seed, same run.
//
// Cheaper still, when Node has it: `process._tickCallback` (Node's `runNextTicks`) drains the
// microtask queue, and any ticks those reactions queue, synchronously before it returns, when
// called outside a microtask (the step always runs in a tick or an immediate). The step then
// fires timer after timer in one loop, with no reaction, tick object or trip through Node's
// tick loop per timer: the same drains at the same points, so the same run, 40–50 % cheaper
// per event. Without it (another runtime, a future Node) the engine uses the sentinel.
//
// Every `yieldEvery` steps the engine takes one real event-loop turn (`setImmediate`) so I/O,
// worker messages and Node's unhandled-rejection bookkeeping are not starved by a long run.
// The turn happens at a point where the queue is empty, so it changes nothing in the run.

const resolved = Promise.resolve();

/** Drains promise reactions and ticks now (see above), or undefined where Node has no such hook. */
const drainNow: (() => void) | undefined = (() => {
  const hook = (process as { _tickCallback?: unknown })._tickCallback;
  return typeof hook === 'function' ? (hook as () => void).bind(process) : undefined;
})();


/** Options of `new SimulationEngine(options)`; all optional. */
export interface EngineOptions {
  /** Seeds every random stream (`random(stream)`). Default 1. */
  seed?: number;
  /** Steps between real event-loop turns. Default 1024. */
  yieldEvery?: number;
  /** Timers fired at one virtual instant after which the run fails as a livelock. Default 5 000 000. */
  maxStepsAtOneInstant?: number;
}

/** Options of `engine.run(options)`. */
export interface RunOptions {
  /** Fire timers due up to this virtual time, then stop with `now()` at it. Default: until none is left. */
  untilMs?: number;
}

/**
 * A discrete-event engine: a virtual clock whose timers live in a binary heap (ties fire in
 * creation order) and a run loop that lets promise reactions settle between timers. Give
 * `engine.clock` to real policies; schedule the model's own events with `at`/`after`.
 *
 * @example
 * ```ts
 * import { exponentialBackoff, retry } from 'breakwater';
 * import { SimulationEngine } from 'breakwater/sim';
 *
 * const engine = new SimulationEngine({ seed: 1 });
 * const policy = retry({ maxRetries: 5, backoff: exponentialBackoff({ initialMs: 100 }), clock: engine.clock, random: engine.random(1) });
 * let calls = 0;
 * const flaky = () => new Promise((resolve, reject) => engine.after(10, () => (++calls < 3 ? reject(new Error('busy')) : resolve('ok'))));
 * const answer = policy.execute(flaky);
 * await engine.run();
 * console.log(await answer, calls, `${Math.round(engine.now)} ms`); // ok 3 95 ms
 * ```
 */
export class SimulationEngine {
  /** The seed of every random stream of the engine (`options.seed`, default 1). */
  readonly seed: number;
  /** A `Clock` on virtual time, for policies. */
  readonly clock: Clock;
  private current = 0;
  private sequence = 0;
  private readonly heap = new TimerHeap();
  private readonly yieldEvery: number;
  private readonly maxStepsAtOneInstant: number;
  private stepsTaken = 0;
  private sinceYield = 0;
  private atSameInstant = 0;
  private running = false;
  private stopping = false;
  private turnWanted = false;
  private untilMs = Infinity;
  private resolveRun: () => void = noop;
  private rejectRun: (error: unknown) => void = noop;

  /** An engine at virtual time 0 with no timers. */
  constructor(options?: EngineOptions) {
    const opts = checkOptionsObject('engine', options, false);
    this.seed = optionalNumber('seed', opts['seed'], 1, { integer: true });
    this.yieldEvery = optionalNumber('yieldEvery', opts['yieldEvery'], 1024, { min: 1, integer: true });
    this.maxStepsAtOneInstant = optionalNumber('maxStepsAtOneInstant', opts['maxStepsAtOneInstant'], 5_000_000, { min: 1, integer: true });
    const engine = this;
    this.clock = Object.freeze({
      now: () => engine.current,
      setTimeout: (callback: () => void, ms: number): unknown =>
        engine.after(Number.isFinite(ms) && ms > 0 ? ms : 0, callback),
      clearTimeout: (handle: unknown): void => {
        if (handle instanceof Timer) engine.heap.remove(handle);
      },
    });
  }

  /** Virtual milliseconds since the start. */
  get now(): number {
    return this.current;
  }

  /** Timers fired so far. */
  get steps(): number {
    return this.stepsTaken;
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.heap.size;
  }

  /** An independent random stream in [0, 1) for this engine's seed (see `createRandom`). */
  random(stream: number): () => number {
    return createRandom(this.seed, stream);
  }

  /** Schedules `callback` at virtual time `timeMs` (not before now). */
  at(timeMs: number, callback: () => void): Timer {
    return this.schedule(new Timer(callback), timeMs);
  }

  /** Schedules (or moves) `timer` to fire at `timeMs` (not before now), after any already due then. */
  schedule<T extends Timer>(timer: T, timeMs: number): T {
    if (timer.pending) this.heap.remove(timer);
    timer.time = timeMs > this.current ? timeMs : this.current;
    timer.seq = this.sequence++;
    this.heap.push(timer);
    return timer;
  }

  /** Schedules `callback` `delayMs` virtual milliseconds from now. */
  after(delayMs: number, callback: () => void): Timer {
    return this.at(this.current + delayMs, callback);
  }

  /** Removes a timer that has not fired yet; false if it already fired or was cancelled. */
  cancel(timer: Timer): boolean {
    return this.heap.remove(timer);
  }

  /** Ends the current `run` once the reactions of the timer being fired have settled. */
  stop(): void {
    this.stopping = true;
  }

  /**
   * Asks for a real event-loop turn before the next timer fires: for code that yields with
   * `setImmediate` (outside the clock), so it runs at the virtual instant it asked to.
   */
  expectImmediate(): void {
    this.turnWanted = true;
  }

  /** Fires timers in (time, creation) order, settling promise reactions after each. */
  run(options?: RunOptions): Promise<void> {
    const opts = checkOptionsObject('run', options, false);
    if (opts['untilMs'] !== undefined) checkNumber('untilMs', opts['untilMs'], { min: 0, infinite: true });
    if (this.running) return Promise.reject(new Error('breakwater/sim: the engine is already running'));
    this.running = true;
    this.untilMs = (opts['untilMs'] as number | undefined) ?? Infinity;
    return new Promise<void>((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
      // Reactions already queued by the caller (calls started before `run`) settle first.
      resolved.then(this.sentinel);
    });
  }

  private readonly sentinel = (): void => {
    process.nextTick(this.step);
  };

  private readonly afterTurn = (): void => {
    this.step();
  };

  /** Runs with the microtask queue empty (see the top of this file). */
  private readonly step = (): void => {
    for (;;) {
      if (this.stopping) return this.finish(false);
      if (this.turnWanted || ++this.sinceYield >= this.yieldEvery) {
        this.turnWanted = false;
        this.sinceYield = 0;
        setImmediate(this.afterTurn);
        return;
      }
      const timer = this.heap.popDue(this.untilMs);
      if (timer === undefined) return this.finish(true);
      if (timer.time > this.current) {
        this.current = timer.time;
        this.atSameInstant = 0;
      } else if (++this.atSameInstant > this.maxStepsAtOneInstant) {
        return this.fail(
          new Error(`breakwater/sim: ${this.maxStepsAtOneInstant} timers fired at ${this.current} ms without time advancing (a zero-delay loop?)`),
        );
      }
      this.stepsTaken++;
      try {
        timer.fire();
      } catch (error) {
        return this.fail(error);
      }
      if (drainNow === undefined) {
        resolved.then(this.sentinel);
        return;
      }
      try {
        drainNow();
      } catch (error) {
        // A tick callback threw (not a promise reaction: those cannot). As with the sentinel,
        // the error is the process's uncaught exception and the run goes on after it.
        resolved.then(this.sentinel);
        throw error;
      }
    }
  };

  private finish(reachedEnd: boolean): void {
    if (reachedEnd && this.untilMs !== Infinity && this.untilMs > this.current) this.current = this.untilMs;
    this.running = false;
    this.stopping = false;
    const resolve = this.resolveRun;
    this.resolveRun = this.rejectRun = noop;
    resolve();
  }

  private fail(error: unknown): void {
    this.running = false;
    const reject = this.rejectRun;
    this.resolveRun = this.rejectRun = noop;
    reject(error);
  }
}

function noop(): void {}
