import type { Clock } from '../core/clock.js';
import type { Policy } from '../core/policy.js';
import {
  checkFunction,
  checkNumber,
  checkOneOf,
  checkOptionsObject,
  describeValue,
  optionalNumber,
} from '../core/validate.js';
import { samplerOf, type Distribution, type Sampler } from './distribution.js';

/** What the scenario's `policy` factory receives, once per upstream instance. */
export interface PolicyEnvironment {
  /** Virtual time: pass it to every policy (`timeout(ms, { clock })`, …). */
  readonly clock: Clock;
  /** This instance's own seeded random stream: pass it to policies that take `random`. */
  readonly random: () => number;
  /** 0-based index of the instance being built. */
  readonly instance: number;
  /** How many instances the scenario runs (`load.instances`). */
  readonly instances: number;
}

/** One step of a load schedule (`load.rps` as a list). */
export interface RateStep {
  /** From this virtual time on (until the next step), arrivals come at `rps`. */
  readonly atMs: number;
  /** Requests per second over the whole fleet, from `atMs` on. */
  readonly rps: number;
}

/** A change of the downstream's behaviour at a virtual time (`downstream.phases`): a bad deploy, a rollback. Fields left out keep the phase before's values. */
export interface Phase {
  /** From this virtual time on, the downstream behaves as this phase says. */
  readonly atMs: number;
  /** Service time of calls that start being served from now on. */
  readonly latencyMs?: Distribution | undefined;
  /** Fraction of calls that fail from now on, 0..1. */
  readonly errorRate?: number | undefined;
  /** Parallel capacity: fewer servers take effect as busy ones finish. */
  readonly servers?: number | undefined;
  /** Shown on charts ("bad deploy", "recovery"). */
  readonly label?: string | undefined;
}

/**
 * What `simulate` runs: open-loop load from a fleet of upstream instances, each with its own
 * policies, against a downstream queue with `servers` parallel servers. Times in virtual ms.
 */
export interface Scenario {
  /** Shown on charts and summaries. */
  readonly name?: string | undefined;
  /** Arrivals happen in [0, durationMs). */
  readonly durationMs: number;
  /** Same seed, same report, byte for byte. Default 1. */
  readonly seed?: number | undefined;
  /**
   * After `durationMs`, how long requests still in flight may take to finish before they are
   * counted as unfinished. Default 10 000.
   */
  readonly drainMs?: number | undefined;
  /** The arrivals: their rate, spacing and how many upstream instances share them. */
  readonly load: {
    /** Requests per second over the whole fleet: constant, or a step schedule (0 before the first step). */
    readonly rps: number | readonly RateStep[];
    /** `poisson` (default): exponential gaps, requests routed to a random instance; `uniform`: even gaps, round-robin. */
    readonly arrivals?: 'poisson' | 'uniform' | undefined;
    /** Upstream instances, each with its own policies. Default 1. */
    readonly instances?: number | undefined;
  };
  /** The downstream every instance calls: its capacity, service time, errors, and their changes over time. */
  readonly downstream: {
    /** Parallel capacity; calls beyond it wait in one FIFO queue. */
    readonly servers: number;
    /** Service time of one call. */
    readonly latencyMs: Distribution;
    /** Fraction of calls that fail (after their service time), 0..1. Default 0. */
    readonly errorRate?: number | undefined;
    /** Changes over time, in `atMs` order (a bad deploy, its rollback). */
    readonly phases?: readonly Phase[] | undefined;
  };
  /** Builds one instance's policy from virtual time and a random stream. Default: no policy. */
  readonly policy?: ((env: PolicyEnvironment) => Policy) | undefined;
  /** The upstream's own clients: they give up after `timeoutMs` and resend at once up to `retries` times. */
  readonly callers?: { readonly timeoutMs?: number | undefined; readonly retries?: number | undefined } | undefined;
  /** A success counts as goodput when its latency (from arrival) is at most this. Default: every success. */
  readonly sloMs?: number | undefined;
}

/** A validated phase, with defaults filled in from the phase before it. */
export interface ResolvedPhase {
  readonly atMs: number;
  readonly latencyMs: Distribution;
  readonly sampler: Sampler;
  readonly errorRate: number;
  readonly servers: number;
  readonly label: string | undefined;
}

export interface ResolvedScenario {
  readonly name: string | undefined;
  readonly durationMs: number;
  readonly seed: number;
  readonly drainMs: number;
  readonly rateSteps: readonly RateStep[];
  readonly arrivals: 'poisson' | 'uniform';
  readonly instances: number;
  /** Phase 0 starts at 0 with the downstream's base settings. */
  readonly phases: readonly ResolvedPhase[];
  readonly policy: ((env: PolicyEnvironment) => Policy) | undefined;
  readonly callerTimeoutMs: number | undefined;
  readonly callerRetries: number;
  readonly sloMs: number | undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** A typo in a scenario file (`latency` for `latencyMs`) is an error, not a silent default. */
function checkKeys(where: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const closest = [...known].sort((x, y) => editDistance(key, x) - editDistance(key, y))[0]!;
    throw new TypeError(`breakwater/sim: unknown option ${JSON.stringify(key)} in ${where} (did you mean "${closest}"? known: ${known.join(', ')})`);
  }
}

/** A copy: each option is read once, so a getter cannot pass the checks with one value and run with another. */
function checkObject(where: string, value: unknown): Record<string, unknown> {
  return { ...checkOptionsObject(where, value, true) };
}

function readRate(value: unknown): RateStep[] {
  if (typeof value === 'number') return [{ atMs: 0, rps: checkNumber('load.rps', value, { min: 0 }) }];
  if (!Array.isArray(value)) {
    throw new TypeError(`breakwater/sim: "load.rps" must be a number or an array of { atMs, rps }, received ${describeValue(value)}`);
  }
  const steps: RateStep[] = [];
  value.forEach((raw: unknown, i) => {
    const step = checkObject(`load.rps[${i}]`, raw);
    checkKeys(`load.rps[${i}]`, step, ['atMs', 'rps']);
    const atMs = checkNumber(`load.rps[${i}].atMs`, step['atMs'], { min: 0 });
    const rps = checkNumber(`load.rps[${i}].rps`, step['rps'], { min: 0 });
    if (i > 0 && atMs <= steps[i - 1]!.atMs) {
      throw new RangeError(`breakwater/sim: "load.rps[${i}].atMs" (${atMs}) must be after the step before it (${steps[i - 1]!.atMs})`);
    }
    steps.push({ atMs, rps });
  });
  return steps;
}

function readErrorRate(option: string, value: unknown, fallback: number): number {
  return optionalNumber(option, value, fallback, { min: 0, max: 1 });
}

function readServers(option: string, value: unknown): number {
  return checkNumber(option, value, { min: 1, integer: true });
}

/** Validates a scenario (every error names the option and the value) and fills in defaults. */
export function resolveScenario(scenario: Scenario): ResolvedScenario {
  const s = checkObject('scenario', scenario);
  checkKeys('the scenario', s, ['name', 'durationMs', 'seed', 'drainMs', 'load', 'downstream', 'policy', 'callers', 'sloMs']);
  if (s['name'] !== undefined && typeof s['name'] !== 'string') {
    throw new TypeError(`breakwater/sim: "name" must be a string, received ${describeValue(s['name'])}`);
  }
  const durationMs = checkNumber('durationMs', s['durationMs'], { above: 0 });
  const seed = optionalNumber('seed', s['seed'], 1, { integer: true });
  const drainMs = optionalNumber('drainMs', s['drainMs'], 10_000, { min: 0 });

  const load = checkObject('load', s['load']);
  checkKeys('load', load, ['rps', 'arrivals', 'instances']);
  const rateSteps = readRate(load['rps']);
  const arrivals = load['arrivals'] === undefined ? 'poisson' : checkOneOf('load.arrivals', load['arrivals'], ['poisson', 'uniform'] as const);
  const instances = optionalNumber('load.instances', load['instances'], 1, { min: 1, integer: true });

  const downstream = checkObject('downstream', s['downstream']);
  checkKeys('downstream', downstream, ['servers', 'latencyMs', 'errorRate', 'phases']);
  const base: ResolvedPhase = {
    atMs: 0,
    latencyMs: downstream['latencyMs'] as Distribution,
    sampler: samplerOf('downstream.latencyMs', downstream['latencyMs']),
    errorRate: readErrorRate('downstream.errorRate', downstream['errorRate'], 0),
    servers: readServers('downstream.servers', downstream['servers']),
    label: undefined,
  };
  const phases: ResolvedPhase[] = [base];
  const rawPhases = downstream['phases'] === undefined ? [] : downstream['phases'];
  if (!Array.isArray(rawPhases)) {
    throw new TypeError(`breakwater/sim: "downstream.phases" must be an array, received ${describeValue(rawPhases)}`);
  }
  rawPhases.forEach((raw: unknown, i) => {
    const where = `downstream.phases[${i}]`;
    const phase = checkObject(where, raw);
    checkKeys(where, phase, ['atMs', 'latencyMs', 'errorRate', 'servers', 'label']);
    const before = phases[phases.length - 1]!;
    const atMs = checkNumber(`${where}.atMs`, phase['atMs'], { min: 0 });
    if (i > 0 && atMs < before.atMs) {
      throw new RangeError(`breakwater/sim: "${where}.atMs" (${atMs}) must not be before the phase before it (${before.atMs})`);
    }
    if (phase['label'] !== undefined && typeof phase['label'] !== 'string') {
      throw new TypeError(`breakwater/sim: "${where}.label" must be a string, received ${describeValue(phase['label'])}`);
    }
    const hasLatency = phase['latencyMs'] !== undefined;
    phases.push({
      atMs,
      latencyMs: hasLatency ? (phase['latencyMs'] as Distribution) : before.latencyMs,
      sampler: hasLatency ? samplerOf(`${where}.latencyMs`, phase['latencyMs']) : before.sampler,
      errorRate: readErrorRate(`${where}.errorRate`, phase['errorRate'], before.errorRate),
      servers: phase['servers'] === undefined ? before.servers : readServers(`${where}.servers`, phase['servers']),
      label: phase['label'] as string | undefined,
    });
  });

  const policy = s['policy'] === undefined ? undefined : checkFunction<(env: PolicyEnvironment) => Policy>('policy', s['policy']);
  const callers = s['callers'] === undefined ? {} : checkObject('callers', s['callers']);
  checkKeys('callers', callers, ['timeoutMs', 'retries']);
  const callerTimeoutMs = callers['timeoutMs'] === undefined ? undefined : checkNumber('callers.timeoutMs', callers['timeoutMs'], { above: 0 });
  const callerRetries = optionalNumber('callers.retries', callers['retries'], 0, { min: 0, integer: true });
  const sloMs = s['sloMs'] === undefined ? undefined : checkNumber('sloMs', s['sloMs'], { above: 0 });

  return {
    name: s['name'] as string | undefined,
    durationMs,
    seed,
    drainMs,
    rateSteps,
    arrivals,
    instances,
    phases,
    policy,
    callerTimeoutMs,
    callerRetries,
    sloMs,
  };
}
