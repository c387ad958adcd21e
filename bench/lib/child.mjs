// Runs one suite in its own process (clean heap, its own timers) and reads its JSON result.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function runChild(script, args, { timeoutMs = 240_000 } = {}) {
  const file = fileURLToPath(new URL(`../${script}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', file, '--emit-json', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const marker = out.lastIndexOf('\n@@RESULT@@');
      if (code !== 0 || marker === -1) {
        reject(new Error(`${script} exited with ${signal ?? code}\n${out.slice(-2000)}`));
        return;
      }
      const payload = JSON.parse(out.slice(marker + '\n@@RESULT@@'.length));
      resolve(payload);
    });
  });
}

/** For suites: print the result for the parent, or a readable dump when run by hand. */
export function emit(result) {
  if (process.argv.includes('--emit-json')) process.stdout.write(`\n@@RESULT@@${JSON.stringify(result)}\n`);
  else console.dir(result, { depth: 6 });
}

export function isQuick() {
  return process.argv.includes('--quick');
}

/** The value after `--case`, when this process was started to run one case only. */
export function caseArg() {
  const i = process.argv.indexOf('--case');
  return i === -1 ? undefined : process.argv[i + 1];
}

/**
 * Runs each case of a suite in a fresh process: heap readings are not disturbed by what an
 * earlier case left behind (finalizers, timers, JIT code, old-space fragmentation).
 */
export async function runCasesIsolated(script, cases, runOne) {
  const chosen = caseArg();
  if (chosen !== undefined) {
    const c = cases.find((x) => x.id === chosen);
    if (c === undefined) throw new Error(`unknown case ${chosen}`);
    return [await runOne(c)];
  }
  const extra = isQuick() ? ['--quick'] : [];
  const results = [];
  for (const c of cases) {
    if (c.unavailable) {
      results.push({ id: c.id, lib: c.lib, label: c.label, unavailable: c.unavailable });
      continue;
    }
    const [r] = await runChild(script, [...extra, '--case', c.id]);
    results.push(r);
  }
  return results;
}
