import express, { type NextFunction, type Request, type Response } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TestClock } from '../../src/testing/index.js';
import {
  BulkheadFullError,
  CircuitIsolatedError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from '../../src/core/errors.js';
import type { Policy } from '../../src/core/policy.js';
import { guard, requestSignal } from '../../src/http/express.js';
import { timeout } from '../../src/timeout/index.js';
import { deferred, track } from '../helpers.js';
import { abandon, CountingPolicy, delay, eventually, listen, request, seeded, type Running } from './servers.js';

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function serve(app: express.Express): Promise<string> {
  const r = await listen(app);
  running.push(r);
  return r.url;
}

/** A Policy object that rejects every call with `error` without running anything. */
const rejecting = (error: unknown): Policy => ({ name: 'rejecting', execute: () => Promise.reject(error) });

describe('express guard: rejections', () => {
  it.each<[string, unknown, number, string | undefined, string]>([
    ['rate limited', RateLimitedError.fast(1500), 429, '2', '{"error":"ERR_RATE_LIMITED","message":"Too many requests"}'],
    ['rate limited, sub-second', RateLimitedError.fast(1), 429, '1', '{"error":"ERR_RATE_LIMITED","message":"Too many requests"}'],
    ['rate limited, zero wait', RateLimitedError.fast(0), 429, '1', '{"error":"ERR_RATE_LIMITED","message":"Too many requests"}'],
    ['circuit open', CircuitOpenError.fast(2001), 503, '3', '{"error":"ERR_CIRCUIT_OPEN","message":"Service unavailable"}'],
    ['circuit isolated', CircuitIsolatedError.fast(), 503, undefined, '{"error":"ERR_CIRCUIT_ISOLATED","message":"Service unavailable"}'],
    ['bulkhead full', BulkheadFullError.fast(), 503, undefined, '{"error":"ERR_BULKHEAD_FULL","message":"Server is at capacity"}'],
    ['timeout', new TimeoutError(50), 503, undefined, '{"error":"ERR_TIMEOUT","message":"Request timed out"}'],
  ])('%s → exact status, headers and body', async (_label, error, status, retryAfter, body) => {
    const handler = vi.fn((_req: Request, res: Response) => res.send('ok'));
    const app = express();
    app.get('/', guard(rejecting(error)), handler);
    const answer = await request(await serve(app));
    expect(answer.status).toBe(status);
    expect(answer.body).toBe(body);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(answer.headers['retry-after']).toBe(retryAfter);
    if (retryAfter !== undefined) expect(Number.isInteger(Number(retryAfter)) && Number(retryAfter) >= 1).toBe(true);
    expect(handler).not.toHaveBeenCalled();
  });

  it('HEAD gets the status and headers without a body', async () => {
    const app = express();
    app.get('/', guard(rejecting(RateLimitedError.fast(3000))), (_req, res) => res.send('ok'));
    const answer = await request(await serve(app), { method: 'HEAD' });
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('3');
    expect(answer.body).toBe('');
  });

  it('other errors from the policy go to next(err), unchanged', async () => {
    const thrown = { odd: 'value' };
    const seen: unknown[] = [];
    const app = express();
    app.get('/', guard(rejecting(thrown)), (_req, res) => res.send('ok'));
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(error);
      res.status(500).send('handled');
    });
    const answer = await request(await serve(app));
    expect(answer).toMatchObject({ status: 500, body: 'handled' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(thrown);
  });

  it('a policy function picks the policy per request; its errors go to next(err)', async () => {
    const seen: unknown[] = [];
    const boom = new Error('picker failed');
    const app = express();
    app.get(
      '/',
      guard((req) => {
        if (req.headers['x-mode'] === 'throw') throw boom;
        if (req.headers['x-mode'] === 'bad') return 42 as never;
        return rejecting(RateLimitedError.fast(1000));
      }),
      (_req, res) => res.send('ok'),
    );
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(error);
      res.status(500).end();
    });
    const url = await serve(app);
    expect((await request(url)).status).toBe(429);
    expect((await request(url, { headers: { 'x-mode': 'throw' } })).status).toBe(500);
    expect((await request(url, { headers: { 'x-mode': 'bad' } })).status).toBe(500);
    expect(seen[0]).toBe(boom);
    expect(seen[1]).toBeInstanceOf(TypeError);
  });

  it('onRejected replaces the default answer', async () => {
    const app = express();
    app.get(
      '/',
      guard(rejecting(RateLimitedError.fast(1000)), {
        onRejected: (error, _req, res) => {
          res.statusCode = 418;
          res.end(`custom ${(error as RateLimitedError).code}`);
        },
      }),
      (_req, res) => res.send('ok'),
    );
    expect(await request(await serve(app))).toMatchObject({ status: 418, body: 'custom ERR_RATE_LIMITED' });
  });

  it('an async onRejected that rejects takes the error path, never an unhandled rejection', async () => {
    const seen: unknown[] = [];
    const broken = new Error('onRejected broke');
    const app = express();
    app.get(
      '/',
      guard(rejecting(RateLimitedError.fast(1000)), {
        onRejected: async () => {
          throw broken;
        },
      }),
      (_req, res) => res.send('ok'),
    );
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(error);
      res.status(500).end();
    });
    expect((await request(await serve(app))).status).toBe(500);
    expect(seen).toEqual([broken]);
  });

  it('validates its arguments at construction', () => {
    expect(() => guard(42 as never)).toThrow(TypeError);
    expect(() => guard(new CountingPolicy(), { onRejected: 'no' as never })).toThrow(/onRejected/);
    expect(() => guard(new CountingPolicy(), { rateLimitHeaders: 'yes' as never })).toThrow(/rateLimitHeaders/);
  });
});

describe('express guard: the policy holds the request until the response is done (row 33)', () => {
  it('releases once when the response finishes, with the status as outcome', async () => {
    const policy = new CountingPolicy();
    const app = express();
    app.get('/', guard(policy), (_req, res) => {
      expect(policy.active).toBe(1);
      res.status(201).send('made');
    });
    expect(await request(await serve(app))).toMatchObject({ status: 201, body: 'made' });
    await eventually(() => expect(policy.releases).toBe(1));
    expect(policy.admissions).toBe(1);
    expect(policy.active).toBe(0);
    expect(policy.outcomes).toEqual([{ finished: true, statusCode: 201 }]);
  });

  it('releases once when the client disconnects mid-response, and the request signal aborts', async () => {
    const policy = new CountingPolicy();
    let reason: unknown;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const app = express();
    app.get('/', guard(policy), (req, res) => {
      const signal = requestSignal(req);
      expect(requestSignal(req)).toBe(signal);
      res.write('first chunk');
      signal.addEventListener('abort', () => {
        reason = signal.reason;
        release();
      });
    });
    await abandon(await serve(app), 'mid-response');
    await released;
    await eventually(() => expect(policy.releases).toBe(1));
    expect(policy.active).toBe(0);
    expect(policy.outcomes).toEqual([{ finished: false }]);
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('AbortError');
  });

  it('releases once when the handler throws (express 5 error path)', async () => {
    const policy = new CountingPolicy();
    const app = express();
    app.get('/', guard(policy), async () => {
      await delay(1);
      throw new Error('handler failed');
    });
    app.use((_error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).send('failed');
    });
    expect(await request(await serve(app))).toMatchObject({ status: 500, body: 'failed' });
    await eventually(() => expect(policy.releases).toBe(1));
    expect(policy.admissions).toBe(1);
    expect(policy.outcomes).toEqual([{ finished: true, statusCode: 500 }]);
  });

  it('a client that leaves while the policy still waits never reaches the handler', async () => {
    // A policy that waits (like a queue) until the caller's signal aborts.
    const seen: unknown[] = [];
    const entered = deferred<void>();
    const waiting: Policy = {
      name: 'waiting',
      execute: (_fn, options) =>
        new Promise((_resolve, reject) => {
          options!.signal!.addEventListener('abort', () => {
            seen.push(options!.signal!.reason);
            reject(options!.signal!.reason);
          });
          entered.resolve();
        }),
    };
    const handler = vi.fn();
    const app = express();
    app.get('/', guard(waiting), handler);
    // The client leaves once the request is inside the policy, however long it took to get there.
    await abandon(await serve(app), { after: entered.promise });
    await eventually(() => expect(seen).toHaveLength(1));
    expect((seen[0] as DOMException).name).toBe('AbortError');
    expect(handler).not.toHaveBeenCalled();
  });

  it('a completed response leaves its request signal unaborted and stops listening', async () => {
    let signal: AbortSignal | undefined;
    let closeListeners = -1;
    let finishListeners = -1;
    const app = express();
    app.get('/', (req, res) => {
      const before = [res.listenerCount('close'), res.listenerCount('finish')];
      signal = requestSignal(req);
      res.on('finish', () => {
        setImmediate(() => {
          closeListeners = res.listenerCount('close') - before[0]!;
          finishListeners = res.listenerCount('finish') - before[1]! - 1;
        });
      });
      res.send('done');
    });
    expect((await request(await serve(app))).body).toBe('done');
    await eventually(() => expect(closeListeners).not.toBe(-1));
    expect(signal!.aborted).toBe(false);
    expect(closeListeners).toBe(0);
    expect(finishListeners).toBe(0);
  });

  it('under 200 concurrent requests with random client aborts, every admission runs the handler once and releases once', async () => {
    const random = seeded(7);
    const policy = new CountingPolicy(40);
    let handlerCalls = 0;
    const app = express();
    app.get('/', guard(policy), async (req, res) => {
      handlerCalls++;
      const signal = requestSignal(req);
      res.write('a');
      await delay(Math.floor(random() * 20));
      if (!signal.aborted) res.end('b');
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
    expect(policy.admissions).toBeGreaterThan(0);
    const answered = outcomes.filter((o) => typeof o === 'number');
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.every((s) => s === 200 || s === 503)).toBe(true);
    expect(answered.filter((s) => s === 503).length).toBe(policy.rejected);
  });
});

describe('express guard with a timeout', () => {
  it('answers 503 when the deadline fires before any headers, and aborts the request signal', async () => {
    const clock = new TestClock();
    let reached = false;
    let reason: unknown;
    const app = express();
    app.get('/', guard(timeout(50, { clock })), (req, res) => {
      reached = true;
      const signal = requestSignal(req);
      signal.addEventListener('abort', () => {
        reason = signal.reason;
        // A well-behaved handler stops; writing now would be too late anyway.
        if (!res.headersSent) res.send('too late');
      });
    });
    const pending = track(request(await serve(app)));
    await eventually(() => expect(reached).toBe(true));
    await clock.advance(49);
    expect(reason).toBeUndefined();
    await clock.advance(1);
    const answer = await pending.promise;
    expect(answer.status).toBe(503);
    expect(answer.body).toBe('{"error":"ERR_TIMEOUT","message":"Request timed out"}');
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(reason).toBeInstanceOf(TimeoutError);
  });

  it('leaves a response whose headers were already sent alone; the handler learns through the signal', async () => {
    const clock = new TestClock();
    let reached = false;
    const app = express();
    app.get('/', guard(timeout(50, { clock })), (req, res) => {
      res.write('first,');
      const signal = requestSignal(req);
      signal.addEventListener('abort', () => res.end(signal.reason instanceof TimeoutError ? 'stopped' : 'other'));
      reached = true;
    });
    const pending = request(await serve(app));
    await eventually(() => expect(reached).toBe(true));
    await clock.advance(50);
    expect(await pending).toMatchObject({ status: 200, body: 'first,stopped' });
  });

  it('a fast handler is unaffected: the call ends as a success when the response finished', async () => {
    const clock = new TestClock();
    const policy = timeout(5000, { clock });
    const successes: number[] = [];
    policy.on('success', (event) => successes.push(event.durationMs));
    const app = express();
    app.get('/', guard(policy), (_req, res) => res.send('fast'));
    expect(await request(await serve(app))).toMatchObject({ status: 200, body: 'fast' });
    // No virtual time passed: the deadline could not have fired, however slow the sockets were.
    await eventually(() => expect(successes).toEqual([0]));
    expect(clock.pending).toBe(0);
  });
});
