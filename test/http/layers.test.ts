import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../package/built.js';

// The client side (breakwater/fetch) must not carry the server side (guards, request
// lifetimes) into a program that only makes outbound calls.

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../dist');

/** The built ESM file and every chunk it imports, transitively. */
function closure(entry: string): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    const text = readFileSync(join(dist, file), 'utf8');
    files.set(file, text);
    for (const match of text.matchAll(/from '\.\/([^']+\.js)'/g)) visit(match[1]!);
  };
  visit(entry);
  return files;
}

const SERVER_ONLY = ['RequestLifetime', 'guardRequest', 'guardSettings', 'rateLimitFields', 'rejectionBody'];

describe('layers of src/http', () => {
  beforeAll(ensureBuilt);

  it('breakwater/fetch (built) reaches no server code', () => {
    const files = closure('fetch.js');
    expect(files.size).toBeGreaterThan(1);
    for (const [file, text] of files) {
      for (const name of SERVER_ONLY) expect(text.includes(name), `${file} contains ${name}`).toBe(false);
    }
  });

  it('the guards (built) do carry that code, so the check above can see it', () => {
    const text = [...closure('express.js').values()].join('\n');
    for (const name of ['RequestLifetime', 'guardRequest']) expect(text).toContain(name);
  });
});

describe('src/http reads no private fields of Node or of the frameworks', () => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '../../src/http');
  it.each(readdirSync(dir).filter((f) => f.endsWith('.ts')))('%s', (file) => {
    // Code only: comments may name what is avoided.
    const code = readFileSync(join(dir, file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/(^|[^:])\/\/.*$/gm, '$1');
    expect(code).not.toMatch(/\._[A-Za-z]/); // socket._httpMessage, res._header, …
    expect(code).not.toMatch(/Symbol\.for\('fastify\.(?!display-name)/); // Fastify's internal symbols
  });
});
