import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Tests that load the package as users do need dist/; `npm test` builds it first. */
export function ensureBuilt(): void {
  if (!existsSync(`${projectRoot}/dist/index.js`) || !existsSync(`${projectRoot}/dist/index.cjs`)) {
    execSync('npx tsup', { cwd: projectRoot, stdio: 'ignore' });
  }
}
