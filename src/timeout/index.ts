export { timeout, TimeoutPolicy, type TimeoutOptions, type TimeoutEvents } from './timeout.js';
