export { retry, RetryPolicy, type RetryOptions, type RetryEvents } from './retry.js';
export {
  constantBackoff,
  exponentialBackoff,
  type Backoff,
  type BackoffInput,
  type ExponentialBackoffOptions,
  type Jitter,
} from './backoff.js';
export { retryBudget, type RetryBudget, type RetryBudgetOptions } from './budget.js';
