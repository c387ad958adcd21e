// The RateLimit fields that `guard` sends for the rate limiters found in its policy: the IETF
// draft's (draft-ietf-httpapi-ratelimit-headers-10) and the legacy X-RateLimit-* trio.

import type { Policy } from '../core/policy.js';

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

const sfStrings = new Map<string, string>();

/** An sf-string: printable ASCII only, `"` and `\` escaped; anything else becomes `_`. */
function sfString(text: string): string {
  let quoted = sfStrings.get(text);
  if (quoted === undefined) {
    quoted = `"${text.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&')}"`;
    // Limiter names are few; a bound keeps names made per request from growing the cache.
    if (sfStrings.size < 1000) sfStrings.set(text, quoted);
  }
  return quoted;
}

/** The last `RateLimit-Policy` item made for each limiter name: it changes only with the limiter. */
const policyItems = new Map<string, { capacity: number; window: number; item: string }>();

function policyItem(quotedName: string, capacity: number, window: number): string {
  const cached = policyItems.get(quotedName);
  if (cached !== undefined && cached.capacity === capacity && cached.window === window) return cached.item;
  const item = `${quotedName};q=${Math.floor(capacity)};w=${window}`;
  if (cached !== undefined || policyItems.size < 1000) policyItems.set(quotedName, { capacity, window, item });
  return item;
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
    policy += policyItem(name, capacity, window);
    state += `${name};r=${Math.floor(available)};t=${reset}`;
  }
  return { policy, state };
}

/** Which fields `guard` sends: the IETF draft's, the legacy `X-RateLimit-*`, or both. */
export type RateLimitHeaderStandard = 'ietf' | 'legacy' | 'both';

const STANDARDS: readonly RateLimitHeaderStandard[] = ['ietf', 'legacy', 'both'];

/** Checks the `rateLimitHeaders` option: a standard, `true` (= 'ietf', the default) or `false`. */
export function checkRateLimitHeaders(value: unknown): RateLimitHeaderStandard | false {
  if (value === undefined || value === true) return 'ietf';
  if (value === false) return false;
  if (typeof value === 'string' && (STANDARDS as readonly string[]).includes(value)) return value as RateLimitHeaderStandard;
  const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value;
  throw new TypeError(
    `breakwater: option "rateLimitHeaders" must be 'ietf', 'legacy', 'both' or a boolean, received ${shown}`,
  );
}

/**
 * Reads and writes the headers of one response, whichever framework holds it. `target` is the
 * response (or reply) itself, so that one access object serves every request of a guard.
 */
export interface HeaderAccess<Target = void> {
  get(name: string, target: Target): unknown;
  set(name: string, value: string, target: Target): void;
}

/**
 * Writes the fields for `limiters` to a response that may already carry another guard's.
 * Names are written in lower case (field names are case-insensitive): Node and Fastify
 * lower-case every name they are given, and a name that already is one is a constant they
 * store under without building a new string and looking it up per response.
 *
 * - IETF: `RateLimit-Policy` and `RateLimit` are lists, so ours are appended to theirs;
 * - legacy: `X-RateLimit-Limit`, `-Remaining`, `-Reset` hold one limiter each, so they
 *   describe the most restrictive one (fewest requests remaining) of all the guards;
 *   `X-RateLimit-Reset` is in seconds from now, as in `t`.
 */
export function writeRateLimitFields<Target>(
  limiters: readonly RateLimitInfo[],
  standard: RateLimitHeaderStandard,
  headers: HeaderAccess<Target>,
  target?: Target,
): void {
  if (limiters.length === 0) return;
  const on = target as Target;
  if (standard !== 'legacy') {
    const fields = rateLimitFields(limiters)!;
    headers.set('ratelimit-policy', appended(headers.get('ratelimit-policy', on), fields.policy), on);
    headers.set('ratelimit', appended(headers.get('ratelimit', on), fields.state), on);
  }
  if (standard !== 'ietf') {
    let tightest: LegacyFields | undefined;
    for (const limiter of limiters) {
      const fields = legacyFields(limiter);
      if (tightest === undefined || fields.remaining < tightest.remaining) tightest = fields;
    }
    const earlier = Number(headers.get('x-ratelimit-remaining', on) ?? NaN);
    if (Number.isFinite(earlier) && earlier <= tightest!.remaining) return;
    headers.set('x-ratelimit-limit', String(tightest!.limit), on);
    headers.set('x-ratelimit-remaining', String(tightest!.remaining), on);
    headers.set('x-ratelimit-reset', String(tightest!.reset), on);
  }
}

interface LegacyFields {
  readonly limit: number;
  readonly remaining: number;
  readonly reset: number;
}

function legacyFields(limiter: RateLimitInfo): LegacyFields {
  const { capacity, refillPerSecond } = limiter;
  const available = Math.max(0, Math.min(capacity, limiter.available));
  return {
    limit: Math.floor(capacity),
    remaining: Math.floor(available),
    reset: Math.max(0, Math.ceil((capacity - available) / refillPerSecond)),
  };
}

function appended(existing: unknown, value: string): string {
  if (Array.isArray(existing)) existing = existing.join(', ');
  return typeof existing === 'string' && existing.length > 0 ? `${existing}, ${value}` : value;
}
