// breakwater/fastify — the guard as a Fastify plugin. Fastify is described structurally here
// and never imported, so breakwater installs nothing.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy } from '../core/policy.js';
import { checkOptionsObject, optionalFunction } from '../core/validate.js';
import {
  describe,
  existingLifetime,
  isServerResponse,
  isPolicy,
  lifetimeOf,
  rateLimitFields,
  rateLimitersOf,
  rejectionBody,
  rejectionFor,
  responseOfRaw,
  type RequestOutcome,
} from './shared.js';

export { rejectionFor, type Rejection, type RequestOutcome } from './shared.js';

/** The parts of a FastifyRequest the guard uses. */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
}

/** The parts of a FastifyReply the guard uses. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse;
  readonly sent: boolean;
  code(statusCode: number): FastifyReplyLike;
  header(key: string, value: unknown): FastifyReplyLike;
  send(payload?: unknown): FastifyReplyLike;
}

type HookDone = (error?: Error) => void;

/** The parts of a FastifyInstance the guard uses. */
export interface FastifyInstanceLike {
  // `any` here is deliberate: Fastify's own addHook is a generic overload set that no narrower
  // structural type matches, and the hook is only ever called by Fastify itself.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addHook(name: 'onRequest', hook: (request: any, reply: any, done: HookDone) => void): unknown;
}

export interface FastifyGuardOptions<Request extends FastifyRequestLike = FastifyRequestLike, Reply extends FastifyReplyLike = FastifyReplyLike> {
  /**
   * Answers a rejection breakwater knows (rate limited, bulkhead full, circuit open, timeout)
   * instead of the default JSON answer; it must send a reply. Called only while nothing was sent.
   */
  onRejected?: (error: unknown, request: Request, reply: Reply) => void | Promise<unknown>;
  /** Send `RateLimit-Policy` / `RateLimit` for the rate limiters in the policy. Default true. */
  rateLimitHeaders?: boolean;
}

/** A FastifyPluginAsync, typed structurally. */
export type FastifyGuardPlugin = (instance: FastifyInstanceLike, options: unknown) => Promise<void>;

/**
 * A Fastify plugin that runs every request of the context it is registered in (and of that
 * context's children) inside `policy.execute`, from `onRequest` until the response finishes
 * or the connection closes. Like a `fastify-plugin` plugin it does not create a context of
 * its own (it sets `skip-override`): register it inside the context you want guarded.
 */
export function guard<Request extends FastifyRequestLike = FastifyRequestLike, Reply extends FastifyReplyLike = FastifyReplyLike>(
  policy: Policy | ((request: Request) => Policy),
  options?: FastifyGuardOptions<Request, Reply>,
): FastifyGuardPlugin {
  if (typeof policy !== 'function' && !isPolicy(policy)) {
    throw new TypeError(`breakwater: guard(policy) needs a policy or a function returning one, received ${describe(policy)}`);
  }
  const opts = checkOptionsObject('guard', options, false);
  const onRejected = optionalFunction<FastifyGuardOptions<Request, Reply>['onRejected']>('onRejected', opts['onRejected']);
  const headers = opts['rateLimitHeaders'] ?? true;
  if (typeof headers !== 'boolean') {
    throw new TypeError(`breakwater: option "rateLimitHeaders" must be a boolean, received ${describe(headers)}`);
  }
  const pick = typeof policy === 'function' ? policy : undefined;

  function onRequest(request: Request, reply: Reply, done: HookDone): void {
    let chosen: Policy;
    if (pick !== undefined) {
      try {
        chosen = pick(request);
      } catch (error) {
        done(error as Error);
        return;
      }
      if (!isPolicy(chosen)) {
        done(new TypeError(`breakwater: guard's policy function must return a policy, received ${describe(chosen)}`));
        return;
      }
    } else chosen = policy as Policy;

    const lifetime = lifetimeOf(request.raw, reply.raw);
    let started = false;
    const run = (): Promise<RequestOutcome> => {
      // A policy that calls fn after giving up (or a client already gone) must not start the handler.
      if (lifetime.ended) return new Promise<RequestOutcome>((resolve) => lifetime.whenDone(resolve));
      started = true;
      if (headers) setRateLimitHeaders(reply, chosen);
      return new Promise<RequestOutcome>((resolve) => {
        lifetime.whenDone(resolve);
        done();
      });
    };

    const onFailure = (error: unknown): void => {
      try {
        reject(error);
      } finally {
        if (started) lifetime.abort(error);
      }
    };

    const reject = (error: unknown): void => {
      if (lifetime.ended || reply.sent || reply.raw.headersSent || reply.raw.destroyed) return;
      const rejection = rejectionFor(error);
      if (rejection === undefined) {
        // Before the handler: Fastify's error handling answers. After: the handler owns the reply.
        if (!started) done(error as Error);
        return;
      }
      if (headers) setRateLimitHeaders(reply, chosen);
      if (onRejected !== undefined) {
        let result: unknown;
        try {
          result = onRejected(error, request, reply);
        } catch (thrown) {
          if (!started) done(thrown as Error);
          return;
        }
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
          (result as Promise<unknown>).then(undefined, (thrown: unknown) => {
            if (!started && !reply.sent) done(thrown as Error);
          });
        }
        return;
      }
      // Replying without calling done() stops the hook chain (Fastify's "respond from a hook").
      reply.code(rejection.status).header('content-type', 'application/json; charset=utf-8');
      if (rejection.retryAfterSeconds !== undefined) reply.header('retry-after', String(rejection.retryAfterSeconds));
      reply.send(rejectionBody(rejection));
    };

    let promise: Promise<unknown>;
    try {
      promise = chosen.execute(run, { signal: lifetime.signal });
    } catch (error) {
      onFailure(error);
      return;
    }
    promise.then(undefined, onFailure);
  }

  const plugin = async function breakwaterGuard(instance: FastifyInstanceLike): Promise<void> {
    instance.addHook('onRequest', onRequest);
  };
  // The same switches fastify-plugin sets: apply to the registering context, show a readable name.
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: 'breakwater-guard' });
  return plugin;
}

/**
 * An AbortSignal that aborts when the client goes away before the response is complete, or
 * when the guard gives up on a request whose handler already runs. One per request. Works for
 * any route guarded by `guard`; elsewhere pass the reply too (`requestSignal(request, reply)`).
 */
export function requestSignal(request: FastifyRequestLike, reply?: { readonly raw: ServerResponse }): AbortSignal {
  const raw = request.raw;
  const existing = existingLifetime(raw);
  if (existing !== undefined) return existing.signal;
  const res = reply !== undefined && isServerResponse(reply.raw) ? reply.raw : responseOfRaw(raw);
  if (res === undefined) {
    throw new TypeError('breakwater: requestSignal(request) needs the guard plugin on the route or the reply: requestSignal(request, reply)');
  }
  return lifetimeOf(raw, res).signal;
}

function setRateLimitHeaders(reply: FastifyReplyLike, policy: Policy): void {
  if (reply.raw.headersSent) return;
  const fields = rateLimitFields(rateLimitersOf(policy));
  if (fields === undefined) return;
  reply.header('ratelimit-policy', fields.policy);
  reply.header('ratelimit', fields.state);
}
