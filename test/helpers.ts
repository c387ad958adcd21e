/** Observes a promise without letting it become an unhandled rejection. */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  readonly status: 'pending' | 'fulfilled' | 'rejected';
  readonly value: T | undefined;
  readonly error: unknown;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const state = {
    promise,
    status: 'pending' as Tracked<T>['status'],
    value: undefined as T | undefined,
    error: undefined as unknown,
    get settled() {
      return this.status !== 'pending';
    },
  };
  promise.then(
    (value) => {
      state.status = 'fulfilled';
      state.value = value;
    },
    (error: unknown) => {
      state.status = 'rejected';
      state.error = error;
    },
  );
  return state;
}

/** Lets all queued promise reactions run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A promise whose settlement the test controls. */
export function deferred<T = unknown>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Number of 'abort' listeners on a signal (Node's EventTarget exposes it via events.getEventListeners). */
export { getEventListeners } from 'node:events';
