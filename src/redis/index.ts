// breakwater/redis — one token bucket per key, shared by a fleet through Redis.
export {
  redisRateLimiter,
  RedisRateLimiter,
  RedisKeyLimiter,
  type RedisRateLimiterOptions,
  type RedisRateLimiterEvents,
  type RedisRateLimiterStats,
  type RedisUnavailableEvent,
  type RedisRecoveredEvent,
  type UnavailableMode,
} from './redis-rate-limiter.js';
export type { RedisClientLike, IoRedisLike, NodeRedisLike } from './client.js';
export { RateLimitedError, RateLimiterUnavailableError } from '../core/errors.js';
