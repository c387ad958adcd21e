// The Redis section of docs/benchmarks.md: written by bench/redis.mjs (`npm run bench:redis --
// --write-docs`) into bench/results/redis.md and the page; bench/run.mjs renders it again.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { replaceSection } from './doc-section.mjs';

export const REDIS_RESULTS = new URL('../results/redis.md', import.meta.url);
const DOCS_PAGE = new URL('../../docs/benchmarks.md', import.meta.url);
const START = '<!-- redis:start -->';
const END = '<!-- redis:end -->';

function wrap(markdown) {
  return `${START}\n${markdown.trimEnd()}\n${END}\n`;
}

export function redisSection() {
  if (!existsSync(REDIS_RESULTS)) {
    return wrap('## breakwater/redis vs rate-limiter-flexible\n\nNot run yet: `npm run bench:redis -- --write-docs`.');
  }
  return wrap(readFileSync(REDIS_RESULTS, 'utf8'));
}

/** Saves `markdown` and replaces the Redis section of docs/benchmarks.md (or appends it). */
export function writeRedisDocs(markdown) {
  writeFileSync(REDIS_RESULTS, `${markdown.trimEnd()}\n`);
  const page = readFileSync(DOCS_PAGE, 'utf8');
  const section = wrap(markdown);
  const next = replaceSection(page, START, END, section);
  writeFileSync(DOCS_PAGE, next);
}
