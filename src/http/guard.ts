// guard: one inbound request run inside a policy. Express and Fastify differ only in the parts
// a GuardAdapter supplies: how to continue, how a refusal is answered, how "already sent" is seen.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../core/clock.js';
import { runWithDeadline } from '../core/deadline.js';
import type { Policy } from '../core/policy.js';
import { checkClock, checkNumber, checkOptionsObject, optionalFunction } from '../core/validate.js';
import { timeout } from '../timeout/timeout.js';
import { describe, isPolicy } from './policy-arg.js';
import {
  checkRateLimitHeaders,
  rateLimitersOf,
  writeRateLimitFields,
  type HeaderAccess,
  type RateLimitHeaderStandard,
} from './rate-limit-fields.js';
import { checkRetryAfterSeconds, rejectionOf, type Rejection } from './rejections.js';
import { checkHeaderName, DEFAULT_DEADLINE_HEADER } from './deadline-header.js';
import { establishDeadline, type DeadlineSettings } from './request-deadline.js';
import { lifetimeOf, type RequestOutcome } from './request-lifetime.js';

/** The options of `guard`, Express and Fastify alike. */
export const GUARD_OPTIONS: readonly string[] = Object.freeze([
  'onRejected',
  'rateLimitHeaders',
  'retryAfterSeconds',
  'deadlineHeader',
  'deadlineMs',
  'clock',
]);

/** A request's policy: one for every request, or a function choosing it per request. */
export type PolicyChoice<Request> = Policy | ((request: Request) => Policy);

/** `guard`'s arguments once checked; both frameworks take the same ones. */
export interface GuardSettings<Request, OnRejected> {
  readonly policy: PolicyChoice<Request>;
  readonly onRejected: OnRejected | undefined;
  readonly rateLimitHeaders: RateLimitHeaderStandard | false;
  /** `Retry-After` of a refusal that knows no retry time. */
  readonly retryAfterSeconds: number;
  /** How a request's deadline is found; undefined when the guard sets none. */
  readonly deadline: DeadlineSettings | undefined;
  /** Times a request out at its deadline: a `timeout` that the ambient deadline caps. */
  readonly deadlineTimeout: Policy | undefined;
}

/** Checks `guard(policy, options)` once, when the guard is made. */

export function guardSettings<Request, OnRejected>(policy: PolicyChoice<Request>, options: unknown): GuardSettings<Request, OnRejected> {
  checkPolicyChoice(policy, 'guard(policy)');
  const opts = checkOptionsObject('guard', options, false, GUARD_OPTIONS);
  const onRejected = optionalFunction<OnRejected>('onRejected', opts['onRejected']);
  const rateLimitHeaders = checkRateLimitHeaders(opts['rateLimitHeaders']);
  const retryAfterSeconds = checkRetryAfterSeconds(opts['retryAfterSeconds']);
  const headerOption = opts['deadlineHeader'];
  const header =
    headerOption === undefined || headerOption === false
      ? undefined
      : headerOption === true
        ? DEFAULT_DEADLINE_HEADER
        : checkHeaderName('deadlineHeader', headerOption);
  const maxMs = opts['deadlineMs'] === undefined ? undefined : checkNumber('deadlineMs', opts['deadlineMs'], { above: 0 });
  checkClock(opts['clock']);
  const clock = (opts['clock'] as Clock | undefined) ?? systemClock;
  const deadline = header === undefined && maxMs === undefined ? undefined : { header, maxMs, clock };
  // Longer than any budget: the ambient deadline it runs under always caps it.
  const deadlineTimeout = deadline === undefined ? undefined : timeout(Number.MAX_SAFE_INTEGER, { clock, name: 'request-deadline' });
  return { policy, onRejected, rateLimitHeaders, retryAfterSeconds, deadline, deadlineTimeout };
}

export function checkPolicyChoice(policy: unknown, where: string): void {
  if (typeof policy !== 'function' && !isPolicy(policy)) {
    throw new TypeError(`breakwater: ${where} needs a policy or a function returning one, received ${describe(policy)}`);
  }
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
  /** Writes this guard's RateLimit fields, once per request (a no-op after the first time). */
  writeRateLimitFields(): void;
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
  /** Reads and sets the reply's headers, for the RateLimit fields. */
  readonly headers: HeaderAccess<Reply>;
  /**
   * Answers one of breakwater's own rejections (the user's onRejected or the default answer).
   * Called only while nothing was sent and the client is still there.
   */
  answerRejection(call: GuardedCall<Request, Reply>, error: unknown, rejection: Rejection): void;
  /** Makes the handler's later writes quiet no-ops; called once the guard's answer is written. */
  seal(reply: Reply): void;
  /**
   * Abort the request's signal only once the guard's answer is complete. Fastify needs it: a
   * handler reacting to the abort must find the reply sent, or Fastify would answer twice.
   */
  readonly abortAfterAnswer: boolean;
}

/**
 * Runs the rest of one request (`next()`) inside the guard's policy (`policy`, default the
 * guard's). The call given to the policy lasts until the response finishes or the connection
 * closes, so a bulkhead slot is held exactly that long and released once; it resolves with a
 * `RequestOutcome`. When the policy rejects, breakwater's own errors are answered (429/503)
 * and any other error goes to `next(error)`. With a deadline, the whole request runs inside it.
 */
export function guardRequest<Request, Reply>(
  adapter: GuardAdapter<Request, Reply>,
  request: Request,
  reply: Reply,
  next: Continue,
  policy: PolicyChoice<Request> = adapter.settings.policy,
): void {
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

  const settings = adapter.settings;
  const raw = adapter.rawRequest(request);
  const deadline = settings.deadline === undefined ? undefined : establishDeadline(raw, settings.deadline);
  const call = new Call(adapter, request, reply, next, chosen, lifetimeOf(raw, adapter.rawResponse(reply)));
  if (deadline === undefined) call.execute(undefined);
  else runWithDeadline(deadline, () => call.execute(settings.deadlineTimeout));
}

const waitingKinds = new WeakMap<object, boolean>();

/**
 * Whether `policy` can keep a request waiting (a queue, a rate-limit wait, a sleep) before it
 * runs or refuses it. Read structurally from breakwater's own policies (a pipeline's members
 * never change, so its answer is cached); anything else is assumed to wait.
 */
function mayWait(policy: Policy): boolean {
  const { kind, maxQueue, maxWaitMs, policies } = policy as { kind?: unknown; maxQueue?: unknown; maxWaitMs?: unknown; policies?: unknown };
  switch (kind) {
    case 'rate-limiter':
      return maxWaitMs !== 0;
    case 'bulkhead':
      return maxQueue !== 0;
    case 'circuit-breaker':
    case 'timeout':
    case 'fallback':
      return false;
    case 'pipeline': {
      if (!Array.isArray(policies)) return true;
      let answer = waitingKinds.get(policy);
      if (answer === undefined) {
        answer = policies.some((member: Policy) => mayWait(member));
        waitingKinds.set(policy, answer);
      }
      return answer;
    }
    default:
      return true;
  }
}

/**
 * Whether `policy`, which may wait, would hold a request that started now. Only the members
 * that can wait are asked: a rate limiter with a whole token and nobody waiting (`available`
 * is exact), a bulkhead with a free slot and an empty queue, admit at once. breakwater's
 * policies reach their inner members synchronously when they admit at once, so nothing else
 * runs between this check and the admission. Anything not known waits.
 */
function wouldWait(policy: Policy): boolean {
  const probe = policy as { kind?: unknown; maxQueue?: unknown; maxWaitMs?: unknown; policies?: unknown; available?: unknown; active?: unknown; queued?: unknown; maxConcurrent?: unknown };
  switch (probe.kind) {
    case 'rate-limiter':
      return probe.maxWaitMs !== 0 && !((probe.available as number) >= 1);
    case 'bulkhead':
      return probe.maxQueue !== 0 && !(probe.queued === 0 && (probe.active as number) < (probe.maxConcurrent as number));
    case 'circuit-breaker':
    case 'timeout':
    case 'fallback':
      return false;
    case 'pipeline': {
      const members = probe.policies;
      if (!Array.isArray(members)) return true;
      for (const member of members as Policy[]) if (wouldWait(member)) return true;
      return false;
    }
    default:
      return true;
  }
}

/** One guarded request: its state, and the steps of its life. */
class Call<Request, Reply> implements GuardedCall<Request, Reply> {
  started = false;
  private fieldsWritten = false;
  private running: Promise<RequestOutcome> | undefined = undefined;
  /** Whether the policy was given the request's signal (it may hold the request waiting). */
  private signalled = false;
  /** Whether the framework's continuation threw, which rejects `running`. */
  private continuationThrew = false;

  constructor(
    private readonly adapter: GuardAdapter<Request, Reply>,
    readonly request: Request,
    readonly reply: Reply,
    readonly next: Continue,
    readonly policy: Policy,
    private readonly lifetime: ReturnType<typeof lifetimeOf>,
  ) {}

  execute(deadlineTimeout: Policy | undefined): void {
    // The handler runs wherever the policy calls fn. breakwater's policies call it in the
    // request's own async context (a bulkhead admits a queued request in the waiter's promise
    // chain), so the handler keeps its deadline, its trace and its logger's store.
    const run = (): Promise<RequestOutcome> => this.run();
    // An AbortSignal costs microseconds to make: only a request the policy will keep waiting
    // needs one, so that a client who leaves while queued leaves the queue at once.
    const options = mayWait(this.policy) && wouldWait(this.policy) ? { signal: this.lifetime.signal } : undefined;
    this.signalled = options !== undefined;
    let promise: Promise<unknown>;
    try {
      // The deadline needs no signal of its own: a client who leaves ends `run`, and a request
      // whose deadline passes while the policy holds it is let go by aborting the signal.
      promise =
        deadlineTimeout === undefined
          ? this.policy.execute(run, options)
          : deadlineTimeout.execute(() => this.policy.execute(run, options));
    } catch (error) {
      // A custom Policy that breaks the "never throws synchronously" rule.
      this.onFailure(error);
      return;
    }
    // A policy that admitted at once and watches nothing hands back `run`'s own promise, which
    // only rejects if the framework's continuation threw: nothing to catch then, and one
    // promise less per request (each costs an async-hook call when async context is tracked).
    if (promise !== this.running || this.continuationThrew) promise.then(undefined, (error: unknown) => this.onFailure(error));
  }

  writeRateLimitFields(): void {
    if (this.fieldsWritten) return;
    this.fieldsWritten = true;
    const standard = this.adapter.settings.rateLimitHeaders;
    if (standard === false) return;
    // Asked before the response is: a read of Express's response costs a prototype walk.
    const limiters = rateLimitersOf(this.policy);
    if (limiters.length === 0 || this.adapter.rawResponse(this.reply).headersSent) return;
    writeRateLimitFields(limiters, standard, this.adapter.headers, this.reply);
  }

  private run(): Promise<RequestOutcome> {
    // A policy calling fn twice (a retry inside a custom policy) must not start the handler twice.
    if (this.running !== undefined) return this.running;
    const lifetime = this.lifetime;
    // A policy that calls fn after giving up (or a client already gone) must not start the handler.
    if (lifetime.ended) return (this.running = new Promise<RequestOutcome>((resolve) => lifetime.whenDone(resolve)));
    this.started = true;
    this.writeRateLimitFields();
    return (this.running = new Promise<RequestOutcome>((resolve) => {
      // Subscribe before next(): a handler may answer synchronously.
      lifetime.whenDone(resolve);
      try {
        this.next();
      } catch (error) {
        this.continuationThrew = true;
        throw error;
      }
    }));
  }

  private onFailure(error: unknown): void {
    const { adapter, lifetime, reply } = this;
    // A client that left (or a response already under way) gets nothing more from us. Once the
    // handler runs, the request's signal tells its outbound calls to stop.
    if (lifetime.ended || adapter.responseTaken(reply)) {
      if (this.started) lifetime.abort(error);
      return;
    }
    const rejection = rejectionOf(error, adapter.settings.retryAfterSeconds);
    if (rejection === undefined) {
      // Not ours to answer. Before the handler ran, the framework's error path takes it; after,
      // the handler still owns the response.
      if (this.started) lifetime.abort(error);
      else this.next(error);
      return;
    }
    const started = this.started;
    try {
      adapter.answerRejection(this, error, rejection);
    } finally {
      if (started) this.afterLateAnswer(error);
      // The deadline passed while the policy still holds the request (a queue): let it go.
      else if (this.signalled) lifetime.abort(error);
    }
  }

  /** The guard answered while the handler runs: silence the handler's writes, then stop it. */
  private afterLateAnswer(error: unknown): void {
    const { adapter, lifetime, reply } = this;
    const res = adapter.rawResponse(reply);
    const finish = (): void => {
      if (res.writableEnded) adapter.seal(reply);
      lifetime.abort(error);
    };
    if (res.writableEnded || lifetime.ended) finish();
    else if (adapter.abortAfterAnswer) lifetime.whenDone(finish);
    else {
      lifetime.abort(error);
      lifetime.whenDone(() => {
        if (res.writableEnded) adapter.seal(reply);
      });
    }
  }
}
