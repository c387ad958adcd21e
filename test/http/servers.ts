// Real servers on 127.0.0.1 with ephemeral ports, and a raw node:http client (no keep-alive
// agent, so nothing lingers once a test is over).
import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';
import type { Policy } from '../../src/core/policy.js';
import type { ExecutionContext } from '../../src/core/context.js';
import { BreakwaterError, BulkheadFullError, ConcurrencyLimitError, RateLimiterUnavailableError } from '../../src/core/errors.js';

export interface Running {
  readonly url: string;
  readonly server: http.Server;
  close(): Promise<void>;
}

export async function listen(listener: RequestListener): Promise<Running> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Sends a request and destroys the connection: before any response (`afterMs` elapsed, or once
 * `after` settled), or as soon as the first body chunk arrived (`'mid-response'`). Resolves
 * when the socket is closed.
 */
export function abandon(url: string, when: { afterMs: number } | { after: Promise<unknown> } | 'mid-response'): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { agent: false }, (res) => {
      res.once('data', () => req.destroy());
      res.on('error', () => {});
      res.on('end', () => {});
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    const destroy = (): void => void req.destroy();
    if (when !== 'mid-response') {
      if ('after' in when) when.after.then(destroy, destroy);
      else setTimeout(destroy, when.afterMs);
    }
    req.end();
  });
}

/** A Policy written by hand (guard accepts any { name, execute }) that counts what happens. */
export class CountingPolicy implements Policy {
  readonly name = 'counting';
  admissions = 0;
  releases = 0;
  active = 0;
  rejected = 0;
  maxActive = 0;
  readonly outcomes: unknown[] = [];

  constructor(private readonly limit = Infinity, private readonly reject?: () => unknown) {}

  async execute<T>(fn: (ctx: ExecutionContext) => T | PromiseLike<T>, options?: { signal?: AbortSignal }): Promise<T> {
    if (this.reject !== undefined) throw this.reject();
    if (options?.signal?.aborted) throw options.signal.reason;
    if (this.active >= this.limit) {
      this.rejected++;
      throw BulkheadFullError.fast();
    }
    this.admissions++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      const value = await fn({ signal: options?.signal ?? new AbortController().signal, attempt: 1 });
      this.outcomes.push(value);
      return value;
    } finally {
      this.active--;
      this.releases++;
    }
  }
}

/** Deterministic pseudo-random numbers (mulberry32) so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `assertion` holds. Real sockets take as long as a loaded machine needs, so the
 * limit is generous: a test waits for a state, it never asserts how fast the state came.
 */
export function eventually(assertion: () => void): Promise<void> {
  return vi.waitFor(assertion, { timeout: 15_000, interval: 5 });
}

// The concurrency limiter's and the distributed rate limiter's errors, under the names the
// tests used before those classes existed.
export { ConcurrencyLimitError as ConcurrencyLimitStandIn, RateLimiterUnavailableError as LimiterUnavailableStandIn };

