// The adversarial properties run against the built package, the code users install: every
// factory and class comes from dist/ through the package's own exports.
import { ensureBuilt } from '../package/built.js';

ensureBuilt();

export const bw = (await import('breakwater')) as unknown as typeof import('../../src/index.js');
export const { TestClock } = (await import('breakwater/testing')) as unknown as typeof import('../../src/testing/index.js');
export const redis = (await import('breakwater/redis')) as unknown as typeof import('../../src/redis/index.js');
export const sim = (await import('breakwater/sim')) as unknown as typeof import('../../src/sim/index.js');

export type TestClockType = import('../../src/testing/index.js').TestClock;
export type PolicyType = import('../../src/index.js').Policy;
