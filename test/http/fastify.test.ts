import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BulkheadFullError, CircuitOpenError, RateLimitedError, TimeoutError } from '../../src/core/errors.js';
import type { Policy } from '../../src/core/policy.js';
import { guard, requestSignal } from '../../src/http/fastify.js';
import { TestClock } from '../../src/testing/index.js';
import { timeout } from '../../src/timeout/index.js';
import { track } from '../helpers.js';
import { abandon, CountingPolicy, delay, eventually, request, seeded } from './servers.js';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function serve(app: FastifyInstance): Promise<string> {
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

const rejecting = (error: unknown): Policy => ({ name: 'rejecting', execute: () => Promise.reject(error) });

describe('fastify guard: rejections', () => {
  it.each<[string, unknown, number, string | undefined, string]>([
    ['rate limited', RateLimitedError.fast(2500), 429, '3', '{"error":"ERR_RATE_LIMITED","message":"Too many requests"}'],
    ['circuit open', CircuitOpenError.fast(400), 503, '1', '{"error":"ERR_CIRCUIT_OPEN","message":"Service unavailable"}'],
    ['bulkhead full', BulkheadFullError.fast(), 503, undefined, '{"error":"ERR_BULKHEAD_FULL","message":"Server is at capacity"}'],
    ['timeout', new TimeoutError(10), 503, undefined, '{"error":"ERR_TIMEOUT","message":"Request timed out"}'],
  ])('%s → exact status, headers and body', async (_label, error, status, retryAfter, body) => {
    const handler = vi.fn(async () => 'ok');
    const app = Fastify();
    await app.register(guard(rejecting(error)));
    app.get('/', handler);
    const answer = await request(await serve(app));
    expect(answer.status).toBe(status);
    expect(answer.body).toBe(body);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['retry-after']).toBe(retryAfter);
    expect(handler).not.toHaveBeenCalled();
  });

  it('other errors go to Fastify error handling unchanged', async () => {
    const thrown = new RangeError('custom policy failure');
    const seen: unknown[] = [];
    const app = Fastify();
    app.setErrorHandler((error, _request, reply) => {
      seen.push(error);
      void reply.code(500).send('handled');
    });
    await app.register(guard(rejecting(thrown)));
    app.get('/', async () => 'ok');
    expect(await request(await serve(app))).toMatchObject({ status: 500, body: 'handled' });
    expect(seen).toEqual([thrown]);
    expect(seen[0]).toBe(thrown);
  });

  it('onRejected replaces the default answer', async () => {
    const app = Fastify();
    await app.register(
      guard(rejecting(RateLimitedError.fast(10)), {
        onRejected: (error, _request, reply) => {
          reply.code(418).send(`custom ${(error as RateLimitedError).code}`);
        },
      }),
    );
    app.get('/', async () => 'ok');
    expect(await request(await serve(app))).toMatchObject({ status: 418, body: 'custom ERR_RATE_LIMITED' });
  });
});

describe('fastify guard: scope and hooks', () => {
  it('one GET on a route with an automatic HEAD route runs the policy exactly once (row 34)', async () => {
    const policy = new CountingPolicy();
    const app = Fastify(); // exposeHeadRoutes defaults to true
    await app.register(guard(policy));
    app.get('/', async () => 'ok');
    const url = await serve(app);
    expect((await request(url)).body).toBe('ok');
    await eventually(() => expect(policy.releases).toBe(1));
    expect(policy.admissions).toBe(1);
    expect((await request(url, { method: 'HEAD' })).status).toBe(200);
    await eventually(() => expect(policy.releases).toBe(2));
    expect(policy.admissions).toBe(2);
  });

  it('applies to the context it is registered in and its children, not to siblings or the parent', async () => {
    const policy = new CountingPolicy();
    const app = Fastify();
    app.get('/open', async () => 'open');
    await app.register(async (child) => {
      await child.register(guard(policy));
      child.get('/guarded', async () => 'guarded');
      await child.register(async (grandchild) => {
        grandchild.get('/nested', async () => 'nested');
      });
    });
    await app.register(async (sibling) => {
      sibling.get('/sibling', async () => 'sibling');
    });
    const url = await serve(app);
    expect((await request(`${url}/open`)).body).toBe('open');
    expect((await request(`${url}/sibling`)).body).toBe('sibling');
    expect(policy.admissions).toBe(0);
    expect((await request(`${url}/guarded`)).body).toBe('guarded');
    expect((await request(`${url}/nested`)).body).toBe('nested');
    await eventually(() => expect(policy.releases).toBe(2));
    expect(policy.admissions).toBe(2);
  });

  it('releases once on finish, on client disconnect mid-response, and on a handler error', async () => {
    const policy = new CountingPolicy();
    const aborted: unknown[] = [];
    const app = Fastify();
    await app.register(guard(policy));
    app.get('/ok', async (_request, reply) => reply.code(202).send('fine'));
    app.get('/fail', async () => {
      await delay(1);
      throw new Error('handler failed');
    });
    app.get('/stream', (request, reply) => {
      const signal = requestSignal(request);
      signal.addEventListener('abort', () => aborted.push(signal.reason));
      reply.hijack();
      reply.raw.writeHead(200);
      reply.raw.write('first chunk');
    });
    const url = await serve(app);
    expect((await request(`${url}/ok`)).status).toBe(202);
    expect((await request(`${url}/fail`)).status).toBe(500);
    await abandon(`${url}/stream`, 'mid-response');
    await eventually(() => expect(policy.releases).toBe(3));
    expect(policy.admissions).toBe(3);
    expect(policy.active).toBe(0);
    expect(policy.outcomes).toEqual([
      { finished: true, statusCode: 202 },
      { finished: true, statusCode: 500 },
      { finished: false },
    ]);
    expect(aborted).toHaveLength(1);
    expect((aborted[0] as DOMException).name).toBe('AbortError');
  });

  it('answers 503 when a timeout fires after the handler started and nothing was sent', async () => {
    const clock = new TestClock();
    let reached = false;
    let reason: unknown;
    const app = Fastify();
    await app.register(guard(timeout(50, { clock })));
    app.get('/', async (request) => {
      const signal = requestSignal(request);
      reached = true;
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      reason = signal.reason;
      return 'too late';
    });
    const pending = track(request(await serve(app)));
    await eventually(() => expect(reached).toBe(true));
    await clock.advance(49);
    expect(reason).toBeUndefined();
    await clock.advance(1);
    const answer = await pending.promise;
    expect(answer).toMatchObject({ status: 503, body: '{"error":"ERR_TIMEOUT","message":"Request timed out"}' });
    expect(reason).toBeInstanceOf(TimeoutError);
  });

  it('requestSignal works on an unguarded route when given the reply', async () => {
    let signal: AbortSignal | undefined;
    const app = Fastify();
    app.get('/', async (request, reply) => {
      signal = requestSignal(request, reply);
      expect(requestSignal(request)).toBe(signal);
      return 'ok';
    });
    expect((await request(await serve(app))).body).toBe('ok');
    expect(signal!.aborted).toBe(false);
  });

  it('under 200 concurrent requests with random client aborts, handler calls equal admissions and all are released', async () => {
    const random = seeded(11);
    const policy = new CountingPolicy(40);
    let handlerCalls = 0;
    const app = Fastify();
    await app.register(guard(policy));
    app.get('/', (request, reply) => {
      handlerCalls++;
      const signal = requestSignal(request);
      reply.hijack();
      reply.raw.writeHead(200);
      reply.raw.write('a');
      setTimeout(() => {
        if (!signal.aborted) reply.raw.end('b');
      }, Math.floor(random() * 20));
    });
    const url = await serve(app);
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () => {
        const roll = random();
        if (roll < 0.25) return abandon(url, { afterMs: Math.floor(random() * 15) }).then(() => 'abandoned');
        if (roll < 0.5) return abandon(url, 'mid-response').then(() => 'abandoned');
        return request(url).then((a) => a.status);
      }),
    );
    await eventually(() => expect(policy.active).toBe(0));
    expect(policy.releases).toBe(policy.admissions);
    expect(handlerCalls).toBe(policy.admissions);
    expect(policy.maxActive).toBeLessThanOrEqual(40);
    const answered = outcomes.filter((o) => typeof o === 'number');
    expect(answered.length).toBeGreaterThan(0);
    expect(policy.admissions).toBeGreaterThan(0);
    expect(answered.every((s) => s === 200 || s === 503)).toBe(true);
    expect(answered.filter((s) => s === 503).length).toBe(policy.rejected);
  });
});
