// Bad input is refused where it is written: an unknown option name (a typo, or another
// library's name), a misspelled event name, an AbortSignal where the options belong.
import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import * as bw from '../../src/index.js';
import { closestNames, editDistance } from '../../src/core/validate.js';
import { guard as expressGuard } from '../../src/http/express.js';
import { guard as fastifyGuard } from '../../src/http/fastify.js';

const GUARD_NAMES = ['onRejected', 'rateLimitHeaders', 'retryAfterSeconds', 'deadlineHeader', 'deadlineMs', 'clock'];
import { resilientFetch } from '../../src/http/fetch.js';
import { instrument as instrumentOtel } from '../../src/telemetry/otel.js';
import { instrument as instrumentPrometheus } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import { otelHarness } from '../telemetry/harness.js';

describe('editDistance (optimal string alignment)', () => {
  it('gives the textbook distances', () => {
    // Levenshtein's classic pairs, and the pair that separates OSA (3) from unrestricted
    // Damerau-Levenshtein (2).
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('saturday', 'sunday')).toBe(3);
    expect(editDistance('flaw', 'lawn')).toBe(2);
    expect(editDistance('ca', 'abc')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    // A transposition costs one.
    expect(editDistance('maxRetires', 'maxRetries')).toBe(1);
    expect(editDistance('clok', 'clock')).toBe(1);
  });

  it('names the close option, several when tied, none when nothing is close', () => {
    expect(closestNames('clok', ['clock', 'name'])).toEqual(['clock']);
    expect(closestNames('MAXRETRIES', ['maxRetries'])).toEqual(['maxRetries']);
    expect(closestNames('nam', ['name', 'nap'])).toEqual(['name', 'nap']);
    expect(closestNames('zzzzzz', ['clock', 'name'])).toEqual([]);
    // Names other libraries use map to ours.
    expect(closestNames('resetTimeout', ['halfOpenAfterMs', 'clock'])).toEqual(['halfOpenAfterMs']);
    expect(closestNames('maxAttempts', ['maxRetries'])).toEqual(['maxRetries']);
  });
});

const clock = new TestClock();
const meter = otelHarness().meter;

/**
 * Every public factory that takes an options object: how to call it with `options`, and the
 * options it needs anyway.
 */
const factories: Record<string, { make: (options: Record<string, unknown>) => unknown; required: Record<string, unknown>; names: string[] }> = {
  timeout: { make: (o) => bw.timeout(10, o), required: {}, names: ['clock', 'name'] },
  retry: {
    make: (o) => bw.retry(o as never),
    required: { maxRetries: 1 },
    names: ['maxRetries', 'backoff', 'handle', 'handleResult', 'maxDelayMs', 'budget', 'clock', 'random', 'name'],
  },
  exponentialBackoff: { make: (o) => bw.exponentialBackoff(o), required: {}, names: ['initialMs', 'maxMs', 'factor', 'jitter'] },
  retryBudget: { make: (o) => bw.retryBudget(o), required: {}, names: ['ratio', 'minPerSecond', 'windowMs', 'clock'] },
  circuitBreaker: {
    make: (o) => bw.circuitBreaker(o as never),
    required: { halfOpenAfterMs: 100 },
    names: [
      'halfOpenAfterMs', 'consecutiveFailures', 'failureRatio', 'windowMs', 'windowBuckets', 'windowCalls',
      'minimumThroughput', 'slowCallMs', 'slowCallRatio', 'halfOpenProbes', 'probeTimeoutMs', 'handle',
      'handleResult', 'initialState', 'clock', 'random', 'name',
    ],
  },
  bulkhead: {
    make: (o) => bw.bulkhead(o as never),
    required: { maxConcurrent: 1 },
    names: ['maxConcurrent', 'maxQueue', 'queueTimeoutMs', 'clock', 'name'],
  },
  rateLimiter: {
    make: (o) => bw.rateLimiter(o as never),
    required: { capacity: 1, refillPerSecond: 1 },
    names: ['capacity', 'refillPerSecond', 'maxWaitMs', 'clock', 'name'],
  },
  keyedRateLimiter: {
    make: (o) => bw.keyedRateLimiter(o as never),
    required: { capacity: 1, refillPerSecond: 1 },
    names: ['capacity', 'refillPerSecond', 'maxWaitMs', 'clock', 'name', 'maxKeys'],
  },
  fallback: { make: (o) => bw.fallback(0, o), required: {}, names: ['clock', 'handle', 'handleResult', 'name'] },
  pipeline: { make: (o) => bw.pipeline(o, bw.timeout(1)), required: {}, names: ['name', 'clock'] },
  'express guard': { make: (o) => expressGuard(bw.timeout(1), o), required: {}, names: GUARD_NAMES },
  'fastify guard': { make: (o) => fastifyGuard(bw.timeout(1), o), required: {}, names: GUARD_NAMES },
  resilientFetch: {
    make: (o) => resilientFetch(bw.timeout(1), o),
    required: {},
    names: ['fetch', 'failureStatuses', 'retryUnsafeMethods', 'wallClock'],
  },
  'otel instrument': { make: (o) => instrumentOtel(bw.timeout(1), o as never), required: { meter }, names: ['meter', 'trace'] },
  'prometheus instrument': {
    make: (o) => instrumentPrometheus(bw.timeout(1), o as never),
    required: { client, registry: new client.Registry() },
    names: ['client', 'registry', 'trace'],
  },
};

describe.each(Object.entries(factories))('%s options', (_kind, { make, required, names }) => {
  it('refuses an unknown option name, naming it and the closest known one', () => {
    const typo = `${names[names.length - 1]!.slice(0, -1)}`; // one letter short
    expect(() => make({ ...required, [typo]: 1 })).toThrow(TypeError);
    expect(() => make({ ...required, [typo]: 1 })).toThrow(new RegExp(`no option "${typo}"; did you mean .*"${names[names.length - 1]}"`));
  });

  it('lists the known options when nothing is close', () => {
    let message = '';
    try {
      make({ ...required, qqqqqqqq: 1 });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('no option "qqqqqqqq"');
    for (const name of names) expect(message).toContain(JSON.stringify(name));
  });

  it('accepts every known option given as undefined (meaning: the default)', () => {
    const all = Object.fromEntries(names.map((name) => [name, undefined]));
    let made: unknown;
    expect(() => {
      made = make({ ...all, ...required });
    }).not.toThrow();
    expect(made).toBeDefined();
    if (_kind.includes('instrument')) (made as () => void)();
  });
});

describe('names from other libraries and typos, as users write them', () => {
  it('circuitBreaker: failureThreshold, resetTimeout', () => {
    expect(() => bw.circuitBreaker({ halfOpenAfterMs: 10, failureThreshold: 3 } as never)).toThrow(
      'breakwater: circuitBreaker has no option "failureThreshold"; did you mean "consecutiveFailures" or "failureRatio"?',
    );
    expect(() => bw.circuitBreaker({ resetTimeout: 10 } as never)).toThrow(/no option "resetTimeout"; did you mean "halfOpenAfterMs"\?/);
  });

  it('timeout: clok; retry: maxAttempts', () => {
    expect(() => bw.timeout(10, { clok: clock } as never)).toThrow('breakwater: timeout has no option "clok"; did you mean "clock"?');
    expect(() => bw.retry({ maxRetries: 1, maxAttempts: 3 } as never)).toThrow(/no option "maxAttempts"; did you mean "maxRetries"\?/);
    expect(() => bw.retry({ maxAttempts: 3 } as never)).toThrow(TypeError);
  });
});

describe('event names', () => {
  it('a misspelled event throws, suggesting the name and listing the policy events', () => {
    const breaker = bw.circuitBreaker({ halfOpenAfterMs: 10, name: 'cb' });
    expect(() => breaker.on('stateChnage' as never, () => {})).toThrow(
      'breakwater: circuit-breaker "cb" has no event "stateChnage" (did you mean "stateChange"?); its events are "stateChange", "success", "failure" and "rejected"',
    );
    expect(() => bw.retry({ maxRetries: 1 }).on('retyr' as never, () => {})).toThrow(/did you mean "retry"/);
    expect(() => bw.pipeline().on('sucess' as never, () => {})).toThrow(/pipeline "pipeline" has no event "sucess" \(did you mean "success"\?\)/);
    expect(() => bw.keyedRateLimiter({ capacity: 1, refillPerSecond: 1 }).on('rejectd' as never, () => {})).toThrow(/did you mean "rejected"/);
    expect(() => bw.keyedRateLimiter({ capacity: 1, refillPerSecond: 1 }).get('k').on('x' as never, () => {})).toThrow(TypeError);
    expect(() => bw.timeout(1).on(5 as never, () => {})).toThrow(/no event 5; its events are "success", "failure" and "timeout"/);
  });

  it('every policy declares its events, and accepts each of them', () => {
    const policies: Array<[{ on(event: string, l: () => void): () => void }, string[]]> = [
      [bw.timeout(1) as never, ['success', 'failure', 'timeout']],
      [bw.retry({ maxRetries: 1 }) as never, ['retry', 'success', 'failure', 'budgetExhausted']],
      [bw.fallback(0) as never, ['fallback', 'success', 'failure']],
      [bw.circuitBreaker({ halfOpenAfterMs: 1 }) as never, ['stateChange', 'success', 'failure', 'rejected']],
      [bw.bulkhead({ maxConcurrent: 1 }) as never, ['success', 'failure', 'rejected']],
      [bw.rateLimiter({ capacity: 1, refillPerSecond: 1 }) as never, ['success', 'failure', 'rejected']],
      [bw.pipeline() as never, ['success', 'failure']],
    ];
    for (const [policy, events] of policies) {
      for (const event of events) policy.on(event, () => {})();
      let message = '';
      try {
        policy.on('nope', () => {});
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(new RegExp(`its events are ${events.map((e) => `"${e}"`).join('.*')}$`));
    }
  });

  it("another policy's event name is accepted (it never fires there), so one loop can subscribe a pipeline", () => {
    const off = bw.timeout(1).on('stateChange' as never, () => {});
    expect(typeof off).toBe('function');
    off();
  });
});
