import fc from 'fast-check';
import { afterEach, beforeEach, expect } from 'vitest';

// Property tests run from a fixed seed so that a red run can always be replayed, and CI judges
// the code, not the luck of the draw. Explore new schedules with FC_SEED=random (or a number).
const seedSetting = process.env['FC_SEED'] ?? '20261122';
if (seedSetting !== 'random') fc.configureGlobal({ seed: Number(seedSetting) });

// Any unhandled rejection during a test fails that test: no unhandled rejection, ever, is one of
// the rules every policy keeps (docs/architecture.md).
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});

afterEach(async () => {
  // Rejections are reported after the microtask queue drains; give them two turns to show up.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled, 'unhandled rejections during the test').toEqual([]);
});
