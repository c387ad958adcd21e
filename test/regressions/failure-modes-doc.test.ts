// docs/failure-modes.md says "every test named here exists". This test holds it to that: each
// reference in a "proven by" cell names a test file (a path, or an abbreviation defined at the
// top of the page) and a `describe › it` title, and every part of that title must occur in the
// file. A renamed or deleted test makes the page wrong, and this test red.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const page = readFileSync(resolve(root, 'docs/failure-modes.md'), 'utf8');

/** `FM` = `test/regressions/failure-modes.test.ts`, … */
const abbreviations = new Map([...page.matchAll(/`([A-Z]{2,})` = `([^`]+)`/g)].map((m) => [m[1]!, m[2]!] as const));

interface Reference {
  readonly row: string;
  readonly file: string;
  readonly title: string;
}

/** The references of every table row's last cell, in order. */
function references(): Reference[] {
  const found: Reference[] = [];
  for (const line of page.split('\n')) {
    if (!line.startsWith('|') || /^\|\s*(#|id)\s*\|/.test(line) || /^\|[-\s|]+\|$/.test(line)) continue;
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const row = cells[1]!;
    const provenBy = cells[cells.length - 2]!;
    let file: string | undefined;
    for (const token of provenBy.matchAll(/`([^`]+)`|\b([A-Z]{2,})\b/g)) {
      const [, code, word] = token;
      if (word !== undefined) {
        if (abbreviations.has(word)) file = abbreviations.get(word);
        continue;
      }
      if (/^test\/\S+\.(test\.)?(ts|mjs)$/.test(code!)) {
        file = code;
        continue;
      }
      expect(file, `row ${row}: a title before any test file: ${code}`).toBeDefined();
      found.push({ row, file: file!, title: code!.replace(/^›\s*/, '') });
    }
  }
  return found;
}

/** Test source as the titles read: string escapes undone. */
function source(file: string): string {
  return readFileSync(resolve(root, file), 'utf8').replace(/\\(['"`\\])/g, '$1');
}

/** Parts of a `describe › it` title; a part cut short with `…` is matched up to there. */
function parts(title: string): string[] {
  return title
    .split(' › ')
    .map((part) => part.replace(/\s*….*$/, '').trim())
    .filter((part) => part.length > 0);
}

const all = references();

describe('docs/failure-modes.md names only tests that exist', () => {
  it('defines its abbreviations and names tests in every row', () => {
    expect(abbreviations.get('FM')).toBe('test/regressions/failure-modes.test.ts');
    expect(abbreviations.size).toBeGreaterThanOrEqual(8);
    const rows = new Set(all.map((r) => r.row));
    for (const row of [1, 16, 34, 35, 40, 48]) expect(rows, `row ${row}`).toContain(String(row));
    for (const id of ['CB1', 'TB1', 'RT4', 'AD1', 'AD4']) expect(rows, id).toContain(id);
    expect(all.length).toBeGreaterThan(150);
  });

  it('every named file exists', () => {
    const missing = [...new Set(all.map((r) => r.file))].filter((file) => !existsSync(resolve(root, file)));
    expect(missing).toEqual([]);
  });

  it('every part of every named title occurs in its file', () => {
    const absent: string[] = [];
    const cache = new Map<string, string>();
    for (const { row, file, title } of all) {
      if (!existsSync(resolve(root, file))) continue;
      if (!cache.has(file)) cache.set(file, source(file));
      const text = cache.get(file)!;
      for (const part of parts(title)) {
        if (!text.includes(part)) absent.push(`row ${row}: ${file} has no "${part}"`);
      }
    }
    expect(absent).toEqual([]);
  });

  it('catches a wrong name: a title that is not in its file is reported', () => {
    const text = source('test/regressions/failure-modes.test.ts');
    expect(parts('row 16: signal aborted after a successful return › #16 (cockatiel#72): no such test').every((part) => text.includes(part))).toBe(false);
    expect(parts('row 16: signal aborted after a successful return › #16 (cockatiel#72): a fetch body read lazily, long …').every((part) => text.includes(part))).toBe(true);
  });
});
