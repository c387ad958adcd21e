// How breakwater's refusals become HTTP answers (status, code, client-safe text, Retry-After).

import {
  BulkheadFullError,
  CircuitIsolatedError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from '../core/errors.js';
import { toRetryAfterSeconds } from './retry-after.js';

/** What `guard` answers for one of breakwater's own rejections. */
export interface Rejection {
  readonly status: 429 | 503;
  /** The error's `code`, e.g. `ERR_RATE_LIMITED`. */
  readonly code: string;
  /** Fixed, client-safe text (never the error's message, which names internals). */
  readonly message: string;
  /** Whole seconds, ≥ 1; undefined when no retry time is known. */
  readonly retryAfterSeconds: number | undefined;
}

/**
 * Maps a rejection from the guard's policy to an answer, or undefined when the error is not
 * one breakwater answers for (a handler's error, a custom policy's own error). Uses
 * `instanceof`, which works across the ESM and CJS builds (errors are branded).
 */
export function rejectionFor(error: unknown): Rejection | undefined {
  if (error instanceof RateLimitedError) {
    return { status: 429, code: error.code, message: 'Too many requests', retryAfterSeconds: toRetryAfterSeconds(error.retryAfterMs) };
  }
  if (error instanceof CircuitIsolatedError) {
    return { status: 503, code: error.code, message: 'Service unavailable', retryAfterSeconds: toRetryAfterSeconds(error.retryAfterMs) };
  }
  if (error instanceof CircuitOpenError) {
    return { status: 503, code: error.code, message: 'Service unavailable', retryAfterSeconds: toRetryAfterSeconds(error.retryAfterMs) };
  }
  if (error instanceof BulkheadFullError) {
    return { status: 503, code: error.code, message: 'Server is at capacity', retryAfterSeconds: undefined };
  }
  if (error instanceof TimeoutError) {
    return { status: 503, code: error.code, message: 'Request timed out', retryAfterSeconds: undefined };
  }
  return undefined;
}

/** The default response body, exactly: `{"error":"<code>","message":"<message>"}`. */
export function rejectionBody(rejection: Rejection): string {
  return JSON.stringify({ error: rejection.code, message: rejection.message });
}
