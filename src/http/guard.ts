// guard: one inbound request run inside a policy. Express and Fastify differ only in the parts
// a GuardAdapter supplies: how to continue, how a reply is sent, how "already sent" is seen.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy } from '../core/policy.js';
import { checkOptionsObject, optionalFunction } from '../core/validate.js';
import { describe, isPolicy } from './policy-arg.js';
import { rejectionFor, type Rejection } from './rejections.js';
import { lifetimeOf, type RequestOutcome } from './request-lifetime.js';

/** `guard`'s arguments once checked; both frameworks take the same ones. */
export interface GuardSettings<Request, OnRejected> {
  /** One policy for every request, or a function choosing it per request. */
  readonly policy: Policy | ((request: Request) => Policy);
  readonly onRejected: OnRejected | undefined;
  readonly rateLimitHeaders: boolean;
}

/** Checks `guard(policy, options)` once, when the guard is made. */
export function guardSettings<Request, OnRejected>(
  policy: Policy | ((request: Request) => Policy),
  options: unknown,
): GuardSettings<Request, OnRejected> {
  if (typeof policy !== 'function' && !isPolicy(policy)) {
    throw new TypeError(`breakwater: guard(policy) needs a policy or a function returning one, received ${describe(policy)}`);
  }
  const opts = checkOptionsObject('guard', options, false);
  const onRejected = optionalFunction<OnRejected>('onRejected', opts['onRejected']);
  const rateLimitHeaders = opts['rateLimitHeaders'] ?? true;
  if (typeof rateLimitHeaders !== 'boolean') {
    throw new TypeError(`breakwater: option "rateLimitHeaders" must be a boolean, received ${describe(rateLimitHeaders)}`);
  }
  return { policy, onRejected, rateLimitHeaders };
}

/**
 * The framework's continuation, Express's `next` and Fastify's hook `done` alike: called with
 * nothing it runs the rest of the request; called with an error it takes the framework's error path.
 */
export type Continue = (error?: unknown) => void;

/** One request under guard, as the adapter's `answerRejection` sees it. */
export interface GuardedCall<Request, Reply> {
  readonly request: Request;
  readonly reply: Reply;
  /** The policy chosen for this request. */
  readonly policy: Policy;
  /** Whether the handler was started. Read it when needed: it can change while an answer is pending. */
  readonly started: boolean;
  readonly next: Continue;
}

/** What one framework does its own way. Built once per guard. */
export interface GuardAdapter<Request, Reply> {
  readonly settings: GuardSettings<Request, unknown>;
  /** The raw request, which keys the request's lifetime. */
  rawRequest(request: Request): IncomingMessage;
  /** The response the request is answered on. */
  rawResponse(reply: Reply): ServerResponse;
  /** True when a response is already under way or its socket is gone: nothing more may be sent. */
  responseTaken(reply: Reply): boolean;
  /** Sets the RateLimit fields for the limiters in `policy`, unless headers were already sent. */
  setRateLimitHeaders(reply: Reply, policy: Policy): void;
  /**
   * Answers one of breakwater's own rejections (the user's onRejected or the default JSON).
   * Called only while nothing was sent and the client is still there. Left to each framework
   * because their onRejected contracts differ: Express sets the RateLimit fields only for its
   * default answer and falls back to it when onRejected throws after the handler started;
   * Fastify sets them first, watches a promise onRejected returns, and never answers twice.
   */
  answerRejection(call: GuardedCall<Request, Reply>, error: unknown, rejection: Rejection): void;
}

/**
 * Runs the rest of one request (`next()`) inside the guard's policy. The call given to the policy
 * lasts until the response finishes or the connection closes, so a bulkhead slot is held exactly
 * that long and released once; it resolves with a `RequestOutcome`. When the policy rejects,
 * breakwater's own errors are answered (429/503) and any other error goes to `next(error)`.
 */
export function guardRequest<Request, Reply>(
  adapter: GuardAdapter<Request, Reply>,
  request: Request,
  reply: Reply,
  next: Continue,
): void {
  const { policy, rateLimitHeaders } = adapter.settings;
  let chosen: Policy;
  if (typeof policy === 'function') {
    try {
      chosen = policy(request);
    } catch (error) {
      next(error);
      return;
    }
    if (!isPolicy(chosen)) {
      next(new TypeError(`breakwater: guard's policy function must return a policy, received ${describe(chosen)}`));
      return;
    }
  } else chosen = policy;

  const lifetime = lifetimeOf(adapter.rawRequest(request), adapter.rawResponse(reply));
  const call: { -readonly [K in keyof GuardedCall<Request, Reply>]: GuardedCall<Request, Reply>[K] } = {
    request,
    reply,
    policy: chosen,
    started: false,
    next,
  };

  const run = (): Promise<RequestOutcome> => {
    // A policy that calls fn after giving up (or a client already gone) must not start the handler.
    if (lifetime.ended) return new Promise<RequestOutcome>((resolve) => lifetime.whenDone(resolve));
    call.started = true;
    if (rateLimitHeaders) adapter.setRateLimitHeaders(reply, chosen);
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
      if (call.started) lifetime.abort(error);
    }
  };

  const reject = (error: unknown): void => {
    // A client that left (or a response already under way) gets nothing more from us.
    if (lifetime.ended || adapter.responseTaken(reply)) return;
    const rejection = rejectionFor(error);
    if (rejection === undefined) {
      // Not ours to answer. Before the handler ran, the framework's error path takes it; after,
      // the handler still owns the response.
      if (!call.started) next(error);
      return;
    }
    adapter.answerRejection(call, error, rejection);
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
}
