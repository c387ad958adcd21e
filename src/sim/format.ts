import { describePhase } from './chart.js';
import { describeParams, type Params, type Ranked } from './grid.js';
import type { SimulationCounts, SimulationReport } from './report.js';

function msText(value: number | null): string {
  if (value === null) return '–';
  return value >= 100 ? `${Math.round(value)} ms` : `${Math.round(value * 10) / 10} ms`;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${Math.round((part / whole) * 1000) / 10} %`;
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The human-readable output of `breakwater simulate`. */
export function formatReport(report: SimulationReport, wallMs?: number): string {
  const t = report.totals;
  const lines: string[] = [];
  lines.push(`${report.name ?? 'simulation'}: ${report.durationMs / 1000} s virtual, ${report.instances} instance(s), seed ${report.seed}` +
    (wallMs === undefined ? '' : `, ${Math.round(wallMs)} ms wall`));
  report.phases.forEach((phase, i) => {
    if (i === 0) return;
    lines.push(`  at ${phase.atMs / 1000} s: ${describePhase(phase, report.phases[i - 1]!)}`);
  });
  lines.push('');
  lines.push(
    table(
      ['', 'requests', 'share'],
      [
        ['sent', String(t.sent), ''],
        ['succeeded', String(t.succeeded), percent(t.succeeded, t.sent)],
        [report.sloMs === null ? 'goodput' : `goodput (≤ ${report.sloMs} ms)`, String(t.goodput), percent(t.goodput, t.sent)],
        ['fallbacks', String(t.fallbacks), percent(t.fallbacks, t.sent)],
        ['failed', String(t.failed), percent(t.failed, t.sent)],
        ['shed', String(t.shed), percent(t.shed, t.sent)],
        ['unfinished', String(t.unfinished), percent(t.unfinished, t.sent)],
      ],
    ),
  );
  lines.push('');
  lines.push(`latency p50 ${msText(t.p50Ms)}, p99 ${msText(t.p99Ms)}, max ${msText(t.maxMs)}, mean ${msText(t.meanMs)}`);
  lines.push(
    `downstream: ${t.downstreamCalls} calls, peak ${t.peakInFlight} in flight, utilisation ${percent(t.utilisation, 1)}; ` +
      `retries ${t.retries}, caller resends ${t.callerRetries}, breaker transitions ${t.breakerTransitions}`,
  );
  lines.push('');
  lines.push(
    table(
      ['second', 'sent', 'ok', 'good', 'failed', 'shed', 'p50', 'p99', 'in flight', 'util', 'open'],
      report.series.map((r) => [
        String(r.startMs / 1000),
        String(r.sent),
        String(r.succeeded),
        String(r.goodput),
        String(r.failed),
        String(r.shed),
        msText(r.p50Ms),
        msText(r.p99Ms),
        String(r.peakInFlight),
        percent(r.utilisation, 1),
        report.breakersPerInstance === 0 ? '–' : percent(r.breakerOpen, 1),
      ]),
    ),
  );
  return lines.join('\n') + '\n';
}

export interface TuneResult {
  readonly params: Params;
  readonly totals: SimulationCounts;
  /** The chart's file name, relative to the summary. */
  readonly chart: string;
}

function rankingRows(ranked: ReadonlyArray<Ranked<TuneResult>>): string[][] {
  return ranked.map(({ rank, item }) => {
    const t = item.totals;
    return [
      String(rank),
      describeParams(item.params),
      `${t.goodput} (${percent(t.goodput, t.sent)})`,
      String(t.failed),
      String(t.shed),
      msText(t.p50Ms),
      msText(t.p99Ms),
      String(t.peakInFlight),
      String(t.retries + t.callerRetries),
      String(t.breakerTransitions),
    ];
  });
}

const RANKING_HEADER = ['rank', 'parameters', 'goodput', 'failed', 'shed', 'p50', 'p99', 'peak in flight', 'retries', 'transitions'];

/** The ranking `breakwater tune` prints. */
export function formatRanking(ranked: ReadonlyArray<Ranked<TuneResult>>): string {
  return table(RANKING_HEADER, rankingRows(ranked)) + '\n';
}

/** summary.md of a sweep: the ranking with links to the charts, and the best one shown. */
export function markdownSummary(
  title: string,
  scenarioPath: string,
  report: Pick<SimulationReport, 'durationMs' | 'sloMs' | 'seed' | 'instances'>,
  grid: ReadonlyArray<readonly [string, readonly unknown[]]>,
  ranked: ReadonlyArray<Ranked<TuneResult>>,
  fixed: Params = {},
): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const rows = rankingRows(ranked).map((cells, i) => {
    const linked = [...cells];
    linked[1] = `[${escape(cells[1]!)}](${encodeURI(ranked[i]!.item.chart)})`;
    return `| ${linked.map((c, j) => (j === 1 ? c : escape(c))).join(' | ')} |`;
  });
  const best = ranked[0];
  const lines = [
    `# ${title}`,
    '',
    `Scenario \`${scenarioPath}\`: ${report.durationMs / 1000} s of virtual time, ${report.instances} instance(s), seed ${report.seed}` +
      (report.sloMs === null ? ', goodput = every success.' : `, goodput = successes within ${report.sloMs} ms of arrival.`),
    '',
    `Grid: ${grid.map(([name, values]) => `\`${name}\` ∈ {${values.map(String).join(', ')}}`).join(' × ')} — ${ranked.length} configurations, best first (most goodput, then lowest p99).` +
      (Object.keys(fixed).length === 0 ? '' : ` Fixed: ${describeParams(fixed)}.`),
    '',
    `| ${RANKING_HEADER.join(' | ')} |`,
    `| ${RANKING_HEADER.map((_, i) => (i === 1 ? '---' : '---:')).join(' | ')} |`,
    ...rows,
  ];
  if (best !== undefined) {
    lines.push('', `## Best: ${describeParams(best.item.params)}`, '', `![${escape(describeParams(best.item.params))}](${encodeURI(best.item.chart)})`);
  }
  return lines.join('\n') + '\n';
}
