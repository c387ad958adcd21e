export {
  rateLimiter,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimiterEvents,
  type RateLimiterStats,
  type RateLimitedEvent,
} from './rate-limiter.js';
export {
  keyedRateLimiter,
  KeyedRateLimiter,
  type KeyedRateLimiterOptions,
  type KeyedRateLimiterStats,
} from './keyed-rate-limiter.js';
