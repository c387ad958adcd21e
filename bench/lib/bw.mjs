// The BUILT package: the bench measures what users install, not the sources.
// BENCH_DIST=<folder> measures another build instead (say, the previous release's dist/), so
// two builds can be run alternately on the same machine and compared row by row.
import { existsSync } from 'node:fs';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const distUrl =
  process.env.BENCH_DIST === undefined || process.env.BENCH_DIST === ''
    ? new URL('../../dist/index.js', import.meta.url)
    : pathToFileURL(resolve(process.env.BENCH_DIST, 'index.js'));
if (!existsSync(fileURLToPath(distUrl))) {
  throw new Error(`bench: ${fileURLToPath(distUrl)} is missing — run \`npx tsup\` (or \`npm run build\`) first`);
}
export const bw = await import(distUrl.href);

/** Policies written by other work streams may not be exported yet; their rows say so. */
export const has = {
  timeout: typeof bw.timeout === 'function',
  retry: typeof bw.retry === 'function',
  fallback: typeof bw.fallback === 'function',
  pipeline: typeof bw.pipeline === 'function',
  circuitBreaker: typeof bw.circuitBreaker === 'function',
  bulkhead: typeof bw.bulkhead === 'function',
  adaptiveConcurrency: typeof bw.adaptiveConcurrency === 'function',
  rateLimiter: typeof bw.rateLimiter === 'function',
  keyedRateLimiter: typeof bw.keyedRateLimiter === 'function',
};

export function missing(...names) {
  const absent = names.filter((n) => !has[n]);
  return absent.length === 0 ? undefined : `${absent.join(', ')} not exported from dist yet`;
}
