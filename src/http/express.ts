// breakwater/express — inbound protection for Express (or any connect-style server).
// Never imports express: it works on Node's own request/response objects.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { Deadline } from '../core/deadline.js';
import type { Policy } from '../core/policy.js';
import { checkOptionsObject } from '../core/validate.js';
import { guardRequest, guardSettings, type GuardAdapter } from './guard.js';
import type { HeaderAccess, RateLimitHeaderStandard } from './rate-limit-fields.js';
import { checkRetryAfterSeconds, rejectionBody, rejectionOf, type Rejection } from './rejections.js';
import { deadlineOfRaw } from './request-deadline.js';
import { existingLifetime, lifetimeOf, responseOfRaw } from './request-lifetime.js';
import { sealResponse } from './seal.js';

export { rejectionFor, type Rejection } from './rejections.js';
export { type RequestOutcome } from './request-lifetime.js';
export { type RateLimitHeaderStandard } from './rate-limit-fields.js';

/** The request as guard sees it: Node's IncomingMessage (Express adds `ip` and `res`). */
export type GuardRequest = IncomingMessage & {
  /** The client's address as Express computes it (`trust proxy`); undefined on a plain `node:http` request. */
  readonly ip?: string | undefined;
};

/** Express's `next`: call it to pass the request on, or with an error to take the error path. */
export type NextFunctionLike = (error?: unknown) => void;

/** Options of the Express `guard(policy, options)`; all optional. */
export interface GuardOptions<Req extends IncomingMessage = GuardRequest> {
  /**
   * Answers a rejection breakwater knows (rate limited, bulkhead full, circuit open, timeout)
   * instead of the default JSON answer. Called only while no headers were sent.
   */
  onRejected?: ((error: unknown, req: Req, res: ServerResponse, next: NextFunctionLike) => void | Promise<unknown>) | undefined;
  /**
   * Which RateLimit fields to send for the rate limiters in the policy: the IETF draft's
   * `RateLimit-Policy`/`RateLimit` (`'ietf'`, also `true`; the default), the legacy
   * `X-RateLimit-Limit/Remaining/Reset` (`'legacy'`), `'both'`, or none (`false`).
   */
  rateLimitHeaders?: RateLimitHeaderStandard | boolean | undefined;
  /** `Retry-After` (seconds) for a refusal that knows no retry time, e.g. a full bulkhead. Default 1. */
  retryAfterSeconds?: number | undefined;
  /**
   * Header carrying the caller's remaining budget in milliseconds (`true`: `x-request-timeout-ms`).
   * The rest of the request runs inside that deadline: every `timeout` in it is capped by it,
   * `resilientFetch({ propagateDeadline })` forwards what is left, and the guard answers 503
   * `ERR_TIMEOUT` when it passes.
   */
  deadlineHeader?: string | boolean | undefined;
  /** The deadline of a request that brings no budget, and the most a caller may ask for. */
  deadlineMs?: number | undefined;
  /** The clock deadlines are measured on. Default: the system clock. */
  clock?: Clock | undefined;
}

/** The Express middleware `guard` returns: `app.use(guard(policy))`. */
export type GuardMiddleware<Req extends IncomingMessage = GuardRequest> = (
  req: Req,
  res: ServerResponse,
  next: NextFunctionLike,
) => void;

/**
 * Runs the rest of the request (`next()`) inside `policy.execute`. The call given to the
 * policy lasts until the response finishes or the connection closes, so a bulkhead slot is
 * held exactly that long and released once. It resolves with a `RequestOutcome`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { bulkhead, keyedRateLimiter } from 'breakwater';
 * import { guard } from 'breakwater/express';
 *
 * const perClient = keyedRateLimiter({ capacity: 40, refillPerSecond: 20 });
 * const app = express();
 * app.use(guard((req) => perClient.get(req.ip ?? ''))); // 429 + Retry-After above 20 requests/s
 * app.use(guard(bulkhead({ maxConcurrent: 64, maxQueue: 64 }), { deadlineHeader: true, deadlineMs: 2_000 }));
 * ```
 */
export function guard<Req extends IncomingMessage = GuardRequest>(
  policy: Policy | ((req: Req) => Policy),
  options?: GuardOptions<Req>,
): GuardMiddleware<Req> {
  const settings = guardSettings<Req, GuardOptions<Req>['onRejected']>(policy, options);
  const { onRejected } = settings;
  const adapter: GuardAdapter<Req, ServerResponse> = {
    settings,
    rawRequest: (req) => req,
    rawResponse: (res) => res,
    responseTaken: (res) => res.headersSent || res.destroyed,
    headers: nodeHeaders,
    seal: sealResponse,
    abortAfterAnswer: false,
    answerRejection(call, error, rejection) {
      const res = call.reply;
      const fallBack = (thrown: unknown): void => {
        // Before the handler ran, Express's error path takes it; after, the default answer.
        if (!call.started) {
          call.next(thrown);
          return;
        }
        if (res.headersSent || res.destroyed) return;
        call.writeRateLimitFields();
        answer(res, rejection);
      };
      if (onRejected !== undefined) {
        try {
          const returned: unknown = onRejected(error, call.request, res, call.next);
          // An `async` handler that rejects must not become an unhandled rejection.
          if (isThenable(returned)) returned.then(undefined, fallBack);
        } catch (thrown) {
          fallBack(thrown);
        }
        return;
      }
      call.writeRateLimitFields();
      answer(res, rejection);
    },
  };

  return function breakwaterGuard(req: Req, res: ServerResponse, next: NextFunctionLike): void {
    guardRequest(adapter, req, res, next);
  };
}

/** Options of the Express `breakwaterErrorHandler()`. */
export interface ErrorHandlerOptions {
  /** `Retry-After` (seconds) for a refusal that knows no retry time. Default 1. */
  retryAfterSeconds?: number | undefined;
}

/** The Express error middleware `breakwaterErrorHandler` returns. */
export type ErrorMiddleware = (error: unknown, req: IncomingMessage, res: ServerResponse, next: NextFunctionLike) => void;

const ERROR_HANDLER_OPTIONS: readonly string[] = Object.freeze(['retryAfterSeconds']);

/**
 * Express error middleware for the refusals a handler's own calls meet (an open breaker, a
 * full bulkhead, a rate limit, a timeout — e.g. from `resilientFetch`): it answers them like
 * `guard` does (429/503, `Retry-After`, the same JSON) and passes everything else on.
 * When the request was already answered — by the guard, whose deadline passed while the
 * handler awaited — or the client left, the handler's refusal or abort error is dropped
 * quietly: Express's final handler would print it on stderr and destroy the connection.
 * Mount it after your routes: `app.use(breakwaterErrorHandler())`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { breakwaterErrorHandler } from 'breakwater/express';
 * import { resilientFetch } from 'breakwater/fetch';
 * import { circuitBreaker } from 'breakwater';
 *
 * const inventory = resilientFetch(circuitBreaker({ halfOpenAfterMs: 5_000 }));
 * const app = express();
 * app.get('/items', async (_req, res) => {
 *   res.json(await (await inventory('http://inventory.internal/items')).json()); // an open breaker rejects
 * });
 * app.use(breakwaterErrorHandler()); // … and becomes 503 + Retry-After here
 * ```
 */
export function breakwaterErrorHandler(options?: ErrorHandlerOptions): ErrorMiddleware {
  const opts = checkOptionsObject('breakwaterErrorHandler', options, false, ERROR_HANDLER_OPTIONS);
  const retryAfterSeconds = checkRetryAfterSeconds(opts['retryAfterSeconds']);
  return function breakwaterErrors(error, req, res, next): void {
    const rejection = rejectionOf(error, retryAfterSeconds);
    const stopped = isStopReason(req, error);
    if (res.writableEnded || res.destroyed) {
      // Answered already, or nobody is listening: nothing to tell anyone.
      if (rejection !== undefined || stopped) return;
      next(error);
      return;
    }
    if (res.headersSent) {
      // A streamed response that the guard gave up on: end it as Express would, minus the dump.
      if (stopped) res.destroy();
      else next(error);
      return;
    }
    if (rejection === undefined) {
      next(error);
      return;
    }
    answer(res, rejection);
  };
}

/** True when `error` is why the request's signal aborted (client gone, guard gave up). */
function isStopReason(req: IncomingMessage, error: unknown): boolean {
  const signal = existingLifetime(req)?.existingSignal;
  return signal !== undefined && signal.aborted && signal.reason === error;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * An AbortSignal for this request that aborts when the client goes away before the response
 * is complete (reason: an `AbortError` DOMException), or when `guard` gives up on a request
 * whose handler already runs (reason: the policy's error, e.g. a `TimeoutError`). One signal per
 * request; its listeners are removed when the response ends. Pass it as `signal` to outbound
 * policies and `fetch` so work for a departed client stops.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { requestSignal } from 'breakwater/express';
 *
 * const app = express();
 * app.get('/report', async (req, res) => {
 *   // the client leaves, or the guard gives up: the downstream call stops
 *   const upstream = await fetch('http://reports.internal/build', { signal: requestSignal(req) });
 *   res.status(upstream.status).send(await upstream.text());
 * });
 * ```
 */
export function requestSignal(req: IncomingMessage): AbortSignal {
  const existing = existingLifetime(req);
  if (existing !== undefined) return existing.signal;
  const res = responseOfRaw(req);
  if (res === undefined) {
    throw new TypeError('breakwater: requestSignal(req) needs a request whose response is known (Express sets req.res)');
  }
  return lifetimeOf(req, res).signal;
}

/**
 * The deadline a guard with `deadlineHeader` or `deadlineMs` set for this request
 * (`remainingMs(deadline)` is what is left of it), or undefined when it has none.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { bulkhead, remainingMs } from 'breakwater';
 * import { guard, requestDeadline } from 'breakwater/express';
 *
 * const app = express();
 * app.use(guard(bulkhead({ maxConcurrent: 64 }), { deadlineHeader: true, deadlineMs: 2_000 }));
 * app.get('/search', (req, res) => {
 *   const deadline = requestDeadline(req);
 *   res.json({ budgetLeftMs: deadline === undefined ? null : Math.round(remainingMs(deadline)) });
 * });
 * ```
 */
export function requestDeadline(req: IncomingMessage): Deadline | undefined {
  return deadlineOfRaw(req);
}

const nodeHeaders: HeaderAccess<ServerResponse> = {
  get: (name, res) => res.getHeader(name),
  set: (name, value, res) => void res.setHeader(name, value),
};

/** The default answer: status, Retry-After when known, and a small JSON body. */
function answer(res: ServerResponse, rejection: Rejection): void {
  const body = rejectionBody(rejection);
  res.statusCode = rejection.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (rejection.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(rejection.retryAfterSeconds));
  res.end(body);
}
