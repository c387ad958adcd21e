// breakwater/express — inbound protection for Express (or any connect-style server).
// Never imports express: it works on Node's own request/response objects.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy } from '../core/policy.js';
import { guardRequest, guardSettings, type GuardAdapter } from './guard.js';
import { rateLimitFields, rateLimitersOf } from './rate-limit-fields.js';
import { rejectionBody, type Rejection } from './rejections.js';
import { existingLifetime, lifetimeOf, responseOfRaw } from './request-lifetime.js';

export { rejectionFor, type Rejection } from './rejections.js';
export { type RequestOutcome } from './request-lifetime.js';

/** The request as guard sees it: Node's IncomingMessage (Express adds `ip` and `res`). */
export type GuardRequest = IncomingMessage & { readonly ip?: string | undefined };

export type NextFunctionLike = (error?: unknown) => void;

export interface GuardOptions<Req extends IncomingMessage = GuardRequest> {
  /**
   * Answers a rejection breakwater knows (rate limited, bulkhead full, circuit open, timeout)
   * instead of the default JSON answer. Called only while no headers were sent.
   */
  onRejected?: (error: unknown, req: Req, res: ServerResponse, next: NextFunctionLike) => void | Promise<unknown>;
  /** Send `RateLimit-Policy` / `RateLimit` for the rate limiters in the policy. Default true. */
  rateLimitHeaders?: boolean;
}

export type GuardMiddleware<Req extends IncomingMessage = GuardRequest> = (
  req: Req,
  res: ServerResponse,
  next: NextFunctionLike,
) => void;

/**
 * Runs the rest of the request (`next()`) inside `policy.execute`. The call given to the
 * policy lasts until the response finishes or the connection closes, so a bulkhead slot is
 * held exactly that long and released once. It resolves with a `RequestOutcome`.
 */
export function guard<Req extends IncomingMessage = GuardRequest>(
  policy: Policy | ((req: Req) => Policy),
  options?: GuardOptions<Req>,
): GuardMiddleware<Req> {
  const settings = guardSettings<Req, GuardOptions<Req>['onRejected']>(policy, options);
  const { onRejected, rateLimitHeaders: headers } = settings;
  const adapter: GuardAdapter<Req, ServerResponse> = {
    settings,
    rawRequest: (req) => req,
    rawResponse: (res) => res,
    responseTaken: (res) => res.headersSent || res.destroyed,
    setRateLimitHeaders,
    answerRejection(call, error, rejection) {
      const res = call.reply;
      const fallBack = (thrown: unknown): void => {
        // Before the handler ran, Express's error path takes it; after, the default answer.
        if (!call.started) {
          call.next(thrown);
          return;
        }
        if (res.headersSent) return;
        if (headers) setRateLimitHeaders(res, call.policy);
        answer(res, rejection);
      };
      if (onRejected !== undefined) {
        try {
          const returned: unknown = onRejected(error, call.request, res, call.next);
          // An `async` handler that rejects must not become an unhandled rejection.
          if (isThenable(returned)) returned.then(undefined, fallBack);
          return;
        } catch (thrown) {
          fallBack(thrown);
          return;
        }
      }
      if (res.headersSent) return;
      if (headers) setRateLimitHeaders(res, call.policy);
      answer(res, rejection);
    },
  };

  return function breakwaterGuard(req: Req, res: ServerResponse, next: NextFunctionLike): void {
    guardRequest(adapter, req, res, next);
  };
}

/**
 * An AbortSignal for this request that aborts when the client goes away before the response
 * is complete (reason: an `AbortError` DOMException), or when `guard` gives up on a request
 * whose handler already runs (reason: the policy's error, e.g. a `TimeoutError`). One signal per
 * request; its listeners are removed when the response ends. Pass it as `signal` to outbound
 * policies and `fetch` so work for a departed client stops.
 */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

export function requestSignal(req: IncomingMessage): AbortSignal {
  const existing = existingLifetime(req);
  if (existing !== undefined) return existing.signal;
  const res = responseOfRaw(req);
  if (res === undefined) {
    throw new TypeError('breakwater: requestSignal(req) needs a request whose response is known (Express sets req.res)');
  }
  return lifetimeOf(req, res).signal;
}

function setRateLimitHeaders(res: ServerResponse, policy: Policy): void {
  if (res.headersSent) return;
  const fields = rateLimitFields(rateLimitersOf(policy));
  if (fields === undefined) return;
  res.setHeader('RateLimit-Policy', fields.policy);
  res.setHeader('RateLimit', fields.state);
}

/** The default answer: status, Retry-After when known, and a small JSON body. */
function answer(res: ServerResponse, rejection: Rejection): void {
  const body = rejectionBody(rejection);
  res.statusCode = rejection.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (rejection.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(rejection.retryAfterSeconds));
  res.end(body);
}
