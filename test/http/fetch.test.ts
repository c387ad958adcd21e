import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitOpenError, TimeoutError } from '../../src/core/errors.js';
import { pipeline } from '../../src/core/pipeline.js';
import { HttpStatusError, resilientFetch } from '../../src/http/fetch.js';
import { constantBackoff, retry } from '../../src/retry/index.js';
import { timeout } from '../../src/timeout/index.js';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';
import type { Policy } from '../../src/core/policy.js';
import { CountingPolicy, eventually, listen, type Running } from './servers.js';

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

interface Seen {
  method: string;
  body: string;
  /** Resolves true when the response finished, false when the client went away first. */
  completed: Promise<boolean>;
}

/** A downstream whose n-th request (0-based) is answered by `script(n, req, res)`. */
async function downstream(script: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const r = await listen((req, res) => {
    const n = seen.length;
    const entry: Seen = {
      method: req.method!,
      body: '',
      completed: new Promise((resolve) => res.on('close', () => resolve(res.writableFinished))),
    };
    seen.push(entry);
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (entry.body += chunk));
    req.on('end', () => script(n, req, res));
  });
  running.push(r);
  return { url: r.url, seen };
}

const fastRetry = (maxRetries: number) => retry({ maxRetries, backoff: constantBackoff(0) });

describe('resilientFetch: failure statuses', () => {
  it('honours Retry-After: 503 (Retry-After: 1) twice, then 200 — the retries go out 1 s apart, 3 requests in all', async () => {
    const clock = new TestClock();
    const sentAt: number[] = [];
    const downstreamFetch = (async () => {
      sentAt.push(clock.now());
      return sentAt.length <= 2
        ? new Response('busy', { status: 503, headers: { 'Retry-After': '1' } })
        : new Response('hello', { status: 200 });
    }) as typeof fetch;
    const fetch = resilientFetch(retry({ maxRetries: 2, clock }), { fetch: downstreamFetch });
    const call = track(fetch('http://downstream.invalid/'));
    // The default backoff would wait at most 100 ms, then 200 ms: Retry-After decides.
    await clock.advance(999);
    expect(sentAt).toEqual([0]);
    await clock.advance(1);
    expect(sentAt).toEqual([0, 1000]);
    await clock.advance(999);
    expect(sentAt).toEqual([0, 1000]);
    await clock.advance(1);
    expect(sentAt).toEqual([0, 1000, 2000]);
    const response = await call.promise;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello');
    expect(clock.pending).toBe(0);
  });

  it('a POST answered 503 is sent once and its response returned', async () => {
    const { url, seen } = await downstream((_n, _req, res) => res.writeHead(503, { 'Retry-After': '1' }).end('busy'));
    const clock = new TestClock();
    const fetch = resilientFetch(retry({ maxRetries: 3, clock }));
    const call = track(fetch(url, { method: 'POST', body: 'payload' }));
    // A retry would arm its backoff timer on the clock (which never moves here) and wait for ever.
    await eventually(() => expect(call.settled || clock.pending > 0).toBe(true));
    expect(clock.pending, 'no backoff was started').toBe(0);
    const response = await call.promise;
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('busy');
    expect(seen.map((s) => [s.method, s.body])).toEqual([['POST', 'payload']]);
  });

  it('the breaker still counts a POST failure that is not retried', async () => {
    const { url, seen } = await downstream((_n, _req, res) => res.writeHead(502).end());
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 60_000, consecutiveFailures: 1, clock });
    const retries = retry({ maxRetries: 3, backoff: constantBackoff(0), handle: (e) => !(e instanceof CircuitOpenError) });
    const fetch = resilientFetch(pipeline(retries, breaker));
    expect((await fetch(url, { method: 'PATCH', body: 'x' })).status).toBe(502);
    expect(seen).toHaveLength(1);
    expect(breaker.state).toBe('open');
    // Open breaker: the rejection is not a response, so it is thrown.
    await expect(fetch(url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(seen).toHaveLength(1);
  });

  it('retryUnsafeMethods: true retries a POST, resending the same body (init body and Request body)', async () => {
    const { url, seen } = await downstream((n, _req, res) => res.writeHead(n % 3 < 2 ? 503 : 201).end());
    const fetch = resilientFetch(fastRetry(2), { retryUnsafeMethods: true });
    expect((await fetch(url, { method: 'POST', body: 'one' })).status).toBe(201);
    expect((await fetch(new Request(url, { method: 'POST', body: 'two' }))).status).toBe(201);
    expect(seen.map((s) => s.body)).toEqual(['one', 'one', 'one', 'two', 'two', 'two']);
  });

  it('a streamed body is sent once even with retryUnsafeMethods', async () => {
    const { url, seen } = await downstream((_n, _req, res) => res.writeHead(503).end());
    const fetch = resilientFetch(fastRetry(2), { retryUnsafeMethods: true });
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const response = await fetch(url, { method: 'PUT', body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(503);
    expect(seen.map((s) => s.body)).toEqual(['streamed']);
  });

  it('when retries run out, the last failure response is returned with its body intact; earlier bodies are released', async () => {
    const { url, seen } = await downstream((n, _req, res) => {
      res.writeHead(500);
      // The last one ends; earlier ones stream forever unless the client lets them go.
      if (n === 2) res.end('final');
      else res.write('never ending…');
    });
    const fetch = resilientFetch(fastRetry(2));
    const response = await fetch(url);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('final');
    expect(seen).toHaveLength(3);
    // The discarded responses' connections were closed by the client, not left hanging.
    expect(await Promise.all(seen.map((s) => s.completed))).toEqual([false, false, true]);
  });

  it('a status outside failureStatuses is returned at once', async () => {
    const { url, seen } = await downstream((_n, _req, res) => res.writeHead(404).end('missing'));
    const fetch = resilientFetch(fastRetry(3));
    const response = await fetch(url);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('missing');
    expect(seen).toHaveLength(1);
  });

  it('failureStatuses can be changed', async () => {
    const { url, seen } = await downstream((n, _req, res) => res.writeHead(n === 0 ? 404 : 200).end());
    const fetch = resilientFetch(fastRetry(3), { failureStatuses: [404] });
    expect((await fetch(url)).status).toBe(200);
    expect(seen).toHaveLength(2);
  });

  it('policies see an HttpStatusError with the response and the parsed Retry-After', async () => {
    const { url } = await downstream((n, _req, res) => res.writeHead(n === 0 ? 429 : 200, { 'Retry-After': '0' }).end());
    const errors: unknown[] = [];
    const fetch = resilientFetch(
      retry({ maxRetries: 1, backoff: constantBackoff(0), handle: (error) => (errors.push(error), true) }),
    );
    expect((await fetch(url)).status).toBe(200);
    expect(errors).toHaveLength(1);
    const error = errors[0] as HttpStatusError;
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.code).toBe('ERR_HTTP_STATUS');
    expect(error.status).toBe(429);
    expect(error.response.status).toBe(429);
    expect(error.retryAfterMs).toBe(0);
  });
});

describe('resilientFetch: signals', () => {
  it('a timeout aborts the request in flight (ctx.signal reaches fetch)', async () => {
    const { url, seen } = await downstream(() => {
      /* never answers */
    });
    const clock = new TestClock();
    const fetch = resilientFetch(timeout(100, { clock }));
    const call = track(fetch(url));
    await eventually(() => expect(seen).toHaveLength(1));
    await clock.advance(99);
    expect(call.status).toBe('pending');
    await clock.advance(1);
    await expect(call.promise).rejects.toBeInstanceOf(TimeoutError);
    expect(await seen[0]!.completed).toBe(false);
  });

  it("the caller's init.signal aborts the call, including a retry's backoff", async () => {
    const { url, seen } = await downstream((_n, _req, res) => res.writeHead(503, { 'Retry-After': '30' }).end());
    const clock = new TestClock();
    const fetch = resilientFetch(retry({ maxRetries: 5, clock }));
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const call = track(fetch(url, { signal: controller.signal }));
    // The first 503 arrived and the 30 s backoff is armed.
    await eventually(() => expect(clock.pending).toBe(1));
    expect(seen).toHaveLength(1);
    controller.abort(reason);
    await expect(call.promise).rejects.toBe(reason);
    expect(seen).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('an already-aborted signal sends nothing', async () => {
    const { url, seen } = await downstream((_n, _req, res) => res.end());
    const fetch = resilientFetch(fastRetry(1));
    await expect(fetch(url, { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(seen).toHaveLength(0);
  });

  it('network errors are retried for GET but not for POST', async () => {
    const r = await listen((_req, res) => res.end());
    const url = r.url;
    await r.close();
    const policy = new CountingPolicy();
    const counting = fastRetry(2);
    await expect(resilientFetch(pipeline(counting, policy))(url)).rejects.toBeInstanceOf(TypeError);
    expect(policy.admissions).toBe(3);
    await expect(resilientFetch(pipeline(counting, policy))(url, { method: 'POST' })).rejects.toBeInstanceOf(TypeError);
    expect(policy.admissions).toBe(4);
  });
});

describe('resilientFetch: options', () => {
  it('uses the fetch it is given', async () => {
    const calls: unknown[] = [];
    const fake = (async (input: unknown) => {
      calls.push(input);
      return new Response('stub', { status: 200 });
    }) as typeof fetch;
    const response = await resilientFetch(fastRetry(1), { fetch: fake })('http://example.invalid/x');
    expect(await response.text()).toBe('stub');
    expect(calls).toEqual(['http://example.invalid/x']);
  });

  it('parses an HTTP-date Retry-After against the wallClock option', async () => {
    const now = Date.UTC(2030, 0, 1, 0, 0, 0);
    const seen: unknown[] = [];
    let n = 0;
    const fake = (async () =>
      n++ === 0
        ? new Response(null, { status: 503, headers: { 'Retry-After': new Date(now + 5000).toUTCString() } })
        : new Response('ok')) as typeof fetch;
    const fetch = resilientFetch(
      retry({ maxRetries: 1, maxDelayMs: 0, handle: (error) => (seen.push((error as HttpStatusError).retryAfterMs), true) }),
      { fetch: fake, wallClock: () => now },
    );
    expect((await fetch('http://example.invalid/')).status).toBe(200);
    expect(seen).toEqual([5000]);
  });

  it('validates options at construction', () => {
    const p = fastRetry(1);
    expect(() => resilientFetch({} as never)).toThrow(TypeError);
    expect(() => resilientFetch(p, { fetch: 1 as never })).toThrow(/"fetch"/);
    expect(() => resilientFetch(p, { failureStatuses: 503 as never })).toThrow(/failureStatuses/);
    expect(() => resilientFetch(p, { failureStatuses: [503, 99] })).toThrow(/failureStatuses\[1\]/);
    expect(() => resilientFetch(p, { failureStatuses: [503.5] })).toThrow(RangeError);
    expect(() => resilientFetch(p, { retryUnsafeMethods: 'yes' as never })).toThrow(/retryUnsafeMethods/);
    expect(() => resilientFetch(p, { wallClock: 5 as never })).toThrow(/wallClock/);
    expect(() => resilientFetch(p, { retryWithIdempotencyKey: 1 as never })).toThrow(/retryWithIdempotencyKey/);
  });
});

/** A Policy written by hand with a retry inside: resilientFetch cannot see it to drop it. */
function hiddenRetry(attempts: number): { policy: Policy; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    policy: {
      name: 'hidden-retry',
      async execute(fn) {
        let last: unknown;
        for (let attempt = 1; attempt <= attempts; attempt++) {
          calls++;
          try {
            return await fn({ signal: new AbortController().signal, attempt });
          } catch (error) {
            last = error;
          }
        }
        throw last;
      },
    },
  };
}

describe('resilientFetch: a request that must be sent once is sent once, whatever the policy', () => {
  it('a POST through a custom policy that retries: one request; the repeat gets the first outcome', async () => {
    const { url, seen } = await downstream((_n, _req, res) => res.writeHead(503).end('busy'));
    const hidden = hiddenRetry(3);
    const response = await resilientFetch(hidden.policy)(url, { method: 'POST', body: 'charge' });
    expect(hidden.calls()).toBe(3);
    expect(seen.map((s) => [s.method, s.body])).toEqual([['POST', 'charge']]);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('busy');
  });

  it('a network error of a POST is not resent either: the repeats reject with the same error', async () => {
    const failure = new TypeError('fetch failed');
    let sent = 0;
    const fake = (async () => {
      sent++;
      throw failure;
    }) as typeof fetch;
    const hidden = hiddenRetry(4);
    await expect(resilientFetch(hidden.policy, { fetch: fake })('http://x.invalid/', { method: 'PATCH', body: 'x' })).rejects.toBe(failure);
    expect(hidden.calls()).toBe(4);
    expect(sent).toBe(1);
  });

  it('a GET through the same policy is retried as the policy says', async () => {
    const { url, seen } = await downstream((n, _req, res) => res.writeHead(n < 2 ? 503 : 200).end());
    const hidden = hiddenRetry(3);
    expect((await resilientFetch(hidden.policy)(url)).status).toBe(200);
    expect(seen).toHaveLength(3);
  });

  it('retryWithIdempotencyKey: a POST carrying an Idempotency-Key is retried; without the key, or without the option, it is not', async () => {
    const { url, seen } = await downstream((n, _req, res) => res.writeHead(n % 3 < 2 ? 503 : 201).end());
    const keyed = resilientFetch(fastRetry(2), { retryWithIdempotencyKey: true });
    const withKey = { method: 'POST', body: 'pay', headers: { 'Idempotency-Key': '8e03978e-40d5-43e8-bc93-6894a57f9324' } };
    expect((await keyed(url, withKey)).status).toBe(201);
    expect(seen).toHaveLength(3);
    // A Request's own headers count too.
    const request = new Request(url, { method: 'POST', body: 'pay', headers: { 'idempotency-key': 'k-2' } });
    expect((await keyed(request)).status).toBe(201);
    expect(seen).toHaveLength(6);
    expect((await keyed(url, { method: 'POST', body: 'pay' })).status).toBe(503);
    expect(seen).toHaveLength(7);
    expect((await resilientFetch(fastRetry(2))(url, withKey)).status).toBe(503);
    expect(seen).toHaveLength(8);
  });
});
