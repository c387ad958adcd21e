export {
  circuitBreaker,
  CircuitBreaker,
  CIRCUIT_TRANSITIONS,
  type CircuitBreakerEvents,
  type CircuitBreakerFailureEvent,
  type CircuitBreakerStats,
} from './circuit-breaker.js';
export type { CircuitBreakerOptions, CircuitBreakerSnapshot, CircuitState } from './options.js';
