import { describe, expect, it } from 'vitest';
import { hedge, pipeline, timeout } from '../../src/index.js';
import { resilientFetch } from '../../src/http/fetch.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

/** A fetch on the virtual clock: the n-th request answers after latencies[n] ms, or rejects on abort. */
function virtualFetch(clock: TestClock, latencies: number[]) {
  const requests: Array<{ method: string; signal: AbortSignal }> = [];
  const fetch = (_input: unknown, init?: RequestInit): Promise<Response> => {
    const index = requests.length;
    const signal = init!.signal!;
    requests.push({ method: init?.method ?? 'GET', signal });
    return new Promise((resolve, reject) => {
      const timer = clock.setTimeout(() => resolve(new Response(`answer ${index + 1}`)), latencies[index]!);
      signal.addEventListener('abort', () => {
        clock.clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
  };
  return { fetch: fetch as typeof globalThis.fetch, requests };
}

describe('resilientFetch with hedge', () => {
  it('hedges an idempotent request and cancels the slower copy', async () => {
    const clock = new TestClock();
    const { fetch, requests } = virtualFetch(clock, [1000, 20]);
    const hedged = resilientFetch(pipeline(timeout(2000, { clock }), hedge({ delayMs: 50, clock })), { fetch });
    const call = track(hedged('http://downstream.test/items'));
    await clock.advance(70);
    expect(call.status).toBe('fulfilled');
    expect(await (call.value as Response).text()).toBe('answer 2');
    expect(requests.map((r) => r.signal.aborted)).toEqual([true, false]);
    expect(clock.pending).toBe(0);
  });

  it('never sends a second copy of a POST', async () => {
    const clock = new TestClock();
    const { fetch, requests } = virtualFetch(clock, [1000, 20]);
    const hedged = resilientFetch(hedge({ delayMs: 50, clock }), { fetch });
    const call = track(hedged('http://downstream.test/orders', { method: 'POST', body: '{}' }));
    await clock.advance(1000);
    expect(await (call.value as Response).text()).toBe('answer 1');
    expect(requests).toHaveLength(1);
  });

  it('hedges a POST when the user opts in with retryUnsafeMethods', async () => {
    const clock = new TestClock();
    const { fetch, requests } = virtualFetch(clock, [1000, 20]);
    const hedged = resilientFetch(hedge({ delayMs: 50, clock }), { fetch, retryUnsafeMethods: true });
    const call = track(hedged('http://downstream.test/orders', { method: 'POST', body: '{}' }));
    await clock.advance(70);
    expect(await (call.value as Response).text()).toBe('answer 2');
    expect(requests).toHaveLength(2);
  });
});
