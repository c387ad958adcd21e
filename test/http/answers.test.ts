import { describe, expect, it } from 'vitest';
import { checkRateLimitHeaders, rateLimitFields, writeRateLimitFields, type RateLimitInfo } from '../../src/http/rate-limit-fields.js';
import { rejectionBody, rejectionFor, RequestRefusedError } from '../../src/http/rejections.js';
import { parseBudgetMs } from '../../src/http/request-deadline.js';
import { ConcurrencyLimitStandIn, LimiterUnavailableStandIn } from './servers.js';
import { MAX_RETRY_AFTER_MS, parseHttpDate, parseRetryAfter, toRetryAfterSeconds } from '../../src/http/retry-after.js';
import {
  BulkheadFullError,
  CircuitIsolatedError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from '../../src/core/errors.js';

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0); // Sat, 21 Nov 2026 12:00:00 GMT
const httpDate = (ms: number): string => new Date(ms).toUTCString();

describe('parseRetryAfter (peer-failure-modes row 23)', () => {
  it.each<[string, string | null | undefined, number | undefined]>([
    ['0', '0', 0],
    ['delta-seconds', '3', 3000],
    ['surrounding whitespace', '  7 ', 7000],
    ['negative', '-5', undefined],
    ['fraction', '1.5', undefined],
    ['explicit plus sign', '+3', undefined],
    ['exponent notation', '1e11', undefined],
    ['huge delta-seconds clamped to one day', '100000000000', MAX_RETRY_AFTER_MS],
    ['absurdly long digits clamped', '9'.repeat(400), MAX_RETRY_AFTER_MS],
    ['past HTTP-date', httpDate(NOW - 60_000), 0],
    ['now as HTTP-date', httpDate(NOW), 0],
    ['future HTTP-date', httpDate(NOW + 90_000), 90_000],
    ['far-future HTTP-date clamped', httpDate(NOW + 400 * 86_400_000), MAX_RETRY_AFTER_MS],
    ['RFC 850 date', 'Saturday, 21-Nov-26 12:00:30 GMT', 30_000],
    ['asctime date', 'Sat Nov 21 12:00:10 2026', 10_000],
    ['impossible date', 'Tue, 31 Feb 2026 12:00:00 GMT', undefined],
    ['date without GMT', 'Sat, 21 Nov 2026 12:00:30', undefined],
    ['garbage', 'soon', undefined],
    ['text Date.parse would accept', '2026-11-21T12:00:30Z', undefined],
    ['two values joined by a proxy', '1, 2', undefined],
    ['empty', '', undefined],
    ['missing header', null, undefined],
    ['undefined', undefined, undefined],
  ])('%s: %j → %j', (_label, value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  it('parses an IMF-fixdate exactly', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW)).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });
});

describe('toRetryAfterSeconds', () => {
  it.each<[number, number | undefined]>([
    [0, 1],
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [1500, 2],
    [59_000.5, 60],
    [1e15, 86_400],
    [Infinity, undefined],
    [NaN, undefined],
    [-1, undefined],
  ])('%d ms → %j', (ms, seconds) => {
    expect(toRetryAfterSeconds(ms)).toBe(seconds);
  });
});

describe('rejectionFor', () => {
  it('maps each breakwater rejection to its status, code and Retry-After', () => {
    expect(rejectionFor(RateLimitedError.fast(1500))).toEqual({
      status: 429,
      code: 'ERR_RATE_LIMITED',
      message: 'Too many requests',
      retryAfterSeconds: 2,
    });
    expect(rejectionFor(CircuitOpenError.fast(10))).toMatchObject({ status: 503, code: 'ERR_CIRCUIT_OPEN', retryAfterSeconds: 1 });
    expect(rejectionFor(CircuitOpenError.fast(4001))).toMatchObject({ retryAfterSeconds: 5 });
    // No known end: the default.
    expect(rejectionFor(CircuitIsolatedError.fast())).toMatchObject({ status: 503, code: 'ERR_CIRCUIT_ISOLATED', retryAfterSeconds: 1 });
    expect(rejectionFor(BulkheadFullError.fast())).toEqual({
      status: 503,
      code: 'ERR_BULKHEAD_FULL',
      message: 'Server is at capacity',
      retryAfterSeconds: 1,
    });
    expect(rejectionFor(new ConcurrencyLimitStandIn())).toEqual({
      status: 503,
      code: 'ERR_CONCURRENCY_LIMIT',
      message: 'Server is at capacity',
      retryAfterSeconds: 1,
    });
    expect(rejectionFor(new LimiterUnavailableStandIn())).toEqual({
      status: 503,
      code: 'ERR_RATE_LIMITER_UNAVAILABLE',
      message: 'Service unavailable',
      retryAfterSeconds: 1,
    });
    // A call was made and took too long: no retry time is known, none is invented.
    expect(rejectionFor(new TimeoutError(100))).toMatchObject({ status: 503, code: 'ERR_TIMEOUT', retryAfterSeconds: undefined });
    expect(rejectionFor(new Error('boom'))).toBeUndefined();
    expect(rejectionFor('boom')).toBeUndefined();
    expect(rejectionFor(undefined)).toBeUndefined();
    // A user's error that merely carries one of the codes is not ours.
    expect(rejectionFor(Object.assign(new Error('x'), { code: 'ERR_CONCURRENCY_LIMIT' }))).toBeUndefined();
  });

  it('retryAfterSeconds sets the default for refusals without a known time, and only for those', () => {
    const options = { retryAfterSeconds: 7 };
    expect(rejectionFor(BulkheadFullError.fast(), options)?.retryAfterSeconds).toBe(7);
    expect(rejectionFor(CircuitIsolatedError.fast(), options)?.retryAfterSeconds).toBe(7);
    expect(rejectionFor(new ConcurrencyLimitStandIn(), options)?.retryAfterSeconds).toBe(7);
    expect(rejectionFor(CircuitOpenError.fast(2500), options)?.retryAfterSeconds).toBe(3);
    expect(rejectionFor(RateLimitedError.fast(100), options)?.retryAfterSeconds).toBe(1);
    expect(rejectionFor(new TimeoutError(5), options)?.retryAfterSeconds).toBeUndefined();
    expect(() => rejectionFor(BulkheadFullError.fast(), { retryAfterSeconds: 0 })).toThrow(/retryAfterSeconds.*received 0/);
    expect(() => rejectionFor(BulkheadFullError.fast(), { retryAfterSeconds: 1.5 })).toThrow(RangeError);
  });

  it('body is the small JSON document', () => {
    expect(rejectionBody(rejectionFor(BulkheadFullError.fast())!)).toBe(
      '{"error":"ERR_BULKHEAD_FULL","message":"Server is at capacity"}',
    );
  });

  it('RequestRefusedError carries status, code, headers and the policy error as cause, with a stable name', () => {
    const cause = CircuitOpenError.fast(3000);
    const error = new RequestRefusedError(rejectionFor(cause)!, cause, { 'retry-after': '3' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RequestRefusedError');
    expect(error.statusCode).toBe(503);
    expect(error.code).toBe('ERR_CIRCUIT_OPEN');
    expect(error.message).toBe('Service unavailable');
    expect(error.headers).toEqual({ 'retry-after': '3' });
    expect(error.retryAfterSeconds).toBe(3);
    expect(error.cause).toBe(cause);
  });
});

describe('deadline header values', () => {
  it.each<[string | string[] | undefined, number | undefined]>([
    ['300', 300],
    [' 250 ', 250],
    ['0', 0],
    ['12.5', 12.5],
    ['-5', undefined],
    ['1e3', undefined],
    ['300, 200', undefined],
    ['', undefined],
    ['soon', undefined],
    [undefined, undefined],
    [['300', '200'], undefined],
  ])('%j → %j', (value, expected) => {
    expect(parseBudgetMs(value)).toBe(expected);
  });
});

describe('rateLimitFields', () => {
  it('formats RateLimit-Policy and RateLimit per draft-ietf-httpapi-ratelimit-headers', () => {
    expect(rateLimitFields([{ name: 'default', capacity: 10, refillPerSecond: 10, available: 3.7 }])).toEqual({
      policy: '"default";q=10;w=1',
      state: '"default";r=3;t=1',
    });
    expect(
      rateLimitFields([
        { name: 'per-client', capacity: 60, refillPerSecond: 1, available: 60 },
        { name: 'odd "name"\n', capacity: 5, refillPerSecond: 0.5, available: 0 },
      ]),
    ).toEqual({
      policy: '"per-client";q=60;w=60, "odd \\"name\\"_";q=5;w=10',
      state: '"per-client";r=60;t=0, "odd \\"name\\"_";r=0;t=10',
    });
    expect(rateLimitFields([])).toBeUndefined();
  });
});

describe('writeRateLimitFields', () => {
  const perClient: RateLimitInfo = { name: 'per-client', capacity: 40, refillPerSecond: 20, available: 12.5 };
  const global: RateLimitInfo = { name: 'global', capacity: 1000, refillPerSecond: 100, available: 3 };

  function headers(initial: Record<string, string> = {}): { fields: Record<string, string>; access: Parameters<typeof writeRateLimitFields>[2] } {
    const fields: Record<string, string> = { ...initial };
    return { fields, access: { get: (name) => fields[name.toLowerCase()], set: (name, value) => void (fields[name.toLowerCase()] = value) } };
  }

  it('ietf: a second guard appends its limiters to the first one\'s fields', () => {
    const { fields, access } = headers();
    writeRateLimitFields([perClient], 'ietf', access);
    writeRateLimitFields([global], 'ietf', access);
    expect(fields).toEqual({
      'ratelimit-policy': '"per-client";q=40;w=2, "global";q=1000;w=10',
      ratelimit: '"per-client";r=12;t=2, "global";r=3;t=10',
    });
  });

  it('legacy: the most restrictive limiter of all guards is described; Reset in seconds until full', () => {
    const { fields, access } = headers();
    writeRateLimitFields([perClient], 'legacy', access);
    expect(fields).toEqual({ 'x-ratelimit-limit': '40', 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': '2' });
    writeRateLimitFields([global], 'legacy', access);
    expect(fields).toEqual({ 'x-ratelimit-limit': '1000', 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': '10' });
    // A looser limiter after a tighter one changes nothing.
    writeRateLimitFields([perClient], 'legacy', access);
    expect(fields['x-ratelimit-remaining']).toBe('3');
    // Within one guard too: the pipeline's tightest limiter.
    const second = headers();
    writeRateLimitFields([global, perClient], 'legacy', second.access);
    expect(second.fields['x-ratelimit-limit']).toBe('1000');
  });

  it('both: the IETF pair and the legacy trio', () => {
    const { fields, access } = headers();
    writeRateLimitFields([perClient], 'both', access);
    expect(Object.keys(fields).sort()).toEqual(['ratelimit', 'ratelimit-policy', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']);
  });

  it('no limiters: nothing is written', () => {
    const { fields, access } = headers();
    writeRateLimitFields([], 'both', access);
    expect(fields).toEqual({});
  });

  it('rateLimitHeaders accepts a standard or a boolean, and names the option otherwise', () => {
    expect(checkRateLimitHeaders(undefined)).toBe('ietf');
    expect(checkRateLimitHeaders(true)).toBe('ietf');
    expect(checkRateLimitHeaders(false)).toBe(false);
    expect(checkRateLimitHeaders('legacy')).toBe('legacy');
    expect(checkRateLimitHeaders('both')).toBe('both');
    expect(() => checkRateLimitHeaders('draft-8')).toThrow(/rateLimitHeaders.*"draft-8"/);
  });
});
