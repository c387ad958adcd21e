// Construction-time option checks. Messages name the option and the value received, so a
// typo in a config file is found at start-up, not during an incident.

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value) ?? Object.prototype.toString.call(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export interface NumberRule {
  /** Smallest allowed value (inclusive unless `above` is set). */
  min?: number;
  /** Strictly greater than this. */
  above?: number;
  max?: number;
  integer?: boolean;
  /** Allow Infinity (never allowed by default). */
  infinite?: boolean;
}

export function checkNumber(option: string, value: unknown, rule: NumberRule = {}): number {
  if (typeof value !== 'number') {
    throw new TypeError(`breakwater: option "${option}" must be a number, received ${show(value)}`);
  }
  const bad =
    Number.isNaN(value) ||
    (!rule.infinite && !Number.isFinite(value)) ||
    (rule.integer === true && Number.isFinite(value) && !Number.isInteger(value)) ||
    (rule.min !== undefined && value < rule.min) ||
    (rule.above !== undefined && value <= rule.above) ||
    (rule.max !== undefined && value > rule.max);
  if (bad) {
    const parts: string[] = [];
    if (rule.integer) parts.push('an integer');
    else parts.push('a finite number');
    if (rule.above !== undefined) parts.push(`> ${rule.above}`);
    if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
    if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
    throw new RangeError(
      `breakwater: option "${option}" must be ${parts.join(' ')}, received ${show(value)}`,
    );
  }
  return value;
}

export function optionalNumber(
  option: string,
  value: unknown,
  fallback: number,
  rule: NumberRule = {},
): number {
  return value === undefined ? fallback : checkNumber(option, value, rule);
}

export function checkFunction<F>(option: string, value: unknown): F {
  if (typeof value !== 'function') {
    throw new TypeError(`breakwater: option "${option}" must be a function, received ${show(value)}`);
  }
  return value as F;
}

export function optionalFunction<F>(option: string, value: unknown): F | undefined {
  return value === undefined ? undefined : checkFunction<F>(option, value);
}

/**
 * The option names of an options type, listed once as `{ name: true, … }`: the compiler
 * rejects a missing or an extra name, so the runtime list cannot drift from the type.
 */
export function optionNames<T extends object>(names: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(names));
}

/** Names other resilience libraries use for what is called differently here. */
const PEER_NAMES: Readonly<Record<string, readonly string[]>> = {
  resettimeout: ['halfOpenAfterMs'],
  halfopenafter: ['halfOpenAfterMs'],
  breakduration: ['halfOpenAfterMs'],
  waitdurationinopenstate: ['halfOpenAfterMs'],
  failurethreshold: ['consecutiveFailures', 'failureRatio'],
  errorthresholdpercentage: ['failureRatio'],
  failureratethreshold: ['failureRatio'],
  volumethreshold: ['minimumThroughput'],
  minimumnumberofcalls: ['minimumThroughput'],
  rollingcounttimeout: ['windowMs'],
  maxattempts: ['maxRetries'],
  retries: ['maxRetries'],
  attempts: ['maxRetries'],
  limit: ['maxConcurrent', 'capacity'],
  concurrency: ['maxConcurrent'],
  maxqueuesize: ['maxQueue'],
  queuesize: ['maxQueue'],
  tokensperinterval: ['refillPerSecond'],
  rate: ['refillPerSecond'],
  timeout: ['queueTimeoutMs', 'maxWaitMs'],
};

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `clok` → `clock` is
 * 1, `maxRetires` → `maxRetries` is 1.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The known names `unknown` was most likely meant to be: a peer library's name for one of
 * them, else the nearest by edit distance (ignoring case) when it is close enough to be a
 * typo (at most a third of the name's length, and at least 1).
 */
export function closestNames(unknown: string, known: readonly string[]): string[] {
  const lower = unknown.toLowerCase();
  const peers = (PEER_NAMES[lower] ?? []).filter((name) => known.includes(name));
  if (peers.length > 0) return peers;
  const limit = Math.max(1, Math.floor(unknown.length / 3));
  let best = Infinity;
  let found: string[] = [];
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance > limit || distance > best) continue;
    if (distance < best) {
      best = distance;
      found = [];
    }
    found.push(name);
  }
  return found;
}

/** `"a", "b" and "c"` (or `or`). */
export function quoteNames(names: readonly string[], last: 'and' | 'or'): string {
  const quoted = names.map((name) => JSON.stringify(name));
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} ${last} ${quoted[quoted.length - 1]}`;
}

/** "did you mean …?" for a close name, else the whole list of known names. */
export function suggest(unknown: string, known: readonly string[], what: string): string {
  const close = closestNames(unknown, known);
  if (close.length > 0) return `did you mean ${quoteNames(close, 'or')}?`;
  return known.length === 0 ? `it has no ${what}` : `its ${what} are ${quoteNames(known, 'and')}`;
}

/**
 * Checks that `value` is an options object (or absent, when not `required`). With
 * `knownNames`, an own property by any other name is a mistake (a typo, or another library's
 * name for an option) and throws a TypeError naming it and the closest known name, and the
 * result is a copy holding the known options that are set, each read exactly once.
 */
export function checkOptionsObject(
  kind: string,
  value: unknown,
  required: boolean,
  knownNames?: readonly string[],
): Record<string, unknown> {
  if (value === undefined && !required) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`breakwater: ${kind} options must be an object, received ${show(value)}`);
  }
  if (knownNames === undefined) return value as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    if (!knownNames.includes(key)) {
      throw new TypeError(`breakwater: ${kind} has no option ${JSON.stringify(key)}; ${suggest(key, knownNames, 'options')}`);
    }
  }
  // Each option is read once, here: a getter or a Proxy cannot pass the checks with one value
  // and hand the policy another on a second read.
  const snapshot: Record<string, unknown> = {};
  for (const name of knownNames) {
    const option = (value as Record<string, unknown>)[name];
    if (option !== undefined) snapshot[name] = option;
  }
  return snapshot;
}

export function checkName(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`breakwater: option "name" must be a non-empty string, received ${show(value)}`);
  }
  return value;
}

export function checkOneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(
      `breakwater: option "${option}" must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, received ${show(value)}`,
    );
  }
  return value as T;
}

export function checkClock(value: unknown): void {
  if (value === undefined) return;
  const c = value as Record<string, unknown>;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof c['now'] !== 'function' ||
    typeof c['setTimeout'] !== 'function' ||
    typeof c['clearTimeout'] !== 'function'
  ) {
    throw new TypeError(
      `breakwater: option "clock" must have the methods now, setTimeout and clearTimeout; received ${show(value)}`,
    );
  }
}

export { show as describeValue };
