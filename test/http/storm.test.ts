// 200 concurrent requests against real Express 5 and Fastify 5 on 127.0.0.1, through a guard
// whose policy refuses in every way it can (rate limited, bulkhead full, timed out while queued,
// timed out while the handler runs, timed out after headers were sent), with client
// disconnects mixed in. Virtual time moves while the requests are in flight, so deadlines fire
// at random points of each request's life. What must hold: every answer is one of the
// documented ones, each admitted request's slot is released exactly once, handlers never meet
// ERR_HTTP_HEADERS_SENT, nothing reaches the framework's error path, stderr or Fastify's
// warnings, and no promise rejection goes unhandled (test/setup.ts).
import express, { type NextFunction, type Request, type Response } from 'express';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bulkhead } from '../../src/bulkhead/index.js';
import { pipeline } from '../../src/core/pipeline.js';
import { breakwaterErrorHandler, guard, requestSignal } from '../../src/http/express.js';
import { breakwaterGuard, requestSignal as fastifySignal } from '../../src/http/fastify.js';
import { rateLimiter } from '../../src/rate-limit/index.js';
import { TestClock } from '../../src/testing/index.js';
import { timeout } from '../../src/timeout/index.js';
import { abandon, CountingPolicy, delay, eventually, listen, request, seeded, type Answer } from './servers.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** Everything printed on stderr (console.error included) while the test runs. */
function watchStderr(): unknown[] {
  const printed: unknown[] = [];
  const errorSpy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args));
  const stderrSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    printed.push(chunk);
    return true;
  });
  cleanup.push(() => {
    errorSpy.mockRestore();
    stderrSpy.mockRestore();
  });
  return printed;
}

/**
 * The guards' policies. `policy` (routes json, stream, hang): a rate limiter, a deadline over
 * queueing and handling, a bulkhead, a counter. `limited` (route limited): a bucket that is
 * empty after the first request, so every later answer there is a 429.
 */
function stormPolicies(clock: TestClock) {
  const shed = bulkhead({ maxConcurrent: 5, maxQueue: 10 });
  const counting = new CountingPolicy();
  const policy = pipeline(rateLimiter({ capacity: 100, refillPerSecond: 20, clock, name: 'storm' }), timeout(100, { clock }), shed, counting);
  const limited = pipeline(rateLimiter({ capacity: 1, refillPerSecond: 0.001, clock, name: 'tight' }), counting);
  return { shed, counting, policy, limited };
}

const ROUTES = ['json', 'stream', 'hang', 'limited'] as const;

/** While `until` is pending, moves virtual time 30 ms forward every few real milliseconds. */
async function tick(clock: TestClock, until: Promise<unknown>): Promise<void> {
  let done = false;
  void until.finally(() => (done = true));
  while (!done) {
    await delay(3);
    await clock.advance(30);
  }
}

/** 200 requests: half answered, a quarter abandoned before an answer, a quarter mid-response. */
function storm(url: string, random: () => number): Promise<Array<(Answer & { route: string }) | 'abandoned'>> {
  return Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      const roll = random();
      const path = `${url}/${ROUTES[i % ROUTES.length]!}`;
      if (roll < 0.25) return abandon(path, { afterMs: Math.floor(random() * 15) }).then(() => 'abandoned' as const);
      if (roll < 0.5) return abandon(path, 'mid-response').then(() => 'abandoned' as const);
      return request(path).then((answer) => ({ ...answer, route: ROUTES[i % ROUTES.length]! }));
    }),
  );
}

const TIMEOUT_BODY = '{"error":"ERR_TIMEOUT","message":"Request timed out"}';
const FULL_BODY = '{"error":"ERR_BULKHEAD_FULL","message":"Server is at capacity"}';
const LIMITED_BODY = '{"error":"ERR_RATE_LIMITED","message":"Too many requests"}';

describe('a storm through the guard', () => {
  it('express', async () => {
    const printed = watchStderr();
    const clock = new TestClock();
    const random = seeded(21);
    const { shed, counting, policy, limited } = stormPolicies(clock);
    const thrown: unknown[] = [];
    const errorPath: unknown[] = [];
    const app = express();
    app.set('env', 'production'); // Express prints late errors outside NODE_ENV=test
    app.get('/json', guard(policy), async (req, res) => {
      await delay(Math.floor(random() * 30));
      try {
        // Written whether or not the guard answered meanwhile.
        res.setHeader('X-Handler', 'json');
        res.json({ ok: true });
      } catch (error) {
        thrown.push(error);
      }
    });
    app.get('/stream', guard(policy), async (req, res) => {
      const signal = requestSignal(req);
      try {
        res.write('a');
        await delay(Math.floor(random() * 20));
        if (signal.aborted) res.end();
        else res.end('b');
      } catch (error) {
        thrown.push(error);
      }
    });
    app.get('/hang', guard(policy), async (req, res) => {
      // Waits for the guard to give up, then writes anyway.
      const signal = requestSignal(req);
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      try {
        res.status(200).send('too late');
      } catch (error) {
        thrown.push(error);
      }
    });
    app.get('/limited', guard(limited), (_req, res) => res.send('ok'));
    app.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
      errorPath.push(error);
      next(error);
    });
    app.use(breakwaterErrorHandler());
    const r = await listen(app);
    cleanup.push(() => r.close());

    const outcomes = storm(r.url, random);
    await tick(clock, outcomes);
    const answers = (await outcomes).filter((o) => o !== 'abandoned');

    await eventually(() => expect(counting.active).toBe(0));
    await eventually(() => expect(shed.active + shed.queued).toBe(0));
    expect(counting.releases).toBe(counting.admissions);
    expect(counting.admissions).toBeGreaterThan(0);
    // Deterministic by construction: a hanging handler ends in the guard's timeout (or a full
    // bulkhead), the tight bucket refuses all but its first request.
    expect(answers.filter((a) => a.route === 'hang').every((a) => a.body === TIMEOUT_BODY || a.body === FULL_BODY)).toBe(true);
    expect(answers.filter((a) => a.route === 'limited' && a.status === 429).length).toBeGreaterThanOrEqual(
      answers.filter((a) => a.route === 'limited').length - 1,
    );
    const bodies = new Set<string>();
    for (const answer of answers) {
      expect([200, 429, 503]).toContain(answer.status);
      if (answer.status === 200) continue;
      bodies.add(answer.body);
      if (answer.status === 429) expect(answer.body).toBe(LIMITED_BODY);
      else expect([TIMEOUT_BODY, FULL_BODY]).toContain(answer.body);
      // Every refusal but a timeout says when to come back.
      if (answer.body === TIMEOUT_BODY) expect(answer.headers['retry-after']).toBeUndefined();
      else expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(answer.headers['x-handler']).toBeUndefined();
    }
    expect(bodies.has(TIMEOUT_BODY) && bodies.has(LIMITED_BODY)).toBe(true);
    await delay(30);
    expect(thrown).toEqual([]);
    expect(errorPath.every((e) => (e as { code?: string }).code === 'ERR_TIMEOUT' || (e as Error).name === 'AbortError')).toBe(true);
    expect(printed).toEqual([]);
  });

  it('fastify', async () => {
    const printed = watchStderr();
    const clock = new TestClock();
    const random = seeded(22);
    const { shed, counting, policy, limited } = stormPolicies(clock);
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const thrown: unknown[] = [];
    const app = Fastify({ logger: { level: 'warn', stream }, forceCloseConnections: true });
    await app.register(breakwaterGuard, { policy });
    app.get('/hang', async (request) => {
      const signal = fastifySignal(request);
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      return 'too late';
    });
    app.get('/limited', { config: { breakwater: limited } }, async () => 'ok');
    app.get('/json', async (_request, reply) => {
      await delay(Math.floor(random() * 30));
      reply.header('x-handler', 'json');
      return { ok: true };
    });
    app.get('/stream', (request, reply) => {
      const signal = fastifySignal(request);
      reply.hijack();
      try {
        reply.raw.writeHead(200);
        reply.raw.write('a');
      } catch (error) {
        thrown.push(error);
      }
      setTimeout(() => {
        if (signal.aborted) reply.raw.end();
        else reply.raw.end('b');
      }, Math.floor(random() * 20));
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const outcomes = storm(url, random);
    await tick(clock, outcomes);
    const answers = (await outcomes).filter((o) => o !== 'abandoned');

    await eventually(() => expect(counting.active).toBe(0));
    await eventually(() => expect(shed.active + shed.queued).toBe(0));
    expect(counting.releases).toBe(counting.admissions);
    expect(counting.admissions).toBeGreaterThan(0);
    const codeOf = (a: Answer): string | undefined => (a.status === 200 ? undefined : (JSON.parse(a.body) as { code: string }).code);
    expect(answers.filter((a) => a.route === 'hang').every((a) => ['ERR_TIMEOUT', 'ERR_BULKHEAD_FULL'].includes(codeOf(a)!))).toBe(true);
    expect(answers.filter((a) => a.route === 'limited' && a.status === 429).length).toBeGreaterThanOrEqual(
      answers.filter((a) => a.route === 'limited').length - 1,
    );
    const codes = new Set<string>();
    for (const answer of answers) {
      expect([200, 429, 503]).toContain(answer.status);
      if (answer.status === 200) continue;
      const parsed = JSON.parse(answer.body) as { statusCode: number; code: string };
      codes.add(parsed.code);
      expect(parsed.statusCode).toBe(answer.status);
      expect(['ERR_RATE_LIMITED', 'ERR_BULKHEAD_FULL', 'ERR_TIMEOUT']).toContain(parsed.code);
      if (parsed.code === 'ERR_TIMEOUT') expect(answer.headers['retry-after']).toBeUndefined();
      else expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(answer.headers['x-handler']).toBeUndefined();
    }
    expect(codes.has('ERR_TIMEOUT') && codes.has('ERR_RATE_LIMITED')).toBe(true);
    await delay(30);
    expect(thrown).toEqual([]);
    // Warnings and errors Fastify logged that are not the guard's own 503s (logged at error level
    // by Fastify's default error handler, as any 5xx).
    const unexpected = lines.filter((l) => (l['err'] as { type?: string } | undefined)?.type !== 'RequestRefusedError');
    expect(unexpected).toEqual([]);
    expect(printed).toEqual([]);
  });
});
