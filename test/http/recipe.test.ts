// The Express recipe of docs/http.md, taken from the page and run as written (type annotations
// stripped) in its own Node process against the built package, in front of a real downstream on
// 127.0.0.1: one that answers every call 503, one that never answers. What its clients get must
// be what the page's table says, with no 500 and nothing on stderr (Express's error handler
// prints there when a handler's promise rejects). Statuses, headers and counts are asserted;
// durations are not.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readPage, scratchDir } from '../doc-examples.js';
import { ensureBuilt } from '../package/built.js';
import { listen, request, type Answer, type Running } from './servers.js';

const recipe = readPage('docs/http.md').blocks.find((b) => b.lang === 'ts' && b.code.includes('export const app = express()'));

// Loads the recipe module and serves its `app` on an ephemeral port, which it reports over IPC.
const HARNESS = `
const { app } = await import(process.env.RECIPE_URL);
const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', () => {
  server.closeAllConnections();
  server.close(() => process.disconnect());
});
`;

interface Service {
  readonly url: string;
  /** Everything the service process wrote to stderr so far. */
  stderr(): string;
  /** Stops the server; resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function startRecipe(inventoryUrl: string): Promise<Service> {
  const name = `http-recipe-${process.pid}-${cleanup.length}`;
  const module = join(scratchDir, `${name}.mjs`);
  const harness = join(scratchDir, `${name}.harness.mjs`);
  const js = ts.transpileModule(recipe!.code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  writeFileSync(module, js);
  writeFileSync(harness, HARNESS);
  cleanup.push(async () => {
    rmSync(module, { force: true });
    rmSync(harness, { force: true });
  });
  // NODE_ENV as a user's shell has it (unset), not vitest's 'test', which silences Express's
  // error handler.
  const env: NodeJS.ProcessEnv = { ...process.env, INVENTORY_URL: inventoryUrl, RECIPE_URL: pathToFileURL(module).href };
  delete env['NODE_ENV'];
  const child: ChildProcess = spawn(process.execPath, [harness], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the recipe exited with ${code} before listening:\n${stderr}`)));
  });
  let stopped: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> => {
    if (stopped === undefined) {
      if (child.connected) child.send('stop');
      // A process that does not exit by itself is a finding too; do not leave it behind.
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      stopped = exited.finally(() => clearTimeout(kill));
    }
    return stopped;
  };
  cleanup.push(stop);
  return { url: `http://127.0.0.1:${port}`, stderr: () => stderr, stop };
}

async function downstream(listener: Parameters<typeof listen>[0]): Promise<Running> {
  const running = await listen(listener);
  cleanup.push(() => running.close());
  return running;
}

const UNAVAILABLE = '{"error":"inventory unavailable"}';
const GUARD_TIMEOUT = '{"error":"ERR_TIMEOUT","message":"Request timed out"}';

/** The fields of the per-client limiter (capacity 40, 20/s) that every answer carries. */
function expectRateLimitFields(answer: Answer): void {
  expect(answer.headers['ratelimit-policy']).toBe('"per-client";q=40;w=2');
  expect(answer.headers['ratelimit']).toMatch(/^"per-client";r=\d+;t=\d+$/);
}

/** 503 with Retry-After: inventory's breaker is open (it waits 5 s before a probe). */
function expectBreakerOpenAnswer(answer: Answer): void {
  expect(answer.status).toBe(503);
  expect(answer.body).toBe(UNAVAILABLE);
  expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(answer.headers['retry-after'])).toBeLessThanOrEqual(5);
  expect(Number.isInteger(Number(answer.headers['retry-after']))).toBe(true);
}

describe('the Express recipe of docs/http.md, run as written', () => {
  beforeAll(() => {
    ensureBuilt();
    expect(recipe, 'docs/http.md has the Express recipe (a ts block with `export const app = express()`)').toBeDefined();
  });

  it('downstream answers every call 503: 502 after three attempts until the breaker opens, then 503 + Retry-After at once', async () => {
    let calls = 0;
    const inventory = await downstream((_req, res) => {
      calls++;
      res.writeHead(503, { 'content-type': 'text/plain' }).end('inventory is down');
    });
    const service = await startRecipe(inventory.url);

    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push(await request(`${service.url}/items/${i}`));

    expect(answers.map((a) => a.status)).toEqual([502, 502, 502, 502, 502, 502, 503, 503, 503, 503, 503, 503]);
    for (const answer of answers.slice(0, 6)) {
      expect(answer.body).toBe(UNAVAILABLE);
      expect(answer.headers['retry-after']).toBeUndefined();
    }
    // Request 7 made two attempts; the 20th failure opened the breaker, which refused the third.
    for (const answer of answers.slice(6)) expectBreakerOpenAnswer(answer);
    expect(calls).toBe(20);
    for (const answer of answers) expectRateLimitFields(answer);

    expect(await service.stop()).toBe(0);
    expect(service.stderr()).toBe('');
  });

  it('downstream never answers: 503 for every request, the breaker opens, later requests get 503 + Retry-After at once', async () => {
    let calls = 0;
    const inventory = await downstream(() => {
      calls++; // and never answer: every attempt runs into its 500 ms timeout
    });
    const service = await startRecipe(inventory.url);

    // Ten at once: their first two attempts (20 timeouts) open the breaker.
    const wave = await Promise.all(Array.from({ length: 10 }, (_, i) => request(`${service.url}/items/${i}`)));
    expect(wave.map((a) => a.status)).toEqual(Array(10).fill(503));
    for (const answer of wave) {
      expectRateLimitFields(answer);
      if (answer.headers['retry-after'] !== undefined) expectBreakerOpenAnswer(answer); // third attempt refused
      else expect([UNAVAILABLE, GUARD_TIMEOUT]).toContain(answer.body); // three timeouts, or our own 2 s deadline
    }
    expect(calls).toBeGreaterThanOrEqual(20);
    expect(calls).toBeLessThanOrEqual(30);

    const callsBefore = calls;
    const later: Answer[] = [];
    for (let i = 0; i < 4; i++) later.push(await request(`${service.url}/items/later-${i}`));
    for (const answer of later) {
      expectBreakerOpenAnswer(answer);
      expectRateLimitFields(answer);
    }
    expect(calls).toBe(callsBefore);

    expect(await service.stop()).toBe(0);
    expect(service.stderr()).toBe('');
  });
});
