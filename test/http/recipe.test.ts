// The Express and Fastify recipes of docs/http.md, taken from the page and run as written (type
// annotations stripped) in their own Node process against the built package, in front of a real
// downstream on 127.0.0.1: one that answers every call 503, one that never answers. What their
// clients get must be what the page's tables say, with no 500 and nothing on stderr (Express's
// error handler prints there when a handler's promise rejects). Statuses, headers and counts are
// asserted; durations are not.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readPage, scratchDir } from '../doc-examples.js';
import { ensureBuilt } from '../package/built.js';
import { listen, request, type Answer, type Running } from './servers.js';

const page = readPage('docs/http.md');
const expressRecipe = page.blocks.find((b) => b.lang === 'ts' && b.code.includes('export const app = express()'));
const fastifyRecipe = page.blocks.find((b) => b.lang === 'ts' && b.code.includes('export const app = Fastify()'));

// Loads the recipe module and serves its `app` (Express or Fastify) on an ephemeral port, which
// it reports over IPC.
const HARNESS = `
const { app } = await import(process.env.RECIPE_URL);
if (typeof app.inject === 'function') {
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send({ port: app.server.address().port });
  process.on('message', async () => {
    await app.close();
    process.disconnect();
  });
} else {
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', () => {
    server.closeAllConnections();
    server.close(() => process.disconnect());
  });
}
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

async function startRecipe(recipe: { code: string }, env: Record<string, string>): Promise<Service> {
  const name = `http-recipe-${process.pid}-${cleanup.length}`;
  mkdirSync(scratchDir, { recursive: true });
  const module = join(scratchDir, `${name}.mjs`);
  const harness = join(scratchDir, `${name}.harness.mjs`);
  const js = ts.transpileModule(recipe.code, {
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
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, RECIPE_URL: pathToFileURL(module).href };
  delete childEnv['NODE_ENV'];
  const child: ChildProcess = spawn(process.execPath, [harness], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
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
const TIMED_OUT = '{"error":"ERR_TIMEOUT","message":"Request timed out"}';
const CIRCUIT_OPEN = '{"error":"ERR_CIRCUIT_OPEN","message":"Service unavailable"}';

/** The fields of the per-client limiter (capacity 40, 20/s) that every answer carries. */
function expectRateLimitFields(answer: Answer): void {
  expect(answer.headers['ratelimit-policy']).toBe('"per-client";q=40;w=2');
  expect(answer.headers['ratelimit']).toMatch(/^"per-client";r=\d+;t=\d+$/);
}

/** 503 with Retry-After: the breaker is open (it waits `maxSeconds` before a probe). */
function expectRetryAfter(answer: Answer, maxSeconds: number): void {
  const seconds = Number(answer.headers['retry-after']);
  expect(Number.isInteger(seconds)).toBe(true);
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(maxSeconds);
}

/** A downstream that counts its calls and keeps the deadline header each one carried. */
async function countingDownstream(answer: (res: import('node:http').ServerResponse) => void): Promise<{ url: string; budgets: number[] }> {
  const budgets: number[] = [];
  const running = await downstream((req, res) => {
    budgets.push(Number(req.headers['x-request-timeout-ms']));
    req.resume();
    answer(res);
  });
  return { url: running.url, budgets };
}

describe('the Express recipe of docs/http.md, run as written', () => {
  beforeAll(() => {
    ensureBuilt();
    expect(expressRecipe, 'docs/http.md has the Express recipe (a ts block with `export const app = express()`)').toBeDefined();
  });

  it('downstream answers every call 503: 502 after three attempts until the breaker opens, then 503 + Retry-After at once', async () => {
    const inventory = await countingDownstream((res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('inventory is down'));
    const service = await startRecipe(expressRecipe!, { INVENTORY_URL: inventory.url });

    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push(await request(`${service.url}/items/${i}`));

    expect(answers.map((a) => a.status)).toEqual([502, 502, 502, 502, 502, 502, 503, 503, 503, 503, 503, 503]);
    for (const answer of answers.slice(0, 6)) {
      expect(answer.body).toBe(UNAVAILABLE);
      expect(answer.headers['retry-after']).toBeUndefined();
    }
    // Request 7 made two attempts; the 20th failure opened the breaker, which refused the third.
    for (const answer of answers.slice(6)) {
      expect(answer.body).toBe(CIRCUIT_OPEN);
      expectRetryAfter(answer, 5);
    }
    expect(inventory.budgets).toHaveLength(20);
    for (const answer of answers) expectRateLimitFields(answer);
    // Every call carried what was left of its request's 2 s.
    for (const budget of inventory.budgets) expect(budget > 0 && budget <= 2000).toBe(true);

    expect(await service.stop()).toBe(0);
    expect(service.stderr()).toBe('');
  });

  it('downstream never answers: 503 for every request, the breaker opens, later requests get 503 + Retry-After at once', async () => {
    const inventory = await countingDownstream(() => {
      // never answer: every attempt runs into its 500 ms timeout
    });
    const service = await startRecipe(expressRecipe!, { INVENTORY_URL: inventory.url });

    // Ten at once: their first two attempts (20 timeouts) open the breaker.
    const wave = await Promise.all(Array.from({ length: 10 }, (_, i) => request(`${service.url}/items/${i}`)));
    expect(wave.map((a) => a.status)).toEqual(Array(10).fill(503));
    for (const answer of wave) {
      expectRateLimitFields(answer);
      // The third attempt refused by the open breaker, or three timeouts, or the 2 s deadline.
      if (answer.body === CIRCUIT_OPEN) expectRetryAfter(answer, 5);
      else {
        expect(answer.body).toBe(TIMED_OUT);
        expect(answer.headers['retry-after']).toBeUndefined();
      }
    }
    expect(inventory.budgets.length).toBeGreaterThanOrEqual(20);
    expect(inventory.budgets.length).toBeLessThanOrEqual(30);
    // A retry sends less than the first attempt had: the budget shrinks.
    expect(Math.min(...inventory.budgets)).toBeLessThan(Math.max(...inventory.budgets));
    for (const budget of inventory.budgets) expect(budget > 0 && budget <= 2000).toBe(true);

    const callsBefore = inventory.budgets.length;
    const later: Answer[] = [];
    for (let i = 0; i < 4; i++) later.push(await request(`${service.url}/items/later-${i}`));
    for (const answer of later) {
      expect(answer).toMatchObject({ status: 503, body: CIRCUIT_OPEN });
      expectRetryAfter(answer, 5);
      expectRateLimitFields(answer);
    }
    expect(inventory.budgets).toHaveLength(callsBefore);

    expect(await service.stop()).toBe(0);
    expect(service.stderr()).toBe('');
  });

  it('a caller with a 300 ms budget gets 503 ERR_TIMEOUT by then from a slow downstream, which sees at most that budget', async () => {
    const inventory = await countingDownstream(() => {});
    const service = await startRecipe(expressRecipe!, { INVENTORY_URL: inventory.url });
    const answer = await request(`${service.url}/items/1`, { headers: { 'x-request-timeout-ms': '300' } });
    expect(answer).toMatchObject({ status: 503, body: TIMED_OUT });
    expect(inventory.budgets.length).toBeGreaterThanOrEqual(1);
    for (const budget of inventory.budgets) expect(budget > 0 && budget <= 300).toBe(true);
    expect(await service.stop()).toBe(0);
    expect(service.stderr()).toBe('');
  });
});

/** Fastify's error body for a refusal. */
function fastifyRefusal(answer: Answer): { statusCode: number; code: string; error: string; message: string } {
  return JSON.parse(answer.body) as { statusCode: number; code: string; error: string; message: string };
}

describe('the Fastify recipe of docs/http.md, run as written', () => {
  beforeAll(() => {
    ensureBuilt();
    expect(fastifyRecipe, 'docs/http.md has the Fastify recipe (a ts block with `export const app = Fastify()`)').toBeDefined();
  });

  const charge = (url: string, n: number): Promise<Answer> =>
    request(`${url}/charge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: n }) });

  it('downstream answers every call 503: 502 after three attempts until the breaker opens, then 503 + Retry-After at once', async () => {
    const payments = await countingDownstream((res) => res.writeHead(503).end('payments is down'));
    const service = await startRecipe(fastifyRecipe!, { PAYMENTS_URL: payments.url });

    const answers: Answer[] = [];
    for (let i = 0; i < 8; i++) answers.push(await charge(service.url, i));

    // With an Idempotency-Key the POST is retried: three attempts per request. Request 4's first
    // attempt is the 10th failure, which opens the breaker; it refuses the retry.
    expect(answers.map((a) => a.status)).toEqual([502, 502, 502, 503, 503, 503, 503, 503]);
    for (const answer of answers.slice(0, 3)) expect(answer.body).toBe('{"error":"payments unavailable"}');
    for (const answer of answers.slice(3)) {
      expect(fastifyRefusal(answer)).toEqual({ statusCode: 503, code: 'ERR_CIRCUIT_OPEN', error: 'Service Unavailable', message: 'Service unavailable' });
      expectRetryAfter(answer, 10);
    }
    expect(payments.budgets).toHaveLength(10);
    for (const budget of payments.budgets) expect(budget > 0 && budget <= 3000).toBe(true);
    expect((await request(`${service.url}/health`)).body).toBe('ok');

    expect(await service.stop()).toBe(0);
    expect(service.stderr()).toBe('');
  });

  it('downstream never answers: 503 for every request, the breaker opens, later requests get 503 + Retry-After at once', async () => {
    const payments = await countingDownstream(() => {});
    const service = await startRecipe(fastifyRecipe!, { PAYMENTS_URL: payments.url });

    const wave = await Promise.all(Array.from({ length: 10 }, (_, i) => charge(service.url, i)));
    expect(wave.map((a) => a.status)).toEqual(Array(10).fill(503));
    for (const answer of wave) {
      const refusal = fastifyRefusal(answer);
      expect(refusal.statusCode).toBe(503);
      if (refusal.code === 'ERR_CIRCUIT_OPEN') expectRetryAfter(answer, 10);
      else {
        expect(refusal).toEqual({ statusCode: 503, code: 'ERR_TIMEOUT', error: 'Service Unavailable', message: 'Request timed out' });
        expect(answer.headers['retry-after']).toBeUndefined();
      }
    }
    expect(payments.budgets.length).toBeGreaterThanOrEqual(10);
    expect(payments.budgets.length).toBeLessThanOrEqual(30);

    const callsBefore = payments.budgets.length;
    for (let i = 0; i < 4; i++) {
      const answer = await charge(service.url, 100 + i);
      expect(answer.status).toBe(503);
      expect(fastifyRefusal(answer).code).toBe('ERR_CIRCUIT_OPEN');
      expectRetryAfter(answer, 10);
    }
    expect(payments.budgets).toHaveLength(callsBefore);

    expect(await service.stop()).toBe(0);
    expect(service.stderr()).toBe('');
  });
});
