// Adversarial calls through every policy of the built package, in virtual time: functions that
// return or throw anything, thenables that settle twice, reject after resolving, throw inside
// `then`, or never settle (the caller's signal ends those), and listeners that throw or call the
// policy again from inside an event. `execute` never throws synchronously, always returns a
// promise, every call settles, user values pass through untouched (`===`), and test/setup.ts
// fails any unhandled rejection.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flush, track, type Tracked } from '../helpers.js';
import { bw, TestClock, type PolicyType, type TestClockType } from './built.js';

interface Subject {
  readonly policy: PolicyType;
  /** Results and errors the policy itself may produce (a fallback value, an injected fault). */
  readonly own: readonly unknown[];
  /** Passes a settled user outcome through as it is (no fallback, no injection). */
  readonly transparent: boolean;
}

/** A seeded random source, fresh for every run so that two runs decide alike. */
function seeded(seed = 7): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const FAULT = new Error('injected fault');
const RESULT = Object.freeze({ injected: 'result' });

const POLICIES: Record<string, (clock: TestClockType) => Subject> = {
  timeout: (clock) => ({ policy: bw.timeout(1000, { clock }), own: [], transparent: true }),
  retry: (clock) => ({ policy: bw.retry({ maxRetries: 2, backoff: bw.constantBackoff(10), clock }), own: [], transparent: true }),
  fallback: () => ({ policy: bw.fallback('fallback', { handle: () => false }), own: [], transparent: true }),
  'fallback (handles all)': () => ({ policy: bw.fallback('fallback'), own: ['fallback'], transparent: false }),
  circuitBreaker: (clock) => ({ policy: bw.circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 2, clock }), own: [], transparent: true }),
  bulkhead: (clock) => ({ policy: bw.bulkhead({ maxConcurrent: 2, maxQueue: 2, queueTimeoutMs: 300, clock }), own: [], transparent: true }),
  rateLimiter: (clock) => ({ policy: bw.rateLimiter({ capacity: 3, refillPerSecond: 10, maxWaitMs: 100, clock }), own: [], transparent: true }),
  keyedRateLimiter: (clock) => ({
    policy: bw.keyedRateLimiter({ capacity: 3, refillPerSecond: 10, maxWaitMs: 100, maxKeys: 2, clock }).get('k'),
    own: [],
    transparent: true,
  }),
  adaptiveConcurrency: (clock) => ({
    policy: bw.adaptiveConcurrency({ limit: bw.aimdLimit({ initialLimit: 2, minLimit: 1, maxLimit: 4, timeoutMs: 200 }), maxQueue: 2, queueTimeoutMs: 300, clock }),
    own: [],
    transparent: true,
  }),
  hedge: (clock) => ({ policy: bw.hedge({ delayMs: 50, maxAttempts: 3, clock }), own: [], transparent: true }),
  'chaos latency': (clock) => ({ policy: bw.chaos({ injectionRate: 0.5, latencyMs: 30, random: seeded(), clock }), own: [], transparent: true }),
  'chaos fault': (clock) => ({ policy: bw.chaos({ injectionRate: 0.5, fault: FAULT, random: seeded(), clock }), own: [FAULT], transparent: false }),
  'chaos result': (clock) => ({ policy: bw.chaos({ injectionRate: 0.5, result: RESULT, random: seeded(), clock }), own: [RESULT], transparent: false }),
  pipeline: (clock) => ({
    policy: bw.pipeline(
      { clock, name: 'adversarial' },
      bw.fallback('fallback', { handle: () => false }),
      bw.retry({ maxRetries: 1, backoff: bw.constantBackoff(5), clock }),
      bw.circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 3, clock }),
      bw.bulkhead({ maxConcurrent: 2, maxQueue: 2, clock }),
      bw.rateLimiter({ capacity: 5, refillPerSecond: 20, maxWaitMs: 50, clock }),
      bw.hedge({ delayMs: 40, clock }),
      bw.timeout(1000, { clock }),
    ),
    own: [],
    transparent: true,
  }),
};

// ---------------------------------------------------------------------------------------------
// What `fn` does.

type Step = readonly ['resolve' | 'reject' | 'throw' | 'resolveThenable', unknown];
type Behaviour =
  | { readonly kind: 'return' | 'throw' | 'reject'; readonly value: unknown }
  | { readonly kind: 'thenable'; readonly steps: readonly Step[] }
  | { readonly kind: 'thenGetterThrows'; readonly value: unknown }
  | { readonly kind: 'later'; readonly afterMs: number; readonly steps: readonly Step[] }
  | { readonly kind: 'never' };

/** Any value that is not itself a thenable. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 1, withBigInt: true, withNullPrototype: true }),
  fc.constantFrom(Number.NaN, -0, Infinity, undefined, null, ''),
  fc.constant(null).map(() => Object.freeze(new Error('frozen'))),
  fc.constant(null).map(() => Symbol('thrown')),
  fc.constant(null).map(() => new TypeError('a user TypeError')),
);

const step: fc.Arbitrary<Step> = fc.tuple(fc.constantFrom('resolve', 'reject', 'throw', 'resolveThenable') as fc.Arbitrary<Step[0]>, value);
const asyncStep: fc.Arbitrary<Step> = step.filter(([action]) => action !== 'throw');

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.record({ kind: fc.constantFrom('return', 'throw', 'reject') as fc.Arbitrary<'return'>, value }),
  fc.record({ kind: fc.constant('thenable' as const), steps: fc.array(step, { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('thenGetterThrows' as const), value }),
  fc.record({ kind: fc.constant('later' as const), afterMs: fc.integer({ min: 0, max: 400 }), steps: fc.array(asyncStep, { minLength: 1, maxLength: 3 }) }),
  fc.constant({ kind: 'never' as const }),
);

/** The outcome a plain `await fn()` would have, or undefined when it never settles. */
function expected(b: Behaviour): { status: 'fulfilled' | 'rejected'; value: unknown } | undefined {
  switch (b.kind) {
    case 'return':
      return { status: 'fulfilled', value: b.value };
    case 'throw':
    case 'reject':
    case 'thenGetterThrows':
      return { status: 'rejected', value: b.value };
    case 'thenable':
    case 'later': {
      const [action, v] = b.steps[0]!;
      return { status: action === 'resolve' || action === 'resolveThenable' ? 'fulfilled' : 'rejected', value: v };
    }
    case 'never':
      return undefined;
  }
}

function run(steps: readonly Step[], ok: (v: unknown) => void, fail: (e: unknown) => void): void {
  for (const [action, v] of steps) {
    if (action === 'resolve') ok(v);
    else if (action === 'resolveThenable') ok({ then: (inner: (x: unknown) => void) => inner(v) });
    else if (action === 'reject') fail(v);
    else throw v;
  }
}

function fnFor(b: Behaviour, clock: TestClockType): () => unknown {
  switch (b.kind) {
    case 'return':
      return () => b.value;
    case 'throw':
      return () => {
        throw b.value;
      };
    case 'reject':
      return () => Promise.reject(b.value);
    case 'thenable':
      return () => ({ then: (ok: (v: unknown) => void, fail: (e: unknown) => void) => run(b.steps, ok, fail) });
    case 'thenGetterThrows':
      return () => ({
        get then(): never {
          throw b.value;
        },
      });
    case 'later':
      return () => ({
        then: (ok: (v: unknown) => void, fail: (e: unknown) => void) => {
          clock.setTimeout(() => run(b.steps, ok, fail), b.afterMs);
        },
      });
    case 'never':
      return () => ({ then: () => {} });
  }
}

/** Every value `fn` may produce under `b`. */
function produced(b: Behaviour): unknown[] {
  if (b.kind === 'never') return [];
  if (b.kind === 'thenable' || b.kind === 'later') return b.steps.map(([, v]) => v);
  return [b.value];
}

/** For assertion messages: any value, even one with no prototype. */
function show(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/**
 * A running `fn` learns of a caller abort from `ctx.signal` and decides for itself: a policy
 * that does not wait has nothing to stop. One that never settles is what `timeout` is for.
 */
function bounded(policy: PolicyType, clock: TestClockType): PolicyType {
  return bw.pipeline(bw.timeout(3000, { clock }), policy);
}

const includesValue = (list: readonly unknown[], v: unknown): boolean => list.some((x) => Object.is(x, v));

/** Starts a call: `execute` must return a promise and never throw. */
function start(policy: PolicyType, fn: () => unknown, signal?: AbortSignal): Tracked<unknown> {
  let result: unknown;
  expect(() => {
    result = policy.execute(fn as () => Promise<unknown>, signal === undefined ? undefined : { signal });
  }).not.toThrow();
  expect(result).toBeInstanceOf(Promise);
  return track(result as Promise<unknown>);
}

const END_MS = 5000;

/** Advances virtual time to END_MS, then aborts what is left and gives it one more second. */
async function settleAll(clock: TestClockType, calls: () => readonly Tracked<unknown>[], controller: AbortController, reason: unknown): Promise<void> {
  while (clock.now() < END_MS && calls().some((c) => !c.settled)) await clock.advance(50);
  controller.abort(reason);
  await clock.advance(1000);
  await flush();
  for (const call of calls()) expect(call.settled, 'a call never settled').toBe(true);
}

describe('adversarial execute: whatever fn does, every call settles and user values pass through', () => {
  it.each(Object.keys(POLICIES))('%s', async (name) => {
    await fc.assert(
      fc.asyncProperty(behaviour, fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 1500 })), async (b, abortAtMs) => {
        const clock = new TestClock();
        const { policy, own, transparent } = POLICIES[name]!(clock);
        const controller = new AbortController();
        const reason = { abortedBy: 'the caller' };
        if (abortAtMs !== undefined) clock.setTimeout(() => controller.abort(reason), abortAtMs);
        const call = start(b.kind === 'never' ? bounded(policy, clock) : policy, fnFor(b, clock), controller.signal);
        await settleAll(clock, () => [call], controller, reason);

        if (call.status === 'fulfilled') {
          expect(includesValue([...produced(b), ...own], call.value), `fulfilled with ${show(call.value)}`).toBe(true);
        } else {
          const e = call.error;
          const legit = includesValue([...produced(b), ...own, reason], e) || bw.isBreakwaterError(e);
          expect(legit, `rejected with ${show(e)}`).toBe(true);
        }
        // Settled before any abort and before any timeout: exactly what `await fn()` gives.
        const plain = expected(b);
        if (transparent && plain !== undefined && abortAtMs === undefined) {
          expect(call.status).toBe(plain.status);
          expect(Object.is(call.status === 'fulfilled' ? call.value : call.error, plain.value)).toBe(true);
        }
      }),
      { numRuns: 120 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Listeners.

type ListenerMode = 'throw' | 'throwValue' | 'reenter' | 'abort';
const simpleBehaviour = behaviour.filter((b) => b.kind !== 'thenable' || b.steps.length === 1);

/** Every event name the policy has (the names are a field of every policy). */
function eventsOf(policy: PolicyType): readonly string[] {
  return (policy as unknown as { eventNames?: readonly string[] }).eventNames ?? [];
}

async function runWithListeners(
  name: string,
  behaviours: readonly Behaviour[],
  modes: readonly ListenerMode[],
): Promise<{ outcomes: Array<readonly [string, unknown]>; inner: number }> {
  const clock = new TestClock();
  const { policy } = POLICIES[name]!(clock);
  const controller = new AbortController();
  const reason = { abortedBy: 'a listener' };
  const calls: Array<Tracked<unknown>> = [];
  const inner: Array<Tracked<unknown>> = [];
  let depth = 0;
  const events = eventsOf(policy);
  expect(events.length).toBeGreaterThan(0);
  events.forEach((event, i) => {
    const mode = modes[i % Math.max(1, modes.length)];
    if (mode === undefined) return;
    (policy as unknown as { on(event: string, l: (e: unknown) => void): () => void }).on(event, () => {
      if (mode === 'throw') throw new Error(`listener of ${event}`);
      if (mode === 'throwValue') throw { listener: event };
      if (mode === 'abort') controller.abort(reason);
      if (mode === 'reenter' && depth < 3 && inner.length < 20) {
        depth++;
        try {
          inner.push(start(policy, () => 'inner'));
        } finally {
          depth--;
        }
      }
    });
  });
  for (const b of behaviours) calls.push(start(b.kind === 'never' ? bounded(policy, clock) : policy, fnFor(b, clock), controller.signal));
  await settleAll(clock, () => [...calls, ...inner], controller, reason);
  return { outcomes: calls.map((c) => [c.status, c.status === 'fulfilled' ? c.value : c.error] as const), inner: inner.length };
}

describe('adversarial listeners: a listener that throws or calls the policy again changes no rule', () => {
  it.each(Object.keys(POLICIES).filter((n) => n !== 'fallback (handles all)'))('%s', async (name) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(simpleBehaviour, { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom<ListenerMode>('throw', 'throwValue', 'reenter', 'abort'), { minLength: 1, maxLength: 4 }),
        async (behaviours, modes) => {
          // Settling (inside runWithListeners) and no unhandled rejection (test/setup.ts) for any mix.
          await runWithListeners(name, behaviours, modes);
          // Listeners that only throw change no outcome at all: same run without them.
          const quiet = await runWithListeners(name, behaviours, []);
          const loud = await runWithListeners(name, behaviours, ['throw', 'throwValue']);
          expect(loud.outcomes.length).toBe(quiet.outcomes.length);
          loud.outcomes.forEach(([status, v], i) => {
            expect(status).toBe(quiet.outcomes[i]![0]);
            const other = quiet.outcomes[i]![1];
            // Refusals are new error objects each run: compare their class and code; user values by identity.
            if (bw.isBreakwaterError(v)) expect([v.constructor, (v as { code: string }).code]).toEqual([(other as Error).constructor, (other as { code: string }).code]);
            else expect(Object.is(v, other)).toBe(true);
          });
        },
      ),
      { numRuns: 40 },
    );
  });
});
