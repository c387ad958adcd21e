// limiter 4: RateLimiter (async removeTokens) and TokenBucket (sync tryRemoveTokens).
// The rejection is one pre-built error: limiter has none of its own, and building one per
// call (~6 µs) would measure `new Error`, not the limiter.
import { RateLimiter, TokenBucket } from 'limiter';

const LIMITED = Object.assign(new Error('rate limited'), { code: 'LIMITED' });

export const limiterRows = [
  {
    id: 'lim.removeTokens', group: 'rate-limiter', lib: 'limiter', label: 'RateLimiter.removeTokens(1) then fn',
    setup: (w) => {
      const rl = new RateLimiter({ tokensPerInterval: 1e9, interval: 'second' });
      return async () => {
        await rl.removeTokens(1);
        return await w.fn();
      };
    },
  },
  {
    id: 'lim.tryRemoveTokens', group: 'rate-limiter', lib: 'limiter', label: 'TokenBucket.tryRemoveTokens(1) then fn',
    setup: (w) => {
      const tb = new TokenBucket({ bucketSize: 1e9, tokensPerInterval: 1e9, interval: 'second' });
      tb.content = 1e9; // buckets start empty
      return () => (tb.tryRemoveTokens(1) ? w.fn() : Promise.reject(LIMITED));
    },
  },
  {
    id: 'lim.reject', group: 'rate-limiter-reject', lib: 'limiter', label: 'TokenBucket.tryRemoveTokens(1) (empty: rejects)',
    rejects: true, expectError: (e) => e === LIMITED,
    setup: (w) => {
      const tb = new TokenBucket({ bucketSize: 1, tokensPerInterval: 1, interval: 'day' });
      return () => (tb.tryRemoveTokens(1) ? w.fn() : Promise.reject(LIMITED));
    },
  },
];
