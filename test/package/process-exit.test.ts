import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from './built.js';

/**
 * The fixture's own work takes well under a second; anything it could leak holds the process
 * for ten minutes. So this limit only has to lie far between the two, and a loaded machine
 * cannot make the test fail: exiting at all is what is checked, not how fast.
 */
const KILL_AFTER_MS = 60_000;

describe('a process that used the library', () => {
  it('exits by itself, after awaiting a retry backoff to the end', () => {
    ensureBuilt();
    const script = fileURLToPath(new URL('../fixtures/uses-everything.mjs', import.meta.url));
    const result = spawnSync(process.execPath, [script], { cwd: projectRoot, encoding: 'utf8', timeout: KILL_AFTER_MS });
    expect(result.signal, 'killed: a timer or listener kept the process alive').toBeNull();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    // It did not exit mid-await: the backoff's result was printed, after the whole backoff.
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toContain('after backoff');
    expect(lines).toContain('waited the whole backoff: true');
    expect(lines.at(-1)).toBe('done');
  }, KILL_AFTER_MS + 10_000);
});
