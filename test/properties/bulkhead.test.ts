import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bulkhead } from '../../src/bulkhead/index.js';
import { BulkheadFullError } from '../../src/core/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, getEventListeners, track, type Tracked } from '../helpers.js';

// BH1–BH6 (research/peer-failure-modes.md) over random schedules of call / settle / abort /
// advance, checked after every step against what the caller can observe.

type Op =
  | { readonly kind: 'call' }
  | { readonly kind: 'settle'; readonly pick: number; readonly ok: boolean }
  | { readonly kind: 'abort'; readonly pick: number }
  | { readonly kind: 'advance'; readonly ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'call' } as const) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }) },
);

interface Call {
  readonly id: number;
  readonly controller: AbortController;
  readonly gate: ReturnType<typeof deferred<string>>;
  result: Tracked<unknown>;
  /** What the bulkhead looked like just before the call arrived. */
  readonly arrival: { readonly active: number; readonly queued: number; readonly at: number };
  started: boolean;
  fnSettled: boolean;
  abortedAt: number | undefined;
  readonly reason: Error;
}

describe('bulkhead properties', () => {
  it('BH1–BH6 hold over random schedules', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.integer({ min: 5, max: 60 }), { nil: undefined }),
        fc.array(op, { minLength: 1, maxLength: 40 }),
        async (maxConcurrent, maxQueue, queueTimeoutMsRaw, ops) => {
          const queueTimeoutMs = maxQueue === 0 ? undefined : queueTimeoutMsRaw;
          const clock = new TestClock();
          const b = bulkhead(
            queueTimeoutMs === undefined ? { maxConcurrent, maxQueue, clock } : { maxConcurrent, maxQueue, queueTimeoutMs, clock },
          );
          const calls: Call[] = [];
          const startOrder: number[] = [];

          const check = (): void => {
            const running = calls.filter((c) => c.started && !c.fnSettled).length;
            // BH1: never more than maxConcurrent fns in flight; `active` counts exactly them.
            expect(running).toBeLessThanOrEqual(maxConcurrent);
            expect(b.active).toBe(running);
            // BH2: the queue never exceeds its bound.
            expect(b.queued).toBeLessThanOrEqual(maxQueue);
            expect(b.queued).toBe(calls.filter((c) => !c.started && !c.result.settled).length);
            // A timer exists only while a caller waits on it.
            if (b.queued === 0) expect(clock.pending).toBe(0);
            // BH5: no idle slot while someone waits.
            if (b.queued > 0) expect(b.active).toBe(maxConcurrent);
            // BH3: fns start in arrival order (aborted / timed-out waiters are skipped, never reordered).
            for (let i = 1; i < startOrder.length; i++) expect(startOrder[i]).toBeGreaterThan(startOrder[i - 1]!);
            for (const c of calls) {
              // BH4: an aborted waiter has rejected with its reason, and its fn never ran.
              if (c.abortedAt !== undefined && !c.started) {
                expect(c.result.status).toBe('rejected');
                expect(c.result.error).toBe(c.reason);
              }
              if (c.result.status === 'rejected' && c.result.error instanceof BulkheadFullError) {
                expect(c.started).toBe(false);
                if (c.result.error.message.includes('queue wait')) {
                  // Timed out in the queue: it had been queued, for queueTimeoutMs.
                  expect(clock.now() - c.arrival.at).toBeGreaterThanOrEqual(queueTimeoutMs!);
                } else {
                  // BH2: rejected at once only when every slot and queue place was taken.
                  expect(c.arrival.active).toBe(maxConcurrent);
                  expect(c.arrival.queued).toBe(maxQueue);
                }
              }
            }
          };

          for (const step of ops) {
            if (step.kind === 'call') {
              const id = calls.length;
              const controller = new AbortController();
              const gate = deferred<string>();
              const arrival = { active: b.active, queued: b.queued, at: clock.now() };
              const call: Call = {
                id,
                controller,
                gate,
                arrival,
                started: false,
                fnSettled: false,
                abortedAt: undefined,
                reason: new Error(`abort ${id}`),
                result: undefined as never,
              };
              calls.push(call);
              // fn may run synchronously inside execute: `call` must exist before.
              call.result = track(
                b.execute(
                  () => {
                    call.started = true;
                    startOrder.push(id);
                    return gate.promise.finally(() => {
                      call.fnSettled = true;
                    });
                  },
                  { signal: controller.signal },
                ),
              );
            } else if (step.kind === 'settle') {
              const running = calls.filter((c) => c.started && !c.fnSettled);
              const target = running[step.pick % Math.max(1, running.length)];
              if (target !== undefined) {
                if (step.ok) target.gate.resolve(`ok ${target.id}`);
                else target.gate.reject(new Error(`fail ${target.id}`));
              }
            } else if (step.kind === 'abort') {
              const live = calls.filter((c) => c.abortedAt === undefined && !c.result.settled);
              const target = live[step.pick % Math.max(1, live.length)];
              if (target !== undefined) {
                target.abortedAt = clock.now();
                target.controller.abort(target.reason);
              }
            } else {
              await clock.advance(step.ms);
            }
            // Within a tick: everything the step caused has happened.
            await clock.advance(0);
            check();
          }

          // Drain: settle every fn (including ones admitted while draining), let deadlines pass.
          for (let round = 0; round < calls.length + 1; round++) {
            for (const c of calls) if (c.started && !c.fnSettled) c.gate.resolve(`ok ${c.id}`);
            await clock.advance(100);
            check();
          }
          // Every call settled exactly once, with what its fn (or the bulkhead) decided.
          for (const c of calls) {
            expect(c.result.settled).toBe(true);
            if (c.started) {
              if (c.result.status === 'fulfilled') expect(c.result.value).toBe(`ok ${c.id}`);
              else expect((c.result.error as Error).message).toBe(`fail ${c.id}`);
            } else {
              expect(c.result.status).toBe('rejected');
              expect(c.result.error === c.reason || c.result.error instanceof BulkheadFullError).toBe(true);
            }
          }
          // BH6: quiescent — nothing active, queued, listening or ticking.
          expect(b.active).toBe(0);
          expect(b.queued).toBe(0);
          expect(clock.pending).toBe(0);
          for (const c of calls) expect(getEventListeners(c.controller.signal, 'abort')).toHaveLength(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
