// rate-limiter-flexible 11: RateLimiterMemory.consume(key) (rejects with a RateLimiterRes).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { RateLimiterMemory, RateLimiterRes } = require('rate-limiter-flexible');

export const rateLimiterFlexibleRows = [
  {
    id: 'rlf.consume', group: 'rate-limiter', lib: 'rate-limiter-flexible', label: 'RateLimiterMemory.consume(key) then fn',
    setup: (w) => {
      const rl = new RateLimiterMemory({ points: 1e9, duration: 3_600 });
      return async () => {
        await rl.consume('tenant-42');
        return await w.fn();
      };
    },
  },
  {
    id: 'rlf.reject', group: 'rate-limiter-reject', lib: 'rate-limiter-flexible', label: 'RateLimiterMemory.consume(key) (exhausted: rejects)',
    rejects: true, expectError: (e) => e instanceof RateLimiterRes,
    setup: async (w) => {
      const rl = new RateLimiterMemory({ points: 1, duration: 3_600 });
      await rl.consume('tenant-42');
      return async () => {
        await rl.consume('tenant-42');
        return await w.fn();
      };
    },
  },
];
