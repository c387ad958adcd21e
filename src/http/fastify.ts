// breakwater/fastify — the guard as a Fastify plugin. Fastify is described structurally here
// and never imported, so breakwater installs nothing.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import type { Deadline } from '../core/deadline.js';
import type { Policy } from '../core/policy.js';
import { checkOptionsObject } from '../core/validate.js';
import {
  checkPolicyChoice,
  guardRequest,
  guardSettings,
  type Continue,
  type GuardAdapter,
  type GuardSettings,
  type PolicyChoice, GUARD_OPTIONS } from './guard.js';
import type { HeaderAccess, RateLimitHeaderStandard } from './rate-limit-fields.js';
import { checkRetryAfterSeconds, rejectionOf, RequestRefusedError, type Rejection } from './rejections.js';
import { deadlineOfRaw } from './request-deadline.js';
import { existingLifetime, isServerResponse, lifetimeOf, responseOfRaw } from './request-lifetime.js';
import { sealResponse } from './seal.js';

export { rejectionFor, RequestRefusedError, type Rejection } from './rejections.js';
export { type RequestOutcome } from './request-lifetime.js';
export { type RateLimitHeaderStandard } from './rate-limit-fields.js';

/** The parts of a FastifyRequest the guard uses. */
export interface FastifyRequestLike {
  /** Node's request under the Fastify request. */
  readonly raw: IncomingMessage;
}

/** The parts of a FastifyReply the guard uses. */
export interface FastifyReplyLike {
  /** Node's response under the Fastify reply. */
  readonly raw: ServerResponse;
  /** True once the reply was sent. */
  readonly sent: boolean;
  /** Sets the status code. */
  code(statusCode: number): FastifyReplyLike;
  /** Sets a response header. */
  header(key: string, value: unknown): FastifyReplyLike;
  /** Reads a response header set so far. */
  getHeader(key: string): unknown;
  /** Sends the reply (an Error takes Fastify's error path). */
  send(payload?: unknown): FastifyReplyLike;
}

/** The `done` callback Fastify hands an `onRequest` hook: call it once, with an error to fail the request. */
export type HookDone = (error?: Error) => void;

/** The parts of a FastifyInstance the guard uses. */
export interface FastifyInstanceLike {
  // `any` here is deliberate: Fastify's own addHook is a generic overload set that no narrower
  // structural type matches, and the hook is only ever called by Fastify itself.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  /** Registers the guard's `onRequest` hook, which runs the request inside the policy. */
  addHook(name: 'onRequest', hook: (request: any, reply: any, done: HookDone) => void): unknown;
  /** Registers the `onRoute` hook that reads a route's `config.breakwater`. */
  addHook(name: 'onRoute', hook: (routeOptions: { readonly config?: unknown }) => void): unknown;
}

/** The guard's options, for `app.register(breakwaterGuard, { policy, ...options })` or `guard(policy, options)`; all optional. */
export interface FastifyGuardOptions<Request extends FastifyRequestLike = FastifyRequestLike, Reply extends FastifyReplyLike = FastifyReplyLike> {
  /**
   * Answers a rejection breakwater knows (rate limited, bulkhead full, circuit open, timeout)
   * instead of Fastify's error path; it must send a reply. Called only while nothing was sent.
   */
  onRejected?: ((error: unknown, request: Request, reply: Reply) => void | Promise<unknown>) | undefined;
  /**
   * Which RateLimit fields to send for the rate limiters in the policy: `'ietf'` (also `true`;
   * the default), `'legacy'` (`X-RateLimit-*`), `'both'`, or none (`false`).
   */
  rateLimitHeaders?: RateLimitHeaderStandard | boolean | undefined;
  /** `Retry-After` (seconds) for a refusal that knows no retry time, e.g. a full bulkhead. Default 1. */
  retryAfterSeconds?: number | undefined;
  /** Header carrying the caller's remaining budget in ms (`true`: `x-request-timeout-ms`). */
  deadlineHeader?: string | boolean | undefined;
  /** The deadline of a request that brings no budget, and the most a caller may ask for. */
  deadlineMs?: number | undefined;
  /** The clock deadlines are measured on. Default: the system clock. */
  clock?: Clock | undefined;
}

/** What `app.register(breakwaterGuard, options)` takes: the policy and the guard's options. */
export interface BreakwaterGuardOptions<Request extends FastifyRequestLike = FastifyRequestLike, Reply extends FastifyReplyLike = FastifyReplyLike>
  extends FastifyGuardOptions<Request, Reply> {
  /** The policy every request of the context runs inside, or a function of the request that picks one. */
  policy: Policy | ((request: Request) => Policy);
}

/** A FastifyPluginAsync, typed structurally. */
export type FastifyGuardPlugin = (instance: FastifyInstanceLike, options?: unknown) => Promise<void>;

/** Options `register` itself takes and passes on to every plugin; not the guard's. */
const REGISTER_OPTIONS = new Set(['prefix', 'logLevel', 'logSerializers']);

/** The register options minus Fastify's own. */
function ownOptions(options: unknown): Record<string, unknown> {
  const opts = checkOptionsObject('breakwaterGuard', options, false, [...REGISTER_OPTIONS, 'policy', ...GUARD_OPTIONS]);
  const own: Record<string, unknown> = {};
  for (const key of Object.keys(opts)) if (!REGISTER_OPTIONS.has(key)) own[key] = opts[key];
  return own;
}

/** Sets what `fastify-plugin` would: apply to the registering context, a name, the Fastify major. */
function asPlugin(fn: FastifyGuardPlugin): FastifyGuardPlugin {
  Object.defineProperty(fn, Symbol.for('skip-override'), { value: true });
  Object.defineProperty(fn, Symbol.for('fastify.display-name'), { value: 'breakwater' });
  Object.defineProperty(fn, Symbol.for('plugin-meta'), { value: Object.freeze({ name: 'breakwater', fastify: '5.x' }) });
  return fn;
}

/**
 * The guard plugin: `await app.register(breakwaterGuard, { policy, ...options })`. Every request
 * of the context it is registered in (and of that context's children) runs inside the policy,
 * from `onRequest` until the response finishes or the connection closes. Like a
 * `fastify-plugin` plugin it creates no context of its own: register it inside the context you
 * want guarded. A route's `config: { breakwater: policy | false }` replaces the policy for that
 * route, or turns the guard off there. Refusals go through Fastify's error path as a
 * `RequestRefusedError` (`statusCode` 429/503, `headers`), so `setErrorHandler` and the request
 * log see them.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { bulkhead, pipeline, rateLimiter } from 'breakwater';
 * import { breakwaterGuard } from 'breakwater/fastify';
 *
 * const app = Fastify();
 * await app.register(breakwaterGuard, {
 *   policy: pipeline(rateLimiter({ capacity: 200, refillPerSecond: 100 }), bulkhead({ maxConcurrent: 100, maxQueue: 100 })),
 *   deadlineHeader: 'x-request-timeout-ms',
 *   deadlineMs: 3_000,
 * });
 * ```
 */
export const breakwaterGuard: FastifyGuardPlugin = asPlugin(async function breakwater(instance, options) {
  const own = ownOptions(options);
  const { policy, ...rest } = own;
  if (policy === undefined) throw new TypeError('breakwater: breakwaterGuard needs the option "policy"');
  install(instance, guardSettings(policy as PolicyChoice<FastifyRequestLike>, rest));
});

/**
 * `breakwaterGuard` with its policy and options bound: `await app.register(guard(policy, options))`.
 * Options passed to `register` as well are merged over `options`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { bulkhead } from 'breakwater';
 * import { guard } from 'breakwater/fastify';
 *
 * const app = Fastify();
 * await app.register(guard(bulkhead({ maxConcurrent: 100 }), { retryAfterSeconds: 2 }));
 * ```
 */
export function guard<Request extends FastifyRequestLike = FastifyRequestLike, Reply extends FastifyReplyLike = FastifyReplyLike>(
  policy: Policy | ((request: Request) => Policy),
  options?: FastifyGuardOptions<Request, Reply>,
): FastifyGuardPlugin {
  const settings = guardSettings<Request, unknown>(policy, options);
  return asPlugin(async function breakwater(instance, registerOptions) {
    const own = ownOptions(registerOptions);
    if (Object.keys(own).length === 0) {
      install(instance, settings as GuardSettings<FastifyRequestLike, unknown>);
      return;
    }
    const { policy: registered, ...rest } = own;
    install(instance, guardSettings((registered ?? policy) as PolicyChoice<FastifyRequestLike>, { ...options, ...rest }));
  });
}

/** A route's `config.breakwater`, checked once per route: a policy (or chooser), or off. */
type RouteChoice = PolicyChoice<FastifyRequestLike> | false;

const routeChoices = new WeakMap<object, RouteChoice>();

function routeChoiceOf(config: unknown): RouteChoice | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const value = (config as { breakwater?: unknown }).breakwater;
  if (value === undefined) return undefined;
  let choice = routeChoices.get(config);
  if (choice === undefined) {
    if (value !== false) checkPolicyChoice(value, 'a route\'s config.breakwater (false, or a policy)');
    choice = value as RouteChoice;
    routeChoices.set(config, choice);
  }
  return choice;
}

/** Requests whose route policy already ran (when several guard plugins apply, it runs once). */
const routePolicyApplied = new WeakSet<IncomingMessage>();

function install(instance: FastifyInstanceLike, settings: GuardSettings<FastifyRequestLike, unknown>): void {
  const adapter = fastifyAdapter(settings as GuardSettings<FastifyRequestLike, FastifyGuardOptions['onRejected']>);
  // A bad config.breakwater fails the route's registration, not its first request. (Routes
  // added before the plugin loaded are checked at their first request instead.)
  instance.addHook('onRoute', function breakwaterOnRoute(routeOptions) {
    routeChoiceOf(routeOptions.config);
  });
  instance.addHook('onRequest', function breakwaterOnRequest(request: FastifyRequestLike & { routeOptions?: { config?: unknown } }, reply: FastifyReplyLike, done: HookDone): void {
    // HookDone is typed for Error, but thrown values reach done() untouched, as they always have.
    const next = done as Continue;
    let choice: RouteChoice | undefined;
    try {
      choice = routeChoiceOf(request.routeOptions?.config);
    } catch (error) {
      next(error);
      return;
    }
    if (choice === undefined) guardRequest(adapter, request, reply, next);
    else if (choice === false || routePolicyApplied.has(request.raw)) next();
    else {
      routePolicyApplied.add(request.raw);
      guardRequest(adapter, request, reply, next, choice);
    }
  });
}

function fastifyAdapter(settings: GuardSettings<FastifyRequestLike, FastifyGuardOptions['onRejected']>): GuardAdapter<FastifyRequestLike, FastifyReplyLike> {
  const { onRejected } = settings;
  return {
    settings,
    rawRequest: (request) => request.raw,
    rawResponse: (reply) => reply.raw,
    responseTaken: (reply) => reply.sent || reply.raw.headersSent || reply.raw.destroyed,
    headers: replyHeaders,
    seal(reply) {
      sealResponse(reply.raw);
      // The handler's late `return value` or reply.send() would log "Reply was already sent".
      (reply as { send: FastifyReplyLike['send'] }).send = () => reply;
    },
    abortAfterAnswer: true,
    answerRejection(call, error, rejection) {
      const reply = call.reply;
      call.writeRateLimitFields();
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
      const refusal = refusalError(reply, error, rejection);
      // Before the handler: done(error) takes Fastify's error path. After: reply.send(error) does.
      if (call.started) reply.send(refusal);
      else call.next(refusal);
    },
  };
}

/** Sets Retry-After on the reply (as @fastify/rate-limit does) and builds the error to send. */
function refusalError(reply: FastifyReplyLike, cause: unknown, rejection: Rejection): RequestRefusedError {
  if (rejection.retryAfterSeconds !== undefined) reply.header('retry-after', String(rejection.retryAfterSeconds));
  const headers: Record<string, string> = {};
  for (const name of ['retry-after', 'ratelimit-policy', 'ratelimit', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  return new RequestRefusedError(rejection, cause, headers);
}

const replyHeaders: HeaderAccess<FastifyReplyLike> = {
  get: (name, reply) => reply.getHeader(name),
  set: (name, value, reply) => void reply.header(name, value),
};

/** Options of the Fastify `breakwaterErrorHandler()`. */
export interface FastifyErrorHandlerOptions {
  /** `Retry-After` (seconds) for a refusal that knows no retry time. Default 1. */
  retryAfterSeconds?: number | undefined;
}

const ERROR_HANDLER_OPTIONS: readonly string[] = Object.freeze(['retryAfterSeconds']);

/**
 * A `setErrorHandler` function for the refusals a handler's own calls meet (an open breaker, a
 * full bulkhead, a rate limit, a timeout — e.g. from `resilientFetch`): each becomes the same
 * `RequestRefusedError` the guard sends (429/503 with `Retry-After`), handed to the parent
 * error handler; every other error goes to the parent unchanged.
 * `app.setErrorHandler(breakwaterErrorHandler())`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { bulkhead } from 'breakwater';
 * import { breakwaterErrorHandler, breakwaterGuard } from 'breakwater/fastify';
 *
 * const app = Fastify();
 * await app.register(async (api) => {
 *   await api.register(breakwaterGuard, { policy: bulkhead({ maxConcurrent: 100 }) });
 *   api.setErrorHandler(breakwaterErrorHandler()); // a refusal a handler meets → 503 + Retry-After
 * });
 * ```
 */
export function breakwaterErrorHandler(options?: FastifyErrorHandlerOptions): (error: unknown, request: unknown, reply: FastifyReplyLike) => void {
  const opts = checkOptionsObject('breakwaterErrorHandler', options, false, ERROR_HANDLER_OPTIONS);
  const retryAfterSeconds = checkRetryAfterSeconds(opts['retryAfterSeconds']);
  return function breakwaterErrors(error, _request, reply): void {
    const rejection = error instanceof RequestRefusedError ? undefined : rejectionOf(error, retryAfterSeconds);
    // Sending an error from an error handler passes it to the parent error handler.
    reply.send(rejection === undefined ? error : refusalError(reply, error, rejection));
  };
}

/**
 * An AbortSignal that aborts when the client goes away before the response is complete, or
 * when the guard gives up on a request whose handler already runs. One per request. Works for
 * any route guarded by the plugin; elsewhere pass the reply too (`requestSignal(request, reply)`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { requestSignal } from 'breakwater/fastify';
 *
 * const app = Fastify();
 * app.get('/report', async (request, reply) => {
 *   // unguarded route: pass the reply too
 *   const upstream = await fetch('http://reports.internal/build', { signal: requestSignal(request, reply) });
 *   return reply.code(upstream.status).send(await upstream.text());
 * });
 * ```
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

/**
 * The deadline a guard with `deadlineHeader` or `deadlineMs` set for this request
 * (`remainingMs(deadline)` is what is left of it), or undefined when it has none.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { bulkhead, remainingMs } from 'breakwater';
 * import { breakwaterGuard, requestDeadline } from 'breakwater/fastify';
 *
 * const app = Fastify();
 * await app.register(breakwaterGuard, { policy: bulkhead({ maxConcurrent: 100 }), deadlineMs: 3_000 });
 * app.get('/search', async (request) => {
 *   const deadline = requestDeadline(request);
 *   return { budgetLeftMs: deadline === undefined ? null : Math.round(remainingMs(deadline)) };
 * });
 * ```
 */
export function requestDeadline(request: FastifyRequestLike): Deadline | undefined {
  return deadlineOfRaw(request.raw);
}
