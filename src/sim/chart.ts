import type { Distribution } from './distribution.js';
import type { SimulationReport } from './report.js';
import { element, niceTicks, num, polyline, svgDocument, text } from './svg.js';

// One chart per run: four panels over a shared time axis (latency, request outcomes,
// downstream in flight, utilisation and breaker state), with the phases marked across all.

const WIDTH = 960;
const LEFT = 78;
const RIGHT = 190;
const TOP = 64;
const PANEL_HEIGHT = 150;
const GAP = 58;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;

const COLORS = {
  p50: '#1f77b4',
  p99: '#d62728',
  slo: '#555555',
  sent: '#7f7f7f',
  goodput: '#2ca02c',
  failed: '#d62728',
  shed: '#ff7f0e',
  inFlight: '#9467bd',
  servers: '#555555',
  utilisation: '#17becf',
  open: '#d62728',
  halfOpen: '#ff7f0e',
  phase: '#444444',
} as const;

interface Line {
  readonly label: string;
  readonly color: string;
  /** One value per second; null = nothing to show for that second. */
  readonly values: ReadonlyArray<number | null>;
  readonly dash?: string;
  readonly width?: number;
}

interface Panel {
  readonly title: string;
  /** The y axis label, with its unit. */
  readonly yLabel: string;
  readonly lines: readonly Line[];
  readonly logScale?: boolean;
  readonly yMax?: number;
}

function formatTick(value: number): string {
  if (Math.abs(value) >= 1000) return String(Math.round(value));
  return String(Math.round(value * 100) / 100);
}

function describeDistribution(d: Distribution): string {
  if (typeof d === 'number') return `${d} ms`;
  if ('constant' in d) return `${d.constant} ms`;
  if ('exponential' in d) return `exponential, mean ${d.exponential.meanMs} ms`;
  if ('lognormal' in d) return `p50 ${d.lognormal.p50Ms} / p99 ${d.lognormal.p99Ms} ms`;
  const points = Object.entries(d.percentiles).map(([k, v]) => `${k.startsWith('p') ? k : `p${k}`} ${v}`);
  return `${points.join(', ')} ms`;
}

type ReportPhase = SimulationReport['phases'][number];

/** A phase's own label, or what changed from the phase before. */
export function describePhase(phase: ReportPhase, before: ReportPhase): string {
  if (phase.label !== null) return phase.label;
  const changes: string[] = [];
  if (JSON.stringify(phase.latencyMs) !== JSON.stringify(before.latencyMs)) changes.push(`latency ${describeDistribution(phase.latencyMs)}`);
  if (phase.errorRate !== before.errorRate) changes.push(`errors ${Math.round(phase.errorRate * 1000) / 10} %`);
  if (phase.servers !== before.servers) changes.push(`${phase.servers} servers`);
  return changes.length === 0 ? 'phase' : changes.join(', ');
}

function rate(count: number, startMs: number, endMs: number): number {
  const spanMs = Math.min(1000, endMs - startMs);
  return spanMs > 0 ? (count * 1000) / spanMs : 0;
}

/**
 * The seconds to draw: those with arrivals, then the drain only when it lasted a second or
 * more (a sliver of a second after the last arrival would draw as a cliff to zero).
 */
function chartedSeconds(report: SimulationReport): { rows: SimulationReport['series']; endMs: number } {
  const drainMs = report.endMs - report.durationMs;
  if (drainMs >= 1000) {
    const rows = report.series.filter((row) => row.startMs < report.durationMs || report.endMs - row.startMs >= 500);
    return { rows, endMs: Math.min(report.endMs, rows.length * 1000) };
  }
  const rows = report.series.filter((row) => row.startMs < report.durationMs);
  return { rows, endMs: report.durationMs };
}

function panelsOf(report: SimulationReport, s: SimulationReport['series'], endMs: number): Panel[] {
  /** Arrivals end at durationMs: after it, request outcomes have nothing to show. */
  const arriving = (row: (typeof s)[number]): boolean => row.startMs < report.durationMs;
  const slo = report.sloMs;
  const latency: Line[] = [
    { label: 'p50', color: COLORS.p50, values: s.map((r) => (arriving(r) ? r.p50Ms : null)) },
    { label: 'p99', color: COLORS.p99, values: s.map((r) => (arriving(r) ? r.p99Ms : null)) },
  ];
  if (slo !== null) {
    latency.push({ label: `SLO (${slo} ms)`, color: COLORS.slo, values: s.map((r) => (arriving(r) ? slo : null)), dash: '6 4', width: 1 });
  }
  const perSecond = (pick: (row: (typeof s)[number]) => number): Array<number | null> =>
    s.map((row) => (arriving(row) ? rate(pick(row), row.startMs, Math.min(report.durationMs, endMs)) : null));
  const outcomes: Line[] = [
    { label: 'sent', color: COLORS.sent, values: perSecond((r) => r.sent) },
    { label: slo === null ? 'goodput (succeeded)' : `goodput (≤ ${slo} ms)`, color: COLORS.goodput, values: perSecond((r) => r.goodput) },
    { label: 'failed', color: COLORS.failed, values: perSecond((r) => r.failed) },
    { label: 'shed', color: COLORS.shed, values: perSecond((r) => r.shed) },
  ];
  if (s.some((r) => r.fallbacks > 0)) outcomes.push({ label: 'fallbacks', color: '#8c564b', values: perSecond((r) => r.fallbacks) });
  const serversAt = (startMs: number): number => {
    let servers = report.phases[0]?.servers ?? 0;
    for (const phase of report.phases) if (phase.atMs <= startMs) servers = phase.servers;
    return servers;
  };
  const inFlight: Line[] = [
    { label: 'in flight (peak)', color: COLORS.inFlight, values: s.map((r) => r.peakInFlight) },
    { label: 'servers', color: COLORS.servers, values: s.map((r) => serversAt(r.startMs)), dash: '6 4', width: 1 },
  ];
  const shares: Line[] = [{ label: 'utilisation', color: COLORS.utilisation, values: s.map((r) => r.utilisation * 100) }];
  if (report.breakersPerInstance > 0) {
    shares.push(
      { label: 'breakers open', color: COLORS.open, values: s.map((r) => r.breakerOpen * 100) },
      { label: 'breakers half-open', color: COLORS.halfOpen, values: s.map((r) => r.breakerHalfOpen * 100) },
    );
  }
  const positive = s.flatMap((r) => [r.p50Ms, r.p99Ms]).filter((v): v is number => v !== null && v > 0);
  const spread = positive.length === 0 ? 1 : Math.max(...positive, slo ?? 0) / Math.min(...positive);
  return [
    { title: 'Latency of finished requests, from arrival', yLabel: 'latency (ms)', lines: latency, logScale: spread > 30 },
    { title: 'Requests by outcome (by arrival second)', yLabel: 'requests per second (1/s)', lines: outcomes },
    { title: 'Downstream: calls waiting or being served', yLabel: 'in flight (calls)', lines: inFlight },
    {
      title: report.breakersPerInstance > 0 ? 'Downstream utilisation and breaker state' : 'Downstream utilisation',
      yLabel: report.breakersPerInstance > 0 ? 'share of time (%)' : 'utilisation (%)',
      lines: shares,
      yMax: 100,
    },
  ];
}

interface Scale {
  readonly y: (value: number) => number;
  readonly ticks: readonly number[];
}

function scaleFor(panel: Panel, top: number): Scale {
  const values = panel.lines.flatMap((l) => l.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const bottom = top + PANEL_HEIGHT;
  if (panel.logScale === true) {
    const positive = values.filter((v) => v > 0);
    // A little room beyond the data, so a line at the maximum is not drawn on the frame.
    const lo = Math.min(...positive) / 1.25;
    const hi = Math.max(...positive) * 1.25;
    const decades = Math.log10(hi) - Math.log10(lo);
    const ticks: number[] = [];
    for (let power = 10 ** Math.floor(Math.log10(lo)); power <= hi; power *= 10) {
      for (const factor of decades <= 2.5 ? [1, 2, 5] : [1]) {
        const tick = power * factor;
        if (tick >= lo && tick <= hi) ticks.push(tick);
      }
    }
    const y = (value: number): number =>
      value <= 0 ? bottom : bottom - ((Math.log10(value) - Math.log10(lo)) / decades) * PANEL_HEIGHT;
    return { y, ticks };
  }
  const max = panel.yMax ?? Math.max(1, ...values) * 1.08;
  const ticks = niceTicks(0, max);
  const top_ = Math.max(max, ticks[ticks.length - 1]!);
  return { y: (value: number) => bottom - (value / top_) * PANEL_HEIGHT, ticks };
}

function drawPanel(panel: Panel, top: number, durationS: number, last: boolean): string[] {
  const out: string[] = [];
  const bottom = top + PANEL_HEIGHT;
  const x = (seconds: number): number => LEFT + (seconds / durationS) * PLOT_WIDTH;
  const scale = scaleFor(panel, top);
  out.push(text({ x: LEFT, y: top - 10, 'font-size': 13, 'font-weight': 'bold' }, panel.title));
  out.push(element('rect', { x: LEFT, y: top, width: PLOT_WIDTH, height: PANEL_HEIGHT, fill: 'none', stroke: '#999999' }));
  // y axis: grid, ticks, label with unit
  for (const tick of scale.ticks) {
    const y = scale.y(tick);
    if (y < top - 0.5 || y > bottom + 0.5) continue;
    out.push(element('line', { x1: LEFT, x2: LEFT + PLOT_WIDTH, y1: y, y2: y, stroke: '#e5e5e5' }));
    out.push(text({ x: LEFT - 6, y: y + 4, 'text-anchor': 'end', fill: '#333333' }, formatTick(tick)));
  }
  const middle = top + PANEL_HEIGHT / 2;
  out.push(
    text(
      { class: 'axis-label', x: 18, y: middle, 'text-anchor': 'middle', transform: `rotate(-90 18 ${num(middle)})`, fill: '#333333' },
      panel.yLabel,
    ),
  );
  // x axis: ticks in seconds
  for (const tick of niceTicks(0, durationS, 10)) {
    const tx = x(tick);
    out.push(element('line', { x1: tx, x2: tx, y1: bottom, y2: bottom + 4, stroke: '#999999' }));
    out.push(text({ x: tx, y: bottom + 16, 'text-anchor': 'middle', fill: '#333333' }, formatTick(tick)));
  }
  if (last) {
    out.push(text({ class: 'axis-label', x: LEFT + PLOT_WIDTH / 2, y: bottom + 34, 'text-anchor': 'middle', fill: '#333333' }, 'time (s)'));
  }
  // lines, broken where a second has no value
  for (const line of panel.lines) {
    let run: Array<[number, number]> = [];
    const flush = (): void => {
      if (run.length === 1) {
        out.push(element('circle', { cx: run[0]![0], cy: run[0]![1], r: 1.8, fill: line.color }));
      } else if (run.length > 1) {
        out.push(polyline(run, { stroke: line.color, 'stroke-width': line.width ?? 1.6, 'stroke-dasharray': line.dash }));
      }
      run = [];
    };
    line.values.forEach((value, i) => {
      if (value === null || !Number.isFinite(value)) return flush();
      const y = Math.min(bottom, Math.max(top, scale.y(value)));
      run.push([x(Math.min(durationS, i + 0.5)), y]);
    });
    flush();
  }
  // legend
  const legend = panel.lines.map((line, i) => {
    const y = top + 12 + i * 18;
    const lx = LEFT + PLOT_WIDTH + 14;
    return element(
      'g',
      { class: 'legend-item' },
      element('line', { x1: lx, x2: lx + 22, y1: y, y2: y, stroke: line.color, 'stroke-width': 2.5, 'stroke-dasharray': line.dash }),
      text({ x: lx + 28, y: y + 4, fill: '#222222' }, line.label),
    );
  });
  out.push(element('g', { class: 'legend' }, ...legend));
  return out;
}

/** Options of `renderChart(report, options)`: the headings. */
export interface ChartOptions {
  /** Heading of the chart; default: the scenario's name. */
  readonly title?: string;
  /** A second heading line, such as the parameters of a configuration. */
  readonly subtitle?: string;
}

/**
 * An SVG chart of a simulation report: latency, outcomes, in flight, utilisation and breakers over time.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { renderChart, simulate } from 'breakwater/sim';
 *
 * const report = await simulate({ durationMs: 10_000, load: { rps: 100 }, downstream: { servers: 10, latencyMs: 50 } });
 * writeFileSync('run.svg', renderChart(report, { title: 'baseline', subtitle: '100 rps, 10 servers' }));
 * ```
 */
export function renderChart(report: SimulationReport, options: ChartOptions = {}): string {
  const { rows, endMs } = chartedSeconds(report);
  const panels = panelsOf(report, rows, endMs);
  const durationS = endMs / 1000;
  const height = TOP + panels.length * (PANEL_HEIGHT + GAP) + 10;
  const title = options.title ?? report.name ?? 'breakwater simulation';
  const t = report.totals;
  const goodputShare = t.sent === 0 ? 0 : Math.round((t.goodput / t.sent) * 1000) / 10;
  const subtitle =
    options.subtitle ??
    `${t.sent} requests, goodput ${t.goodput} (${goodputShare} %), p99 ${t.p99Ms ?? '–'} ms, seed ${report.seed}`;
  const out: string[] = [
    element('rect', { x: 0, y: 0, width: WIDTH, height, fill: '#ffffff' }),
    text({ x: LEFT, y: 22, 'font-size': 16, 'font-weight': 'bold' }, title),
    text({ x: LEFT, y: 40, fill: '#444444' }, subtitle),
  ];
  panels.forEach((panel, i) => out.push(...drawPanel(panel, TOP + 18 + i * (PANEL_HEIGHT + GAP), durationS, i === panels.length - 1)));
  // phases: a dashed line through every panel, labelled above the first
  const phaseTop = TOP + 18;
  const phaseBottom = TOP + 18 + (panels.length - 1) * (PANEL_HEIGHT + GAP) + PANEL_HEIGHT;
  const markers: string[] = [];
  const marker = (atMs: number, label: string, row: number, kind: string): void => {
    const px = LEFT + (atMs / endMs) * PLOT_WIDTH;
    markers.push(
      element(
        'g',
        { class: kind },
        element('line', { x1: px, x2: px, y1: phaseTop - 4, y2: phaseBottom, stroke: COLORS.phase, 'stroke-dasharray': '3 3' }),
        text({ x: px + 3, y: phaseTop + 11 + row * 12, fill: COLORS.phase, 'font-size': 11 }, `▸ ${label}`),
      ),
    );
  };
  report.phases.forEach((phase, i) => {
    if (i === 0 || phase.atMs <= 0 || phase.atMs >= endMs) return;
    marker(phase.atMs, `${describePhase(phase, report.phases[i - 1]!)} (${phase.atMs / 1000} s)`, i % 2 === 0 ? 1 : 0, 'phase');
  });
  // The drain: requests still in flight after the last arrival.
  if (endMs > report.durationMs) marker(report.durationMs, 'arrivals stop', 2, 'arrivals-end');
  out.push(element('g', { class: 'phases' }, ...markers));
  return svgDocument(WIDTH, height, out, title);
}
