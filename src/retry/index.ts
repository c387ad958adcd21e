export { retry, RetryPolicy, type RetryOptions, type RetryPolicyEvents } from './retry.js';
export {
  constantBackoff,
  exponentialBackoff,
  type Backoff,
  type BackoffInput,
  type ExponentialBackoffOptions,
  type Jitter,
} from './backoff.js';
