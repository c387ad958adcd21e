// A very small SVG writer: elements as strings, attributes escaped, numbers rounded so that
// the same data always gives the same bytes. No dependency, no DOM.

export type Attributes = Readonly<Record<string, string | number | undefined>>;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeXml(value: string): string {
  // Characters XML 1.0 forbids outright (control characters) are dropped rather than escaped.
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A coordinate or length: one decimal is finer than a pixel and keeps files small. */
export function num(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return Object.is(rounded, -0) ? '0' : String(rounded);
}

function attributes(attrs: Attributes): string {
  let out = '';
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    out += ` ${name}="${escapeXml(typeof value === 'number' ? num(value) : value)}"`;
  }
  return out;
}

/** An element; `children` are already-written elements (or escaped text). */
export function element(name: string, attrs: Attributes, ...children: string[]): string {
  const open = `<${name}${attributes(attrs)}`;
  return children.length === 0 ? `${open}/>` : `${open}>${children.join('')}</${name}>`;
}

/** A text element; `content` is escaped. */
export function text(attrs: Attributes, content: string): string {
  return element('text', attrs, escapeXml(content));
}

/** A polyline through points; pairs with a non-finite coordinate are skipped. */
export function polyline(points: ReadonlyArray<readonly [number, number]>, attrs: Attributes): string {
  const coordinates = points
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    .map(([x, y]) => `${num(x)},${num(y)}`)
    .join(' ');
  return element('polyline', { points: coordinates, fill: 'none', ...attrs });
}

/** A standalone SVG document of the given size. */
export function svgDocument(width: number, height: number, children: readonly string[], title?: string): string {
  const heading = title === undefined ? [] : [element('title', {}, escapeXml(title))];
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    element(
      'svg',
      {
        xmlns: 'http://www.w3.org/2000/svg',
        width,
        height,
        viewBox: `0 0 ${num(width)} ${num(height)}`,
        'font-family': 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif',
        'font-size': 12,
      },
      ...heading,
      ...children,
    ) +
    '\n'
  );
}

/** Round, readable tick values covering [min, max]: steps of 1, 2 or 5 × 10^k. */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!(max > min)) return [min];
  const rough = (max - min) / target;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let i = Math.ceil(min / step); i * step <= max + step * 1e-9; i++) {
    // toPrecision drops the binary noise of i · step (3 × 0.1 = 0.30000000000000004).
    ticks.push(Number((i * step).toPrecision(12)));
  }
  return ticks;
}
