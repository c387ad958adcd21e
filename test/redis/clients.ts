// The two real Redis clients, connected to a test server, and a pass-through that counts the
// script calls in flight so a virtual-time test can let Redis answer before it moves the clock.
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { RedisClientLike } from '../../src/redis/index.js';
import type { RedisServer } from './server.js';

export interface TestClient {
  readonly kind: 'ioredis' | 'node-redis';
  readonly client: RedisClientLike;
  close(): Promise<void>;
}

/** Reconnect quickly: the tests stop and restart the server and wait for the client to return. */
const RECONNECT_MS = 50;

export async function connectIoredis(server: RedisServer, options: Record<string, unknown> = {}): Promise<TestClient & { client: Redis }> {
  const client = new Redis({
    host: '127.0.0.1',
    port: server.port,
    retryStrategy: () => RECONNECT_MS,
    lazyConnect: true,
    ...options,
  });
  // Without a listener, ioredis logs every connection error of a stopped server.
  client.on('error', () => {});
  await client.connect();
  return {
    kind: 'ioredis',
    client,
    close: async () => {
      client.disconnect();
    },
  };
}

export async function connectNodeRedis(server: RedisServer): Promise<TestClient> {
  const client = createClient({
    socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: () => RECONNECT_MS },
  });
  // node-redis throws an 'error' event without a listener (it would crash the worker).
  client.on('error', () => {});
  await client.connect();
  return {
    kind: 'node-redis',
    client,
    close: async () => {
      if (client.isOpen) client.destroy();
    },
  };
}

export const clientKinds = [
  ['ioredis', connectIoredis],
  ['node-redis', connectNodeRedis],
] as const;

/**
 * Forwards every call to a real client and counts the ones in flight. `idle()` resolves once
 * none is (and the limiter has handled the answers), so a test can advance a TestClock knowing
 * that Redis already decided everything asked so far.
 */
export function countingClient(inner: RedisClientLike): RedisClientLike & { idle(): Promise<void>; readonly calls: number } {
  let inFlight = 0;
  let calls = 0;
  let waiters: Array<() => void> = [];
  // Settles on a later turn, and only if nothing was sent meanwhile (a NOSCRIPT retry, a wait's refund).
  const whenIdle = (resolve: () => void): void => {
    if (inFlight !== 0) waiters.push(resolve);
    else setImmediate(() => (inFlight === 0 ? resolve() : waiters.push(resolve)));
  };
  const track = <T>(promise: Promise<T>): Promise<T> => {
    inFlight++;
    calls++;
    const done = (): void => {
      inFlight--;
      if (inFlight === 0) {
        const ready = waiters;
        waiters = [];
        for (const wake of ready) whenIdle(wake);
      }
    };
    promise.then(done, done);
    return promise;
  };
  const source = inner as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const wrapper: Record<string, unknown> = {
    get calls() {
      return calls;
    },
    idle: () => new Promise<void>(whenIdle),
  };
  for (const method of ['evalsha', 'evalSha', 'eval']) {
    if (typeof source[method] === 'function') wrapper[method] = (...args: unknown[]) => track(source[method]!.apply(inner, args));
  }
  for (const flag of ['status', 'isReady']) {
    if (flag in (inner as object)) {
      Object.defineProperty(wrapper, flag, { get: () => (inner as unknown as Record<string, unknown>)[flag] });
    }
  }
  return wrapper as unknown as RedisClientLike & { idle(): Promise<void>; readonly calls: number };
}
