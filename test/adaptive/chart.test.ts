import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from '../package/built.js';

// docs/images/adaptive.svg is drawn by scripts/adaptive-chart.mjs from a seeded virtual-time
// run: the script must reproduce the committed file byte for byte.
describe('scripts/adaptive-chart.mjs', () => {
  it('reproduces docs/images/adaptive.svg, a well-formed SVG with both series', () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'breakwater-chart-'));
    try {
      const out = join(dir, 'adaptive.svg');
      const run = spawnSync(process.execPath, ['scripts/adaptive-chart.mjs', out], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const drawn = readFileSync(out, 'utf8');
      expect(XMLValidator.validate(drawn)).toBe(true);
      const svg = new XMLParser({ ignoreAttributes: false }).parse(drawn).svg;
      expect(svg.path).toHaveLength(2);
      expect(readFileSync(join(projectRoot, 'docs/images/adaptive.svg'), 'utf8')).toBe(drawn);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
