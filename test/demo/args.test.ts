// The demo's flags: which scenarios run, what each runs with, and bad values refused by name.
import { describe, expect, it } from 'vitest';

interface ScenarioConfig {
  scenario: string;
  rps: number;
  badLatencyMs: number;
  badErrorRate: number;
  timeoutMs: number;
  slowCallMs: number;
  adaptiveLimit: string;
  [key: string]: unknown;
}
const { parseConfig } = (await import(new URL('../../demo/lib/args.mjs', import.meta.url).href)) as {
  parseConfig(argv: string[]): { scenarios: ScenarioConfig[]; json: boolean };
};
const { limitSummary } = (await import(new URL('../../demo/lib/stats.mjs', import.meta.url).href)) as {
  limitSummary(
    observed: { initialLimit: number; limitChanges: { at: number; from: number; to: number }[] },
    badFrom: number,
    badUntil: number,
  ): Record<string, number>;
};

describe('demo flags', () => {
  it('runs both scenarios by default, each with its own fault and breaker threshold', () => {
    const { scenarios } = parseConfig([]);
    expect(scenarios.map((s) => s.scenario)).toEqual(['cascade', 'slower']);
    expect(scenarios[0]).toMatchObject({ rps: 200, badLatencyMs: 2000, badErrorRate: 0.5, timeoutMs: 250, slowCallMs: 125, adaptiveLimit: 'aimd' });
    expect(scenarios[1]).toMatchObject({ rps: 200, badLatencyMs: 150, badErrorRate: 0, timeoutMs: 250, slowCallMs: 250, adaptiveLimit: 'aimd' });
  });

  it('--scenario picks one; a given flag applies to every scenario that runs', () => {
    expect(parseConfig(['--scenario', 'slower']).scenarios.map((s) => s.scenario)).toEqual(['slower']);
    const { scenarios } = parseConfig(['--bad-latency-ms', '300', '--timeout-ms', '400', '--adaptive-limit', 'gradient2']);
    expect(scenarios.map((s) => [s.badLatencyMs, s.badErrorRate, s.slowCallMs, s.adaptiveLimit])).toEqual([
      [300, 0.5, 200, 'gradient2'],
      [300, 0, 400, 'gradient2'],
    ]);
    expect(parseConfig(['--slow-call-ms', '90']).scenarios.map((s) => s.slowCallMs)).toEqual([90, 90]);
  });

  it('refuses a bad value naming the flag and the value', () => {
    expect(() => parseConfig(['--scenario', 'cascades'])).toThrow('--scenario must be one of cascade, slower, all, received "cascades"');
    expect(() => parseConfig(['--adaptive-limit', 'fixed'])).toThrow('--adaptive-limit must be one of aimd, gradient2, vegas, received "fixed"');
    expect(() => parseConfig(['--scenario', 'slower', '--bad-error-rate', '2'])).toThrow(RangeError);
    expect(() => parseConfig(['--scenario', 'slower', '--bad-error-rate', '2'])).toThrow('--bad-error-rate must be a number ≥ 0 and ≤ 1, received "2"');
    expect(() => parseConfig(['--rps', '0'])).toThrow('--rps must be a number > 0 and ≤ 5000, received "0"');
  });
});

describe("the adaptive run's limit summary", () => {
  const changes = [
    { at: 5, from: 20, to: 22 }, // warm-up, before the deploy
    { at: 12, from: 22, to: 31 },
    { at: 14, from: 31, to: 20 },
    { at: 18, from: 20, to: 45 },
    { at: 25, from: 45, to: 40 }, // after the deploy
  ];

  it('gives the limit when the deploy began, its range while it lasted, and the last one', () => {
    expect(limitSummary({ initialLimit: 20, limitChanges: changes }, 10, 20)).toEqual({
      atBadDeploy: 22, minDuringBadDeploy: 20, maxDuringBadDeploy: 45, atEnd: 40, changes: 5,
    });
  });

  it('is the initial limit throughout when the limit never moved', () => {
    expect(limitSummary({ initialLimit: 20, limitChanges: [] }, 10, 20)).toEqual({
      atBadDeploy: 20, minDuringBadDeploy: 20, maxDuringBadDeploy: 20, atEnd: 20, changes: 0,
    });
  });
});
