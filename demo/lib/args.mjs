// Command-line flags of the cascade demo. Every flag has a default that gives a run well under
// a minute and a half on a laptop; `--help` prints them.
import { parseArgs } from 'node:util';

/**
 * The stories the demo can play. Each sets the load and the downstream's change; the flags of
 * SCENARIO_FLAGS override them (in every scenario that runs). `label` names the changed phase.
 */
export const SCENARIOS = {
  cascade: {
    label: 'bad deploy',
    // slowCallShare: the breaker's slow-call threshold as a share of the timeout.
    defaults: { normalMs: 5000, badMs: 8000, healMs: 5000, badLatencyMs: 2000, badErrorRate: 0.5, slowCallShare: 0.5 },
  },
  slower: {
    label: 'slow deploy',
    // 200 req/s × 150 ms = 30 calls in flight: more than the hand-sized bulkhead's 20, and a
    // load the downstream serves (it has no capacity limit). A build that answers right, only
    // slower, is not broken: here the breaker counts only timeouts as slow, so what is shed is
    // decided by the concurrency bound alone.
    defaults: { normalMs: 2000, badMs: 4000, healMs: 1000, badLatencyMs: 150, badErrorRate: 0, slowCallShare: 1 },
  },
};
export const SCENARIO_NAMES = Object.keys(SCENARIOS);

/** The estimators the adaptive run can use, by flag value. */
export const ADAPTIVE_LIMITS = ['aimd', 'gradient2', 'vegas'];

/** Flags whose default depends on the scenario: flag → [config key, help, default's description]. */
const SCENARIO_FLAGS = {
  'normal-ms': ['normalMs', 'duration of the healthy phase before the deploy'],
  'bad-ms': ['badMs', 'duration of the changed downstream (the bad or slow deploy)'],
  'heal-ms': ['healMs', 'duration of the phase after the rollback'],
  'bad-latency-ms': ['badLatencyMs', 'downstream latency during the deploy'],
  'bad-error-rate': ['badErrorRate', 'share of downstream answers that are 500s during the deploy (0..1)'],
  'slow-call-ms': ['slowCallMs', 'breakwater: a call slower than this counts as slow (0 = the scenario\'s default)',
    (d) => (d.slowCallShare === 1 ? 'timeout-ms' : `timeout-ms × ${d.slowCallShare}`)],
};
/** Flags shared by every scenario: flag → [default, help]. */
const NUMBER_FLAGS = {
  rps: [200, 'requests per second sent to the upstream (open loop: a fixed arrival rate)'],
  'normal-latency-ms': [20, 'downstream latency while healthy'],
  'timeout-ms': [250, 'breakwater: per-attempt timeout of the upstream\'s call'],
  'max-concurrent': [20, 'breakwater: the hand-sized bulkhead\'s bound on calls in flight to the downstream'],
  'max-retries': [1, 'breakwater: retries of a downstream error (never of a timeout or a rejection)'],
  'half-open-after-ms': [1000, 'breakwater: how long the breaker stays open before a probe'],
};
const STRING_FLAGS = {
  scenario: ['all', `which scenario to run: ${SCENARIO_NAMES.join(', ')} or all`, [...SCENARIO_NAMES, 'all']],
  'adaptive-limit': ['aimd', 'the adaptive run\'s estimator: aimd, gradient2 (the library default) or vegas', ADAPTIVE_LIMITS],
};
const BOOLEAN_FLAGS = {
  json: 'print one JSON object to stdout instead of the tables',
  quiet: 'no progress on stderr',
  help: 'show this help',
};

export function usage() {
  const lines = ['usage: node demo/cascade.mjs [flags]', ''];
  for (const [name, [def, help]] of Object.entries(STRING_FLAGS)) lines.push(`  --${name.padEnd(20)} ${help} (default ${def})`);
  for (const [name, [key, help, describe]] of Object.entries(SCENARIO_FLAGS)) {
    const defaults = SCENARIO_NAMES.map((s) => {
      const d = SCENARIOS[s].defaults;
      return `${s} ${describe === undefined ? d[key] : describe(d)}`;
    }).join(', ');
    lines.push(`  --${name.padEnd(20)} ${help} (default ${defaults})`);
  }
  for (const [name, [def, help]] of Object.entries(NUMBER_FLAGS)) lines.push(`  --${name.padEnd(20)} ${help} (default ${def})`);
  for (const [name, help] of Object.entries(BOOLEAN_FLAGS)) lines.push(`  --${name.padEnd(20)} ${help}`);
  return lines.join('\n');
}

/**
 * Parses argv into `{ scenarios: [config, …], json, quiet, help }`, one full config per
 * scenario to run, in the order of SCENARIOS. Throws a RangeError/TypeError naming the flag on
 * a bad value, so a typo never silently runs the default scenario.
 */
export function parseConfig(argv) {
  const options = {};
  for (const name of [...Object.keys(SCENARIO_FLAGS), ...Object.keys(NUMBER_FLAGS), ...Object.keys(STRING_FLAGS)]) {
    options[name] = { type: 'string' };
  }
  for (const name of Object.keys(BOOLEAN_FLAGS)) options[name] = { type: 'boolean', default: false };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });

  const num = (name, fallback, { min = 0, max = Infinity, integer = false, above = false } = {}) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const bad =
      raw.trim() === '' ||
      !Number.isFinite(value) ||
      (above ? value <= min : value < min) ||
      value > max ||
      (integer && !Number.isInteger(value));
    if (bad) {
      const range = `${above ? '>' : '≥'} ${min}${max === Infinity ? '' : ` and ≤ ${max}`}`;
      throw new RangeError(`--${name} must be a${integer ? 'n integer' : ' number'} ${range}, received ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const choice = (name) => {
    const [def, , allowed] = STRING_FLAGS[name];
    const raw = values[name] ?? def;
    if (!allowed.includes(raw)) {
      throw new RangeError(`--${name} must be one of ${allowed.join(', ')}, received ${JSON.stringify(raw)}`);
    }
    return raw;
  };
  const shared = (name, limits) => num(name, NUMBER_FLAGS[name][0], limits);

  const scenario = choice('scenario');
  const adaptiveLimit = choice('adaptive-limit');
  const rps = shared('rps', { min: 0, above: true, max: 5000 });
  const normalLatencyMs = shared('normal-latency-ms');
  const timeoutMs = shared('timeout-ms', { min: 0, above: true });
  const maxConcurrent = shared('max-concurrent', { min: 1, integer: true });
  const maxRetries = shared('max-retries', { integer: true, max: 10 });
  const halfOpenAfterMs = shared('half-open-after-ms', { min: 0, above: true });
  const slowCallMs = num('slow-call-ms', 0);
  const scenarios = SCENARIO_NAMES.filter((name) => scenario === 'all' || scenario === name).map((name) => {
    const d = SCENARIOS[name].defaults;
    return {
      scenario: name,
      rps,
      normalMs: num('normal-ms', d.normalMs, { min: 0, above: true }),
      badMs: num('bad-ms', d.badMs, { min: 0, above: true }),
      healMs: num('heal-ms', d.healMs, { min: 0, above: true }),
      normalLatencyMs,
      badLatencyMs: num('bad-latency-ms', d.badLatencyMs),
      badErrorRate: num('bad-error-rate', d.badErrorRate, { max: 1 }),
      timeoutMs,
      maxConcurrent,
      maxRetries,
      halfOpenAfterMs,
      slowCallMs: slowCallMs === 0 ? Math.max(1, Math.round(timeoutMs * d.slowCallShare)) : slowCallMs,
      adaptiveLimit,
    };
  });
  return { scenarios, json: values.json, quiet: values.quiet, help: values.help };
}
