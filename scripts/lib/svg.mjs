// A tiny line-chart writer: enough SVG for the docs' charts, no dependencies.

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fixed = (n) => (Math.round(n * 10) / 10).toString();

/** Round steps (1, 2, 5 × 10^k) covering [0, max] with about `count` ticks. */
export function ticks(max, count = 5) {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const result = [];
  for (let value = 0; value <= max + 1e-9; value += step) result.push(Math.round(value * 1e9) / 1e9);
  return result;
}

/**
 * An SVG line chart. `series`: [{ label, color, points: [[x, y], …], dash? }];
 * `bands`: shaded x ranges [{ from, to, label, color }]; `rules`: horizontal lines [{ y, label, color }].
 */
export function lineChart({ title, width = 760, height = 360, xLabel, yLabel, xMax, yMax, series, bands = [], rules = [] }) {
  const margin = { top: 40, right: 20, bottom: 44, left: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (x) => margin.left + (x / xMax) * plotW;
  const sy = (y) => margin.top + plotH - (Math.min(y, yMax) / yMax) * plotH;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escape(title)}</text>`);
  for (const band of bands) {
    out.push(`<rect x="${fixed(sx(band.from))}" y="${margin.top}" width="${fixed(sx(band.to) - sx(band.from))}" height="${plotH}" fill="${band.color}"/>`);
    out.push(`<text x="${fixed((sx(band.from) + sx(band.to)) / 2)}" y="${margin.top + 14}" text-anchor="middle" fill="#7a4a00">${escape(band.label)}</text>`);
  }
  for (const y of ticks(yMax)) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${fixed(sy(y))}" y2="${fixed(sy(y))}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${margin.left - 6}" y="${fixed(sy(y) + 4)}" text-anchor="end" fill="#555">${y}</text>`);
  }
  for (const x of ticks(xMax, 8)) {
    out.push(`<text x="${fixed(sx(x))}" y="${margin.top + plotH + 16}" text-anchor="middle" fill="#555">${x}</text>`);
  }
  out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escape(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);
  for (const rule of rules) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${fixed(sy(rule.y))}" y2="${fixed(sy(rule.y))}" stroke="${rule.color}" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${margin.left + plotW - 4}" y="${fixed(sy(rule.y) - 5)}" text-anchor="end" fill="${rule.color}">${escape(rule.label)}</text>`);
  }
  for (const s of series) {
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${fixed(sx(x))} ${fixed(sy(y))}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.8}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
  }
  series.forEach((s, i) => {
    const x = margin.left + 12;
    const y = margin.top + 16 + i * 18;
    out.push(`<line x1="${x}" x2="${x + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(`<text x="${x + 28}" y="${y}">${escape(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
