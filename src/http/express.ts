// breakwater/express — inbound protection for Express (or any connect-style server).
// Never imports express: it works on Node's own request/response objects.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy } from '../core/policy.js';
import { checkOptionsObject, optionalFunction } from '../core/validate.js';
import {
  describe,
  existingLifetime,
  isPolicy,
  lifetimeOf,
  rateLimitFields,
  rateLimitersOf,
  rejectionBody,
  rejectionFor,
  responseOfRaw,
  type Rejection,
  type RequestOutcome,
} from './shared.js';

export { rejectionFor, type Rejection, type RequestOutcome } from './shared.js';

/** The request as guard sees it: Node's IncomingMessage (Express adds `ip` and `res`). */
export type GuardRequest = IncomingMessage & { readonly ip?: string | undefined };

export type NextFunctionLike = (error?: unknown) => void;

export interface GuardOptions<Req extends IncomingMessage = GuardRequest> {
  /**
   * Answers a rejection breakwater knows (rate limited, bulkhead full, circuit open, timeout)
   * instead of the default JSON answer. Called only while no headers were sent.
   */
  onRejected?: (error: unknown, req: Req, res: ServerResponse, next: NextFunctionLike) => void;
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
  if (typeof policy !== 'function' && !isPolicy(policy)) {
    throw new TypeError(`breakwater: guard(policy) needs a policy or a function returning one, received ${describe(policy)}`);
  }
  const opts = checkOptionsObject('guard', options, false);
  const onRejected = optionalFunction<GuardOptions<Req>['onRejected']>('onRejected', opts['onRejected']);
  const headers = opts['rateLimitHeaders'] ?? true;
  if (typeof headers !== 'boolean') {
    throw new TypeError(`breakwater: option "rateLimitHeaders" must be a boolean, received ${describe(headers)}`);
  }
  const pick = typeof policy === 'function' ? policy : undefined;

  return function breakwaterGuard(req: Req, res: ServerResponse, next: NextFunctionLike): void {
    let chosen: Policy;
    if (pick !== undefined) {
      try {
        chosen = pick(req);
      } catch (error) {
        next(error);
        return;
      }
      if (!isPolicy(chosen)) {
        next(new TypeError(`breakwater: guard's policy function must return a policy, received ${describe(chosen)}`));
        return;
      }
    } else chosen = policy as Policy;

    const lifetime = lifetimeOf(req, res);
    let started = false;
    const run = (): Promise<RequestOutcome> => {
      // A policy that calls fn after giving up (or a client already gone) must not start the handler.
      if (lifetime.ended) return new Promise<RequestOutcome>((resolve) => lifetime.whenDone(resolve));
      started = true;
      if (headers) setRateLimitHeaders(res, chosen);
      return new Promise<RequestOutcome>((resolve) => {
        // Subscribe before next(): a handler may answer synchronously.
        lifetime.whenDone(resolve);
        next();
      });
    };

    const onFailure = (error: unknown): void => {
      try {
        reject(error);
      } finally {
        // Once the handler runs, the request's signal tells its outbound calls to stop. After
        // our answer, so a handler reacting to the abort finds the response already taken.
        if (started) lifetime.abort(error);
      }
    };

    const reject = (error: unknown): void => {
      // A client that left (or a response already under way) gets nothing more from us.
      if (lifetime.ended || res.headersSent || res.destroyed) return;
      const rejection = rejectionFor(error);
      if (rejection === undefined) {
        // Not ours to answer. Before the handler ran, Express's error path takes it; after,
        // the handler still owns the response.
        if (!started) next(error);
        return;
      }
      if (onRejected !== undefined) {
        try {
          onRejected(error, req, res, next);
          return;
        } catch (thrown) {
          if (!started) {
            next(thrown);
            return;
          }
        }
      }
      if (res.headersSent) return;
      if (headers) setRateLimitHeaders(res, chosen);
      answer(res, rejection);
    };

    let promise: Promise<unknown>;
    try {
      promise = chosen.execute(run, { signal: lifetime.signal });
    } catch (error) {
      // A custom Policy that breaks the "never throws synchronously" rule.
      onFailure(error);
      return;
    }
    promise.then(undefined, onFailure);
  };
}

/**
 * An AbortSignal for this request that aborts when the client goes away before the response
 * is complete (reason: an `AbortError` DOMException), or when `guard` gives up on a request
 * whose handler already runs (reason: the policy's error, e.g. a `TimeoutError`). One signal per
 * request; its listeners are removed when the response ends. Pass it as `signal` to outbound
 * policies and `fetch` so work for a departed client stops.
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
