// breakwater/fetch — `fetch` with a policy around every request.
//
// A response with a failure status (503, 429, …) is an outcome the policies must see as a
// failure (retry retries it, the breaker counts it), yet the caller of a fetch expects a
// Response, not an exception. So each attempt throws an HttpStatusError carrying its Response,
// and the outermost layer (here) unwraps it again when the policies give up.

import { BreakwaterError, markErrorClass } from '../core/errors.js';
import { pipeline } from '../core/pipeline.js';
import type { Policy } from '../core/policy.js';
import { checkNumber, checkOptionsObject, describeValue, optionalFunction } from '../core/validate.js';
import { describe, isPolicy } from './policy-arg.js';
import { parseRetryAfter } from './retry-after.js';

export { parseRetryAfter, parseHttpDate, toRetryAfterSeconds, MAX_RETRY_AFTER_MS } from './retry-after.js';

type Fetch = typeof globalThis.fetch;

export interface ResilientFetchOptions {
  /** The fetch to wrap. Default: `globalThis.fetch`, looked up on each call. */
  fetch?: Fetch;
  /** Statuses that count as failures. Default [408, 429, 500, 502, 503, 504]. */
  failureStatuses?: readonly number[];
  /** Also retry (and hedge) methods that are not idempotent (POST, PATCH, …). Default false. */
  retryUnsafeMethods?: boolean;
  /** Wall-clock milliseconds since the epoch, for HTTP-date Retry-After values. Default `Date.now`. */
  wallClock?: () => number;
}

export const DEFAULT_FAILURE_STATUSES: readonly number[] = Object.freeze([408, 429, 500, 502, 503, 504]);

/** Methods a retry may send again (RFC 9110 idempotent methods, minus TRACE). */
const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * What each attempt throws for a response whose status is in `failureStatuses`. Policies see
 * it (a retry `handle` or a fallback may test `error instanceof HttpStatusError`); callers of
 * the resilient fetch normally do not: when the policies give up, they get `response` back.
 */
export class HttpStatusError extends BreakwaterError {
  readonly status: number;
  /** From the response's Retry-After (clamped to one day); retry waits at least this long. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly response: Response,
    retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, 'ERR_HTTP_STATUS');
    this.status = response.status;
    this.retryAfterMs = retryAfterMs;
  }
}
markErrorClass(HttpStatusError, 'ERR_HTTP_STATUS');

/**
 * Returns a function with fetch's signature whose every request runs in `policy`. Each attempt
 * calls `fetch(input, { ...init, signal: ctx.signal })`, so a timeout or the caller's abort
 * (`init.signal`) stops the request in flight.
 */
export function resilientFetch(policy: Policy, options?: ResilientFetchOptions): Fetch {
  if (!isPolicy(policy)) {
    throw new TypeError(`breakwater: resilientFetch(policy) needs a policy, received ${describe(policy)}`);
  }
  const opts = checkOptionsObject('resilientFetch', options, false);
  const fetchOption = optionalFunction<Fetch>('fetch', opts['fetch']);
  const wallClock = optionalFunction<() => number>('wallClock', opts['wallClock']) ?? Date.now;
  const statuses = opts['failureStatuses'] ?? DEFAULT_FAILURE_STATUSES;
  if (!Array.isArray(statuses)) {
    throw new TypeError(`breakwater: option "failureStatuses" must be an array of status codes, received ${describeValue(statuses)}`);
  }
  statuses.forEach((status: unknown, index) =>
    checkNumber(`failureStatuses[${index}]`, status, { min: 100, max: 599, integer: true }),
  );
  const failureStatuses = new Set<number>(statuses as number[]);
  const retryUnsafe = opts['retryUnsafeMethods'] ?? false;
  if (typeof retryUnsafe !== 'boolean') {
    throw new TypeError(`breakwater: option "retryUnsafeMethods" must be a boolean, received ${describeValue(retryUnsafe)}`);
  }
  // Built on first use: the same policies minus their retries, for requests that must be sent once.
  let sendOnce: Policy | undefined;

  const resilient = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const fetchImpl = fetchOption ?? globalThis.fetch;
    const request = isRequest(input) ? input : undefined;
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const replayable = (retryUnsafe || REPLAYABLE_METHODS.has(method)) && !isOneShotBody(init?.body);
    const chosen = replayable ? policy : (sendOnce ??= withoutRetries(policy));
    const callerSignal = init?.signal ?? request?.signal ?? undefined;
    // Failure responses of this call; all but the one returned get their bodies released.
    const failures: Response[] = [];

    const attempt = async (ctx: { readonly signal: AbortSignal }): Promise<Response> => {
      // A new attempt means the previous failure was thrown away: free its connection now.
      if (failures.length > 0) releaseAll(failures, undefined);
      const signal = ctx.signal;
      // A Request's body can be read once: each attempt sends a copy and the original stays unread.
      const target = request !== undefined ? request.clone() : input;
      const response = await fetchImpl(target, init === undefined ? { signal } : { ...init, signal });
      if (signal.aborted) {
        // Arrived after a timeout or abort: nobody will read it.
        release(response);
        throw signal.reason;
      }
      if (failureStatuses.has(response.status)) {
        failures.push(response);
        throw new HttpStatusError(response, parseRetryAfter(response.headers.get('retry-after'), wallClock()));
      }
      return response;
    };

    try {
      const response = await chosen.execute(attempt, callerSignal === undefined ? undefined : { signal: callerSignal });
      if (failures.length > 0) releaseAll(failures, response);
      return response;
    } catch (error) {
      if (error instanceof HttpStatusError && failures.includes(error.response)) {
        releaseAll(failures, error.response);
        return error.response;
      }
      releaseAll(failures, undefined);
      throw error;
    }
  };
  return resilient as Fetch;
}

/** Policies that send a request more than once: retries, and hedges (several copies at once). */
function resends(policy: unknown): boolean {
  const kind = (policy as { kind?: unknown }).kind;
  return kind === 'retry' || kind === 'hedge';
}

/**
 * The policy without what would send a request again: retry and hedge layers are dropped from
 * a pipeline (read structurally, so pipelines of either build work); a lone retry or hedge
 * becomes an empty pipeline. Breakers, bulkheads, limiters and timeouts stay, with their state.
 */
function withoutRetries(policy: Policy): Policy {
  const kind = (policy as { kind?: unknown }).kind;
  if (resends(policy)) return pipeline();
  const members = (policy as { policies?: unknown }).policies;
  if (kind === 'pipeline' && Array.isArray(members)) {
    const kept = (members as Policy[]).filter((member) => !resends(member));
    return kept.length === members.length ? policy : pipeline(...kept);
  }
  return policy;
}

function isRequest(value: unknown): value is Request {
  return typeof Request === 'function' && value instanceof Request;
}

/** A stream or async iterable can be sent once; strings, buffers, Blobs, FormData can be resent. */
function isOneShotBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  return (
    typeof (body as ReadableStream).getReader === 'function' ||
    typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  );
}

function release(response: Response): void {
  const body = response.body;
  if (body === null || body.locked) return;
  // Cancelling an unread body lets undici free the socket; errors here change nothing.
  body.cancel().then(undefined, () => {});
}

function releaseAll(responses: Response[], keep: Response | undefined): void {
  for (const response of responses) if (response !== keep) release(response);
  responses.length = 0;
}
