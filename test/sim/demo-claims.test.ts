// What docs/demo.md claims about the cascade demo, checked in virtual time: the demo's load,
// bad deploy and protection pipeline (examples/scenarios/demo-cascade.mjs) run in the
// simulator against the BUILT package, in well under a second per run and with the same
// result every time, instead of 37 s of real load whose timings depend on the machine.
// test/demo/cascade.test.ts still runs the real demo, for what a slow machine cannot change.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from '../package/built.js';
import type { Policy } from '../../src/index.js';
import type { Scenario, SimulationReport, SimulationSecond, simulate as Simulate } from '../../src/sim/index.js';

interface CallMeter {
  inFlight: number;
  peakInFlight: number;
  policy: Policy;
}
interface DemoModule {
  DEMO_DEFAULTS: Readonly<Record<string, number>>;
  demoScenario(params?: Record<string, number | boolean>, meter?: CallMeter): Scenario;
  demoProtection(config: Record<string, number>, env: { clock: unknown; random: () => number }): Policy & { policies: PolicyLike[] };
  callMeter(): CallMeter;
}
interface PolicyLike {
  kind: string;
  maxRetries?: number;
  maxConcurrent?: number;
  maxQueue?: number;
  ms?: number;
}

let demo: DemoModule;
let simulate: typeof Simulate;
const config: Record<string, number> = {};
const runs = {} as Record<'unprotected' | 'protected', { report: SimulationReport; meter: CallMeter }>;

/** The seconds whose requests arrived during the bad deploy. */
function badSeconds(report: SimulationReport): SimulationSecond[] {
  return report.series.filter((s) => s.startMs >= config['normalMs']! && s.startMs < config['normalMs']! + config['badMs']!);
}
const sum = (seconds: SimulationSecond[], field: 'downstreamCalls' | 'succeeded' | 'sent') => seconds.reduce((n, s) => n + s[field], 0);

beforeAll(async () => {
  ensureBuilt();
  demo = (await import(new URL('../../examples/scenarios/demo-cascade.mjs', import.meta.url).href)) as DemoModule;
  ({ simulate } = (await import(new URL('../../dist/sim.js', import.meta.url).href)) as { simulate: typeof Simulate });
  Object.assign(config, demo.DEMO_DEFAULTS, { slowCallMs: demo.DEMO_DEFAULTS['timeoutMs']! / 2 });
  for (const name of ['unprotected', 'protected'] as const) {
    const meter = demo.callMeter();
    const report = await simulate(demo.demoScenario({ protect: name === 'protected' }, meter));
    runs[name] = { report, meter };
  }
}, 60_000);

describe('the simulated demo is the demo', () => {
  it("has the demo's defaults and the pipeline of demo/lib/protection.mjs", async () => {
    const { parseConfig } = (await import(new URL('../../demo/lib/args.mjs', import.meta.url).href)) as {
      parseConfig(argv: string[]): { scenarios: Array<Record<string, number | boolean | string>> };
    };
    const { buildProtection } = (await import(new URL('../../demo/lib/protection.mjs', import.meta.url).href)) as {
      buildProtection(config: Record<string, number | boolean | string>): { policy: { policies: PolicyLike[] } };
    };
    const real = parseConfig([]).scenarios.find((run) => run['scenario'] === 'cascade')!;
    for (const [key, value] of Object.entries(config)) expect([key, real[key]]).toEqual([key, value]);
    const shape = (policies: PolicyLike[]) => policies.map(({ kind, maxRetries, maxConcurrent, maxQueue, ms }) => ({ kind, maxRetries, maxConcurrent, maxQueue, ms }));
    const simulated = demo.demoProtection(config, { clock: undefined, random: Math.random });
    expect(shape(simulated.policies)).toEqual(shape(buildProtection(real).policy.policies));
    expect(shape(simulated.policies).map((p) => p.kind)).toEqual(['retry', 'bulkhead', 'circuit-breaker', 'timeout']);
  });

  it('sends the same open-loop load to both runs: rps × duration requests, evenly spaced', () => {
    const seconds = (config['normalMs']! + config['badMs']! + config['healMs']!) / 1000;
    for (const { report } of Object.values(runs)) {
      expect(report.totals.sent).toBe(config['rps']! * seconds);
      expect(report.series.slice(0, seconds).every((s) => s.sent === config['rps'])).toBe(true);
      expect(report.totals.unfinished).toBe(0);
    }
  });
});

describe('unprotected, the bad deploy cascades into the upstream', () => {
  it("the upstream's latency becomes the downstream's: every bad-deploy request takes the bad latency", () => {
    const { report } = runs.unprotected;
    for (const second of badSeconds(report)) {
      expect(second.p50Ms).toBe(config['badLatencyMs']);
      expect(second.maxMs).toBe(config['badLatencyMs']);
    }
    expect(report.totals.p99Ms).toBe(config['badLatencyMs']);
  });

  it('calls in flight pile up to rps × bad latency (≈ 400), at the upstream and at the downstream', () => {
    const { report, meter } = runs.unprotected;
    const expected = (config['rps']! * config['badLatencyMs']!) / 1000;
    expect(meter.peakInFlight).toBeGreaterThanOrEqual(expected);
    expect(meter.peakInFlight).toBeLessThanOrEqual(expected * 1.02);
    expect(report.totals.peakInFlight).toBe(meter.peakInFlight);
    expect(meter.inFlight).toBe(0);
  });

  it('the sick downstream gets every request of the bad deploy; about half fail after waiting it out', () => {
    const { report } = runs.unprotected;
    const bad = badSeconds(report);
    expect(sum(bad, 'downstreamCalls')).toBe(sum(bad, 'sent'));
    const failed = bad.reduce((n, s) => n + s.failed, 0);
    // Binomial(1600, 0.5): ± 4 standard deviations is ± 80.
    expect(Math.abs(failed - sum(bad, 'sent') * config['badErrorRate']!)).toBeLessThan(80);
    expect(report.totals.shed).toBe(0);
  });
});

describe('protected, the bad deploy stays downstream', () => {
  it("every request is answered within the timeout: p99 (and max) ≤ timeoutMs", () => {
    const { report } = runs.protected;
    expect(report.totals.maxMs).toBeLessThanOrEqual(config['timeoutMs']!);
    for (const second of badSeconds(report)) expect(second.p99Ms).toBeLessThanOrEqual(config['timeoutMs']!);
  });

  it('never more than maxConcurrent calls are open: the bulkhead is the bound, and it is reached', () => {
    const { meter } = runs.protected;
    expect(meter.peakInFlight).toBe(config['maxConcurrent']);
    expect(meter.inFlight).toBe(0);
  });

  it('the breaker opens a few hundred ms into the bad deploy: after the first timeouts, within half a window of calls', () => {
    const { transitions } = runs.protected.report;
    const opened = transitions.find((t) => t.to === 'open')!;
    const afterMs = opened.atMs - config['normalMs']!;
    // No failure is seen before the first bad-deploy attempt times out; then half of the
    // 20-call window (failureRatio 0.5) must be failures, and the attempts time out in the
    // order they started, one every 1000/rps ms.
    expect(afterMs).toBeGreaterThanOrEqual(config['timeoutMs']!);
    expect(afterMs).toBeLessThanOrEqual(config['timeoutMs']! + ((20 * 0.5) * 1000) / config['rps']!);
  });

  it('while down, the downstream gets a trickle: one probe every halfOpenAfterMs + timeoutMs, each timing out', () => {
    const { report } = runs.protected;
    const badUntil = config['normalMs']! + config['badMs']!;
    const cycle = report.transitions.filter((t) => t.atMs < badUntil);
    expect(cycle[0]).toMatchObject({ from: 'closed', to: 'open' });
    for (let i = 1; i < cycle.length; i++) {
      const gap = cycle[i]!.atMs - cycle[i - 1]!.atMs;
      if (cycle[i]!.to === 'half-open') expect([cycle[i]!.from, gap]).toEqual(['open', config['halfOpenAfterMs']]);
      else expect([cycle[i]!.from, cycle[i]!.to, gap]).toEqual(['half-open', 'open', config['timeoutMs']]);
    }
    const calls = sum(badSeconds(report), 'downstreamCalls');
    const openedAfterMs = cycle[0]!.atMs - config['normalMs']!;
    // At most every request before the breaker opened, then one probe per cycle.
    const bound = (config['rps']! * openedAfterMs) / 1000 + Math.ceil(config['badMs']! / (config['halfOpenAfterMs']! + config['timeoutMs']!));
    expect(calls).toBeLessThanOrEqual(bound);
    expect(calls).toBeLessThan(sum(badSeconds(runs.unprotected.report), 'downstreamCalls') / 20);
  });

  it('the rest is shed at once: during the bad deploy the median request is answered in 0 ms', () => {
    const { report } = runs.protected;
    const [, ...afterOpening] = badSeconds(report);
    for (const second of afterOpening) {
      expect(second.p50Ms).toBe(0);
      expect(second.shed).toBeGreaterThan(second.sent * 0.9);
    }
  });

  it('the breaker closes within halfOpenAfterMs (+ one timed-out probe) of the rollback, and stays closed', () => {
    const { report } = runs.protected;
    const badUntil = config['normalMs']! + config['badMs']!;
    const closed = report.transitions.find((t) => t.to === 'closed' && t.atMs >= badUntil)!;
    expect(closed.atMs - badUntil).toBeLessThanOrEqual(config['halfOpenAfterMs']! + config['timeoutMs']! + config['normalLatencyMs']!);
    expect(report.transitions.at(-1)).toBe(closed);
    const healed = report.series.filter((s) => s.startMs >= closed.atMs && s.sent > 0);
    expect(healed.length).toBeGreaterThanOrEqual(3);
    for (const second of healed) expect(second.succeeded).toBe(second.sent);
  });

  it('what it costs: the slow successes of the bad deploy are shed instead of delivered after 2 s', () => {
    const unprotected = sum(badSeconds(runs.unprotected.report), 'succeeded');
    const protectedSucceeded = sum(badSeconds(runs.protected.report), 'succeeded');
    expect(protectedSucceeded).toBe(0);
    expect(unprotected).toBeGreaterThan(700);
    expect(runs.protected.report.totals.succeeded).toBeLessThan(runs.unprotected.report.totals.succeeded);
  });
});

describe("the simulation reproduces docs/demo.md's real run", () => {
  // The measured run ("One run" in docs/demo.md): real servers, real sockets, a loaded machine.
  const page = readFileSync(join(projectRoot, 'docs/demo.md'), 'utf8');
  const row = (label: string): [string, string] => {
    // Columns: unprotected, bulkhead 20, then any further runs (adaptive).
    const match = new RegExp(`^\\s*${label}\\s+(\\S+)(?: ms)?\\s+(\\S+)(?: ms)?(?:\\s+\\S+(?: ms)?)*\\s*$`, 'm').exec(page);
    if (match === null) throw new Error(`docs/demo.md has no row "${label}"`);
    return [match[1]!, match[2]!];
  };

  it('requests sent, succeeded, failed and shed: within 2 % of the requests sent', () => {
    const measured = {
      sent: row('requests sent').map(Number),
      succeeded: row('succeeded').map(Number),
      failed: row('failed \\(5xx after trying\\)').map(Number),
      shed: row('shed \\(503 \\+ Retry-After, at once\\)').map(Number),
    };
    const sent = measured.sent[0]!;
    expect(runs.unprotected.report.totals.sent).toBe(sent);
    (['unprotected', 'protected'] as const).forEach((name, column) => {
      const totals = runs[name].report.totals;
      for (const field of ['succeeded', 'failed', 'shed'] as const) {
        expect([name, field, Math.abs(totals[field] - measured[field][column]!) <= 0.02 * sent]).toEqual([name, field, true]);
      }
    });
  });

  it('peak calls in flight, calls during the bad deploy, breaker opened and closed', () => {
    const [peakUnprotected, peakProtected] = row('peak calls in flight to the downstream').map(Number);
    // A loaded machine sends late and in bursts (the run's send lag is printed with it), which
    // can only raise the real peak above rps × latency: the simulation is the floor.
    expect(runs.unprotected.meter.peakInFlight).toBeLessThanOrEqual(peakUnprotected!);
    expect(Math.abs(runs.unprotected.meter.peakInFlight - peakUnprotected!)).toBeLessThanOrEqual(0.15 * peakUnprotected!);
    expect(runs.protected.meter.peakInFlight).toBe(peakProtected);

    const [callsUnprotected, callsProtected] = row('calls the downstream got during the bad deploy').map(Number);
    expect(Math.abs(sum(badSeconds(runs.unprotected.report), 'downstreamCalls') - callsUnprotected!)).toBeLessThanOrEqual(0.01 * callsUnprotected!);
    expect(Math.abs(sum(badSeconds(runs.protected.report), 'downstreamCalls') - callsProtected!)).toBeLessThanOrEqual(5);

    // The real timers fire late by up to the run's measured send lag (≈ 16 ms); the probe
    // cycle after the rollback can land anywhere in one halfOpenAfterMs + timeoutMs.
    const openedMs = Number(row('breaker opened, after the bad deploy began')[1]);
    const closedMs = Number(row('breaker closed, after the rollback')[1]);
    const { transitions } = runs.protected.report;
    const badUntil = config['normalMs']! + config['badMs']!;
    expect(Math.abs(transitions.find((t) => t.to === 'open')!.atMs - config['normalMs']! - openedMs)).toBeLessThanOrEqual(50);
    const closed = transitions.find((t) => t.to === 'closed' && t.atMs >= badUntil)!.atMs - badUntil;
    expect(Math.abs(closed - closedMs)).toBeLessThanOrEqual(config['halfOpenAfterMs']! + config['timeoutMs']!);
  });
});
