import { describe, expect, it } from 'vitest';
import { constantBackoff, fallback, pipeline, retry, timeout, TimeoutError, type Policy } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

/** A policy from outside the library: only the public interface. */
function recorder(name: string, log: string[]): Policy {
  return {
    name,
    async execute(fn, options) {
      log.push(`${name}:enter`);
      try {
        return await fn({ signal: options?.signal ?? new AbortController().signal, attempt: 1 });
      } finally {
        log.push(`${name}:exit`);
      }
    },
  };
}

describe('pipeline', () => {
  it('runs the first argument outermost', async () => {
    const log: string[] = [];
    const p = pipeline(recorder('a', log), recorder('b', log), recorder('c', log));
    await expect(p.execute(() => log.push('fn'))).resolves.toBe(4);
    expect(log).toEqual(['a:enter', 'b:enter', 'c:enter', 'fn', 'c:exit', 'b:exit', 'a:exit']);
  });

  it('puts an outer timeout around all retries, an inner one around each attempt', async () => {
    const clock = new TestClock();
    let outerCalls = 0;
    const overall = track(
      pipeline(timeout(100, { clock }), retry({ maxRetries: 5, backoff: constantBackoff(10), clock })).execute(() => {
        outerCalls++;
        return new Promise(() => {});
      }),
    );
    await clock.advance(100);
    expect(overall.error).toBeInstanceOf(TimeoutError);
    expect(outerCalls).toBe(1);

    let innerCalls = 0;
    const perAttempt = track(
      pipeline(retry({ maxRetries: 2, backoff: constantBackoff(10), clock }), timeout(100, { clock })).execute(() => {
        innerCalls++;
        return new Promise(() => {});
      }),
    );
    await clock.advance(100 + 10 + 100 + 10 + 100);
    expect(perAttempt.error).toBeInstanceOf(TimeoutError);
    expect(innerCalls).toBe(3);
    expect(clock.pending).toBe(0);
  });

  it('gives each attempt under a per-attempt timeout its own signal', async () => {
    const clock = new TestClock();
    const signals: AbortSignal[] = [];
    const call = track(
      pipeline(retry({ maxRetries: 1, backoff: constantBackoff(0), clock }), timeout(10, { clock })).execute((ctx) => {
        signals.push(ctx.signal);
        return ctx.attempt === 1 ? new Promise(() => {}) : 'second';
      }),
    );
    await clock.advance(10);
    await clock.advance(0);
    expect(call.value).toBe('second');
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
  });

  it('flattens nested pipelines and exposes the policies outermost first', () => {
    const a = timeout(1);
    const b = retry({ maxRetries: 1 });
    const c = fallback(0);
    const p = pipeline(a, pipeline(b, c));
    expect(p.policies).toEqual([a, b, c]);
  });

  it('stops a retry sleeping inside an outer timeout when the timeout fires', async () => {
    const clock = new TestClock();
    let calls = 0;
    const call = track(
      pipeline(timeout(50, { clock }), retry({ maxRetries: 3, backoff: constantBackoff(1000), clock })).execute(() => {
        calls++;
        throw new Error('down');
      }),
    );
    await clock.advance(50);
    expect(call.error).toBeInstanceOf(TimeoutError);
    expect(clock.pending).toBe(0);
    await clock.advance(5000);
    expect(calls).toBe(1);
  });

  it('rejects non-policies at construction', () => {
    expect(() => pipeline(timeout(1), {} as Policy)).toThrow(/argument 1/);
    expect(() => pipeline(null as never)).toThrow(TypeError);
  });

  it('with no policies runs fn directly', async () => {
    await expect(pipeline().execute(() => 'bare')).resolves.toBe('bare');
  });
});

describe('pipeline with a misbehaving foreign policy', () => {
  it('turns a synchronous throw from its execute into a rejection, and inner layers still settle', async () => {
    const { bulkhead } = await import('../../src/index.js');
    const boom = new Error('foreign execute threw');
    const broken: Policy = {
      name: 'broken',
      execute: () => {
        throw boom;
      },
    };
    const b = bulkhead({ maxConcurrent: 1 });
    const p = pipeline(b, broken);
    await expect(p.execute(() => 'never')).rejects.toBe(boom);
    expect(b.active).toBe(0);
    await expect(pipeline(b, timeout(10)).execute(() => 'free again')).resolves.toBe('free again');
  });
});

describe('pipeline as a policy: name, clock and events for the whole call', () => {
  /** A clock that counts its reads, to check that nobody listening costs no clock read. */
  function countingClock(clock: TestClock): TestClock & { reads: number } {
    const counted = Object.assign(Object.create(clock) as TestClock, { reads: 0 });
    counted.now = () => {
      counted.reads++;
      return clock.now();
    };
    return counted;
  }

  it('emits success and failure with the duration of the whole call, retries included', async () => {
    const clock = new TestClock();
    const p = pipeline(
      { name: 'checkout', clock },
      retry({ maxRetries: 2, backoff: constantBackoff(10), clock }),
      timeout(100, { clock }),
    );
    expect(p.name).toBe('checkout');
    const successes: number[] = [];
    const failures: Array<{ durationMs: number; error: unknown }> = [];
    p.on('success', (e) => successes.push(e.durationMs));
    p.on('failure', (e) => failures.push(e));

    let attempt = 0;
    const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    const ok = track(p.execute(() => (++attempt === 1 ? wait(30).then(() => Promise.reject(new Error('once'))) : wait(40).then(() => 'ok'))));
    await clock.advance(30 + 10 + 40);
    expect(ok.value).toBe('ok');
    expect(successes).toEqual([80]);

    const down = new Error('down');
    const bad = track(p.execute(() => wait(5).then(() => Promise.reject(down))));
    await clock.advance(5 + 10 + 5 + 10 + 5);
    expect(bad.error).toBe(down);
    expect(failures).toEqual([{ durationMs: 35, error: down }]);
    expect(successes).toEqual([80]);
  });

  it('an anonymous pipeline emits to its own listeners too', async () => {
    const p = pipeline(timeout(100));
    const seen: string[] = [];
    p.on('success', () => seen.push('success'));
    p.on('failure', (e) => seen.push(`failure:${String(e.error)}`));
    await p.execute(() => 1);
    await p.execute(() => Promise.reject('no')).catch(() => undefined);
    expect(seen).toEqual(['success', 'failure:no']);
  });

  it('reads no clock and builds no event when nobody listens', async () => {
    const base = new TestClock();
    const clock = countingClock(base);
    const p = pipeline({ name: 'quiet', clock }, retry({ maxRetries: 0 }));
    await p.execute(() => 1);
    await p.execute(() => Promise.reject(new Error('x'))).catch(() => undefined);
    expect(clock.reads).toBe(0);
    const off = p.on('failure', () => {});
    // Timed from the start (one read); a success nobody listens for reads nothing more.
    await p.execute(() => 1);
    expect(clock.reads).toBe(1);
    await p.execute(() => Promise.reject(new Error('x'))).catch(() => undefined);
    expect(clock.reads).toBe(3);
    off();
    await p.execute(() => 1);
    expect(clock.reads).toBe(3);
  });

  it('publishes on diagnostics_channel when named, and not when anonymous', async () => {
    const { default: diagnosticsChannel } = await import('node:diagnostics_channel');
    const messages: Array<{ policy: string }> = [];
    const onMessage = (message: unknown): void => {
      messages.push(message as { policy: string });
    };
    diagnosticsChannel.subscribe('breakwater:success', onMessage);
    try {
      const clock = new TestClock();
      await pipeline({ name: 'named', clock }, timeout(10, { clock, name: 'inner' })).execute(() => 1);
      await pipeline(timeout(10, { clock, name: 'inner' })).execute(() => 1);
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:success', onMessage);
    }
    expect(messages.map((m) => m.policy)).toEqual(['inner', 'named', 'inner']);
  });

  it('a named pipeline nested in another keeps its own events; an anonymous one is listed as its policies', async () => {
    const clock = new TestClock();
    const a = timeout(100, { clock });
    const b = retry({ maxRetries: 1, backoff: constantBackoff(0), clock });
    const c = fallback(0);
    const named = pipeline({ name: 'inner', clock }, b);
    const anonymous = pipeline(c);
    const outer = pipeline({ name: 'outer', clock }, a, named, anonymous);
    expect(outer.policies).toEqual([a, named, c]);

    const seen: string[] = [];
    outer.on('success', () => seen.push('outer'));
    named.on('success', () => seen.push('inner'));
    anonymous.on('success', () => seen.push('anonymous'));
    await expect(outer.execute(() => 'x')).resolves.toBe('x');
    expect(seen).toEqual(['anonymous', 'inner', 'outer']);
    // The inner pipeline used on its own still runs only its own policies.
    seen.length = 0;
    await expect(named.execute(() => 'y')).resolves.toBe('y');
    expect(seen).toEqual(['inner']);
  });

  it('a pipeline inside two pipelines runs the right continuation in each', async () => {
    const log: string[] = [];
    const shared = pipeline({ name: 'shared' }, recorder('s', log));
    const first = pipeline(recorder('a', log), shared);
    const second = pipeline(shared, recorder('b', log));
    await first.execute(() => log.push('fn1'));
    await second.execute(() => log.push('fn2'));
    await first.execute(() => log.push('fn3'));
    expect(log).toEqual([
      'a:enter', 's:enter', 'fn1', 's:exit', 'a:exit',
      's:enter', 'b:enter', 'fn2', 'b:exit', 's:exit',
      'a:enter', 's:enter', 'fn3', 's:exit', 'a:exit',
    ]);
  });

  it('checks its options: unknown names, a bad name or clock, and the policies after them', () => {
    expect(() => pipeline({ nmae: 'x' } as never, timeout(1))).toThrow(/pipeline has no option "nmae"; did you mean "name"\?/);
    expect(() => pipeline({ name: '' }, timeout(1))).toThrow(TypeError);
    expect(() => pipeline({ clock: {} as never })).toThrow(/clock/);
    expect(() => pipeline({ name: 'x' }, timeout(1), 5 as never)).toThrow(/argument 2/);
    expect(pipeline({ name: undefined, clock: undefined }, timeout(1)).name).toBe('pipeline');
  });

  it('without(): drops layers at any depth and shares name, clock and listeners', async () => {
    const clock = new TestClock();
    const r = retry({ maxRetries: 3, backoff: constantBackoff(0), clock });
    const inner = pipeline({ name: 'inner', clock }, r, timeout(50, { clock }));
    const outer = pipeline({ name: 'outer', clock }, inner);
    const isRetry = (p: unknown) => p === r;
    const pruned = outer.without(isRetry);
    expect(pruned).not.toBe(outer);
    expect(pruned.name).toBe('outer');
    expect(outer.without(() => false)).toBe(outer);
    const seen: string[] = [];
    outer.on('failure', () => seen.push('outer failure'));
    let calls = 0;
    await expect(
      pruned.execute(() => {
        calls++;
        return Promise.reject(new Error('once'));
      }),
    ).rejects.toThrow('once');
    expect(calls).toBe(1);
    expect(seen).toEqual(['outer failure']);
  });
});

describe('resilientFetch sends an unsafe request once, even with a retry in a named inner pipeline', () => {
  it('POST: one request; GET: retried', async () => {
    const { resilientFetch } = await import('../../src/http/fetch.js');
    let sent = 0;
    const fake = async (): Promise<Response> => {
      sent++;
      return new Response('busy', { status: 503 });
    };
    const policy = pipeline(pipeline({ name: 'calls' }, retry({ maxRetries: 2, backoff: constantBackoff(0) })), timeout(1000));
    const fetch = resilientFetch(policy, { fetch: fake as typeof globalThis.fetch });
    expect((await fetch('http://example.invalid/', { method: 'POST', body: 'x' })).status).toBe(503);
    expect(sent).toBe(1);
    sent = 0;
    expect((await fetch('http://example.invalid/')).status).toBe(503);
    expect(sent).toBe(3);
  });
});
