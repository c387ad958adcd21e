import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from './built.js';

describe('a process that used the library', () => {
  it('exits by itself, after awaiting a retry backoff to the end', () => {
    ensureBuilt();
    const script = fileURLToPath(new URL('../fixtures/uses-everything.mjs', import.meta.url));
    const started = Date.now();
    const result = spawnSync(process.execPath, [script], { cwd: projectRoot, encoding: 'utf8', timeout: 15_000 });
    const elapsed = Date.now() - started;
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('after backoff');
    expect(result.stdout).toContain('done');
    // It waited for the 300 ms backoff, and was not held alive by a 5 s timeout or 60 s waits.
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect(elapsed).toBeLessThan(4_000);
  });
});
