import type { SimulationCounts } from './report.js';

export type ParamValue = number | string | boolean;
export type Params = Readonly<Record<string, ParamValue>>;

/** `250` → 250, `true` → true, anything else stays a string. */
export function parseValue(raw: string): ParamValue {
  const trimmed = raw.trim();
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

/** `name=value` → [name, value]. */
export function parseAssignment(flag: string, raw: string): [string, string] {
  const at = raw.indexOf('=');
  const name = at === -1 ? '' : raw.slice(0, at).trim();
  if (at === -1 || name === '') throw new UsageError(`${flag} needs name=value, received ${JSON.stringify(raw)}`);
  return [name, raw.slice(at + 1)];
}

/** A command line the CLI cannot run: it prints the usage and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `timeoutMs=100,250,500` → ['timeoutMs', [100, 250, 500]]. */
export function parseGridFlag(raw: string): [string, ParamValue[]] {
  const [name, list] = parseAssignment('--grid', raw);
  const values = list.split(',').map((v) => v.trim()).filter((v) => v !== '').map(parseValue);
  if (values.length === 0) throw new UsageError(`--grid ${name} needs at least one value, received ${JSON.stringify(raw)}`);
  return [name, values];
}

/** Every combination of the grid's values, in the order the flags were given (the last varies fastest). */
export function expandGrid(grid: ReadonlyArray<readonly [string, readonly ParamValue[]]>, fixed: Params = {}): Params[] {
  let combos: Array<Record<string, ParamValue>> = [{ ...fixed }];
  for (const [name, values] of grid) {
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
  }
  return combos;
}

export interface Ranked<T> {
  readonly rank: number;
  readonly item: T;
}

/** Best first: most goodput, then lowest p99, then fewest failed and shed, then grid order. */
export function rankByGoodput<T extends { readonly totals: SimulationCounts }>(items: readonly T[]): Array<Ranked<T>> {
  const p99 = (t: SimulationCounts): number => t.p99Ms ?? Infinity;
  return items
    .map((item, index) => ({ item, index }))
    .sort(
      (a, b) =>
        b.item.totals.goodput - a.item.totals.goodput ||
        p99(a.item.totals) - p99(b.item.totals) ||
        a.item.totals.failed + a.item.totals.shed - (b.item.totals.failed + b.item.totals.shed) ||
        a.index - b.index,
    )
    .map(({ item }, i) => ({ rank: i + 1, item }));
}

/** `timeoutMs=250 maxConcurrent=20`. */
export function describeParams(params: Params): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? '(no parameters)' : entries.map(([k, v]) => `${k}=${String(v)}`).join(' ');
}

/** A file-name-safe form of the parameters. */
export function slugOf(params: Params): string {
  const slug = Object.entries(params)
    .map(([k, v]) => `${k}-${String(v)}`)
    .join('_')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 120);
  return slug === '' ? 'default' : slug;
}
