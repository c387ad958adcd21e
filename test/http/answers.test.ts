import { describe, expect, it } from 'vitest';
import { rateLimitFields } from '../../src/http/rate-limit-fields.js';
import { rejectionBody, rejectionFor } from '../../src/http/rejections.js';
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
    expect(rejectionFor(CircuitIsolatedError.fast())).toMatchObject({ status: 503, code: 'ERR_CIRCUIT_ISOLATED', retryAfterSeconds: undefined });
    expect(rejectionFor(BulkheadFullError.fast())).toMatchObject({ status: 503, code: 'ERR_BULKHEAD_FULL', retryAfterSeconds: undefined });
    expect(rejectionFor(new TimeoutError(100))).toMatchObject({ status: 503, code: 'ERR_TIMEOUT', retryAfterSeconds: undefined });
    expect(rejectionFor(new Error('boom'))).toBeUndefined();
    expect(rejectionFor('boom')).toBeUndefined();
    expect(rejectionFor(undefined)).toBeUndefined();
  });

  it('body is the small JSON document', () => {
    expect(rejectionBody(rejectionFor(BulkheadFullError.fast())!)).toBe(
      '{"error":"ERR_BULKHEAD_FULL","message":"Server is at capacity"}',
    );
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
