export { LimitBase, type Limit, type LimitSample, type LimitListener } from './limit.js';
export { gradient2Limit, Gradient2Limit, type Gradient2LimitOptions } from './gradient2.js';
export { vegasLimit, VegasLimit, type VegasLimitOptions } from './vegas.js';
export { aimdLimit, AimdLimit, type AimdLimitOptions } from './aimd.js';
export { windowedLimit, WindowedLimit, type WindowedLimitOptions } from './windowed.js';
export type { LimitFunction } from './options.js';
export {
  adaptiveConcurrency,
  AdaptiveConcurrency,
  isOverloadError,
  type AdaptiveConcurrencyOptions,
  type AdaptiveConcurrencyEvents,
  type AdaptiveConcurrencyStats,
  type LimitChangeEvent,
} from './adaptive-concurrency.js';
