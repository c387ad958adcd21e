// Pieces shared by the Express, Fastify and fetch integrations: how breakwater's rejections
// become HTTP answers, Retry-After in both directions, the IETF RateLimit fields, one
// AbortSignal per inbound request that fires when the client leaves early, and the life of one
// request under `guard`, whatever the framework.

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BulkheadFullError,
  CircuitIsolatedError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from '../core/errors.js';
import type { Policy } from '../core/policy.js';
import { checkOptionsObject, optionalFunction } from '../core/validate.js';

/** The options of `guard`, Express and Fastify alike. */
export const GUARD_OPTIONS: readonly string[] = Object.freeze(['onRejected', 'rateLimitHeaders']);

// ---------------------------------------------------------------------------------------------
// Rejections → HTTP answers

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

// ---------------------------------------------------------------------------------------------
// Retry-After

/** Longest wait a parsed Retry-After may ask for: one day. Longer values are clamped to it. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * Milliseconds → Retry-After delta-seconds: rounded up, at least 1 (a `Retry-After: 0` invites
 * an immediate retry storm), and at most one day. Undefined for unknown (NaN, ±Infinity, < 0).
 */
export function toRetryAfterSeconds(ms: number): number | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return undefined;
  const seconds = Math.ceil(Math.min(ms, MAX_RETRY_AFTER_MS) / 1000);
  return seconds < 1 ? 1 : seconds;
}

const DELTA_SECONDS = /^\d+$/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete forms recipients must still accept.
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function utc(year: number, monthName: string, day: number, h: number, m: number, s: number): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month === -1 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
  const time = Date.UTC(year, month, day, h, m, s);
  // Date.UTC rolls 31 Feb over into March; a date that does not exist is garbage.
  return new Date(time).getUTCDate() === day ? time : undefined;
}

/** Milliseconds since the epoch for an HTTP-date, or undefined. Stricter than `Date.parse`. */
export function parseHttpDate(value: string, nowMs: number): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match !== null) return utc(+match[3]!, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!);
  match = RFC850_DATE.exec(value);
  if (match !== null) {
    // Two-digit year: RFC 9110 says a year more than 50 years in the future is in the past century.
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + +match[3]!;
    if (year > nowYear + 50) year -= 100;
    return utc(year, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!);
  }
  match = ASCTIME_DATE.exec(value);
  if (match !== null) return utc(+match[6]!, match[1]!, +match[2]!.trim(), +match[3]!, +match[4]!, +match[5]!);
  return undefined;
}

/**
 * Parses a Retry-After field value into milliseconds to wait, or undefined when it is invalid.
 * - delta-seconds: ASCII digits only (`1.5`, `+3`, `-5`, `1e3` are invalid);
 * - HTTP-date: relative to `nowMs` (wall-clock epoch ms); a date in the past means 0;
 * - anything else (including several comma-joined values) is ignored;
 * - the result is clamped to `maxMs` (default one day).
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
  maxMs: number = MAX_RETRY_AFTER_MS,
): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length === 0) return undefined;
  if (DELTA_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    return ms > maxMs ? maxMs : ms;
  }
  const date = parseHttpDate(text, nowMs);
  if (date === undefined) return undefined;
  const ms = date - nowMs;
  if (!(ms > 0)) return 0;
  return ms > maxMs ? maxMs : ms;
}

// ---------------------------------------------------------------------------------------------
// IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10)

/** What a policy must expose for guard to advertise it (breakwater's RateLimiter does). */
export interface RateLimitInfo {
  readonly name: string;
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly available: number;
}

function isRateLimitInfo(value: unknown): value is RateLimitInfo {
  if (typeof value !== 'object' || value === null || !('available' in value)) return false;
  const { capacity, refillPerSecond } = value as Record<string, unknown>;
  return (
    typeof capacity === 'number' &&
    typeof refillPerSecond === 'number' &&
    capacity > 0 &&
    refillPerSecond > 0 &&
    Number.isFinite(capacity) &&
    Number.isFinite(refillPerSecond)
  );
}

const pipelineCache = new WeakMap<object, readonly RateLimitInfo[]>();
const NONE: readonly RateLimitInfo[] = [];

/**
 * The token buckets inside a policy: the policy itself, or the members of a pipeline (read
 * structurally through `policies`, so a pipeline from the other build works too). A pipeline's
 * members never change, so its answer is cached; a lone limiter (a keyed limiter's `get(key)`
 * makes a new view per request) is checked directly.
 */
export function rateLimitersOf(policy: Policy): readonly RateLimitInfo[] {
  const members = (policy as { policies?: unknown }).policies;
  if (!Array.isArray(members)) return isRateLimitInfo(policy) ? [policy] : NONE;
  const cached = pipelineCache.get(policy);
  if (cached !== undefined) return cached;
  const found: RateLimitInfo[] = [];
  const visit = (p: unknown): void => {
    if (isRateLimitInfo(p)) found.push(p);
    const inner = (p as { policies?: unknown } | null)?.policies;
    if (Array.isArray(inner)) for (const member of inner) visit(member);
  };
  visit(policy);
  const result = found.length === 0 ? NONE : found;
  pipelineCache.set(policy, result);
  return result;
}

/** An sf-string: printable ASCII only, `"` and `\` escaped; anything else becomes `_`. */
function sfString(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The two fields for the limiters of one request:
 * `RateLimit-Policy: "<name>";q=<capacity>;w=<ceil(capacity / refillPerSecond)>`
 * `RateLimit: "<name>";r=<floor(available)>;t=<ceil((capacity − available) / refillPerSecond)>`
 * `w` is the time an empty bucket takes to refill completely and `t` the time until this
 * bucket is full again, in whole seconds. Several limiters are listed comma-separated.
 */
export function rateLimitFields(limiters: readonly RateLimitInfo[]): { policy: string; state: string } | undefined {
  if (limiters.length === 0) return undefined;
  let policy = '';
  let state = '';
  for (const limiter of limiters) {
    const { capacity, refillPerSecond } = limiter;
    const available = Math.max(0, Math.min(capacity, limiter.available));
    const name = sfString(limiter.name);
    const window = Math.max(1, Math.ceil(capacity / refillPerSecond));
    const reset = Math.max(0, Math.ceil((capacity - available) / refillPerSecond));
    if (policy.length > 0) {
      policy += ', ';
      state += ', ';
    }
    policy += `${name};q=${Math.floor(capacity)};w=${window}`;
    state += `${name};r=${Math.floor(available)};t=${reset}`;
  }
  return { policy, state };
}

// ---------------------------------------------------------------------------------------------
// One lifetime per inbound request: its "client left" signal and its "response done" promise

/** How the request ended: the response finished, or the connection closed before that. */
export type RequestOutcome = { readonly finished: true; readonly statusCode: number } | { readonly finished: false };

/** Tracks one response: `done` settles once, on 'finish' or 'close'; `signal` aborts early leaves. */
export class RequestLifetime {
  private controller: AbortController | undefined = undefined;
  private doneCallbacks: Array<(outcome: RequestOutcome) => void> | undefined = undefined;
  private outcome: RequestOutcome | undefined = undefined;
  private readonly onFinish: () => void;
  private readonly onClose: () => void;

  constructor(private readonly res: ServerResponse) {
    this.onFinish = () => this.end({ finished: true, statusCode: res.statusCode });
    this.onClose = () => {
      if (res.writableFinished) this.end({ finished: true, statusCode: res.statusCode });
      else {
        this.end({ finished: false });
        this.controller?.abort(clientGone());
      }
    };
    if (res.writableFinished) this.outcome = { finished: true, statusCode: res.statusCode };
    else if (res.destroyed) this.outcome = { finished: false };
    else {
      res.once('finish', this.onFinish);
      res.once('close', this.onClose);
    }
  }

  get ended(): boolean {
    return this.outcome !== undefined;
  }

  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === undefined) {
      controller = new AbortController();
      this.controller = controller;
      if (this.outcome !== undefined && !this.outcome.finished) controller.abort(clientGone());
    }
    return controller.signal;
  }

  /** Aborts the signal with `reason` (guard gave up on the request, e.g. its deadline fired). */
  abort(reason: unknown): void {
    const controller = this.controller;
    if (controller === undefined) {
      this.controller = new AbortController();
      this.controller.abort(reason);
    } else if (!controller.signal.aborted) controller.abort(reason);
  }

  /** Calls `callback` once when the response is done (at once if it already is). */
  whenDone(callback: (outcome: RequestOutcome) => void): void {
    if (this.outcome !== undefined) callback(this.outcome);
    else (this.doneCallbacks ??= []).push(callback);
  }

  private end(outcome: RequestOutcome): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    // Listeners go as soon as the response is over: keep-alive sockets serve many requests.
    this.res.removeListener('finish', this.onFinish);
    this.res.removeListener('close', this.onClose);
    const callbacks = this.doneCallbacks;
    this.doneCallbacks = undefined;
    if (callbacks !== undefined) for (const callback of callbacks) callback(outcome);
  }
}

function clientGone(): DOMException {
  return new DOMException('The client closed the connection before the response was complete', 'AbortError');
}

const lifetimes = new WeakMap<object, RequestLifetime>();

/** The lifetime of the request identified by `key` (one per request), answered on `res`. */
export function lifetimeOf(key: object, res: ServerResponse): RequestLifetime {
  let lifetime = lifetimes.get(key);
  if (lifetime === undefined) {
    lifetime = new RequestLifetime(res);
    lifetimes.set(key, lifetime);
  }
  return lifetime;
}

/** An existing lifetime, if guard or requestSignal already made one for `key`. */
export function existingLifetime(key: object): RequestLifetime | undefined {
  return lifetimes.get(key);
}

/**
 * The ServerResponse of a raw request when nobody handed it to us: Express sets `req.res`;
 * otherwise Node's socket points at the response it is writing, which we accept only if that
 * response says it answers this very request.
 */
export function responseOfRaw(req: IncomingMessage): ServerResponse | undefined {
  const own = (req as { res?: unknown }).res;
  if (isServerResponse(own)) return own;
  const current = (req.socket as unknown as { _httpMessage?: unknown } | null)?._httpMessage;
  if (isServerResponse(current) && (current as { req?: unknown }).req === req) return current;
  return undefined;
}

export function isServerResponse(value: unknown): value is ServerResponse {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ServerResponse).once === 'function' &&
    typeof (value as ServerResponse).writableFinished === 'boolean' &&
    typeof (value as ServerResponse).setHeader === 'function'
  );
}

export function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && typeof (value as Policy).execute === 'function';
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  return typeof value;
}

// ---------------------------------------------------------------------------------------------
// guard: one inbound request run inside a policy. Express and Fastify differ only in the parts
// a GuardAdapter supplies: how to continue, how a reply is sent, how "already sent" is seen.

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
  const opts = checkOptionsObject('guard', options, false, GUARD_OPTIONS);
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
