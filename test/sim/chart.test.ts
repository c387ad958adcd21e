import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import * as bw from '../../src/index.js';
import { simulate, type Scenario } from '../../src/sim/index.js';
import { renderChart } from '../../src/sim/chart.js';
import { escapeXml, niceTicks } from '../../src/sim/svg.js';

const scenario: Scenario = {
  name: 'bad deploy <& recovery>',
  durationMs: 12_000,
  load: { rps: 100, instances: 2 },
  downstream: {
    servers: 20,
    latencyMs: { lognormal: { p50Ms: 20, p99Ms: 60 } },
    phases: [
      { atMs: 4_000, latencyMs: 2_000, errorRate: 0.5, label: 'bad deploy' },
      { atMs: 8_000, latencyMs: { lognormal: { p50Ms: 20, p99Ms: 60 } }, errorRate: 0 },
    ],
  },
  policy: ({ clock, random }) =>
    bw.pipeline(
      bw.retry({ maxRetries: 1, clock, random }),
      bw.bulkhead({ maxConcurrent: 10, clock }),
      bw.circuitBreaker({ halfOpenAfterMs: 1000, failureRatio: 0.5, windowCalls: 20, minimumThroughput: 10, clock }),
      bw.timeout(250, { clock }),
    ),
  sloMs: 200,
};

type Node = Record<string, unknown>;

/** Every element named `name` anywhere below `node` (fast-xml-parser gives arrays or single objects). */
function findAll(node: unknown, name: string, out: Node[] = []): Node[] {
  if (Array.isArray(node)) {
    for (const item of node) findAll(item, name, out);
  } else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === name) for (const item of Array.isArray(value) ? value : [value]) out.push(item as Node);
      findAll(value, name, out);
    }
  }
  return out;
}

const textOf = (node: Node): string => String(node['#text'] ?? '');

describe('renderChart', () => {
  it('writes well-formed SVG with axes labelled in units, legends and the phases marked', async () => {
    const report = await simulate(scenario);
    const svg = renderChart(report);
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (name) => ['g', 'text', 'line', 'polyline'].includes(name) }).parse(svg) as Node;
    const root = doc['svg'] as Node;
    expect(root['@xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(root['@viewBox']).toMatch(/^0 0 \d+ \d+$/);
    expect(root['title']).toBe('bad deploy <& recovery>');

    const texts = findAll(root, 'text');
    const axisLabels = texts.filter((t) => t['@class'] === 'axis-label').map(textOf);
    expect(axisLabels).toEqual(['latency (ms)', 'requests per second (1/s)', 'in flight (calls)', 'share of time (%)', 'time (s)']);

    const groups = findAll(root, 'g');
    const legend = groups.filter((g) => g['@class'] === 'legend-item').flatMap((g) => findAll(g, 'text').map(textOf));
    expect(legend).toEqual([
      'p50',
      'p99',
      'SLO (200 ms)',
      'sent',
      'goodput (≤ 200 ms)',
      'failed',
      'shed',
      'in flight (peak)',
      'servers',
      'utilisation',
      'breakers open',
      'breakers half-open',
    ]);
    const phases = groups.filter((g) => g['@class'] === 'phase');
    expect(phases.map((g) => findAll(g, 'text').map(textOf)[0])).toEqual([
      '▸ bad deploy (4 s)',
      '▸ latency p50 20 / p99 60 ms, errors 0 % (8 s)',
    ]);
    // Each phase line sits where its time is on the x axis, and spans the panels.
    const [bad, recovery] = phases.map((g) => findAll(g, 'line')[0]!);
    expect(Number(recovery!['@x1']) - Number(bad!['@x1'])).toBeGreaterThan(100);
    expect(Number(bad!['@y2']) - Number(bad!['@y1'])).toBeGreaterThan(600);
    // One line per series at least, drawn from the data.
    expect(findAll(root, 'polyline').length).toBeGreaterThanOrEqual(10);
  });

  it('gives the same bytes for the same report, and escapes what XML needs escaped', async () => {
    const report = await simulate({ ...scenario, name: 'a "quoted" & <tagged> name\u0001' });
    const svg = renderChart(report);
    expect(renderChart(report)).toBe(svg);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain('a &quot;quoted&quot; &amp; &lt;tagged&gt; name');
    expect(escapeXml("<'&\">")).toBe('&lt;&#39;&amp;&quot;&gt;');
  });

  it('omits the breaker lines when no policy has a breaker, and marks the drain after the last arrival', async () => {
    const report = await simulate({ durationMs: 3_000, load: { rps: 5, arrivals: 'uniform' }, downstream: { servers: 1, latencyMs: 1_500 } });
    expect(report.endMs).toBeGreaterThan(3_000);
    const svg = renderChart(report);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).not.toContain('breakers open');
    expect(svg).toContain('utilisation (%)');
    expect(svg).toContain('arrivals stop');
  });

  it('niceTicks picks round steps covering the range', () => {
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 7)).toEqual([0, 2, 4, 6]);
    expect(niceTicks(0, 0.35)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });
});
