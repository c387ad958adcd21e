import type { Clock } from '../core/clock.js';
import { checkEventName, type Listener } from '../core/events.js';
import { Observer } from '../core/observe.js';
import { checkName, checkNumber, checkOptionsObject, describeValue, optionNames } from '../core/validate.js';
import { BucketStore, type BucketTable } from './bucket-store.js';
import { RATE_LIMITER_EVENTS, RateLimiter, readBucketSettings, type RateLimiterEvents, type RateLimiterOptions } from './rate-limiter.js';
import { TokenBuckets } from './token-bucket.js';

/** Options of `keyedRateLimiter()`: the bucket of every key, and how many keys to hold. */
export interface KeyedRateLimiterOptions extends RateLimiterOptions {
  /**
   * Most keys held at once (an integer ≥ 1, default 10 000). When a new key needs room, a key
   * whose bucket is full again goes first (forgetting it changes nothing); if there is none,
   * the least recently used key goes, which forgives whatever it had consumed.
   */
  maxKeys?: number | undefined;
}

const KEYED_RATE_LIMITER_OPTIONS = optionNames<KeyedRateLimiterOptions>({
  capacity: true, refillPerSecond: true, maxWaitMs: true, clock: true, name: true, maxKeys: true,
});

/** A snapshot of a keyed limiter's counters (`keyed.stats`). */
export interface KeyedRateLimiterStats {
  /** Keys held now. */
  readonly size: number;
  /** Cumulative refusals over all keys. */
  readonly rejected: number;
}

/**
 * One token bucket per key, in bounded memory. `get(key)` returns that key's `RateLimiter`.
 *
 * @example
 * ```ts
 * import { keyedRateLimiter } from 'breakwater';
 *
 * // 5 requests/s per client IP, bursts of 10, never more than 50 000 IPs remembered
 * const perIp = keyedRateLimiter({ capacity: 10, refillPerSecond: 5, maxKeys: 50_000 });
 * if (!perIp.get('203.0.113.7').tryAcquire()) console.log('429');
 * ```
 */
export function keyedRateLimiter(options: KeyedRateLimiterOptions): KeyedRateLimiter {
  const opts = checkOptionsObject('keyedRateLimiter', options, true, KEYED_RATE_LIMITER_OPTIONS);
  const settings = readBucketSettings(opts);
  const maxKeys = opts['maxKeys'] === undefined ? 10_000 : checkNumber('maxKeys', opts['maxKeys'], { min: 1, integer: true });
  const name = checkName(opts['name'], 'keyed-rate-limiter');
  return new KeyedRateLimiter(new KeyTable(new TokenBuckets(settings, Math.min(maxKeys, 64), true), maxKeys), settings.clock, name);
}

const NONE = -1;

/**
 * Key → slot in a few typed arrays. Per key: two floats (`level` and `at`, in TokenBuckets),
 * two int32 links of an LRU list, the key in `keys` and one Map entry. A bucket that refilled to
 * capacity is the same as no bucket, so full buckets are dropped freely: two are reclaimed
 * from the LRU end whenever a new key arrives, and all of them when room is needed.
 * @internal Also the table of the Redis limiter's in-process fallback.
 */
export class KeyTable implements BucketTable {
  private readonly index = new Map<string, number>();
  private readonly keys: (string | undefined)[] = [];
  private prev: Int32Array;
  private next: Int32Array;
  /** Most and least recently used slots. */
  private mru = NONE;
  private lru = NONE;
  /** Freed slots, linked through `next`. */
  private free = NONE;
  /** Slots handed out so far (the rest of the arrays is untouched). */
  private used = 0;
  count = 0;

  constructor(
    readonly buckets: TokenBuckets,
    readonly maxKeys: number,
  ) {
    const slots = buckets.slots;
    this.prev = new Int32Array(slots);
    this.next = new Int32Array(slots);
  }

  find(key: string): number {
    return this.index.get(key) ?? NONE;
  }

  claim(key: string, t: number): number {
    const slot = this.index.get(key);
    if (slot === undefined) return this.insert(key, t);
    if (slot !== this.mru) {
      this.unlink(slot);
      this.pushFront(slot);
    }
    return slot;
  }

  private insert(key: string, t: number): number {
    // Keeps memory proportional to the keys that are really in use, at O(1) per new key.
    for (let i = 0; i < 2 && this.lru !== NONE && this.isIdle(this.lru, t); i++) this.remove(this.lru);
    if (this.count >= this.maxKeys && !this.makeRoom(t)) return NONE;
    let slot: number;
    if (this.free !== NONE) {
      slot = this.free;
      this.free = this.next[slot]!;
    } else {
      slot = this.used++;
      if (slot >= this.prev.length) this.grow();
    }
    this.index.set(key, slot);
    this.keys[slot] = key;
    this.pushFront(slot);
    this.count++;
    this.buckets.reset(slot, t);
    return slot;
  }

  private isIdle(slot: number, t: number): boolean {
    return this.buckets.isFull(slot, t) && !this.buckets.hasWaiters(slot);
  }

  /** Frees one or more slots: full buckets first, else the least recently used key. */
  private makeRoom(t: number): boolean {
    const buckets = this.buckets;
    // `earliestFull` bounds from below the time any bucket is full again: before it, none is
    // and a scan would find nothing. So the O(n) scan runs only when it can succeed.
    if (t >= buckets.earliestFull) {
      let earliest = Infinity;
      for (let slot = this.lru; slot !== NONE; ) {
        const newer = this.prev[slot]!;
        if (this.isIdle(slot, t)) this.remove(slot);
        else {
          const full = buckets.fullBound(slot);
          if (full < earliest) earliest = full;
        }
        slot = newer;
      }
      buckets.earliestFull = earliest;
      if (this.count < this.maxKeys) return true;
    }
    // No full bucket: forget the least recently used key, unless callers wait on it.
    for (let slot = this.lru; slot !== NONE; slot = this.prev[slot]!) {
      if (!buckets.hasWaiters(slot)) {
        this.remove(slot);
        return true;
      }
    }
    return false;
  }

  private remove(slot: number): void {
    this.index.delete(this.keys[slot]!);
    this.keys[slot] = undefined;
    this.unlink(slot);
    this.next[slot] = this.free;
    this.free = slot;
    this.count--;
  }

  private pushFront(slot: number): void {
    this.prev[slot] = NONE;
    this.next[slot] = this.mru;
    if (this.mru !== NONE) this.prev[this.mru] = slot;
    else this.lru = slot;
    this.mru = slot;
  }

  private unlink(slot: number): void {
    const before = this.prev[slot]!;
    const after = this.next[slot]!;
    if (before !== NONE) this.next[before] = after;
    else this.mru = after;
    if (after !== NONE) this.prev[after] = before;
    else this.lru = before;
  }

  private grow(): void {
    const slots = Math.min(this.maxKeys, this.prev.length * 2);
    const prev = new Int32Array(slots);
    prev.set(this.prev);
    const next = new Int32Array(slots);
    next.set(this.next);
    this.prev = prev;
    this.next = next;
    this.buckets.grow(slots);
  }
}

/**
 * Token buckets by key (a client IP, a tenant), built by `keyedRateLimiter()`: `get(key)` is
 * that key's `RateLimiter`. Keys beyond `maxKeys` evict full buckets first, then the least
 * recently used.
 *
 * @example
 * ```ts
 * import { keyedRateLimiter } from 'breakwater';
 *
 * const perTenant = keyedRateLimiter({ capacity: 100, refillPerSecond: 50 });
 * perTenant.on('rejected', ({ key, error }) => console.log(`tenant ${key} limited`, error));
 * const answer = await perTenant.get('tenant-42').execute(() => 'served');
 * console.log(answer, perTenant.size); // served 1
 * ```
 */
export class KeyedRateLimiter {
  /** Kind of policy, `'keyed-rate-limiter'`. */
  readonly kind = 'keyed-rate-limiter';
  /** The limiter's name (the `name` option): in its events and telemetry labels, shared by every key's view. */
  readonly name: string;
  private readonly events: Observer<RateLimiterEvents>;
  private readonly store: BucketStore;

  /** @internal Use `keyedRateLimiter()`. */
  constructor(
    private readonly table: KeyTable,
    private readonly clock: Clock,
    name: string,
  ) {
    this.name = name;
    this.events = new Observer<RateLimiterEvents>(() => this.name, clock, 'rate-limited');
    this.store = new BucketStore(table);
  }

  /**
   * The rate limiter of `key`. Views are cheap and stateless: the bucket lives in the keyed
   * limiter, so two `get(key)` calls share it, and a view stays valid after its key was
   * forgotten (it then starts from a full bucket, exactly like a new key).
   */
  get(key: string): RateLimiter {
    if (typeof key !== 'string') {
      throw new TypeError(`breakwater: keyedRateLimiter.get(key) needs a string, received ${describeValue(key)}`);
    }
    return new RateLimiter(this.store, this.clock, this.name, { key, observer: this.events });
  }

  /** Keys held now (at most `maxKeys`). */
  get size(): number {
    return this.table.count;
  }

  /** Most keys held at once. */
  get maxKeys(): number {
    return this.table.maxKeys;
  }

  /** Bucket size of every key, in tokens. */
  get capacity(): number {
    return this.table.buckets.capacity;
  }

  /** Tokens added per second to every key's bucket. */
  get refillPerSecond(): number {
    return this.table.buckets.refillPerSecond;
  }

  /** Counters now: keys held, refusals over all keys. */
  get stats(): KeyedRateLimiterStats {
    return { size: this.table.count, rejected: this.table.buckets.rejected };
  }

  /** Subscribes to the events of every key's limiter; the returned function unsubscribes. */
  on<K extends keyof RateLimiterEvents & string>(event: K, listener: Listener<RateLimiterEvents[K]>): () => void {
    checkEventName(`${this.kind} "${this.name}"`, event, RATE_LIMITER_EVENTS);
    return this.events.on(event, listener);
  }
}
