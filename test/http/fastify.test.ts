import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BulkheadFullError,
  CircuitIsolatedError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from '../../src/core/errors.js';
import { currentDeadline, remainingMs } from '../../src/core/deadline.js';
import type { Policy } from '../../src/core/policy.js';
import {
  breakwaterErrorHandler,
  breakwaterGuard,
  guard,
  requestDeadline,
  RequestRefusedError,
  requestSignal,
} from '../../src/http/fastify.js';
import { rateLimiter } from '../../src/rate-limit/index.js';
import { TestClock } from '../../src/testing/index.js';
import { timeout } from '../../src/timeout/index.js';
import { deferred, track } from '../helpers.js';
import {
  abandon,
  ConcurrencyLimitStandIn,
  CountingPolicy,
  delay,
  eventually,
  LimiterUnavailableStandIn,
  request,
  seeded,
} from './servers.js';

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

/** Fastify's error body for a refusal: what its default error handler sends for our error. */
const body = (status: number, code: string, message: string): string =>
  JSON.stringify({ statusCode: status, code, error: status === 429 ? 'Too Many Requests' : 'Service Unavailable', message });

/** A Fastify whose log lines are kept (as parsed JSON) for the test to read. */
function loggedFastify(): { app: FastifyInstance; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { app: Fastify({ logger: { level: 'info', stream } }), lines };
}

describe('breakwaterGuard: a real Fastify plugin', () => {
  it('carries the metadata fastify-plugin would set, and Fastify records it by name', async () => {
    const plugin = breakwaterGuard as unknown as Record<symbol, unknown>;
    expect(plugin[Symbol.for('skip-override')]).toBe(true);
    expect(plugin[Symbol.for('fastify.display-name')]).toBe('breakwater');
    expect(plugin[Symbol.for('plugin-meta')]).toEqual({ name: 'breakwater', fastify: '5.x' });
    expect((guard(new CountingPolicy()) as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')]).toEqual({
      name: 'breakwater',
      fastify: '5.x',
    });
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: new CountingPolicy() });
    await app.ready();
    expect(app.hasPlugin('breakwater')).toBe(true);
    await app.close();
  });

  it('takes its options from register, and checks them when it loads', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 1, clock });
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: limiter, rateLimitHeaders: 'legacy' });
    app.get('/', async () => 'ok');
    const url = await serve(app);
    const first = await request(url);
    expect(first.headers['x-ratelimit-remaining']).toBe('0');
    expect(first.headers['ratelimit']).toBeUndefined();
    expect((await request(url)).status).toBe(429);

    await expect(Fastify().register(breakwaterGuard, {} as never)).rejects.toThrow(/policy/);
    await expect(Fastify().register(breakwaterGuard, { policy: 42 } as never)).rejects.toThrow(TypeError);
    await expect(Fastify().register(breakwaterGuard, { policy: limiter, retryAfterSeconds: 0 })).rejects.toThrow(/retryAfterSeconds/);
  });

  it('guard(policy) keeps working, and options given to register are merged over its own', async () => {
    const app = Fastify();
    await app.register(async (child) => {
      await child.register(guard(rejecting(BulkheadFullError.fast()), { retryAfterSeconds: 3 }));
      child.get('/own', async () => 'ok');
    });
    await app.register(async (child) => {
      await child.register(guard(rejecting(BulkheadFullError.fast()), { retryAfterSeconds: 3 }), { retryAfterSeconds: 8, logLevel: 'info' });
      child.get('/merged', async () => 'ok');
    });
    const url = await serve(app);
    expect((await request(`${url}/own`)).headers['retry-after']).toBe('3');
    expect((await request(`${url}/merged`)).headers['retry-after']).toBe('8');
  });
});

describe('fastify guard: refusals take Fastify\'s error path', () => {
  it.each<[string, unknown, number, string | undefined, string]>([
    ['rate limited', RateLimitedError.fast(2500), 429, '3', body(429, 'ERR_RATE_LIMITED', 'Too many requests')],
    ['circuit open', CircuitOpenError.fast(400), 503, '1', body(503, 'ERR_CIRCUIT_OPEN', 'Service unavailable')],
    ['circuit isolated', CircuitIsolatedError.fast(), 503, '1', body(503, 'ERR_CIRCUIT_ISOLATED', 'Service unavailable')],
    ['bulkhead full', BulkheadFullError.fast(), 503, '1', body(503, 'ERR_BULKHEAD_FULL', 'Server is at capacity')],
    ['concurrency limit', new ConcurrencyLimitStandIn(), 503, '1', body(503, 'ERR_CONCURRENCY_LIMIT', 'Server is at capacity')],
    ['rate limiter unavailable', new LimiterUnavailableStandIn(), 503, '1', body(503, 'ERR_RATE_LIMITER_UNAVAILABLE', 'Service unavailable')],
    ['timeout', new TimeoutError(10), 503, undefined, body(503, 'ERR_TIMEOUT', 'Request timed out')],
  ])('%s → exact status, headers and body', async (_label, error, status, retryAfter, expected) => {
    const handler = vi.fn(async () => 'ok');
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: rejecting(error) });
    app.get('/', handler);
    const answer = await request(await serve(app));
    expect(answer.status).toBe(status);
    expect(answer.body).toBe(expected);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['retry-after']).toBe(retryAfter);
    expect(handler).not.toHaveBeenCalled();
  });

  it('setErrorHandler sees a RequestRefusedError with statusCode, headers and the policy error as cause', async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 1, refillPerSecond: 0.5, clock, name: 'api' });
    const seen: unknown[] = [];
    const app = Fastify();
    app.setErrorHandler((error, _request, reply) => {
      seen.push(error);
      void reply.code((error as RequestRefusedError).statusCode).send({ custom: (error as RequestRefusedError).code });
    });
    await app.register(breakwaterGuard, { policy: limiter });
    app.get('/', async () => 'ok');
    const url = await serve(app);
    expect((await request(url)).status).toBe(200);
    const limited = await request(url);
    expect(limited.status).toBe(429);
    expect(limited.body).toBe('{"custom":"ERR_RATE_LIMITED"}');
    // Set on the reply before the error was thrown, as @fastify/rate-limit does: a custom
    // error handler keeps them without knowing about them.
    expect(limited.headers['retry-after']).toBe('2');
    expect(limited.headers['ratelimit']).toBe('"api";r=0;t=2');
    expect(seen).toHaveLength(1);
    const refusal = seen[0] as RequestRefusedError;
    expect(refusal).toBeInstanceOf(RequestRefusedError);
    expect(refusal.statusCode).toBe(429);
    expect(refusal.headers).toEqual({ 'retry-after': '2', 'ratelimit-policy': '"api";q=1;w=2', ratelimit: '"api";r=0;t=2' });
    expect(refusal.cause).toBeInstanceOf(RateLimitedError);
  });

  it('the request log sees refusals: 429 at info, 503 at error, with the error and its status', async () => {
    const { app, lines } = loggedFastify();
    await app.register(async (child) => {
      await child.register(breakwaterGuard, { policy: rejecting(RateLimitedError.fast(1000)) });
      child.get('/limited', async () => 'ok');
    });
    await app.register(async (child) => {
      await child.register(breakwaterGuard, { policy: rejecting(BulkheadFullError.fast()) });
      child.get('/full', async () => 'ok');
    });
    const url = await serve(app);
    await request(`${url}/limited`);
    await request(`${url}/full`);
    await eventually(() => expect(lines.filter((l) => l['err'] !== undefined)).toHaveLength(2));
    const [limited, full] = lines.filter((l) => l['err'] !== undefined);
    expect(limited).toMatchObject({ level: 30, err: { type: 'RequestRefusedError', statusCode: 429, code: 'ERR_RATE_LIMITED' } });
    expect(full).toMatchObject({ level: 50, err: { type: 'RequestRefusedError', statusCode: 503, code: 'ERR_BULKHEAD_FULL' } });
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

  it('onRejected replaces the error path', async () => {
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

describe('fastify guard: route config', () => {
  it('config.breakwater: false turns the guard off for a route; a policy replaces the guard\'s', async () => {
    const guardPolicy = new CountingPolicy();
    const routePolicy = new CountingPolicy();
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: guardPolicy });
    app.get('/default', async () => 'default');
    app.get('/off', { config: { breakwater: false } }, async () => 'off');
    app.get('/own', { config: { breakwater: routePolicy } }, async () => 'own');
    const url = await serve(app);
    expect((await request(`${url}/default`)).body).toBe('default');
    expect((await request(`${url}/off`)).body).toBe('off');
    expect((await request(`${url}/own`)).body).toBe('own');
    await eventually(() => expect(guardPolicy.releases + routePolicy.releases).toBe(2));
    expect(guardPolicy.admissions).toBe(1);
    expect(routePolicy.admissions).toBe(1);
  });

  it('with two guard plugins on the route, its own policy runs once; a HEAD runs it once too', async () => {
    const outer = new CountingPolicy();
    const inner = new CountingPolicy();
    const own = new CountingPolicy();
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: outer });
    await app.register(async (child) => {
      await child.register(breakwaterGuard, { policy: inner });
      child.get('/', { config: { breakwater: own } }, async () => 'ok');
    });
    const url = await serve(app);
    expect((await request(`${url}/`)).body).toBe('ok');
    expect((await request(`${url}/`, { method: 'HEAD' })).status).toBe(200);
    await eventually(() => expect(own.releases).toBe(2));
    expect(own.admissions).toBe(2);
    expect(outer.admissions + inner.admissions).toBe(0);
  });

  it('a bad config.breakwater fails the route registration with a TypeError', async () => {
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: new CountingPolicy() });
    expect(() => app.get('/', { config: { breakwater: 'yes' } }, async () => 'ok')).toThrow(/config\.breakwater/);
    await app.close();
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
    expect(answer).toMatchObject({ status: 503, body: body(503, 'ERR_TIMEOUT', 'Request timed out') });
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

describe('fastify guard: a refusal after the handler started', () => {
  it('one answer, and no "Reply was already sent" when the handler returns or sends late', async () => {
    const clock = new TestClock();
    const { app, lines } = loggedFastify();
    const late = deferred<void>();
    let reached = 0;
    let done = 0;
    await app.register(breakwaterGuard, { policy: timeout(50, { clock }) });
    app.get('/return', async () => {
      reached++;
      await late.promise;
      done++;
      return { late: true };
    });
    app.get('/send', async (_request, reply) => {
      reached++;
      await late.promise;
      reply.header('x-late', 'yes');
      await reply.code(200).send('late');
      done++;
      return reply;
    });
    const url = await serve(app);
    const answers = [track(request(`${url}/return`)), track(request(`${url}/send`))];
    await eventually(() => expect(reached).toBe(2));
    await clock.advance(50);
    for (const answer of answers) {
      const { status, body: text, headers } = await answer.promise;
      expect(status).toBe(503);
      expect(text).toBe(body(503, 'ERR_TIMEOUT', 'Request timed out'));
      expect(headers['x-late']).toBeUndefined();
    }
    late.resolve();
    await eventually(() => expect(done).toBe(2));
    await delay(20);
    const warnings = lines.filter((l) => (l['level'] as number) >= 40 && !(l['err'] as { code?: string } | undefined)?.code?.startsWith('ERR_TIMEOUT'));
    expect(warnings).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain('already sent');
  });
});

describe('fastify breakwaterErrorHandler', () => {
  it("answers a handler's own refusals like the guard, through the parent error handler; passes the rest on", async () => {
    const other = new Error('not ours');
    const app = Fastify();
    app.setErrorHandler(breakwaterErrorHandler({ retryAfterSeconds: 6 }));
    app.get('/open', async () => {
      throw CircuitOpenError.fast(1500);
    });
    app.get('/full', async () => {
      throw BulkheadFullError.fast();
    });
    app.get('/other', async () => {
      throw other;
    });
    const url = await serve(app);
    const open = await request(`${url}/open`);
    expect(open).toMatchObject({ status: 503, body: body(503, 'ERR_CIRCUIT_OPEN', 'Service unavailable') });
    expect(open.headers['retry-after']).toBe('2');
    expect((await request(`${url}/full`)).headers['retry-after']).toBe('6');
    const failed = await request(`${url}/other`);
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toMatchObject({ statusCode: 500, message: 'not ours' });
  });
});

describe('fastify guard: RateLimit fields and deadlines', () => {
  it('two guard plugins on one route both get their fields, appended', async () => {
    const clock = new TestClock();
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: rateLimiter({ capacity: 100, refillPerSecond: 10, clock, name: 'global' }) });
    await app.register(async (child) => {
      await child.register(breakwaterGuard, { policy: rateLimiter({ capacity: 10, refillPerSecond: 5, clock, name: 'per-client' }) });
      child.get('/', async () => 'ok');
    });
    const answer = await request(await serve(app));
    expect(answer.headers['ratelimit-policy']).toBe('"global";q=100;w=10, "per-client";q=10;w=2');
    expect(answer.headers['ratelimit']).toBe('"global";r=99;t=1, "per-client";r=9;t=1');
  });

  it('a POST handler runs inside the request deadline after its body was read', async () => {
    const clock = new TestClock(1000);
    const seen: Array<{ remaining: number; same: boolean }> = [];
    const app = Fastify();
    await app.register(breakwaterGuard, { policy: new CountingPolicy(), deadlineHeader: 'x-request-timeout-ms', clock });
    app.post('/', async (request) => {
      const deadline = requestDeadline(request)!;
      seen.push({ remaining: remainingMs(deadline), same: currentDeadline() === deadline });
      return (request.body as { n: number }).n;
    });
    const url = await serve(app);
    // A body large enough to arrive after the headers, in its own socket events.
    const payload = JSON.stringify({ n: 7, pad: 'x'.repeat(256 * 1024) });
    const answer = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-timeout-ms': '250' },
      body: payload,
    });
    expect(answer).toMatchObject({ status: 200, body: '7' });
    expect(seen).toEqual([{ remaining: 250, same: true }]);
  });
});
