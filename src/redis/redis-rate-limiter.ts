import { systemClock, type Clock } from '../core/clock.js';
import type { Next, Scope } from '../core/scope.js';
import { DeadlineEntry, DeadlineQueue } from '../core/deadlines.js';
import { RateLimitedError, RateLimiterUnavailableError } from '../core/errors.js';
import { checkEventName, eventNames, type Listener } from '../core/events.js';
import { Observer, type StartTime } from '../core/observe.js';
import { BIND, PolicyBase, RUN } from '../core/policy.js';
import { sleep } from '../core/sleep.js';
import { checkName, checkOneOf, checkOptionsObject, describeValue, optionNames, optionalNumber } from '../core/validate.js';
import { BucketStore } from '../rate-limit/bucket-store.js';
import { KeyTable } from '../rate-limit/keyed-rate-limiter.js';
import {
  checkTokens,
  RateLimiter,
  readBucketSettings,
  type RateLimiterEvents,
} from '../rate-limit/rate-limiter.js';
import { TokenBuckets, type BucketSettings } from '../rate-limit/token-bucket.js';
import { isNoScript, scriptRunner, type RedisClientLike, type ScriptRunner } from './client.js';
import { tokenBucketScript } from './script.js';

/**
 * What decides while Redis is slow or down: `'local'` (an in-process bucket per key), `'allow'`
 * (the call runs), `'reject'` (`RateLimiterUnavailableError`).
 */
export type UnavailableMode = 'local' | 'allow' | 'reject';

/** Options of `redisRateLimiter()`: the bucket of every key, the client, and what to do without Redis. */
export interface RedisRateLimiterOptions {
  /** A connected ioredis (4, 5) or node-redis (4, 5) client. It is used, never closed. */
  client: RedisClientLike;
  /** Bucket size: the largest burst (a finite number ≥ 1). A key's bucket starts full. */
  capacity: number;
  /** Tokens added per second (> 0), continuously. */
  refillPerSecond: number;
  /**
   * How long `execute` may wait for its token (default 0: reject at once). The token is
   * reserved in Redis at once, so waiters are served in arrival order across all processes.
   */
  maxWaitMs?: number | undefined;
  /** Prepended to every key (default `'breakwater:'`). Limiters with different settings need different prefixes. */
  prefix?: string | undefined;
  /** A Redis round trip slower than this counts as Redis unavailable (default 100 ms). */
  redisTimeoutMs?: number | undefined;
  /**
   * What decides while Redis is slow or down: `'local'` (default) an in-process bucket per key
   * with the same settings, `'allow'` lets the call run, `'reject'` rejects with
   * `RateLimiterUnavailableError`.
   */
  onUnavailable?: UnavailableMode | undefined;
  /**
   * The bucket's time source. Default: the Redis server's `TIME`, one clock for the whole fleet.
   * A clock of your own must agree across every process that shares the keys.
   * It also runs the waits and the `redisTimeoutMs` timer (systemClock when not given).
   */
  clock?: Clock | undefined;
  /** Names the limiter in its events and telemetry; default `'redis-rate-limiter'`. */
  name?: string | undefined;
}

/** Payload of `unavailable`: Redis stopped answering in time. */
export interface RedisUnavailableEvent {
  /** `'timeout'`: no answer within `redisTimeoutMs`; `'error'`: an error reply or a broken connection; `'not-ready'`: the client is disconnected. */
  readonly reason: 'timeout' | 'error' | 'not-ready';
  /** The client's error for `'error'`; undefined otherwise. */
  readonly error: unknown;
}

/** Payload of `recovered`: Redis answers in time again. */
export interface RedisRecoveredEvent {
  /** How long decisions were made without Redis. */
  readonly unavailableMs: number;
}

export interface RedisRateLimiterEvents extends RateLimiterEvents {
  /** Redis stopped answering in time; from now on `onUnavailable` decides. Emitted once per outage. */
  unavailable: RedisUnavailableEvent;
  /** Redis answered in time again; it decides again from this call on. */
  recovered: RedisRecoveredEvent;
}

/** A snapshot of a Redis limiter's counters (`limiter.stats`). */
export interface RedisRateLimiterStats {
  /** Cumulative refusals (by Redis or the local fallback). */
  readonly rejected: number;
  /** Decisions made by `onUnavailable` because Redis was slow or down. */
  readonly fallbacks: number;
  /** True while Redis counts as unavailable. */
  readonly unavailable: boolean;
}

const REDIS_RATE_LIMITER_OPTIONS = optionNames<RedisRateLimiterOptions>({
  client: true,
  capacity: true,
  refillPerSecond: true,
  maxWaitMs: true,
  prefix: true,
  redisTimeoutMs: true,
  onUnavailable: true,
  clock: true,
  name: true,
});

const REDIS_RATE_LIMITER_EVENTS = eventNames<RedisRateLimiterEvents>({
  success: true,
  failure: true,
  rejected: true,
  unavailable: true,
  recovered: true,
});

/** Keys the in-process fallback holds at most (the least recently used go first, like `keyedRateLimiter`). */
const LOCAL_MAX_KEYS = 10_000;

/**
 * One token bucket per key, shared through Redis by every process that uses the same keys.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { pipeline, timeout } from 'breakwater';
 * import { redisRateLimiter } from 'breakwater/redis';
 *
 * const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://localhost:6379');
 * const perTenant = redisRateLimiter({
 *   client: redis,
 *   capacity: 20, // bursts of 20
 *   refillPerSecond: 10, // 10 per second sustained, per tenant, across the whole fleet
 *   prefix: 'ratelimit:partner-api:',
 * });
 * const partnerCall = (tenant: string) =>
 *   pipeline(timeout(2_000), perTenant.get(tenant)).execute(({ signal }) => fetch('https://partner.example/api', { signal }));
 * ```
 */
export function redisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const opts = checkOptionsObject('redisRateLimiter', options, true, REDIS_RATE_LIMITER_OPTIONS);
  const settings = readBucketSettings(opts);
  const runner = scriptRunner(opts['client'], tokenBucketScript(settings.capacity, settings.refillPerSecond));
  const prefix = opts['prefix'] === undefined ? 'breakwater:' : opts['prefix'];
  if (typeof prefix !== 'string') {
    throw new TypeError(`breakwater: option "prefix" must be a string, received ${describeValue(prefix)}`);
  }
  const redisTimeoutMs = optionalNumber('redisTimeoutMs', opts['redisTimeoutMs'], 100, { above: 0 });
  const onUnavailable =
    opts['onUnavailable'] === undefined
      ? 'local'
      : checkOneOf<UnavailableMode>('onUnavailable', opts['onUnavailable'], ['local', 'allow', 'reject']);
  const name = checkName(opts['name'], 'redis-rate-limiter');
  const clock = opts['clock'] === undefined ? undefined : settings.clock;
  return new RedisRateLimiter(runner, settings, clock, prefix, redisTimeoutMs, onUnavailable, name);
}

/** The script's answer: [granted 0|1, wait or retryAfterMs, whole tokens available]. */
type Reply = readonly [number, number, number];

/** The reply to a grant with no wait, by tokens available (the script answers it with the integer alone). */
const GRANTED: Reply[] = [];

function asReply(value: unknown): Reply | undefined {
  if (typeof value === 'number') {
    if (!(value >= 0)) return undefined;
    return value < 64 ? (GRANTED[value] ??= [1, 0, value]) : [1, 0, value];
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [granted, ms, left] = value as unknown[];
  if (typeof granted !== 'number' || typeof left !== 'number') return undefined;
  if (typeof ms === 'number') return value as unknown as Reply;
  // A wait comes as a string: Redis hands a Lua number to the client truncated to an integer.
  const waitMs = typeof ms === 'string' ? Number(ms) : NaN;
  return waitMs >= 0 ? [granted, waitMs, left] : undefined;
}

/** Resolves to undefined: "Redis did not decide, `onUnavailable` does". */
const UNDECIDED: Promise<undefined> = Promise.resolve(undefined);
const noop = (): void => {};

/** One script call in flight, with its `redisTimeoutMs` deadline. It settles exactly once. */
class PendingCall extends DeadlineEntry {
  private done = false;
  private reloaded = false;

  constructor(
    private readonly owner: RedisRateLimiter,
    private readonly runner: ScriptRunner,
    private readonly key: string,
    private readonly args: string[],
    private readonly probe: boolean,
    private readonly resolve: (reply: Reply | undefined) => void,
  ) {
    super();
  }

  send(): void {
    try {
      const sent = this.reloaded ? this.runner.load(this.key, this.args) : this.runner.run(this.key, this.args);
      // The handlers stay attached after a timeout, so a late answer or error is swallowed.
      sent.then(this.onReply, this.onError);
    } catch (error) {
      // A client that throws instead of rejecting (or returns no promise) fails this call only.
      this.onError(error);
    }
  }

  /** Arrives after `expire` when Redis is merely slow: that answer is dropped. */
  readonly onReply = (value: unknown): void => {
    if (!this.finish()) return;
    const reply = asReply(value);
    if (reply === undefined) {
      this.owner.markDown('error', new TypeError(`breakwater: unexpected reply from Redis: ${describeValue(value)}`));
    } else {
      this.owner.markUp();
    }
    this.resolve(reply);
  };

  readonly onError = (error: unknown): void => {
    if (this.done) return;
    // The server's script cache lost the script (restart, failover, SCRIPT FLUSH): send the
    // text once, within the same deadline.
    if (!this.reloaded && isNoScript(error)) {
      this.reloaded = true;
      this.send();
      return;
    }
    this.finish();
    this.owner.markDown('error', error);
    this.resolve(undefined);
  };

  expire(): void {
    if (!this.finish()) return;
    this.owner.markDown('timeout', undefined);
    this.resolve(undefined);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.owner.settled(this, this.probe);
    return true;
  }
}

/**
 * Token buckets by key, kept in Redis and shared by every process that uses the same keys,
 * built by `redisRateLimiter()`. `get(key)` is that key's policy; `tryAcquire` and `acquire`
 * take tokens without a function.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { redisRateLimiter } from 'breakwater/redis';
 *
 * const redis = createClient({ url: process.env['REDIS_URL'] ?? 'redis://localhost:6379' });
 * await redis.connect();
 * const perUser = redisRateLimiter({ client: redis, capacity: 5, refillPerSecond: 1, prefix: 'ratelimit:login:' });
 * perUser.on('unavailable', ({ reason }) => console.log(`redis ${reason}: deciding locally`));
 * if (!(await perUser.tryAcquire('user-42'))) console.log(429); // 5 log-ins, then 1 per second
 * console.log(perUser.stats); // { rejected: 0, fallbacks: 0, unavailable: false }
 * ```
 */
export class RedisRateLimiter {
  /** Kind of policy, `'redis-rate-limiter'`. */
  readonly kind = 'redis-rate-limiter';
  /** Bucket size of every key, in tokens. */
  readonly capacity: number;
  /** Tokens added per second to every key's bucket. */
  readonly refillPerSecond: number;
  /** Longest wait of `execute` and `acquire` for tokens, in milliseconds (0: refuse at once). */
  readonly maxWaitMs: number;
  /** @internal Runs waits and the `redisTimeoutMs` deadlines: the given clock, else systemClock. */
  readonly timerClock: Clock;
  /** @internal */ readonly events: Observer<RedisRateLimiterEvents>;
  /** The script's ARGV[2] for `execute`: the configured wait (tryAcquire never waits). */
  private readonly maxWaitArg: string;
  /** ARGV of the most common requests (one token, Redis TIME), the same every time: built once. */
  private readonly oneTokenArgs: { readonly waiting: string[]; readonly now: string[] } | undefined;
  private readonly deadlines: DeadlineQueue;
  /** The in-process fallback's buckets, made on first need. */
  private local: BucketStore | undefined = undefined;
  private up = true;
  private probing = false;
  private downSince = 0;
  /** @internal The client's error that began the current outage (undefined for a timeout or a disconnected client). */
  downCause: unknown = undefined;
  private rejectedCount = 0;
  private fallbackCount = 0;

  /** @internal Use `redisRateLimiter()`. */
  constructor(
    private readonly runner: ScriptRunner,
    private readonly settings: BucketSettings,
    /** The caller's clock for the bucket; undefined = Redis TIME. */
    private readonly bucketClock: Clock | undefined,
    /** Prepended to every key in Redis. */
    readonly prefix: string,
    /** A Redis round trip slower than this, in milliseconds, counts as Redis unavailable. */
    readonly redisTimeoutMs: number,
    /** What decides while Redis is unavailable. */
    readonly onUnavailable: UnavailableMode,
    /** The limiter's name (the `name` option): in its events and telemetry labels, shared by every key's view. */
    readonly name: string,
  ) {
    this.capacity = settings.capacity;
    this.refillPerSecond = settings.refillPerSecond;
    this.maxWaitMs = settings.maxWaitMs;
    this.timerClock = bucketClock ?? systemClock;
    this.events = new Observer<RedisRateLimiterEvents>(() => this.name, this.timerClock, 'rate-limited');
    this.deadlines = new DeadlineQueue(this.timerClock);
    this.maxWaitArg = settings.maxWaitMs === Infinity ? '-1' : String(settings.maxWaitMs);
    this.oneTokenArgs =
      bucketClock === undefined
        ? { waiting: this.args(1, true), now: this.args(1, false) }
        : undefined;
  }

  /**
   * The limiter of `key`, a `Policy`: `execute(fn)` takes one token of that key's bucket (waiting
   * up to `maxWaitMs`), or rejects with `RateLimitedError`. Views are cheap: make one per request.
   */
  get(key: string): RedisKeyLimiter {
    checkKey(key, 'get');
    return new RedisKeyLimiter(this, key);
  }

  /**
   * Takes `tokens` (default 1, may be fractional) of `key`'s bucket if they are there now.
   * Never waits for tokens, and never longer than `redisTimeoutMs` for Redis. More than
   * `capacity` tokens resolves false at once. While Redis is unavailable: the local bucket
   * decides (`'local'`), true (`'allow'`) or false (`'reject'`).
   */
  tryAcquire(key: string, tokens: number = 1): Promise<boolean> {
    let n: number;
    try {
      checkKey(key, 'tryAcquire');
      n = checkTokens(tokens);
    } catch (error) {
      return Promise.reject(error);
    }
    if (n > this.capacity) return Promise.resolve(false);
    return this.ask(key, n, false).then((reply) => {
      if (reply === undefined) {
        this.fallbackCount++;
        if (this.onUnavailable === 'local') return this.localView(key).tryAcquire(n);
        return this.onUnavailable === 'allow';
      }
      if (reply[0] === 1) return true;
      this.refused(key, reply[1]);
      return false;
    });
  }

  /**
   * Whole tokens `key`'s bucket holds now (0 while callers wait for reserved tokens). While
   * Redis is unavailable: the local bucket's count, `capacity` (`'allow'`) or 0 (`'reject'`).
   */
  available(key: string): Promise<number> {
    try {
      checkKey(key, 'available');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.ask(key, 0, false).then((reply) => {
      if (reply !== undefined) return reply[2];
      if (this.onUnavailable === 'local') return this.localView(key).available;
      return this.onUnavailable === 'allow' ? Math.floor(this.capacity) : 0;
    });
  }

  /** Counters now: refusals, fallback decisions, and whether Redis counts as unavailable. */
  get stats(): RedisRateLimiterStats {
    const localRejected = this.local === undefined ? 0 : this.local.rejected;
    return { rejected: this.rejectedCount + localRejected, fallbacks: this.fallbackCount, unavailable: !this.up };
  }

  /** Subscribes to the events of every key; the returned function unsubscribes. An unknown event name throws. */
  on<K extends keyof RedisRateLimiterEvents & string>(event: K, listener: Listener<RedisRateLimiterEvents[K]>): () => void {
    checkEventName(`${this.kind} "${this.name}"`, event, REDIS_RATE_LIMITER_EVENTS);
    return this.events.on(event, listener);
  }

  /**
   * @internal Runs the script for `tokens` of `key` (0 = look only; `waits`: may reserve
   * tokens up to `maxWaitMs` ahead, as `execute` does). Resolves with Redis's
   * answer, or undefined when Redis did not answer in time (the caller falls back). Never
   * rejects. While Redis is unavailable, one call at a time probes it; the others do not wait.
   */
  ask(key: string, tokens: number, waits: boolean): Promise<Reply | undefined> {
    if (!this.up && this.probing) return UNDECIDED;
    // A disconnected client would park the command in its offline queue: decide without it.
    if (!this.runner.ready()) {
      this.markDown('not-ready', undefined);
      return UNDECIDED;
    }
    const probe = !this.up;
    if (probe) this.probing = true;
    const common = tokens === 1 ? this.oneTokenArgs : undefined;
    const args = common === undefined ? this.args(tokens, waits) : waits ? common.waiting : common.now;
    return new Promise<Reply | undefined>((resolve) => {
      const call = new PendingCall(this, this.runner, this.prefix + key, args, probe, resolve);
      this.deadlines.add(call, this.timerClock.now() + this.redisTimeoutMs);
      call.send();
    });
  }

  /** The script's ARGV (see script.ts). */
  private args(tokens: number, waits: boolean): string[] {
    return [
      String(tokens),
      waits ? this.maxWaitArg : '0',
      // With Redis TIME the script gets no clock reading at all (one argument fewer to send and parse).
      ...(this.bucketClock === undefined ? [] : [String(this.bucketClock.now())]),
    ];
  }

  /** @internal A script call settled (answered, failed or timed out). */
  settled(call: PendingCall, probe: boolean): void {
    this.deadlines.remove(call);
    if (probe) this.probing = false;
  }

  /** @internal */
  markDown(reason: RedisUnavailableEvent['reason'], error: unknown): void {
    if (!this.up) return;
    this.up = false;
    this.downSince = this.timerClock.now();
    this.downCause = error;
    if (this.events.wants('unavailable')) this.events.emit('unavailable', { reason, error });
  }

  /** @internal */
  markUp(): void {
    if (this.up) return;
    this.up = true;
    this.downCause = undefined;
    if (this.events.wants('recovered')) {
      this.events.emit('recovered', { unavailableMs: this.timerClock.now() - this.downSince });
    }
  }

  /** @internal Gives back tokens granted to a caller that left before using them. Fire and forget. */
  refund(key: string, tokens: number): void {
    if (!this.runner.ready()) return;
    const args = this.args(-tokens, false);
    const fullKey = this.prefix + key;
    try {
      this.runner.run(fullKey, args).then(noop, (error: unknown) => {
        if (!isNoScript(error)) return;
        try {
          this.runner.load(fullKey, args).then(noop, noop);
        } catch {
          // As below.
        }
      });
    } catch {
      // A client that throws synchronously keeps the tokens; the bucket refills on its own.
    }
  }

  /** @internal Counts and reports a refusal; returns the error to reject with. */
  refused(key: string, retryAfterMs: number): RateLimitedError {
    this.rejectedCount++;
    const error = RateLimitedError.fast(retryAfterMs);
    this.events.rejected(error, key);
    return error;
  }

  /** @internal A decision `onUnavailable` makes. */
  countFallback(): void {
    this.fallbackCount++;
  }

  /**
   * @internal The in-process bucket of `key`, made on first need. Its views report to this
   * limiter's listeners (refusals, success, failure), once.
   */
  localView(key: string): RateLimiter {
    const store = (this.local ??= new BucketStore(
      new KeyTable(new TokenBuckets({ ...this.settings, clock: this.timerClock }, 64, true), LOCAL_MAX_KEYS),
    ));
    return new RateLimiter(store, this.timerClock, this.name, { key, observer: this.events as unknown as Observer<RateLimiterEvents> });
  }
}

function checkKey(key: unknown, method: string): void {
  if (typeof key !== 'string') {
    throw new TypeError(`breakwater: redisRateLimiter.${method}(key) needs a string, received ${describeValue(key)}`);
  }
}

/**
 * One key's view of a `RedisRateLimiter`: a `Policy` that composes in `pipeline` and `guard`.
 * `capacity`, `refillPerSecond` and `available` let the HTTP guard send `RateLimit` fields.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { guard } from 'breakwater/express';
 * import { redisRateLimiter } from 'breakwater/redis';
 *
 * const perClient = redisRateLimiter({ client: new Redis(), capacity: 40, refillPerSecond: 20 });
 * // one view per request: 429 with Retry-After and RateLimit fields, counted across the fleet
 * const middleware = guard((req) => perClient.get(req.ip ?? ''));
 * ```
 */
export class RedisKeyLimiter extends PolicyBase<RedisRateLimiterEvents> {
  readonly kind = 'redis-rate-limiter';
  protected readonly eventNames = REDIS_RATE_LIMITER_EVENTS;
  private remaining: number;

  /** @internal Use `redisRateLimiter().get(key)`. */
  constructor(
    private readonly owner: RedisRateLimiter,
    /** The key this view takes tokens of (without the prefix). */
    readonly key: string,
  ) {
    super(owner.name, owner.events);
    this.remaining = Math.floor(owner.capacity);
  }

  /** Bucket size, in tokens. */
  get capacity(): number {
    return this.owner.capacity;
  }

  /** Tokens added per second. */
  get refillPerSecond(): number {
    return this.owner.refillPerSecond;
  }

  /** Whole tokens the bucket held after this view's latest decision (`capacity` before any). */
  get available(): number {
    return this.remaining;
  }

  /** @internal The rest of the call under this policy, as one function (see `Runnable`). */
  [BIND](next: Next): Next {
    return (scope) => this[RUN](scope, next);
  }

  /** @internal */
  [RUN](ctx: Scope, next: Next): Promise<unknown> {
    if (ctx.aborted) return Promise.reject(ctx.reason);
    const owner = this.owner;
    const startedAt = owner.events.start();
    let asked = owner.ask(this.key, 1, true);
    if (ctx.abortable) asked = this.abortable(asked, ctx);
    return asked.then((reply) => {
      if (reply === undefined) return this.fallBack(ctx, next, startedAt);
      this.remaining = reply[2];
      if (reply[0] !== 1) throw owner.refused(this.key, reply[1]);
      if (reply[1] === 0) return this.run(ctx, next, startedAt);
      return sleep(owner.timerClock, reply[1], ctx).then(
        () => this.run(ctx, next, startedAt),
        (reason: unknown) => {
          owner.refund(this.key, 1);
          throw reason;
        },
      );
    });
  }

  /** Rejects as soon as the caller aborts; a token Redis grants after that goes back. */
  private abortable(asked: Promise<Reply | undefined>, ctx: Scope): Promise<Reply | undefined> {
    return new Promise<Reply | undefined>((resolve, reject) => {
      let left = false;
      const detach = ctx.onAbort((reason) => {
        left = true;
        reject(reason);
      });
      void asked.then((reply) => {
        if (!left) {
          detach();
          resolve(reply);
        } else if (reply !== undefined && reply[0] === 1) {
          this.owner.refund(this.key, 1);
        }
      });
    });
  }

  private fallBack(ctx: Scope, next: Next, startedAt: StartTime): Promise<unknown> {
    const owner = this.owner;
    owner.countFallback();
    switch (owner.onUnavailable) {
      case 'local': {
        const local = owner.localView(this.key);
        const outcome = local[RUN](ctx, next);
        this.remaining = local.available;
        return outcome;
      }
      case 'allow':
        return this.run(ctx, next, startedAt);
      case 'reject':
        throw RateLimiterUnavailableError.fast(owner.downCause);
    }
  }

  private run(ctx: Scope, next: Next, startedAt: StartTime): Promise<unknown> {
    // `next` never throws (core/policy.ts `invoke`, core/pipeline.ts `adapt`).
    return this.owner.events.watch(next(ctx), startedAt);
  }
}
