// breakwater/fastify — the guard as a Fastify plugin. Fastify is described structurally here
// and never imported, so breakwater installs nothing.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Policy } from '../core/policy.js';
import { guardRequest, guardSettings, type Continue, type GuardAdapter } from './guard.js';
import { rateLimitFields, rateLimitersOf } from './rate-limit-fields.js';
import { rejectionBody } from './rejections.js';
import { existingLifetime, isServerResponse, lifetimeOf, responseOfRaw } from './request-lifetime.js';

export { rejectionFor, type Rejection } from './rejections.js';
export { type RequestOutcome } from './request-lifetime.js';

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
  const settings = guardSettings<Request, FastifyGuardOptions<Request, Reply>['onRejected']>(policy, options);
  const { onRejected, rateLimitHeaders: headers } = settings;
  const adapter: GuardAdapter<Request, Reply> = {
    settings,
    rawRequest: (request) => request.raw,
    rawResponse: (reply) => reply.raw,
    responseTaken: (reply) => reply.sent || reply.raw.headersSent || reply.raw.destroyed,
    setRateLimitHeaders,
    answerRejection(call, error, rejection) {
      const reply = call.reply;
      if (headers) setRateLimitHeaders(reply, call.policy);
      if (onRejected !== undefined) {
        let result: unknown;
        try {
          result = onRejected(error, call.request, reply);
        } catch (thrown) {
          if (!call.started) call.next(thrown);
          return;
        }
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
          (result as Promise<unknown>).then(undefined, (thrown: unknown) => {
            if (!call.started && !reply.sent) call.next(thrown);
          });
        }
        return;
      }
      // Replying without calling done() stops the hook chain (Fastify's "respond from a hook").
      reply.code(rejection.status).header('content-type', 'application/json; charset=utf-8');
      if (rejection.retryAfterSeconds !== undefined) reply.header('retry-after', String(rejection.retryAfterSeconds));
      reply.send(rejectionBody(rejection));
    },
  };

  function onRequest(request: Request, reply: Reply, done: HookDone): void {
    // HookDone is typed for Error, but thrown values reach done() untouched, as they always have.
    guardRequest(adapter, request, reply, done as Continue);
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
