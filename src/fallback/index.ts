export { fallback, FallbackPolicy, type FallbackOptions, type FallbackEvents, type FallbackEvent } from './fallback.js';
