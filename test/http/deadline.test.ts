// Deadline propagation: a request's remaining budget read at the edge (`deadlineHeader`), every
// timeout inside the request capped by it, `resilientFetch({ propagateDeadline })` sending what
// is left downstream and starting nothing once it is spent.
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bulkhead } from '../../src/bulkhead/index.js';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import { currentDeadline, remainingMs, runWithDeadline } from '../../src/core/deadline.js';
import { TimeoutError } from '../../src/core/errors.js';
import { pipeline } from '../../src/core/pipeline.js';
import { breakwaterErrorHandler, guard, requestDeadline, requestSignal } from '../../src/http/express.js';
import { breakwaterGuard, requestDeadline as fastifyDeadline, requestSignal as fastifySignal } from '../../src/http/fastify.js';
import { resilientFetch } from '../../src/http/fetch.js';
import { constantBackoff, retry } from '../../src/retry/index.js';
import { TestClock } from '../../src/testing/index.js';
import { timeout } from '../../src/timeout/index.js';
import { deferred, flush, getEventListeners, track } from '../helpers.js';
import { CountingPolicy, eventually, listen, request, type Running } from './servers.js';

const running: Running[] = [];
const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all([...running.splice(0).map((r) => r.close()), ...apps.splice(0).map((a) => a.close())]);
});

async function serve(listener: Parameters<typeof listen>[0]): Promise<string> {
  const r = await listen(listener);
  running.push(r);
  return r.url;
}

const HEADER = 'x-request-timeout-ms';

describe('guard reads the caller\'s budget', () => {
  it('runs the request inside it: requestDeadline, the ambient deadline, a capped timeout, and 503 when it passes', async () => {
    const clock = new TestClock(5000);
    const seen: Array<{ remaining: number; ambient: boolean }> = [];
    let timeoutError: unknown;
    const app = express();
    app.get('/', guard(new CountingPolicy(), { deadlineHeader: HEADER, clock }), async (req, res) => {
      const deadline = requestDeadline(req)!;
      seen.push({ remaining: remainingMs(deadline), ambient: currentDeadline() === deadline });
      try {
        // Its own limit is 5 s; the caller gave 300 ms.
        await timeout(5000, { clock }).execute(() => new Promise(() => {}));
      } catch (error) {
        timeoutError = error;
      }
      if (!res.headersSent) res.send('late');
    });
    const pending = track(request(await serve(app), { headers: { [HEADER]: '300' } }));
    await eventually(() => expect(seen).toHaveLength(1));
    expect(seen[0]).toEqual({ remaining: 300, ambient: true });
    await clock.advance(299);
    expect(pending.settled).toBe(false);
    await clock.advance(1);
    const answer = await pending.promise;
    expect(answer).toMatchObject({ status: 503, body: '{"error":"ERR_TIMEOUT","message":"Request timed out"}' });
    expect(answer.headers['retry-after']).toBeUndefined();
    await eventually(() => expect(timeoutError).toBeInstanceOf(TimeoutError));
    expect((timeoutError as TimeoutError).timeoutMs).toBe(300);
    expect(clock.pending).toBe(0);
  });

  it.each<[string, Record<string, string>, number | undefined, number | undefined]>([
    ['the header alone', { [HEADER]: '250' }, undefined, 250],
    ['no header, no deadlineMs: no deadline', {}, undefined, undefined],
    ['no header: deadlineMs', {}, 800, 800],
    ['a header below deadlineMs', { [HEADER]: '120' }, 800, 120],
    ['a header above deadlineMs is capped', { [HEADER]: '60000' }, 800, 800],
    ['an invalid header is ignored', { [HEADER]: '-5' }, 800, 800],
    ['a fractional header', { [HEADER]: '99.5' }, undefined, 99.5],
  ])('%s', async (_label, headers, deadlineMs, expected) => {
    const clock = new TestClock();
    const seen: Array<number | undefined> = [];
    const app = express();
    app.get('/', guard(new CountingPolicy(), { deadlineHeader: HEADER, deadlineMs, clock }), (req, res) => {
      const deadline = requestDeadline(req);
      seen.push(deadline === undefined ? undefined : remainingMs(deadline));
      res.send('ok');
    });
    expect((await request(await serve(app), { headers })).status).toBe(200);
    expect(seen).toEqual([expected]);
  });

  it('a budget already spent is answered 503 at once; the handler never runs', async () => {
    const clock = new TestClock();
    const handler = vi.fn();
    const app = express();
    app.get('/', guard(new CountingPolicy(), { deadlineHeader: true, clock }), handler);
    const answer = await request(await serve(app), { headers: { [HEADER]: '0' } });
    expect(answer).toMatchObject({ status: 503, body: '{"error":"ERR_TIMEOUT","message":"Request timed out"}' });
    expect(handler).not.toHaveBeenCalled();
  });

  it('a deadline passing while the request waits in a bulkhead queue: 503 at once, and the queue lets it go', async () => {
    const clock = new TestClock();
    const shed = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const handler = vi.fn();
    let finish!: () => void;
    const app = express();
    app.get('/', guard(shed, { deadlineHeader: HEADER, clock }), (req, res) => {
      handler(req.headers['x-id']);
      finish = () => res.end('first');
    });
    const url = await serve(app);
    const first = request(url, { headers: { 'x-id': 'first', [HEADER]: '9000' } });
    await eventually(() => expect(shed.active).toBe(1));
    await clock.advance(50);
    const queued = track(request(url, { headers: { 'x-id': 'queued', [HEADER]: '100' } }));
    await eventually(() => expect(shed.queued).toBe(1));
    await clock.advance(99);
    expect(queued.settled).toBe(false);
    await clock.advance(1);
    expect(await queued.promise).toMatchObject({ status: 503, body: '{"error":"ERR_TIMEOUT","message":"Request timed out"}' });
    expect(shed.queued).toBe(0);
    expect(shed.active).toBe(1);
    finish();
    expect((await first).body).toBe('first');
    expect(handler.mock.calls).toEqual([['first']]);
    await eventually(() => expect(shed.active).toBe(0));
  });

  it('a request let in from a bulkhead queue runs in its own async context, not in the one of the request that freed the slot', async () => {
    const clock = new TestClock();
    const store = new AsyncLocalStorage<string>();
    const shed = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const seen: Array<{ id: string | undefined; remaining: number | undefined; own: boolean }> = [];
    const release = deferred<void>();
    const app = express();
    app.use((req, _res, next) => store.run(String(req.headers['x-id']), next));
    app.get('/', guard(shed, { deadlineHeader: HEADER, clock }), async (req, res) => {
      const ambient = currentDeadline();
      seen.push({ id: store.getStore(), remaining: ambient && remainingMs(ambient), own: ambient === requestDeadline(req) });
      if (req.headers['x-id'] === 'first') await release.promise;
      res.send('ok');
    });
    const url = await serve(app);
    const first = request(url, { headers: { 'x-id': 'first', [HEADER]: '9000' } });
    await eventually(() => expect(shed.active).toBe(1));
    const second = request(url, { headers: { 'x-id': 'second', [HEADER]: '4000' } });
    await eventually(() => expect(shed.queued).toBe(1));
    // The first request's response frees the slot: the second starts from the first's callbacks.
    release.resolve();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(seen).toEqual([
      { id: 'first', remaining: 9000, own: true },
      { id: 'second', remaining: 4000, own: true },
    ]);
  });
});

describe('resilientFetch({ propagateDeadline })', () => {
  /** A fetch that records the deadline header of each request and answers from `script`. */
  function recordingFetch(script: (n: number, signal: AbortSignal) => Promise<Response>) {
    const sent: Array<string | null> = [];
    const fetch = (async (_input: unknown, init?: RequestInit) => {
      sent.push(new Headers(init?.headers).get(HEADER));
      return script(sent.length - 1, init!.signal!);
    }) as typeof globalThis.fetch;
    return { sent, fetch };
  }

  it('sends what is left of the deadline with each attempt, less and less', async () => {
    const clock = new TestClock();
    const { sent, fetch } = recordingFetch(async (n) => new Response('x', { status: n < 2 ? 503 : 200 }));
    const call = resilientFetch(retry({ maxRetries: 2, backoff: constantBackoff(100), clock }), { fetch, propagateDeadline: true });
    const result = track(runWithDeadline({ atMs: 1000, clock }, () => call('http://downstream.invalid/')));
    await flush();
    expect(sent).toEqual(['1000']);
    await clock.advance(100);
    expect(sent).toEqual(['1000', '900']);
    await clock.advance(100);
    expect((await result.promise).status).toBe(200);
    expect(sent).toEqual(['1000', '900', '800']);
    expect(clock.pending).toBe(0);
  });

  it('a custom header name; the caller\'s other headers are kept; no deadline, no header', async () => {
    const clock = new TestClock();
    const seen: Headers[] = [];
    const fetch = (async (_input: unknown, init?: RequestInit) => {
      seen.push(new Headers(init?.headers));
      return new Response('ok');
    }) as typeof globalThis.fetch;
    const call = resilientFetch(pipeline(), { fetch, propagateDeadline: 'X-Budget' });
    await runWithDeadline({ atMs: 40.7, clock }, () => call('http://downstream.invalid/', { headers: { accept: 'text/plain' } }));
    await call('http://downstream.invalid/');
    expect(seen[0]!.get('x-budget')).toBe('40');
    expect(seen[0]!.get('accept')).toBe('text/plain');
    expect(seen[1]!.get('x-budget')).toBeNull();
    expect(() => resilientFetch(pipeline(), { propagateDeadline: 'bad header' })).toThrow(/propagateDeadline/);
    expect(() => resilientFetch(pipeline(), { propagateDeadline: 3 as never })).toThrow(/propagateDeadline/);
  });

  it('a spent budget rejects with TimeoutError at once and fetch is never called', async () => {
    const clock = new TestClock(500);
    const { sent, fetch } = recordingFetch(async () => new Response('ok'));
    const inner = vi.fn((fn: () => unknown) => fn());
    const call = resilientFetch({ name: 'spy', execute: inner as never }, { fetch, propagateDeadline: true });
    const result = track(runWithDeadline({ atMs: 500, clock }, () => call('http://downstream.invalid/')));
    await flush();
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect(inner).not.toHaveBeenCalled();
    expect(sent).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('the deadline passing during a backoff ends the call at once: no further attempt, nothing counted against the downstream', async () => {
    const clock = new TestClock();
    const caller = new AbortController();
    const { sent, fetch } = recordingFetch(async () => new Response('busy', { status: 503 }));
    const breaker = circuitBreaker({ consecutiveFailures: 3, halfOpenAfterMs: 10_000, clock });
    const policy = pipeline(retry({ maxRetries: 5, backoff: constantBackoff(1000), clock }), breaker);
    const call = resilientFetch(policy, { fetch, propagateDeadline: true });
    const result = track(runWithDeadline({ atMs: 300, clock }, () => call('http://downstream.invalid/', { signal: caller.signal })));
    await flush();
    expect(sent).toEqual(['300']);
    await clock.advance(300);
    await flush();
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect(sent).toHaveLength(1);
    // The one 503 counts; the budget running out is the caller's business, not a failure of C.
    expect(breaker.stats).toMatchObject({ calls: 1, failures: 1 });
    expect(clock.pending).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('a request in flight is aborted when the deadline passes', async () => {
    const clock = new TestClock();
    let aborted: unknown;
    const { fetch } = recordingFetch(
      (_n, signal) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => {
            aborted = signal.reason;
            reject(signal.reason);
          }),
        ),
    );
    const call = resilientFetch(pipeline(), { fetch, propagateDeadline: true });
    const result = track(runWithDeadline({ atMs: 200, clock }, () => call('http://downstream.invalid/')));
    await clock.advance(199);
    expect(result.settled).toBe(false);
    await clock.advance(1);
    await flush();
    expect(aborted).toBeInstanceOf(TimeoutError);
    expect(result.error).toBe(aborted);
  });
});

describe('three services on loopback: A → B → C', () => {
  it('a 300 ms budget at A and a slow C: A answers by then, C sees its call cancelled, budgets shrink along the chain', async () => {
    // C: slow (never answers on its own), records what it was given and whether its call went away.
    const atC: { budget?: string; closedEarly?: boolean } = {};
    const cUrl = await serve((req: IncomingMessage, res: ServerResponse) => {
      atC.budget = req.headers[HEADER] as string;
      res.on('close', () => (atC.closedEarly = !res.writableFinished));
    });

    // B: Fastify, reads the budget, forwards it to C with its requestSignal.
    const atB: { budget?: string; deadline?: number; aborted?: unknown } = {};
    const b = Fastify({ forceCloseConnections: true });
    apps.push(b);
    const toC = resilientFetch(pipeline(), { propagateDeadline: true });
    await b.register(breakwaterGuard, { policy: bulkhead({ maxConcurrent: 10 }), deadlineHeader: HEADER });
    b.get('/', async (req, reply) => {
      atB.budget = req.headers[HEADER] as string;
      atB.deadline = remainingMs(fastifyDeadline(req)!);
      const signal = fastifySignal(req);
      signal.addEventListener('abort', () => (atB.aborted = signal.reason));
      const response = await toC(cUrl, { signal });
      return reply.code(response.status).send(await response.text());
    });
    await b.listen({ port: 0, host: '127.0.0.1' });
    const bUrl = `http://127.0.0.1:${(b.server.address() as AddressInfo).port}`;

    // A: Express at the edge, reads the client's budget, calls B.
    const toB = resilientFetch(pipeline(), { propagateDeadline: true });
    const a = express();
    a.get('/', guard(bulkhead({ maxConcurrent: 10 }), { deadlineHeader: HEADER }), async (req, res) => {
      // Whichever sees the deadline first, the guard or the call to B, the client gets 503 ERR_TIMEOUT.
      const response = await toB(bUrl, { signal: requestSignal(req) });
      res.status(response.status).send(await response.text());
    });
    a.use(breakwaterErrorHandler());
    const aUrl = await serve(a);

    const started = performance.now();
    const answer = await request(aUrl, { headers: { [HEADER]: '300' } });
    const tookMs = performance.now() - started;

    expect(answer).toMatchObject({ status: 503, body: '{"error":"ERR_TIMEOUT","message":"Request timed out"}' });
    // Generous: a loaded machine may be slow, but nowhere near C's "never".
    expect(tookMs).toBeLessThan(1500);
    await eventually(() => expect(atC.closedEarly).toBe(true));
    await eventually(() => expect(atB.aborted).toBeDefined());
    const budgets = [300, Number(atB.budget), Number(atC.budget)];
    expect(budgets[1]).toBeLessThanOrEqual(budgets[0]!);
    expect(budgets[2]).toBeLessThanOrEqual(budgets[1]!);
    expect(budgets[2]).toBeLessThan(budgets[0]!);
    expect(budgets[2]).toBeGreaterThan(0);
    expect(atB.deadline).toBeLessThanOrEqual(Number(atB.budget));
  });
});
