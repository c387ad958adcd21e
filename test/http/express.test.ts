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
import { breakwaterErrorHandler, guard, requestDeadline, requestSignal } from '../../src/http/express.js';
import { rateLimiter } from '../../src/rate-limit/index.js';
import http from 'node:http';
import { timeout } from '../../src/timeout/index.js';
import { existingLifetime, type RequestOutcome } from '../../src/http/request-lifetime.js';
import { deferred, track } from '../helpers.js';
import {
  abandon,
  ConcurrencyLimitStandIn,
  CountingPolicy,
  delay,
  eventually,
  LimiterUnavailableStandIn,
  listen,
  request,
  seeded,
  type Running,
} from './servers.js';

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
    ['circuit isolated (no known end: the default)', CircuitIsolatedError.fast(), 503, '1', '{"error":"ERR_CIRCUIT_ISOLATED","message":"Service unavailable"}'],
    ['bulkhead full', BulkheadFullError.fast(), 503, '1', '{"error":"ERR_BULKHEAD_FULL","message":"Server is at capacity"}'],
    ['concurrency limit', new ConcurrencyLimitStandIn(), 503, '1', '{"error":"ERR_CONCURRENCY_LIMIT","message":"Server is at capacity"}'],
    ['rate limiter unavailable', new LimiterUnavailableStandIn(), 503, '1', '{"error":"ERR_RATE_LIMITER_UNAVAILABLE","message":"Service unavailable"}'],
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

  it('retryAfterSeconds sets Retry-After for refusals that know no time; a known time still wins', async () => {
    const app = express();
    app.get('/full', guard(rejecting(BulkheadFullError.fast()), { retryAfterSeconds: 5 }), (_req, res) => res.send('ok'));
    app.get('/open', guard(rejecting(CircuitOpenError.fast(1200)), { retryAfterSeconds: 5 }), (_req, res) => res.send('ok'));
    const url = await serve(app);
    expect((await request(`${url}/full`)).headers['retry-after']).toBe('5');
    expect((await request(`${url}/open`)).headers['retry-after']).toBe('2');
    expect(() => guard(new CountingPolicy(), { retryAfterSeconds: 0 })).toThrow(/retryAfterSeconds/);
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
    expect(() => guard(new CountingPolicy(), { deadlineHeader: 'no spaces' })).toThrow(/deadlineHeader/);
    expect(() => guard(new CountingPolicy(), { deadlineMs: -1 })).toThrow(/deadlineMs.*-1/);
    expect(() => guard(new CountingPolicy(), { clock: {} as never })).toThrow(/clock/);
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

  it('a continuation that throws synchronously aborts the request signal with what it threw, and nothing goes unhandled', async () => {
    // A limiter with tokens admits at once and hands the guard its own promise back: the
    // throw must still reach the request, not become an unhandled rejection.
    const thrown = new Error('the continuation threw');
    const guarded = guard(rateLimiter({ capacity: 10, refillPerSecond: 1, clock: new TestClock() }));
    let reason: unknown;
    const app = express();
    app.get('/', (req, res) => {
      const signal = requestSignal(req);
      signal.addEventListener('abort', () => {
        reason = signal.reason;
        res.status(500).send('continuation threw');
      });
      guarded(req, res, () => {
        throw thrown;
      });
    });
    const answer = await request(await serve(app));
    expect(answer.status).toBe(500);
    expect(answer.body).toBe('continuation threw');
    expect(reason).toBe(thrown);
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

/** Watches everything Express's final handler (and Node) could print, and Express's error path. */
function watchErrors(app: express.Express): { printed: unknown[][]; errorPath: unknown[] } {
  // Express prints a handler's late error only outside NODE_ENV=test, as a user's server runs.
  app.set('env', 'production');
  const printed: unknown[][] = [];
  const errorSpy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args));
  const stderrSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
    printed.push([chunk]);
    return true;
  });
  restore.push(() => {
    errorSpy.mockRestore();
    stderrSpy.mockRestore();
  });
  return { printed, errorPath: [] };
}
const restore: Array<() => void> = [];
afterEach(() => {
  for (const undo of restore.splice(0)) undo();
});

describe('express guard: a refusal after the handler started', () => {
  it('answers 503 at once; the handler\'s later writes are dropped quietly, nothing reaches the error path or stderr', async () => {
    const clock = new TestClock();
    let reached = false;
    const thrownByHandler: unknown[] = [];
    let handlerDone = false;
    const late = deferred<void>();
    const app = express();
    const watched = watchErrors(app);
    app.get('/', guard(timeout(50, { clock })), async (_req, res) => {
      reached = true;
      await late.promise; // e.g. a slow query that ignores the signal
      try {
        res.setHeader('X-Late', 'yes');
        res.status(200).json({ late: true });
        res.write('more');
        res.end();
      } catch (error) {
        thrownByHandler.push(error);
      }
      handlerDone = true;
    });
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      watched.errorPath.push(error);
      res.end();
    });
    const pending = track(request(await serve(app)));
    await eventually(() => expect(reached).toBe(true));
    await clock.advance(50);
    const answer = await pending.promise;
    expect(answer.status).toBe(503);
    expect(answer.body).toBe('{"error":"ERR_TIMEOUT","message":"Request timed out"}');
    expect(answer.headers['x-late']).toBeUndefined();
    late.resolve();
    await eventually(() => expect(handlerDone).toBe(true));
    await delay(20);
    expect(thrownByHandler).toEqual([]);
    expect(watched.errorPath).toEqual([]);
    expect(watched.printed).toEqual([]);
  });

  it('a handler whose awaited call rejects with the abort reason is silenced by breakwaterErrorHandler', async () => {
    const clock = new TestClock();
    let reached = false;
    const seen: unknown[] = [];
    const app = express();
    const watched = watchErrors(app);
    app.get('/', guard(timeout(50, { clock })), async (req) => {
      const signal = requestSignal(req);
      reached = true;
      // What a resilientFetch given requestSignal(req) does when the guard gives up.
      await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    app.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
      seen.push(error);
      next(error);
    });
    app.use(breakwaterErrorHandler());
    const pending = track(request(await serve(app)));
    await eventually(() => expect(reached).toBe(true));
    await clock.advance(50);
    expect((await pending.promise).status).toBe(503);
    await eventually(() => expect(seen).toHaveLength(1));
    expect(seen[0]).toBeInstanceOf(TimeoutError);
    await delay(20);
    expect(watched.printed).toEqual([]);
  });

  it('the request is not run twice when a custom policy calls fn again', async () => {
    let handlerCalls = 0;
    const twice: Policy = {
      name: 'twice',
      async execute(fn) {
        const ctx = { signal: new AbortController().signal, attempt: 1 };
        const first = await fn(ctx);
        await fn({ ...ctx, attempt: 2 });
        return first;
      },
    };
    const app = express();
    app.get('/', guard(twice), (_req, res) => {
      handlerCalls++;
      res.send('once');
    });
    expect((await request(await serve(app))).body).toBe('once');
    await delay(10);
    expect(handlerCalls).toBe(1);
  });
});

describe('breakwaterErrorHandler', () => {
  it('answers the refusals a handler meets like the guard does, and passes other errors on', async () => {
    const seen: unknown[] = [];
    const other = new Error('not ours');
    const app = express();
    app.get('/open', async () => {
      throw CircuitOpenError.fast(2500);
    });
    app.get('/limited', async () => {
      throw RateLimitedError.fast(500);
    });
    app.get('/full', async () => {
      throw BulkheadFullError.fast();
    });
    app.get('/timeout', async () => {
      throw new TimeoutError(500);
    });
    app.get('/other', async () => {
      throw other;
    });
    app.use(breakwaterErrorHandler({ retryAfterSeconds: 4 }));
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      seen.push(error);
      res.status(500).send('other');
    });
    const url = await serve(app);
    const open = await request(`${url}/open`);
    expect(open).toMatchObject({ status: 503, body: '{"error":"ERR_CIRCUIT_OPEN","message":"Service unavailable"}' });
    expect(open.headers['retry-after']).toBe('3');
    expect(open.headers['content-type']).toBe('application/json; charset=utf-8');
    const limited = await request(`${url}/limited`);
    expect(limited).toMatchObject({ status: 429, body: '{"error":"ERR_RATE_LIMITED","message":"Too many requests"}' });
    expect(limited.headers['retry-after']).toBe('1');
    expect((await request(`${url}/full`)).headers['retry-after']).toBe('4');
    const timedOut = await request(`${url}/timeout`);
    expect(timedOut.status).toBe(503);
    expect(timedOut.headers['retry-after']).toBeUndefined();
    expect(await request(`${url}/other`)).toMatchObject({ status: 500, body: 'other' });
    expect(seen).toEqual([other]);
    expect(() => breakwaterErrorHandler({ retryAfterSeconds: -1 })).toThrow(/retryAfterSeconds/);
  });
});

describe('express guard: RateLimit fields', () => {
  it('two stacked guards both get their fields: the second appends to the first', async () => {
    const clock = new TestClock();
    const perClient = rateLimiter({ capacity: 10, refillPerSecond: 5, clock, name: 'per-client' });
    const global = rateLimiter({ capacity: 100, refillPerSecond: 10, clock, name: 'global' });
    const app = express();
    app.use(guard(global));
    app.get('/', guard(perClient), (_req, res) => res.send('ok'));
    const answer = await request(await serve(app));
    expect(answer.status).toBe(200);
    expect(answer.headers['ratelimit-policy']).toBe('"global";q=100;w=10, "per-client";q=10;w=2');
    expect(answer.headers['ratelimit']).toBe('"global";r=99;t=1, "per-client";r=9;t=1');
  });

  it('a 429 from the second guard keeps the first guard\'s fields and adds its own once', async () => {
    const clock = new TestClock();
    const global = rateLimiter({ capacity: 100, refillPerSecond: 10, clock, name: 'global' });
    const perClient = rateLimiter({ capacity: 1, refillPerSecond: 1, clock, name: 'per-client' });
    const app = express();
    app.use(guard(global));
    app.get('/', guard(perClient), (_req, res) => res.send('ok'));
    const url = await serve(app);
    expect((await request(url)).status).toBe(200);
    const limited = await request(url);
    expect(limited.status).toBe(429);
    expect(limited.headers['ratelimit']).toBe('"global";r=98;t=1, "per-client";r=0;t=1');
    expect(limited.headers['retry-after']).toBe('1');
  });

  it("rateLimitHeaders: 'legacy' sends X-RateLimit-* only, 'both' sends both", async () => {
    const clock = new TestClock();
    const limiter = rateLimiter({ capacity: 10, refillPerSecond: 2, clock, name: 'api' });
    const app = express();
    app.get('/legacy', guard(limiter, { rateLimitHeaders: 'legacy' }), (_req, res) => res.send('ok'));
    app.get('/both', guard(limiter, { rateLimitHeaders: 'both' }), (_req, res) => res.send('ok'));
    const url = await serve(app);
    const legacy = await request(`${url}/legacy`);
    expect(legacy.headers['x-ratelimit-limit']).toBe('10');
    expect(legacy.headers['x-ratelimit-remaining']).toBe('9');
    expect(legacy.headers['x-ratelimit-reset']).toBe('1');
    expect(legacy.headers['ratelimit']).toBeUndefined();
    const both = await request(`${url}/both`);
    expect(both.headers['x-ratelimit-remaining']).toBe('8');
    expect(both.headers['ratelimit']).toBe('"api";r=8;t=1');
    expect(both.headers['ratelimit-policy']).toBe('"api";q=10;w=5');
  });
});

describe('requestSignal without private fields', () => {
  it('on plain node:http a request whose response is unknown is refused; under guard it works', async () => {
    const outcomes: string[] = [];
    const guarded = guard(new CountingPolicy());
    const r = await listen((req, res) => {
      if (req.url === '/guarded') {
        guarded(req, res, () => {
          outcomes.push(requestSignal(req).aborted ? 'aborted' : 'signal');
          res.end('ok');
        });
        return;
      }
      // Nothing public links a plain request to its response: no guessing through the socket.
      try {
        requestSignal(req);
        outcomes.push('guessed');
      } catch (error) {
        outcomes.push((error as Error).name);
      }
      res.end('ok');
    });
    running.push(r);
    await request(`${r.url}/plain`);
    await request(`${r.url}/guarded`);
    expect(outcomes).toEqual(['TypeError', 'signal']);
    expect(requestDeadline({} as http.IncomingMessage)).toBeUndefined();
  });
});

describe('requestSignal asked for late', () => {
  it('after the response finished, or after the connection closed, it knows how the request ended', async () => {
    const seen: Record<string, { aborted: boolean; reason?: string; outcome?: RequestOutcome; atOnce?: boolean }> = {};
    const note = (label: string, req: http.IncomingMessage): void => {
      const signal = requestSignal(req);
      const entry: (typeof seen)[string] = { aborted: signal.aborted };
      if (signal.aborted) entry.reason = (signal.reason as Error).name;
      // Settled at once when the request already ended: no 'close' is left to wait for.
      existingLifetime(req)!.whenDone((outcome) => (entry.outcome = outcome));
      entry.atOnce = entry.outcome !== undefined;
      seen[label] = entry;
    };
    let abandoned: () => void = () => {};
    const closedMidResponse = new Promise<void>((resolve) => (abandoned = resolve));
    const app = express();
    // Flushed but not yet closed: 'finish' comes a turn before 'close'.
    app.get('/finished', (req, res) => {
      res.on('finish', () => note('finished', req));
      res.status(201).send('done');
    });
    app.get('/closed', (req, res) => {
      res.on('close', () => note('closed', req));
      res.status(202).send('done');
    });
    app.get('/gone', (req, res) => {
      res.on('close', () => {
        note('gone', req);
        abandoned();
      });
      res.write('partial');
    });
    const url = await serve(app);
    await request(`${url}/finished`);
    await request(`${url}/closed`);
    await abandon(`${url}/gone`, 'mid-response');
    await closedMidResponse;
    await eventually(() => expect(Object.keys(seen)).toHaveLength(3));
    expect(seen).toEqual({
      finished: { aborted: false, outcome: { finished: true, statusCode: 201 }, atOnce: true },
      closed: { aborted: false, outcome: { finished: true, statusCode: 202 }, atOnce: true },
      gone: { aborted: true, reason: 'AbortError', outcome: { finished: false }, atOnce: true },
    });
  });
});
