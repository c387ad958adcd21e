// breakwater/fetch — `fetch` with a policy around every request.
//
// A response with a failure status (503, 429, …) is an outcome the policies must see as a
// failure (retry retries it, the breaker counts it), yet the caller of a fetch expects a
// Response, not an exception. So each attempt throws an HttpStatusError carrying its Response,
// and the outermost layer (here) unwraps it again when the policies give up.

import { currentDeadline, remainingMs, type Deadline } from '../core/deadline.js';
import { TimeoutError } from '../core/errors.js';
import { Pipeline, pipeline } from '../core/pipeline.js';
import type { Policy } from '../core/policy.js';
import { checkNumber, checkOptionsObject, describeValue, optionNames, optionalFunction } from '../core/validate.js';
import { describe, isPolicy } from './policy-arg.js';
import { checkHeaderName, DEFAULT_DEADLINE_HEADER } from './deadline-header.js';
import { parseRetryAfter } from './retry-after.js';

export { parseRetryAfter, parseHttpDate, toRetryAfterSeconds, MAX_RETRY_AFTER_MS } from './retry-after.js';

type Fetch = typeof globalThis.fetch;

/** Options of `resilientFetch(policy, options)`; all optional. */
export interface ResilientFetchOptions {
  /** The fetch to wrap. Default: `globalThis.fetch`, looked up on each call. */
  fetch?: Fetch | undefined;
  /** Statuses that count as failures. Default [408, 429, 500, 502, 503, 504]. */
  failureStatuses?: readonly number[] | undefined;
  /** Also retry (and hedge) methods that are not idempotent (POST, PATCH, …). Default false. */
  retryUnsafeMethods?: boolean | undefined;
  /**
   * Retry (and hedge) a non-idempotent request that carries an `Idempotency-Key` header: the
   * server can tell a resend from a new request. Default false.
   */
  retryWithIdempotencyKey?: boolean | undefined;
  /**
   * Forward the ambient deadline (see `runWithDeadline`; a guard with `deadlineHeader` sets one
   * per request): each attempt sends what is left of it, in milliseconds, in this header
   * (`true`: `x-request-timeout-ms`), no attempt starts once it is spent (the call rejects with
   * a `TimeoutError` and `fetch` is not called), and the call is aborted when it passes.
   * Default false.
   */
  propagateDeadline?: boolean | string | undefined;
  /** Wall-clock milliseconds since the epoch, for HTTP-date Retry-After values. Default `Date.now`. */
  wallClock?: (() => number) | undefined;
}

const RESILIENT_FETCH_OPTIONS = optionNames<ResilientFetchOptions>({
  fetch: true,
  failureStatuses: true,
  retryUnsafeMethods: true,
  retryWithIdempotencyKey: true,
  propagateDeadline: true,
  wallClock: true,
});

/** The statuses a resilient fetch counts as failures by default: 408, 429, 500, 502, 503, 504. */
export const DEFAULT_FAILURE_STATUSES: readonly number[] = Object.freeze([408, 429, 500, 502, 503, 504]);

/** Methods a retry may send again (RFC 9110 idempotent methods, minus TRACE). */
const REPLAYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Brands HttpStatusError instances, so `instanceof` works across the ESM and CJS builds. */
const HTTP_STATUS_BRAND = Symbol.for('breakwater.http-status-error');

/**
 * What each attempt throws for a response whose status is in `failureStatuses`. Policies see
 * it (a retry `handle` or a fallback may test `error instanceof HttpStatusError`); callers of
 * the resilient fetch normally do not: when the policies give up, they get `response` back.
 *
 * It reports the downstream's answer, not a refusal of breakwater's: it is not a
 * `BreakwaterError`, and `isBreakwaterError` is false for it (a 503 stays retryable under
 * `handle: (e) => !isBreakwaterError(e)`).
 *
 * @example
 * ```ts
 * import { fallback, pipeline, retry } from 'breakwater';
 * import { HttpStatusError, resilientFetch } from 'breakwater/fetch';
 *
 * // retry 503s only, and answer a cached page when they keep coming
 * const cachedPage = new Response('cached');
 * const get = resilientFetch(
 *   pipeline(
 *     fallback(() => cachedPage, { handle: (error) => error instanceof HttpStatusError }),
 *     retry({ maxRetries: 2, handle: (error) => error instanceof HttpStatusError && error.status === 503 }),
 *   ),
 * );
 * const page = await get('https://example.com/');
 * ```
 */
export class HttpStatusError extends Error {
  /** Always `'ERR_HTTP_STATUS'`. */
  declare readonly code: 'ERR_HTTP_STATUS';
  /** The response's status. */
  readonly status: number;
  /** From the response's Retry-After (clamped to one day); retry waits at least this long. */
  readonly retryAfterMs: number | undefined;

  /** `retryAfterMs`: the response's Retry-After in milliseconds, if it had a valid one. */
  constructor(
    /** The failure response, body unread. */
    readonly response: Response,
    retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    this.code = 'ERR_HTTP_STATUS';
    this.status = response.status;
    this.retryAfterMs = retryAfterMs;
  }

  /** `instanceof` by brand, so an error from the other build of the library (ESM beside CJS) matches too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // A user's subclass: ordinary prototype-chain semantics.
    if (!Object.prototype.hasOwnProperty.call(this.prototype, HTTP_STATUS_BRAND)) {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[HTTP_STATUS_BRAND] === true;
  }
}
// The name is written out: a bundler may rename the class itself.
Object.defineProperty(HttpStatusError.prototype, 'name', { value: 'HttpStatusError', configurable: true, writable: true });
Object.defineProperty(HttpStatusError.prototype, HTTP_STATUS_BRAND, { value: true });

/**
 * Returns a function with fetch's signature whose every request runs in `policy`. Each attempt
 * calls `fetch(input, { ...init, signal: ctx.signal })`, so a timeout or the caller's abort
 * (`init.signal`) stops the request in flight.
 *
 * @example
 * ```ts
 * import { CircuitOpenError, circuitBreaker, pipeline, retry, timeout } from 'breakwater';
 * import { resilientFetch } from 'breakwater/fetch';
 *
 * const inventory = resilientFetch(
 *   pipeline(
 *     retry({ maxRetries: 2, handle: (error) => !(error instanceof CircuitOpenError) }),
 *     circuitBreaker({ halfOpenAfterMs: 5_000, failureRatio: 0.5, windowMs: 10_000, minimumThroughput: 20 }),
 *     timeout(500),
 *   ),
 *   { propagateDeadline: true },
 * );
 * const response = await inventory('http://inventory.internal/items/42'); // the last Response, even a 503
 * ```
 */
export function resilientFetch(policy: Policy, options?: ResilientFetchOptions): Fetch {
  if (!isPolicy(policy)) {
    throw new TypeError(`breakwater: resilientFetch(policy) needs a policy, received ${describe(policy)}`);
  }
  const opts = checkOptionsObject('resilientFetch', options, false, RESILIENT_FETCH_OPTIONS);
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
  const retryUnsafe = booleanOption(opts, 'retryUnsafeMethods');
  const retryKeyed = booleanOption(opts, 'retryWithIdempotencyKey');
  const propagate = opts['propagateDeadline'];
  const deadlineHeader =
    propagate === undefined || propagate === false
      ? undefined
      : propagate === true
        ? DEFAULT_DEADLINE_HEADER
        : checkHeaderName('propagateDeadline', propagate);
  // Built on first use: the same policies minus their retries, for requests that must be sent once.
  let sendOnce: Policy | undefined;

  const resilient = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const fetchImpl = fetchOption ?? globalThis.fetch;
    const request = isRequest(input) ? input : undefined;
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const replayable =
      (retryUnsafe || REPLAYABLE_METHODS.has(method) || (retryKeyed && hasIdempotencyKey(init, request))) &&
      !isOneShotBody(init?.body);
    const chosen = replayable ? policy : (sendOnce ??= withoutRetries(policy));
    const callerSignal = init?.signal ?? request?.signal ?? undefined;
    const deadline = deadlineHeader === undefined ? undefined : currentDeadline();
    let budget: DeadlineSignal | undefined;
    if (deadline !== undefined) {
      // Nothing is started for a caller who will not wait for the answer.
      if (!(remainingMs(deadline) >= 1)) throw TimeoutError.fast(0);
      budget = new DeadlineSignal(deadline, callerSignal);
    }
    // Failure responses of this call; all but the one returned get their bodies released.
    const failures: Response[] = [];

    const send = async (ctx: { readonly signal: AbortSignal }): Promise<Response> => {
      // A new attempt means the previous failure was thrown away: free its connection now.
      if (failures.length > 0) releaseAll(failures, undefined);
      const signal = ctx.signal;
      let sendInit: RequestInit = init === undefined ? { signal } : { ...init, signal };
      if (budget !== undefined) {
        const left = Math.floor(remainingMs(deadline!));
        // Spent while waiting (a backoff, a queue): give up as the caller's deadline, so that
        // no policy counts it as the downstream's failure and no retry tries again.
        if (left < 1) throw budget.expire();
        const headers = new Headers(init?.headers ?? request?.headers);
        headers.set(deadlineHeader!, String(left));
        sendInit = { ...sendInit, headers };
      }
      // A Request's body can be read once: each attempt sends a copy and the original stays unread.
      const target = request !== undefined ? request.clone() : input;
      const response = await fetchImpl(target, sendInit);
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

    // A request that must be sent once is sent once, whatever the policy: a retry or a hedge
    // hidden inside a custom Policy gets the first attempt's outcome again, not a second request.
    let first: Promise<Response> | undefined;
    const attempt = replayable ? send : (ctx: { readonly signal: AbortSignal }): Promise<Response> => (first ??= send(ctx));

    const signal = budget !== undefined ? budget.signal : callerSignal;
    try {
      const response = await chosen.execute(attempt, signal === undefined ? undefined : { signal });
      if (failures.length > 0) releaseAll(failures, response);
      return response;
    } catch (error) {
      if (error instanceof HttpStatusError && failures.includes(error.response)) {
        releaseAll(failures, error.response);
        return error.response;
      }
      releaseAll(failures, undefined);
      throw error;
    } finally {
      budget?.dispose();
    }
  };
  return resilient as Fetch;
}

/**
 * The policy without what would send a request again: retry and hedge layers are dropped from
 * a pipeline, nested ones too (read structurally, so pipelines of either build work); a lone
 * retry or hedge becomes an empty pipeline. Breakers, bulkheads, limiters and timeouts stay.
 */
function withoutRetries(policy: Policy): Policy {
  // Retries and hedges both send a request more than once.
  const isRetry = (p: unknown): boolean => {
    const kind = (p as { kind?: unknown }).kind;
    return kind === 'retry' || kind === 'hedge';
  };
  if (isRetry(policy)) return pipeline();
  if (policy instanceof Pipeline) return policy.without(isRetry);
  const members = (policy as { policies?: unknown }).policies;
  if ((policy as { kind?: unknown }).kind === 'pipeline' && Array.isArray(members)) {
    const kept = (members as Policy[]).filter((member) => !isRetry(member)).map(withoutRetries);
    return kept.length === members.length && kept.every((member, i) => member === members[i]) ? policy : pipeline(...kept);
  }
  return policy;
}

function booleanOption(opts: Record<string, unknown>, name: string): boolean {
  const value = opts[name] ?? false;
  if (typeof value !== 'boolean') {
    throw new TypeError(`breakwater: option "${name}" must be a boolean, received ${describeValue(value)}`);
  }
  return value;
}

/** Whether the request carries an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header). */
function hasIdempotencyKey(init: RequestInit | undefined, request: Request | undefined): boolean {
  const headers = init?.headers ?? request?.headers;
  if (headers === undefined) return false;
  const value = new Headers(headers).get('idempotency-key');
  return value !== null && value.length > 0;
}

/**
 * The signal a call under a deadline runs with: the caller's, plus an abort with a
 * `TimeoutError` when the deadline passes (a timer on the deadline's own clock). `dispose`
 * removes both the timer and the listener on the caller's signal.
 */
class DeadlineSignal {
  private readonly controller = new AbortController();
  private readonly timer: unknown;
  private readonly onCallerAbort: (() => void) | undefined;
  /** What was left of the deadline when the call started: the error's `timeoutMs`. */
  private readonly budgetMs: number;

  constructor(
    private readonly deadline: Deadline,
    private readonly caller: AbortSignal | undefined,
  ) {
    const budgetMs = remainingMs(deadline);
    this.budgetMs = Math.floor(budgetMs);
    this.timer = deadline.clock.setTimeout(() => this.expire(), budgetMs);
    if (caller !== undefined) {
      if (caller.aborted) this.controller.abort(caller.reason);
      else {
        this.onCallerAbort = () => this.controller.abort(caller.reason);
        caller.addEventListener('abort', this.onCallerAbort, { once: true });
      }
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Aborts with a TimeoutError (unless already aborted) and returns the signal's reason. */
  expire(): unknown {
    if (!this.controller.signal.aborted) this.controller.abort(TimeoutError.fast(this.budgetMs));
    return this.controller.signal.reason;
  }

  dispose(): void {
    this.deadline.clock.clearTimeout(this.timer);
    if (this.onCallerAbort !== undefined) this.caller!.removeEventListener('abort', this.onCallerAbort);
  }
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
