// How breakwater's refusals become HTTP answers (status, code, client-safe text, Retry-After).

import { HTTP_ANSWER, type HttpAnswer } from '../core/errors.js';
import { toRetryAfterSeconds } from './retry-after.js';

/** What `guard` answers for one of breakwater's own rejections. */
export interface Rejection {
  /** 429 for a rate limit, 503 for the other refusals and a timeout. */
  readonly status: number;
  /** The error's `code`, e.g. `ERR_RATE_LIMITED`. */
  readonly code: string;
  /** Fixed, client-safe text (never the error's message, which names internals). */
  readonly message: string;
  /** Whole seconds, ≥ 1; undefined when no retry time is known. */
  readonly retryAfterSeconds: number | undefined;
}

/**
 * Maps a rejection from the guard's policy to an answer, or undefined when the error is not
 * one breakwater answers for (a handler's error, a custom policy's own error). The answer is
 * the one the error's class declares (`HttpAnswer`, under a registered symbol, so errors of the
 * ESM and the CJS build both have it), with the error's `code` and, when it has one, its
 * `retryAfterMs`.
 */
export function rejectionFor(error: unknown): Rejection | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const answer = (error as { [HTTP_ANSWER]?: Partial<HttpAnswer> })[HTTP_ANSWER];
  const { code, retryAfterMs } = error as { code?: unknown; retryAfterMs?: unknown };
  if (typeof answer !== 'object' || answer === null || typeof code !== 'string') return undefined;
  const { status, message } = answer;
  if (typeof status !== 'number' || typeof message !== 'string') return undefined;
  return { status, code, message, retryAfterSeconds: typeof retryAfterMs === 'number' ? toRetryAfterSeconds(retryAfterMs) : undefined };
}

/** The default response body, exactly: `{"error":"<code>","message":"<message>"}`. */
export function rejectionBody(rejection: Rejection): string {
  return JSON.stringify({ error: rejection.code, message: rejection.message });
}
