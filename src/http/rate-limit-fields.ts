// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10) that `guard` sends for
// the rate limiters found in its policy.

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
