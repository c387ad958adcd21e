// The soak's checks and its section of docs/benchmarks.md. The section is rendered from the
// committed bench/results/soak.json, by bench/soak.mjs --write-docs (which rewrites just that
// section) and by bench/run.mjs (which regenerates the whole page): a benchmark run keeps
// the last soak's numbers, and a soak run does not need a benchmark run.
import { existsSync, readFileSync } from 'node:fs';
import { replaceSection } from './doc-section.mjs';

export const SOAK_JSON = new URL('../results/soak.json', import.meta.url);
const DOCS_PAGE = new URL('../../docs/benchmarks.md', import.meta.url);
const START = '<!-- soak:start -->';
const END = '<!-- soak:end -->';

const OUTCOMES = ['successes', 'failures', 'refusals', 'timeouts', 'aborts'];
/** Policies whose events do not report a caller that gives up while waiting for a slot or a token (its fn never ran). */
const SILENT_WHILE_WAITING = new Set(['bulkhead', 'rateLimiter', 'keyedRateLimiter']);
/** Worst event-loop delay a policy may add over the no-policy baseline. */
const STALL_ALLOWANCE_MS = 10;
const DRIFT_LIMIT_MB = 5;

const sum = (tally) => OUTCOMES.reduce((total, o) => total + tally[o], 0);

/** The calls of `fn` a case must have made, from its counters; undefined when no formula applies. */
function expectedFnCalls(r) {
  if (r.id === 'pipeline') {
    // The innermost layer (timeout) calls fn for every attempt that reaches it. It reports a
    // success or a failure for each, except a timeout: those the outer retry either retried
    // (a \`retry\` event with a TimeoutError) or handed to the caller.
    const t = r.layers?.timeout;
    if (t === undefined) return undefined;
    return t.successes + t.failures + t.refusals + t.aborts + t.unexpected + r.events.retriedTimeouts + r.own.timeouts;
  }
  return r.calls - r.own.refusals - r.own.abortsBeforeFn + (r.events?.retries ?? 0);
}

/**
 * Every check of a soak run. `invariant`: must hold (the run exits 1 otherwise); `coverage`:
 * the mix produced each outcome the policy can produce (fails only when too few calls ran);
 * `target`: a performance goal, reported as pass or MISS.
 */
export function evaluateSoak(data) {
  const checks = [];
  const add = (r, kind, id, what, pass, detail) => checks.push({ case: r.id, kind, id, what, pass: Boolean(pass), detail });
  const baseline = data.results.find((r) => r.id === 'bare');
  for (const r of data.results) {
    const own = r.own;
    add(r, 'invariant', 'adds-up', 'calls = successes + failures + refusals + timeouts + aborts (caller side)',
      sum(own) === r.calls && own.unexpected === 0,
      `${r.calls} = ${OUTCOMES.map((o) => own[o]).join(' + ')}${own.unexpected ? ` (+ ${own.unexpected} unexpected: ${r.unexpectedErrors.join('; ')})` : ''}`);
    const impossible = OUTCOMES.filter((o) => !r.outcomes.includes(o) && own[o] !== 0);
    add(r, 'invariant', 'impossible', 'outcomes this policy cannot produce stay at 0', impossible.length === 0,
      impossible.length ? impossible.map((o) => `${o} ${own[o]}`).join(', ') : 'none');
    if (r.events) {
      const silent = SILENT_WHILE_WAITING.has(r.id) ? own.abortsBeforeFn : 0;
      const wrong = OUTCOMES.filter((o) => r.events[o] !== own[o] - (o === 'aborts' ? silent : 0));
      if (r.events.unexpected !== 0) wrong.push(`unexpected ${r.events.unexpected}`);
      if (r.events.fallbacks !== own.fallbacks) wrong.push(`fallbacks ${r.events.fallbacks} ≠ ${own.fallbacks}`);
      add(r, 'invariant', 'events-agree', "the policy's own events count the same outcomes as the caller", wrong.length === 0,
        (wrong.length ? `differ: ${wrong.join(', ')}; ` : '') +
          `events ${OUTCOMES.map((o) => r.events[o]).join(' / ')}` +
          (silent ? `; ${silent} caller(s) aborted while waiting, which no event reports` : ''));
    }
    const expected = expectedFnCalls(r);
    if (expected !== undefined) {
      add(r, 'invariant', 'fn-calls', 'fn ran exactly as often as the counters say', r.fnCalls === expected, `fn ran ${r.fnCalls}, expected ${expected}`);
    }
    add(r, 'invariant', 'timers', 'no timer left once the calls settled', r.timersLeft === 0, `${r.timersLeft} left`);
    add(r, 'invariant', 'unhandled', 'no unhandled rejection', r.unhandledRejections === 0, `${r.unhandledRejections}`);
    const missing = r.outcomes.filter((o) => own[o] === 0);
    if (r.id === 'circuitBreaker' && r.events.opened === 0) missing.push('an opening');
    if (r.id === 'retry' && r.events.retries === 0) missing.push('a retry');
    if (r.id === 'fallback' && own.fallbacks === 0) missing.push('a fallback');
    add(r, 'coverage', 'coverage', 'every outcome this policy can produce happened', missing.length === 0,
      missing.length ? `never: ${missing.join(', ')}` : r.outcomes.join(', '));
    const drift = r.heap.driftMB;
    add(r, 'target', 'heap-drift', `heap drift after warm-up < ${DRIFT_LIMIT_MB} MB`, drift !== null && Math.abs(drift) < DRIFT_LIMIT_MB,
      drift === null ? 'too few samples' : `${drift} MB`);
    if (r.id !== 'bare' && baseline) {
      const excess = r.loop.worstDelayMs - baseline.loop.worstDelayMs;
      add(r, 'target', 'loop-delay', `worst event-loop delay ≤ baseline + ${STALL_ALLOWANCE_MS} ms`, excess <= STALL_ALLOWANCE_MS,
        `${r.loop.worstDelayMs} ms vs ${baseline.loop.worstDelayMs} ms`);
    }
  }
  return checks;
}

// ---------------------------------------------------------------- markdown

const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const int = (x) => (typeof x === 'number' && Number.isFinite(x) ? nf.format(x) : '—');
const num = (x, digits = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—');
const esc = (s) => String(s).replaceAll('|', '\\|');

function table(header, rows) {
  const line = (cells) => `| ${cells.map(esc).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** The soak section's body (no markers), from one soak run's data. */
export function renderSoakSummary(data) {
  const s = data.settings;
  const e = data.env;
  const m = s.mix;
  const checks = data.checks ?? evaluateSoak(data);
  const byCase = (id) => checks.filter((c) => c.case === id);
  const status = (id, checkId) => {
    const c = byCase(id).find((x) => x.id === checkId);
    return c === undefined ? '' : c.pass ? 'yes' : `**no**: ${c.detail}`;
  };
  const broken = checks.filter((c) => c.kind !== 'target' && !c.pass);
  const missed = checks.filter((c) => c.kind === 'target' && !c.pass);
  const baseline = data.results.find((r) => r.id === 'bare');

  const outcomeRows = data.results.map((r) => [
    r.id === 'pipeline' || r.id === 'bare' ? r.label : `\`${r.label}\``,
    int(r.callsPerSecond),
    int(r.own.successes) + (r.own.fallbacks ? ` (${int(r.own.fallbacks)} fallbacks)` : ''),
    int(r.own.failures),
    int(r.own.refusals),
    int(r.own.timeouts),
    int(r.own.aborts) + (r.own.abortsBeforeFn ? ` (${int(r.own.abortsBeforeFn)} while waiting)` : ''),
    status(r.id, 'adds-up'),
    r.events ? status(r.id, 'events-agree') : 'n/a',
    status(r.id, 'fn-calls'),
  ]);
  const heapRows = data.results.map((r) => [
    r.id,
    num(r.heap.afterWarmupMB, 2),
    num(r.heap.maxMB, 2),
    num(r.heap.endMB, 2),
    `**${num(r.heap.driftMB, 2)}**`,
    num(r.heap.slopeMBPerMillionCalls, 3),
    `**${num(r.loop.worstDelayMs)}**`,
    num(r.loop.medianWindowWorstDelayMs),
    num(r.loop.worstGcPauseMs),
    num(r.loop.worstForcedGcMs),
    r.id === 'bare' ? '—' : num(r.loop.worstDelayMs - baseline?.loop.worstDelayMs),
    `${r.timersLeft} / ${r.unhandledRejections}`,
    int(r.driverYields),
  ]);

  return `## Soak: ${int(s.calls)} calls per policy

<!-- Generated by bench/soak.mjs (\`npm run bench:soak -- --write-docs\`) into bench/results/soak.json; bench/run.mjs renders it again. -->

${s.quick ? '> **Quick mode** (a smoke run): too short to judge drift.\n\n' : ''}Run on ${e.date.slice(0, 10)}, ${e.cpu} × ${e.cores}, Node ${e.node}, breakwater ${e.breakwater}; ${int(data.seconds)} s in all.
Each case runs in its own process against the built \`dist/\` with the real clock (\`systemClock\`), ${s.inFlight} calls in
flight${s.maxLaunchesPerTurn ? `, at most ${int(s.maxLaunchesPerTurn)} launched per event-loop turn (a call refused at once would otherwise launch the next in the same
microtask loop and starve the event loop; the baseline never reaches the bound)` : ''}. Every case gets the same sequence of calls, chosen by a hash of the call's index:
${num(m.pSlow * 100, 2)} % wait ${s.slowMs} ms on a real timer (longer than the ${s.timeoutMs} ms timeout), ${num(m.pAbort * 100, 1)} % are aborted by
their caller one turn after \`execute\`, ${num(m.pFail * 100, 0)} % fail, ${num(m.pFlaky * 100, 0)} % fail on their first attempt only, the rest succeed
(half at once, half after \`setImmediate\`); every ${int(m.burstEvery)} calls, ${m.burstLen} fail in a row, each a turn later (the breaker opens); every
${int(m.surgeEvery)} calls, ${m.surge} arrive at once on top of the ${s.inFlight} (the bulkhead and the limiters refuse).

${broken.length === 0 ? '**Every counter adds up**' : `**${broken.length} check(s) failed:** ${broken.map((c) => `${c.case} ${c.id} (${c.detail})`).join('; ')}`}; ${missed.length === 0 ? 'every target is met.' : `target(s) missed: ${missed.map((c) => `${c.case} ${c.id} (${c.detail})`).join('; ')}.`}

### Outcomes, counted by the caller

“adds up”: the five outcomes sum to the calls. “events agree”: the policy's own events (\`success\`, \`failure\` sorted by its
error, \`rejected\`, \`timeout\`, \`fallback\`) give the same five numbers; for the pipeline, the events of its outermost layer
(its inner timeout layer has no \`timeout\` listener, the standalone timeout has one, as the telemetry bridges attach).
A caller that aborts while waiting in a bulkhead queue or for a rate-limit token is the one outcome no event reports (its
\`fn\` never ran); those are counted apart. “fn calls”: \`fn\` ran exactly calls − refusals − aborts while waiting + retries
times (for the pipeline: as often as its timeout layer reported an outcome).

${table(['case', 'calls/s', 'successes', 'failures', 'refusals', 'timeouts', 'aborts', 'adds up', 'events agree', 'fn calls'], outcomeRows)}

### Heap and event loop

Heap: \`heapUsed\` after a forced full GC, every ${s.sampleMs} ms. Drift = median of the last three samples − median of the first
three after warm-up (the first 10 % of the calls); the slope is a least-squares fit over those samples (target: |drift| < ${DRIFT_LIMIT_MB} MB).
Event loop: \`monitorEventLoopDelay\` (${baseline?.loop.resolutionMs ?? 10} ms resolution), delay beyond the interval; the histogram is restarted after
each heap sample so the forced GC is not counted as a stall (target: ≤ the baseline's + ${STALL_ALLOWANCE_MS} ms). The collector's own
pauses (not the forced ones) are given next to it: on a shared machine, a stall the baseline shows too is the machine's.
The longest forced full GC of a heap of a few MB (a few ms on an idle machine) tells how long the machine took the
process off the CPU during the run: a worst stall of that order is the machine's, the median of each window's worst is
the steadier figure.

${table(['case', 'heap after warm-up MB', 'max MB', 'end MB', 'drift MB', 'MB per 1M calls', 'worst loop delay ms', 'median of each window’s worst', 'worst GC pause ms', 'longest forced GC ms', 'vs baseline ms', 'timers left / unhandled', 'turns at the launch bound'], heapRows)}
`;
}

/** The section as it appears in docs/benchmarks.md, markers included. */
export function soakSection() {
  if (!existsSync(SOAK_JSON)) {
    return `${START}\n## Soak\n\nNot run yet: \`npm run bench:soak -- --write-docs\`.\n${END}\n`;
  }
  return `${START}\n${renderSoakSummary(JSON.parse(readFileSync(SOAK_JSON, 'utf8')))}${END}\n`;
}

/** Replaces the soak section of docs/benchmarks.md (or appends it) with `data`'s. */
export function writeSoakDocs(data, read, write) {
  const page = read(DOCS_PAGE, 'utf8');
  const section = `${START}\n${renderSoakSummary(data)}${END}\n`;
  const next = replaceSection(page, START, END, section);
  write(DOCS_PAGE, next);
}
