// The HTTP integrations with breakwater's real inbound policies: bulkhead, rate limiters, breaker.
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred } from '../helpers.js';
import { pipeline } from '../../src/core/pipeline.js';
import { bulkhead, type Bulkhead } from '../../src/bulkhead/index.js';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import { keyedRateLimiter, rateLimiter } from '../../src/rate-limit/index.js';
import { guard as expressGuard, requestSignal } from '../../src/http/express.js';
import { guard as fastifyGuard, requestSignal as fastifySignal } from '../../src/http/fastify.js';
import { resilientFetch } from '../../src/http/fetch.js';
import { TestClock } from '../../src/testing/index.js';
import { timeout } from '../../src/timeout/index.js';
import { abandon, delay, eventually, listen, request, seeded, type Running } from './servers.js';

const running: Running[] = [];
const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all([...running.splice(0).map((r) => r.close()), ...apps.splice(0).map((a) => a.close())]);
});

async function serveExpress(app: express.Express): Promise<string> {
  const r = await listen(app);
  running.push(r);
  return r.url;
}

async function serveFastify(app: FastifyInstance): Promise<string> {
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** Counts calls the bulkhead ran (its success/failure events) and its rejections. */
function watch(b: Bulkhead): { admitted: number; rejected: number } {
  const counts = { admitted: 0, rejected: 0 };
  b.on('success', () => counts.admitted++);
  b.on('failure', () => counts.admitted++);
  b.on('rejected', () => counts.rejected++);
  return counts;
}

/** 200 concurrent requests; a quarter abandoned before the answer, a quarter mid-response. */
function storm(url: string, random: () => number): Promise<Array<number | 'abandoned'>> {
  return Promise.all(
    Array.from({ length: 200 }, () => {
      const roll = random();
      if (roll < 0.25) return abandon(url, { afterMs: Math.floor(random() * 15) }).then(() => 'abandoned' as const);
      if (roll < 0.5) return abandon(url, 'mid-response').then(() => 'abandoned' as const);
      return request(url).then((a) => a.status);
    }),
  );
}

describe('load shedding with a real bulkhead', () => {
  it('express: 200 concurrent requests with random client aborts: active and queued return to 0, handlers = admissions', async () => {
    const random = seeded(3);
    const shed = bulkhead({ maxConcurrent: 10, maxQueue: 30 });
    const counts = watch(shed);
    let handlerCalls = 0;
    let inHandler = 0;
    let maxInHandler = 0;
    const app = express();
    app.get('/', expressGuard(shed), async (req, res) => {
      handlerCalls++;
      inHandler++;
      maxInHandler = Math.max(maxInHandler, inHandler);
      // A handler counts as running until it finished or was told to stop: a client that
      // leaves frees the slot at once, and the signal tells the handler in the same moment.
      let running = true;
      const stop = (): void => {
        if (running) inHandler--;
        running = false;
      };
      const signal = requestSignal(req);
      signal.addEventListener('abort', stop);
      res.write('a');
      await delay(Math.floor(random() * 20));
      if (signal.aborted) return;
      stop();
      res.end('b');
    });
    const outcomes = await storm(await serveExpress(app), random);
    await eventually(() => expect([shed.active, shed.queued]).toEqual([0, 0]));
    expect(handlerCalls).toBe(counts.admitted);
    expect(maxInHandler).toBeLessThanOrEqual(10);
    const answered = outcomes.filter((o): o is number => typeof o === 'number');
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.every((s) => s === 200 || s === 503)).toBe(true);
    expect(answered.filter((s) => s === 503).length).toBeLessThanOrEqual(counts.rejected);
    expect(counts.admitted).toBeGreaterThan(0);
  });

  it('fastify: the same storm leaves the bulkhead empty and handlers = admissions', async () => {
    const random = seeded(5);
    const shed = bulkhead({ maxConcurrent: 10, maxQueue: 30 });
    const counts = watch(shed);
    let handlerCalls = 0;
    const app = Fastify();
    await app.register(fastifyGuard(shed));
    app.get('/', (request, reply) => {
      handlerCalls++;
      const signal = fastifySignal(request);
      reply.hijack();
      reply.raw.writeHead(200);
      reply.raw.write('a');
      setTimeout(() => {
        if (!signal.aborted) reply.raw.end('b');
      }, Math.floor(random() * 20));
    });
    const outcomes = await storm(await serveFastify(app), random);
    await eventually(() => expect([shed.active, shed.queued]).toEqual([0, 0]));
    expect(handlerCalls).toBe(counts.admitted);
    expect(counts.admitted).toBeGreaterThan(0);
    const answered = outcomes.filter((o): o is number => typeof o === 'number');
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.every((s) => s === 200 || s === 503)).toBe(true);
  });

  it('a full bulkhead answers 503 with the documented body', async () => {
    const shed = bulkhead({ maxConcurrent: 1 });
    let finish!: () => void;
    const app = express();
    app.get('/', expressGuard(shed), (_req, res) => {
      finish = () => res.end('done');
    });
    const url = await serveExpress(app);
    const first = request(url);
    await eventually(() => expect(shed.active).toBe(1));
    const second = await request(url);
    expect(second).toMatchObject({ status: 503, body: '{"error":"ERR_BULKHEAD_FULL","message":"Server is at capacity"}' });
    // No retry time is known for a full bulkhead: the default, one second.
    expect(second.headers['retry-after']).toBe('1');
    finish();
    expect((await first).body).toBe('done');
    await eventually(() => expect(shed.active).toBe(0));
  });
  it('a request whose deadline passes while queued leaves the queue with 503 and never reaches the handler', async () => {
    const clock = new TestClock();
    const shed = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const seen: string[] = [];
    let finish!: () => void;
    const app = express();
    app.get('/slow', expressGuard(shed), (_req, res) => {
      seen.push('slow');
      finish = () => res.end('slow done');
    });
    app.get('/deadline', expressGuard(pipeline(timeout(100, { clock }), shed)), (_req, res) => {
      seen.push('deadline');
      res.end('fast');
    });
    const url = await serveExpress(app);
    const slow = request(`${url}/slow`);
    await eventually(() => expect(shed.active).toBe(1));
    const queued = request(`${url}/deadline`);
    await eventually(() => expect(shed.queued).toBe(1));
    await clock.advance(99);
    expect(shed.queued).toBe(1);
    await clock.advance(1);
    expect(await queued).toMatchObject({ status: 503, body: '{"error":"ERR_TIMEOUT","message":"Request timed out"}' });
    expect(shed.queued).toBe(0);
    finish();
    expect((await slow).body).toBe('slow done');
    expect(seen).toEqual(['slow']);
    await eventually(() => expect(shed.active).toBe(0));
  });
});

describe('per-client rate limits', () => {
  it('express: RateLimit-Policy / RateLimit on admitted requests, 429 with Retry-After when empty', async () => {
    const clock = new TestClock();
    const limits = keyedRateLimiter({ capacity: 2, refillPerSecond: 1, clock, name: 'per-client' });
    const app = express();
    app.get('/', expressGuard((req) => limits.get(req.ip ?? '')), (_req, res) => res.send('ok'));
    const url = await serveExpress(app);
    const first = await request(url);
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"per-client";q=2;w=2');
    expect(first.headers['ratelimit']).toBe('"per-client";r=1;t=1');
    const second = await request(url);
    expect(second.headers['ratelimit']).toBe('"per-client";r=0;t=2');
    await clock.advance(250);
    const third = await request(url);
    expect(third.status).toBe(429);
    expect(third.body).toBe('{"error":"ERR_RATE_LIMITED","message":"Too many requests"}');
    expect(third.headers['retry-after']).toBe('1'); // 750 ms, rounded up
    expect(third.headers['ratelimit-policy']).toBe('"per-client";q=2;w=2');
    expect(third.headers['ratelimit']).toBe('"per-client";r=0;t=2');
    await clock.advance(750);
    expect((await request(url)).status).toBe(200);
  });

  it('express: a limiter inside a pipeline is advertised too; rateLimitHeaders: false turns the fields off', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 10, refillPerSecond: 5, clock });
    const policy = pipeline(limiter, bulkhead({ maxConcurrent: 5 }));
    const app = express();
    app.get('/on', expressGuard(policy), (_req, res) => res.send('ok'));
    app.get('/off', expressGuard(policy, { rateLimitHeaders: false }), (_req, res) => res.send('ok'));
    const url = await serveExpress(app);
    const on = await request(`${url}/on`);
    expect(on.headers['ratelimit-policy']).toBe('"rate-limiter";q=10;w=2');
    expect(on.headers['ratelimit']).toBe('"rate-limiter";r=9;t=1');
    const off = await request(`${url}/off`);
    expect(off.status).toBe(200);
    expect(off.headers['ratelimit-policy']).toBeUndefined();
    expect(off.headers['ratelimit']).toBeUndefined();
    expect(limiter.available).toBe(8);
  });

  it('fastify: one GET on a route with an automatic HEAD route debits exactly one token (row 34)', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 5, refillPerSecond: 1, clock });
    const app = Fastify({ exposeHeadRoutes: true });
    await app.register(fastifyGuard(limiter));
    app.get('/', async () => 'ok');
    const url = await serveFastify(app);
    expect(limiter.available).toBe(5);
    const get = await request(url);
    expect(get.status).toBe(200);
    expect(limiter.available).toBe(4);
    expect(get.headers['ratelimit']).toBe('"rate-limiter";r=4;t=1');
    const head = await request(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(limiter.available).toBe(3);
  });

  it('fastify: 429 with Retry-After and the RateLimit fields', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 0.5, clock, name: 'default' });
    const app = Fastify();
    await app.register(fastifyGuard(limiter));
    app.get('/', async () => 'ok');
    const url = await serveFastify(app);
    expect((await request(url)).status).toBe(200);
    const limited = await request(url);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect(JSON.parse(limited.body)).toEqual({ statusCode: 429, code: 'ERR_RATE_LIMITED', error: 'Too Many Requests', message: 'Too many requests' });
    expect(limited.headers['ratelimit-policy']).toBe('"default";q=1;w=2');
    expect(limited.headers['ratelimit']).toBe('"default";r=0;t=2');
  });
});

describe('a service guarding itself and calling a flaky downstream', () => {
  it('an open breaker on the outbound side surfaces as 503 with Retry-After through guard', async () => {
    const downstream = await listen((_req, res) => res.writeHead(503).end());
    running.push(downstream);
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 5000, consecutiveFailures: 2, clock });
    const callDownstream = resilientFetch(breaker);
    const app = express();
    // Outbound: the route calls the downstream through the breaker. Inbound: /breaker is guarded by it.
    app.get('/', expressGuard(pipeline(bulkhead({ maxConcurrent: 4 }))), async (req, res) => {
      const response = await callDownstream(downstream.url, { signal: requestSignal(req) });
      res.status(response.ok ? 200 : 502).send(await response.text());
    });
    app.get('/breaker', expressGuard(breaker), (_req, res) => res.send('reached'));
    const url = await serveExpress(app);
    expect((await request(url)).status).toBe(502);
    expect((await request(url)).status).toBe(502);
    expect(breaker.state).toBe('open');
    const rejected = await request(`${url}/breaker`);
    expect(rejected.status).toBe(503);
    expect(rejected.body).toBe('{"error":"ERR_CIRCUIT_OPEN","message":"Service unavailable"}');
    // No virtual time passed since the breaker opened: all of halfOpenAfterMs is left.
    expect(rejected.headers['retry-after']).toBe('5');
  });
});

describe('a client that leaves while its request waits', () => {
  it('leaves a real bulkhead queue at once, while the request ahead still holds its slot', async () => {
    const shed = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    let finish!: () => void;
    const handler = vi.fn((_req: express.Request, res: express.Response) => {
      finish = () => res.end('first');
    });
    const app = express();
    app.get('/', expressGuard(shed), handler);
    const url = await serveExpress(app);
    const first = request(url);
    await eventually(() => expect(shed.active).toBe(1));
    const queued = deferred<void>();
    const left = abandon(url, { after: queued.promise });
    await eventually(() => expect(shed.queued).toBe(1));
    queued.resolve();
    await left;
    await eventually(() => expect(shed.queued).toBe(0));
    expect(shed.active).toBe(1);
    finish();
    expect((await first).body).toBe('first');
    await eventually(() => expect(shed.active).toBe(0));
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('leaves a rate limiter wait at once (fastify)', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1, maxWaitMs: 5_000, clock });
    const handler = vi.fn(async () => 'ok');
    const arrivals: Array<() => void> = [];
    const app = Fastify();
    // Runs just before the guard's hook, which puts the request in the limiter's line at once.
    app.addHook('onRequest', (_request, _reply, done) => {
      arrivals.shift()?.();
      done();
    });
    await app.register(fastifyGuard(limiter));
    app.get('/', handler);
    const url = await serveFastify(app);
    expect((await request(url)).status).toBe(200);
    // The bucket is empty: the next request waits up to 5 s (virtual) for a token.
    const waiting = deferred<void>();
    arrivals.push(() => setImmediate(waiting.resolve));
    await abandon(url, { after: waiting.promise });
    await delay(50);
    // Had it stayed in line, the token refilled now would be its; it left, so the token is there.
    await clock.advance(1000);
    expect(limiter.available).toBe(1);
    expect(handler).toHaveBeenCalledTimes(1);
  });
});
