import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adaptiveConcurrency } from '../../src/adaptive/index.js';
import { ConcurrencyLimitError } from '../../src/core/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, getEventListeners, track, type Tracked } from '../helpers.js';
import { SettableLimit } from './helpers.js';

// Random schedules of call / settle / abort / advance / limit change, checked after every step.

type Op =
  | { readonly kind: 'call' }
  | { readonly kind: 'settle'; readonly pick: number; readonly ok: boolean }
  | { readonly kind: 'abort'; readonly pick: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'limit'; readonly to: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'call' } as const) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('limit' as const), to: fc.integer({ min: 1, max: 4 }) }) },
);

interface Call {
  readonly id: number;
  readonly controller: AbortController;
  readonly gate: ReturnType<typeof deferred<string>>;
  result: Tracked<unknown>;
  started: boolean;
  fnSettled: boolean;
  /** The caller aborted before `fn` settled (or before it started). */
  abortedFirst: boolean;
  readonly reason: Error;
}

describe('adaptiveConcurrency properties', () => {
  it('in flight ≤ limit at admission, FIFO, one sample per admitted call and none on abort', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 5, max: 60 }), { nil: undefined }),
        fc.array(op, { minLength: 1, maxLength: 50 }),
        async (initial, maxQueue, subscribable, queueTimeoutRaw, ops) => {
          const queueTimeoutMs = maxQueue === 0 ? undefined : queueTimeoutRaw;
          const clock = new TestClock();
          const limit = new SettableLimit(initial, subscribable);
          const policy = adaptiveConcurrency({ limit, maxQueue, clock, ...(queueTimeoutMs === undefined ? {} : { queueTimeoutMs }) });
          const calls: Call[] = [];
          const startOrder: number[] = [];
          const running = () => calls.filter((c) => c.started && !c.fnSettled).length;

          const check = (): void => {
            expect(policy.active).toBe(running());
            expect(policy.queued).toBe(calls.filter((c) => !c.started && !c.result.settled).length);
            expect(policy.queued).toBeLessThanOrEqual(maxQueue);
            // No slot idles while someone waits (a limit that cannot be subscribed to is only
            // looked at on arrivals and samples: until then it may have grown unseen).
            if (subscribable && policy.queued > 0) expect(policy.active).toBeGreaterThanOrEqual(limit.limit);
            if (policy.queued === 0) expect(clock.pending).toBe(0);
            for (let i = 1; i < startOrder.length; i++) expect(startOrder[i]).toBeGreaterThan(startOrder[i - 1]!);
            for (const c of calls) {
              if (c.result.status === 'rejected' && c.result.error instanceof ConcurrencyLimitError) expect(c.started).toBe(false);
            }
          };

          for (const step of ops) {
            if (step.kind === 'call') {
              const id = calls.length;
              const call: Call = {
                id,
                controller: new AbortController(),
                gate: deferred<string>(),
                started: false,
                fnSettled: false,
                abortedFirst: false,
                reason: new Error(`abort ${id}`),
                result: undefined as never,
              };
              calls.push(call);
              call.result = track(
                policy.execute(
                  () => {
                    call.started = true;
                    startOrder.push(id);
                    // Admitted only while the calls in flight, this one included, fit the limit.
                    expect(running()).toBeLessThanOrEqual(limit.limit);
                    return call.gate.promise.finally(() => {
                      call.fnSettled = true;
                    });
                  },
                  { signal: call.controller.signal },
                ),
              );
            } else if (step.kind === 'settle') {
              const live = calls.filter((c) => c.started && !c.fnSettled);
              const target = live[step.pick % Math.max(1, live.length)];
              if (target !== undefined) {
                if (step.ok) target.gate.resolve(`ok ${target.id}`);
                else target.gate.reject(new Error(`fail ${target.id}`));
              }
            } else if (step.kind === 'abort') {
              const live = calls.filter((c) => !c.controller.signal.aborted && !c.fnSettled && !c.result.settled);
              const target = live[step.pick % Math.max(1, live.length)];
              if (target !== undefined) {
                target.abortedFirst = true;
                target.controller.abort(target.reason);
              }
            } else if (step.kind === 'advance') {
              await clock.advance(step.ms);
            } else {
              limit.set(step.to);
            }
            await clock.advance(0);
            check();
          }

          for (let round = 0; round < calls.length + 1; round++) {
            limit.set(Math.max(limit.limit, 1));
            for (const c of calls) if (c.started && !c.fnSettled) c.gate.resolve(`ok ${c.id}`);
            await clock.advance(100);
            check();
          }
          for (const c of calls) expect(c.result.settled).toBe(true);
          // One sample per call that ran, unless its caller gave up before it settled.
          const expected = calls.filter((c) => c.started && !c.abortedFirst).length;
          expect(limit.samples).toHaveLength(expected);
          for (const s of limit.samples) {
            expect(s.rttMs).toBeGreaterThanOrEqual(0);
            expect(s.inflight).toBeGreaterThanOrEqual(1);
            expect(typeof s.dropped).toBe('boolean');
          }
          expect(policy.active).toBe(0);
          expect(policy.queued).toBe(0);
          expect(clock.pending).toBe(0);
          for (const c of calls) expect(getEventListeners(c.controller.signal, 'abort')).toHaveLength(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
