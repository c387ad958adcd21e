// p-limit: a concurrency limiter, the closest thing to a bulkhead without a queue bound.
import pLimit from 'p-limit';

export const pLimitRows = [
  {
    id: 'pl.limit', group: 'bulkhead', lib: 'p-limit', label: 'pLimit(1000)(fn)',
    setup: (w) => { const limit = pLimit(1_000); return () => limit(w.fn); },
  },
];
