// Command-line flags of the cascade demo. Every flag has a default that gives a run well under
// a minute on a laptop; `--help` prints them.
import { parseArgs } from 'node:util';

/** name → [default, help]. Numbers only, except the booleans listed below. */
const NUMBER_FLAGS = {
  rps: [200, 'requests per second sent to the upstream (open loop: a fixed arrival rate)'],
  'normal-ms': [5000, 'duration of the healthy phase before the bad deploy'],
  'bad-ms': [8000, 'duration of the bad deploy'],
  'heal-ms': [5000, 'duration of the healed phase after the rollback'],
  'normal-latency-ms': [20, 'downstream latency while healthy'],
  'bad-latency-ms': [2000, 'downstream latency during the bad deploy'],
  'bad-error-rate': [0.5, 'share of downstream answers that are 500s during the bad deploy (0..1)'],
  'timeout-ms': [250, 'breakwater: per-attempt timeout of the upstream\'s call'],
  'max-concurrent': [20, 'breakwater: bulkhead bound on calls in flight to the downstream'],
  'max-retries': [1, 'breakwater: retries of a downstream error (never of a timeout or a rejection)'],
  'half-open-after-ms': [1000, 'breakwater: how long the breaker stays open before a probe'],
  'slow-call-ms': [0, 'breakwater: a call slower than this counts as slow (0 = timeout-ms / 2)'],
};
const BOOLEAN_FLAGS = {
  json: 'print one JSON object to stdout instead of the table',
  quiet: 'no progress on stderr',
  help: 'show this help',
};

export function usage() {
  const lines = ['usage: node demo/cascade.mjs [flags]', ''];
  for (const [name, [def, help]] of Object.entries(NUMBER_FLAGS)) {
    lines.push(`  --${name.padEnd(20)} ${help} (default ${def})`);
  }
  for (const [name, help] of Object.entries(BOOLEAN_FLAGS)) lines.push(`  --${name.padEnd(20)} ${help}`);
  return lines.join('\n');
}

/**
 * Parses argv into a config object. Throws a RangeError/TypeError naming the flag on a bad
 * value, so a typo never silently runs the default scenario.
 */
export function parseConfig(argv) {
  const options = {};
  for (const name of Object.keys(NUMBER_FLAGS)) options[name] = { type: 'string' };
  for (const name of Object.keys(BOOLEAN_FLAGS)) options[name] = { type: 'boolean', default: false };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });

  const num = (name, { min = 0, max = Infinity, integer = false, above = false } = {}) => {
    const raw = values[name];
    if (raw === undefined) return NUMBER_FLAGS[name][0];
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

  const timeoutMs = num('timeout-ms', { min: 0, above: true });
  const slowCallMs = num('slow-call-ms');
  return {
    rps: num('rps', { min: 0, above: true, max: 5000 }),
    normalMs: num('normal-ms', { min: 0, above: true }),
    badMs: num('bad-ms', { min: 0, above: true }),
    healMs: num('heal-ms', { min: 0, above: true }),
    normalLatencyMs: num('normal-latency-ms'),
    badLatencyMs: num('bad-latency-ms'),
    badErrorRate: num('bad-error-rate', { max: 1 }),
    timeoutMs,
    maxConcurrent: num('max-concurrent', { min: 1, integer: true }),
    maxRetries: num('max-retries', { integer: true, max: 10 }),
    halfOpenAfterMs: num('half-open-after-ms', { min: 0, above: true }),
    slowCallMs: slowCallMs === 0 ? Math.max(1, Math.round(timeoutMs / 2)) : slowCallMs,
    json: values.json,
    quiet: values.quiet,
    help: values.help,
  };
}
