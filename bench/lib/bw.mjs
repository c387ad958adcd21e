// The BUILT package: the bench measures what users install, not the sources.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const distUrl = new URL('../../dist/index.js', import.meta.url);
if (!existsSync(fileURLToPath(distUrl))) {
  throw new Error('bench: dist/index.js is missing — run `npx tsup` (or `npm run build`) first');
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
