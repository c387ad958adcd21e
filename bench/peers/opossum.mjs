// opossum 10 (CommonJS). Each breaker keeps its own rolling-stats interval: shut them down after.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const CircuitBreaker = require('opossum');

function make(fn, options) {
  const b = new CircuitBreaker(fn, options);
  return { b, dispose: () => b.shutdown() };
}

export const opossumRows = [
  {
    id: 'op.fire', group: 'breaker', lib: 'opossum', label: 'fire() (closed, timeout: false)',
    setup: (w) => { const { b, dispose } = make(w.fn, { timeout: false }); return { call: () => b.fire(), dispose }; },
  },
  {
    id: 'op.fireTimeout', group: 'breaker', lib: 'opossum', label: 'fire() (closed, with its 10 s timeout)',
    setup: (w) => { const { b, dispose } = make(w.fn, { timeout: 10_000 }); return { call: () => b.fire(), dispose }; },
  },
  {
    id: 'op.open', group: 'breaker-open', lib: 'opossum', label: 'fire() (open: rejects)',
    rejects: true, expectError: (e) => e?.code === 'EOPENBREAKER',
    setup: (w) => {
      const { b, dispose } = make(w.fn, { timeout: false, resetTimeout: 3_600_000 });
      b.open();
      return { call: () => b.fire(), dispose };
    },
  },
];
