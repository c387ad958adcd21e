import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { EventHub } from '../../src/core/events.js';

interface Events {
  success: { durationMs: number };
  failure: { durationMs: number; error: unknown };
}

describe('EventHub', () => {
  it('wants nothing without listeners or channel subscribers', () => {
    const hub = new EventHub<Events>(() => 'p');
    expect(hub.wants('success')).toBe(false);
    expect(hub.hasListeners).toBe(false);
  });

  it('delivers to listeners, isolates throwing ones, and unsubscribes exactly once', () => {
    const hub = new EventHub<Events>(() => 'p');
    const seen: number[] = [];
    const offThrow = hub.on('success', () => {
      throw new Error('listener bug');
    });
    const off = hub.on('success', (e) => seen.push(e.durationMs));
    expect(hub.wants('success')).toBe(true);
    expect(hub.wants('failure')).toBe(false);
    hub.emit('success', { durationMs: 3 });
    off();
    off();
    offThrow();
    hub.emit('success', { durationMs: 4 });
    expect(seen).toEqual([3]);
    expect(hub.hasListeners).toBe(false);
    expect(hub.wants('success')).toBe(false);
  });

  it('wants an outcome only while a success or failure listener is attached', () => {
    const hub = new EventHub<Events & { retry: { attempt: number } }>(() => 'p');
    const offRetry = hub.on('retry', () => {});
    expect(hub.wantsOutcome()).toBe(false);
    const offFailure = hub.on('failure', () => {});
    const offSuccess = hub.on('success', () => {});
    expect(hub.wantsOutcome()).toBe(true);
    offFailure();
    offFailure();
    expect(hub.wantsOutcome()).toBe(true);
    offSuccess();
    expect(hub.wantsOutcome()).toBe(false);
    expect(hub.wants('retry')).toBe(true);
    offRetry();
    expect(hub.wants('retry')).toBe(false);
  });

  it('a listener removed during an emit does not disturb that emit', () => {
    const hub = new EventHub<Events>(() => 'p');
    const seen: string[] = [];
    const offA = hub.on('success', () => {
      seen.push('a');
      offB();
    });
    const offB = hub.on('success', () => seen.push('b'));
    hub.emit('success', { durationMs: 1 });
    hub.emit('success', { durationMs: 1 });
    offA();
    expect(seen).toEqual(['a', 'b', 'a']);
  });

  it('publishes on breakwater:<event> with the policy name only when subscribed', () => {
    const hub = new EventHub<Events>(() => 'payments');
    const messages: unknown[] = [];
    const onMessage = (message: unknown): void => {
      messages.push(message);
    };
    diagnosticsChannel.subscribe('breakwater:failure', onMessage);
    try {
      expect(hub.wants('failure')).toBe(true);
      hub.emit('failure', { durationMs: 2, error: 'x' });
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:failure', onMessage);
    }
    expect(hub.wants('failure')).toBe(false);
    expect(messages).toEqual([{ policy: 'payments', event: 'failure', durationMs: 2, error: 'x' }]);
  });

  it('rejects a non-function listener', () => {
    expect(() => new EventHub<Events>(() => 'p').on('success', 5 as never)).toThrow(TypeError);
  });
});
