import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { constantBackoff, pipeline, retry, timeout, TimeoutError } from '../../src/index.js';
import { EventHub } from '../../src/core/events.js';
import { TestClock } from '../../src/testing/index.js';
import { track } from '../helpers.js';

/** A TestClock that counts `now()` reads: an event payload needs one for its duration. */
class CountingClock extends TestClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

const subscriptions: [string, (message: unknown, name: string | symbol) => void][] = [];

function listen(event: string): unknown[] {
  const messages: unknown[] = [];
  const onMessage = (message: unknown): void => {
    messages.push(message);
  };
  diagnosticsChannel.subscribe(`breakwater:${event}`, onMessage);
  subscriptions.push([`breakwater:${event}`, onMessage]);
  return messages;
}

afterEach(() => {
  for (const [name, onMessage] of subscriptions.splice(0)) diagnosticsChannel.unsubscribe(name, onMessage);
  vi.restoreAllMocks();
});

describe('diagnostics_channel publishing', () => {
  it('publishes each event on breakwater:<event> with the policy name and the payload', async () => {
    const clock = new TestClock();
    const success = listen('success');
    const failure = listen('failure');
    const timeouts = listen('timeout');
    const retries = listen('retry');
    const policy = pipeline(
      retry({ maxRetries: 1, backoff: constantBackoff(5), clock, name: 'api-retry' }),
      timeout(50, { clock, name: 'api-timeout' }),
    );

    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
    expect(success).toEqual([
      { policy: 'api-timeout', event: 'success', durationMs: 0 },
      { policy: 'api-retry', event: 'success', durationMs: 0 },
    ]);

    const error = new Error('down');
    const call = track(
      policy.execute(() => new Promise((_, reject) => clock.setTimeout(() => reject(error), 10))),
    );
    await clock.advance(10);
    await clock.advance(5);
    await clock.advance(10);
    expect(call.error).toBe(error);
    expect(retries).toEqual([{ policy: 'api-retry', event: 'retry', attempt: 2, delayMs: 5, error }]);
    expect(failure).toEqual([
      { policy: 'api-timeout', event: 'failure', durationMs: 10, error },
      { policy: 'api-timeout', event: 'failure', durationMs: 10, error },
      { policy: 'api-retry', event: 'failure', durationMs: 25, error },
    ]);
    // The error is passed through, not copied.
    expect((failure[2] as { error: unknown }).error).toBe(error);

    const hung = track(timeout(20, { clock, name: 'slow' }).execute(() => new Promise(() => {})));
    await clock.advance(20);
    expect(hung.error).toBeInstanceOf(TimeoutError);
    expect(timeouts).toEqual([{ policy: 'slow', event: 'timeout', timeoutMs: 20, durationMs: 20 }]);
  });

  it('uses the default name (the policy kind) when none is given', async () => {
    const success = listen('success');
    await timeout(10).execute(() => 1);
    expect(success).toEqual([{ policy: 'timeout', event: 'success', durationMs: expect.any(Number) }]);
  });

  it('builds nothing and reads no clock when nobody subscribes', async () => {
    const emit = vi.spyOn(EventHub.prototype, 'emit');
    const clock = new CountingClock();
    const policy = retry({ maxRetries: 2, backoff: constantBackoff(1), clock });
    const errors = [new Error('a'), new Error('b')];
    const call = track(policy.execute(() => {
      const e = errors.shift();
      if (e !== undefined) throw e;
      return 'done';
    }));
    await clock.advance(1);
    await clock.advance(1);
    expect(call.value).toBe('done');
    await expect(policy.execute(() => 1)).resolves.toBe(1);
    expect(emit).not.toHaveBeenCalled();
    // No duration was measured: retry reads the clock only for its events.
    expect(clock.reads).toBe(0);

    // Control: the same calls with a subscriber do build payloads and read the clock.
    const retries = listen('retry');
    const successes = listen('success');
    errors.push(new Error('c'));
    const watched = track(policy.execute(() => {
      const e = errors.shift();
      if (e !== undefined) throw e;
      return 'done';
    }));
    await clock.advance(1);
    expect(watched.value).toBe('done');
    expect(emit).toHaveBeenCalled();
    expect(retries).toHaveLength(1);
    expect(successes).toHaveLength(1);
    expect(clock.reads).toBeGreaterThan(0);

    // After unsubscribing, nothing is built again.
    for (const [name, onMessage] of subscriptions.splice(0)) diagnosticsChannel.unsubscribe(name, onMessage);
    emit.mockClear();
    await expect(policy.execute(() => 2)).resolves.toBe(2);
    expect(emit).not.toHaveBeenCalled();
  });

  it('a throwing subscriber never changes an outcome', async () => {
    const onMessage = (): void => {
      throw new Error('subscriber bug');
    };
    diagnosticsChannel.subscribe('breakwater:success', onMessage);
    subscriptions.push(['breakwater:success', onMessage]);
    // diagnostics_channel reports a subscriber error on the next tick as an uncaught exception.
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      await expect(timeout(10).execute(() => 'fine')).resolves.toBe('fine');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const listener of listeners) process.on('uncaughtException', listener);
    }
    expect(uncaught).toEqual([new Error('subscriber bug')]);
  });
});
