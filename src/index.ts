// Core
export { systemClock, type Clock } from './core/clock.js';
export type { ExecutionContext, ExecuteOptions } from './core/context.js';
export { pipeline, Pipeline } from './core/pipeline.js';
export type { Policy } from './core/policy.js';
export {
  BreakwaterError,
  CircuitOpenError,
  CircuitIsolatedError,
  BulkheadFullError,
  RateLimitedError,
  TimeoutError,
  isBreakwaterError,
} from './core/errors.js';
export type {
  Listener,
  SuccessEvent,
  FailureEvent,
  RejectedEvent,
  RejectionReason,
  TimeoutEvent,
  RetryEvent,
  StateChangeEvent,
} from './core/events.js';
export { handleAll, handleType, type ErrorFilter, type ResultFilter, type HandleOptions } from './core/handle.js';

// Policies
export * from './bulkhead/index.js';
export * from './rate-limit/index.js';
export * from './circuit-breaker/index.js';
export * from './timeout/index.js';
export * from './retry/index.js';
export * from './fallback/index.js';
export * from './hedge/index.js';
export * from './chaos/index.js';
export { runWithDeadline, currentDeadline, remainingMs, type Deadline } from './core/deadline.js';
