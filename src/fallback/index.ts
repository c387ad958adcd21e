export { fallback, FallbackPolicy, type FallbackOptions, type FallbackEvents } from './fallback.js';
