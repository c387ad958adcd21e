export { bulkhead, Bulkhead, type BulkheadOptions, type BulkheadEvents, type BulkheadStats } from './bulkhead.js';
