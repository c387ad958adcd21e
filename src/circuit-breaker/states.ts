import { CircuitIsolatedError, CircuitOpenError } from '../core/errors.js';
import type { CircuitMachine } from './machine.js';
import type { CircuitState } from './options.js';
import type { Permit, Verdict } from './permit.js';

// The breaker's four states, one class each: how the state admits a call, and what the
// verdict on a call it admitted does. Every transition creates a new state object, so the
// object also names its period: a verdict counts only while the state that admitted the call
// is still current (peer bug opossum#381). Constants are getters, on the prototype: a state
// object lives as long as its period, in every breaker, and stays as small as its data.

// Literal types, so that the machine's transitions only compile for the pairs listed here.
const TRANSITIONS = {
  closed: Object.freeze(['open', 'isolated'] as const),
  open: Object.freeze(['half-open', 'isolated'] as const),
  'half-open': Object.freeze(['closed', 'open', 'isolated'] as const),
  isolated: Object.freeze(['closed'] as const),
} satisfies Record<CircuitState, readonly CircuitState[]>;

/**
 * Every legal transition (contract): a test asserts the breaker never emits another.
 * `half-open → half-open` does not exist: a hung probe only loses its slot.
 */
export const CIRCUIT_TRANSITIONS: Readonly<Record<CircuitState, readonly CircuitState[]>> = Object.freeze(TRANSITIONS);

/** The states a state named `S` may move to. */
export type Exit<S extends CircuitState> = (typeof TRANSITIONS)[S][number];

export type State = ClosedState | OpenState | HalfOpenState | IsolatedState;

/** Closed: admits every call, and its trip rule counts their verdicts. The state is the permit of all of them. */
export class ClosedState implements Permit {
  constructor(private readonly machine: CircuitMachine) {}

  get name(): 'closed' {
    return 'closed';
  }

  /** The closed state reads no clock to admit a call. */
  get admittedAt(): undefined {
    return undefined;
  }

  tryAcquire(): Permit {
    return this;
  }

  onSuccess(durationMs: number, settledAt: number | undefined): void {
    this.count(false, durationMs, settledAt);
  }

  onFailure(durationMs: number, settledAt: number | undefined): void {
    this.count(true, durationMs, settledAt);
  }

  /** An ignored call counts neither way: it does not even end a run of failures. */
  onIgnore(): void {}

  private count(failed: boolean, durationMs: number, settledAt: number | undefined): void {
    const machine = this.machine;
    if (machine.state !== this) return;
    if (machine.rule.record(settledAt ?? 0, failed, durationMs > machine.slowCallMs)) {
      machine.trip(this, settledAt ?? machine.clock.now());
    }
  }
}

/** Open: refuses every call for the machine's `openMs`; the next call then finds it half-open. */
export class OpenState {
  constructor(
    private readonly machine: CircuitMachine,
    private readonly openedAt: number,
  ) {}

  get name(): 'open' {
    return 'open';
  }

  /** Milliseconds until a probe may go; ≤ 0 once one may. */
  remainingMs(now: number): number {
    return this.openedAt + this.machine.openMs - now;
  }

  /**
   * Whether the next call would find the breaker half-open. Kept as this comparison, which
   * `state` has always made: with fractional times it can differ from `remainingMs(now) <= 0`
   * in the last bit.
   */
  due(now: number): boolean {
    return now - this.openedAt >= this.machine.openMs;
  }

  tryAcquire(): Permit | CircuitOpenError {
    const machine = this.machine;
    const now = machine.clock.now();
    const remaining = this.remainingMs(now);
    // More than openMs left only with a clock that went backwards.
    if (remaining > 0) return CircuitOpenError.fast(remaining < machine.openMs ? remaining : machine.openMs);
    const halfOpen = machine.halfOpen(this);
    // A stateChange listener may have isolated the breaker (or released it again).
    return machine.state === halfOpen ? halfOpen.admit(now) : machine.state.tryAcquire();
  }
}

/** Half-open: admits up to `halfOpenProbes` probes; all must succeed to close. */
export class HalfOpenState {
  /** Probes holding a slot, oldest first. */
  private readonly probes: Probe[] = [];
  private successes = 0;

  constructor(private readonly machine: CircuitMachine) {}

  get name(): 'half-open' {
    return 'half-open';
  }

  tryAcquire(): Probe | CircuitOpenError {
    return this.admit(this.machine.clock.now());
  }

  admit(now: number): Probe | CircuitOpenError {
    const { probes, machine } = this;
    const timeoutMs = machine.probeTimeoutMs;
    // Probes that hung past the timeout give up their slots (peer bug resilience4j#935).
    while (probes.length !== 0 && now - probes[0]!.admittedAt >= timeoutMs) probes.shift();
    if (probes.length + this.successes >= machine.halfOpenProbes) {
      // Slots are full, so a probe is in flight: the earliest to time out frees the next slot.
      const oldest = probes[0];
      return CircuitOpenError.fast(oldest === undefined ? timeoutMs : oldest.admittedAt + timeoutMs - now);
    }
    const probe = new Probe(this, now);
    probes.push(probe);
    return probe;
  }

  /**
   * A probe that outlived probeTimeoutMs only lost its slot (so a hung probe cannot wedge the
   * breaker): its verdict, however late, is still evidence about this half-open period.
   * Discarding it would let a downstream that fails every call slowly keep the breaker
   * half-open for ever. An ignored probe frees its slot and decides nothing.
   */
  settled(probe: Probe, verdict: Verdict, durationMs: number, settledAt: number | undefined): void {
    const machine = this.machine;
    if (machine.state !== this) return;
    const index = this.probes.indexOf(probe);
    if (index !== -1) this.probes.splice(index, 1);
    if (verdict === 'ignored') return;
    if (verdict === 'failure' || durationMs > machine.slowCallMs) machine.trip(this, settledAt ?? machine.clock.now());
    else if (++this.successes >= machine.halfOpenProbes) machine.close(this);
  }
}

/** The permit of one half-open call. */
class Probe implements Permit {
  constructor(
    private readonly halfOpen: HalfOpenState,
    readonly admittedAt: number,
  ) {}

  onSuccess(durationMs: number, settledAt: number | undefined): void {
    this.halfOpen.settled(this, 'success', durationMs, settledAt);
  }

  onFailure(durationMs: number, settledAt: number | undefined): void {
    this.halfOpen.settled(this, 'failure', durationMs, settledAt);
  }

  onIgnore(): void {
    this.halfOpen.settled(this, 'ignored', 0, undefined);
  }
}

/** Isolated: refuses every call until the last `isolate()` is released. */
export class IsolatedState {
  get name(): 'isolated' {
    return 'isolated';
  }

  tryAcquire(): CircuitIsolatedError {
    return CircuitIsolatedError.fast();
  }
}
