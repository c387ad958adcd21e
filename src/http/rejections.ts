// How breakwater's refusals become HTTP answers (status, code, client-safe text, Retry-After).

import { HTTP_ANSWER, type HttpAnswer } from '../core/errors.js';
import { checkNumber, checkOptionsObject } from '../core/validate.js';
import { toRetryAfterSeconds } from './retry-after.js';

/** What `guard` answers for one of breakwater's own rejections. */
export interface Rejection {
  /** 429 for a rate limit, 503 for the other refusals and a timeout. */
  readonly status: number;
  /** The error's `code`, e.g. `ERR_RATE_LIMITED`. */
  readonly code: string;
  /** Fixed, client-safe text (never the error's message, which names internals). */
  readonly message: string;
  /** Whole seconds, ≥ 1; undefined only for a timeout (a call was made: no retry time is known). */
  readonly retryAfterSeconds: number | undefined;
}

/** `Retry-After` for a refusal that knows no retry time (a full bulkhead, an isolated circuit). */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** Checks a `retryAfterSeconds` option: whole seconds, 1 to one day. */
export function checkRetryAfterSeconds(value: unknown): number {
  if (value === undefined) return DEFAULT_RETRY_AFTER_SECONDS;
  return checkNumber('retryAfterSeconds', value, { min: 1, max: 86_400, integer: true });
}

/**
 * Maps a rejection from the guard's policy to an answer, or undefined when the error is not
 * one breakwater answers for (a handler's error, a custom policy's own error). The answer is
 * the one the error's class declares (`HttpAnswer`, under a registered symbol, so errors of the
 * ESM and the CJS build both have it), with the error's `code`. Fast refusals ("no call was
 * made") all carry `Retry-After`: their own retry time when they know one, else
 * `retryAfterSeconds` (default 1). A timeout carries none.
 *
 * @example
 * ```ts
 * import { RateLimitedError } from 'breakwater';
 * import { rejectionFor } from 'breakwater/express';
 *
 * console.log(rejectionFor(new RateLimitedError(1_500)));
 * // { status: 429, code: 'ERR_RATE_LIMITED', message: 'Too many requests', retryAfterSeconds: 2 }
 * console.log(rejectionFor(new Error('a handler bug'))); // undefined
 * ```
 */
export function rejectionFor(error: unknown, options?: { retryAfterSeconds?: number | undefined }): Rejection | undefined {
  const opts = checkOptionsObject('rejectionFor', options, false, ['retryAfterSeconds']);
  return rejectionOf(error, checkRetryAfterSeconds(opts['retryAfterSeconds']));
}

/** `rejectionFor` with an already checked default; the guards call this one. */
export function rejectionOf(error: unknown, fallbackSeconds: number): Rejection | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const answer = (error as { [HTTP_ANSWER]?: Partial<HttpAnswer> })[HTTP_ANSWER];
  const { code, retryAfterMs } = error as { code?: unknown; retryAfterMs?: unknown };
  if (typeof answer !== 'object' || answer === null || typeof code !== 'string') return undefined;
  const { status, message } = answer;
  if (typeof status !== 'number' || typeof message !== 'string') return undefined;
  if (answer.callMade === true) return { status, code, message, retryAfterSeconds: undefined };
  const own = typeof retryAfterMs === 'number' ? toRetryAfterSeconds(retryAfterMs) : undefined;
  return { status, code, message, retryAfterSeconds: own ?? fallbackSeconds };
}

/** The default response body of the Express guard, exactly: `{"error":"<code>","message":"<message>"}`. */
export function rejectionBody(rejection: Rejection): string {
  return JSON.stringify({ error: rejection.code, message: rejection.message });
}

/**
 * A refusal on its way through a framework's error path (Fastify's): an error with the answer's
 * `statusCode`, `code` and `headers`, the client-safe `message`, and the policy's own error as
 * `cause`. Fastify's default error handler sends `statusCode`, sets `headers` and logs it; a
 * `setErrorHandler` of yours sees it like any other error with a status.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { bulkhead } from 'breakwater';
 * import { RequestRefusedError, breakwaterGuard } from 'breakwater/fastify';
 *
 * const app = Fastify();
 * await app.register(breakwaterGuard, { policy: bulkhead({ maxConcurrent: 100 }) });
 * app.setErrorHandler((error, _request, reply) => {
 *   if (error instanceof RequestRefusedError) return reply.code(error.statusCode).send({ retry: error.retryAfterSeconds });
 *   return reply.send(error);
 * });
 * ```
 */
export class RequestRefusedError extends Error {
  /** The answer's status: 429 for a rate limit, 503 for the other refusals, or what a custom error declares. */
  readonly statusCode: number;
  /** The refusal's code, e.g. `ERR_RATE_LIMITED`, as in `cause.code`. */
  readonly code: string;
  /** `Retry-After`, and the RateLimit fields when the policy has rate limiters. */
  readonly headers: Readonly<Record<string, string>>;
  /** `Retry-After` in whole seconds; undefined for a timeout (no retry time is known). */
  readonly retryAfterSeconds: number | undefined;

  /** The guard builds these: `rejection` is the answer (`rejectionFor(cause)`), `cause` the policy's error, `headers` the fields to send. */
  constructor(rejection: Rejection, cause: unknown, headers: Readonly<Record<string, string>>) {
    // No stack trace: refusals are the hot path of an overloaded server, and a stack would
    // point into the library, not at anything the reader can change.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(rejection.message, { cause });
    Error.stackTraceLimit = limit;
    this.statusCode = rejection.status;
    this.code = rejection.code;
    this.headers = headers;
    this.retryAfterSeconds = rejection.retryAfterSeconds;
  }
}
// The name survives bundlers that rename classes.
Object.defineProperty(RequestRefusedError.prototype, 'name', { value: 'RequestRefusedError', configurable: true, writable: true });
