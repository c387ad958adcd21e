import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import { isBreakwaterError } from '../../src/core/errors.js';
import { pipeline } from '../../src/core/pipeline.js';
import { HttpStatusError, resilientFetch } from '../../src/http/fetch.js';
import { constantBackoff, retry } from '../../src/retry/index.js';
import { TestClock } from '../../src/testing/index.js';
import { listen, type Running } from './servers.js';

// The advice "retry only the downstream's own errors: handle: (e) => !isBreakwaterError(e)",
// checked against a real server: a 503 that resilientFetch turns into an HttpStatusError is the
// downstream's answer, so it is retried; an open breaker's refusal is not.

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

/** A downstream that answers 503 to its first `failures` requests, then 200. */
async function flaky(failures: number): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = await listen((_req, res) => {
    requests++;
    if (requests <= failures) res.writeHead(503).end('busy');
    else res.writeHead(200).end('hello');
  });
  running.push(server);
  return { url: server.url, requests: () => requests };
}

const ownErrorsOnly = (error: unknown): boolean => !isBreakwaterError(error);

describe('handle: (e) => !isBreakwaterError(e) under resilientFetch', () => {
  it('retries a 503: three requests sent, the 200 returned', async () => {
    const downstream = await flaky(2);
    const seen: unknown[] = [];
    const fetch = resilientFetch(
      retry({
        maxRetries: 2,
        backoff: constantBackoff(0),
        handle: (error) => (seen.push(error), ownErrorsOnly(error)),
      }),
    );
    const response = await fetch(downstream.url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello');
    expect(downstream.requests()).toBe(3);
    expect(seen).toHaveLength(2);
    for (const error of seen) {
      expect(error).toBeInstanceOf(HttpStatusError);
      expect((error as HttpStatusError).status).toBe(503);
    }
  });

  it('returns the last 503 when the retries run out', async () => {
    const downstream = await flaky(Infinity);
    const fetch = resilientFetch(retry({ maxRetries: 2, backoff: constantBackoff(0), handle: ownErrorsOnly }));
    const response = await fetch(downstream.url);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('busy');
    expect(downstream.requests()).toBe(3);
  });

  it('does not retry the refusal of a breaker that the 503s opened', async () => {
    const downstream = await flaky(Infinity);
    const clock = new TestClock();
    const breaker = circuitBreaker({ halfOpenAfterMs: 60_000, consecutiveFailures: 2, clock });
    let refusals = 0;
    const fetch = resilientFetch(
      pipeline(
        retry({
          maxRetries: 5,
          backoff: constantBackoff(0),
          handle: (error) => {
            if (isBreakwaterError(error)) refusals++;
            return ownErrorsOnly(error);
          },
        }),
        breaker,
      ),
    );
    // Two 503s open the breaker; the third attempt is refused at once and not retried.
    await expect(fetch(downstream.url)).rejects.toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    expect(downstream.requests()).toBe(2);
    expect(refusals).toBe(1);
    expect(breaker.state).toBe('open');
  });
});
