// Core
export { systemClock, type Clock } from './core/clock.js';
export type { ExecutionContext, ExecuteOptions } from './core/context.js';
export { pipeline, Pipeline, type PipelineOptions } from './core/pipeline.js';
export type { Policy, PolicyResult } from './core/policy.js';
export {
  BreakwaterError,
  CircuitOpenError,
  CircuitIsolatedError,
  BulkheadFullError,
  ConcurrencyLimitError,
  RateLimitedError,
  RateLimiterUnavailableError,
  TimeoutError,
  isBreakwaterError,
  isFastRefusal,
  type BreakwaterErrorCode,
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
  CallEvents,
  DiagnosticsMessage,
} from './core/events.js';
export { handleAll, handleType, type ErrorFilter, type ResultFilter, type HandleOptions } from './core/handle.js';

// Policies
export * from './bulkhead/index.js';
export * from './adaptive/index.js';
export * from './rate-limit/index.js';
export * from './circuit-breaker/index.js';
export * from './timeout/index.js';
export * from './retry/index.js';
export * from './fallback/index.js';
export * from './hedge/index.js';
export * from './chaos/index.js';
export { runWithDeadline, currentDeadline, remainingMs, type Deadline } from './core/deadline.js';
