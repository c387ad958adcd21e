export { circuitBreaker, CircuitBreaker, type CircuitBreakerStats } from './circuit-breaker.js';
export type { CircuitBreakerEvents, CircuitBreakerFailureEvent } from './events.js';
export { CIRCUIT_TRANSITIONS } from './states.js';
export type { CircuitBreakerOptions, CircuitBreakerSnapshot, CircuitState } from './options.js';
