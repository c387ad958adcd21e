// Signal helpers. Adding a listener to an AbortSignal costs microseconds on Node 20, walks
// the whole listener list (100k waiters on one signal: quadratic, ~33 s), and a forgotten one
// is a leak that grows with every call (cockatiel#81, p-timeout#42). So every signal gets at
// most ONE listener from the library, fanning out to a set of callbacks: subscribing is a Set
// insertion, and the listener is removed as soon as its last callback is.

export type Remover = () => void;

const noop: Remover = () => {};

interface Subscription {
  readonly callback: (reason: unknown) => void;
}

interface FanOut {
  readonly subscribers: Set<Subscription>;
  readonly listener: () => void;
}

const fanOuts = new WeakMap<AbortSignal, FanOut>();

function fanOutFor(signal: AbortSignal): FanOut {
  let fanOut = fanOuts.get(signal);
  if (fanOut === undefined) {
    const subscribers = new Set<Subscription>();
    const listener = (): void => {
      fanOuts.delete(signal);
      const reason = signal.reason;
      // Live iteration: a callback that removes another one (settling a sibling) stops it
      // from firing, as removing a DOM listener during dispatch would.
      for (const subscription of subscribers) {
        subscribers.delete(subscription);
        subscription.callback(reason);
      }
    };
    fanOut = { subscribers, listener };
    fanOuts.set(signal, fanOut);
    signal.addEventListener('abort', listener, { once: true });
  }
  return fanOut;
}

/**
 * Runs `callback(reason)` once when `signal` aborts; the returned function detaches it.
 * The signal must not be aborted yet (check `signal.aborted` first).
 */
export function onAbort(signal: AbortSignal | undefined, callback: (reason: unknown) => void): Remover {
  if (signal === undefined || signal.aborted) return noop;
  const fanOut = fanOutFor(signal);
  const subscription: Subscription = { callback };
  fanOut.subscribers.add(subscription);
  return () => {
    if (!fanOut.subscribers.delete(subscription) || fanOut.subscribers.size !== 0) return;
    // Stryker disable next-line ConditionalExpression: `true` is equivalent (the map holds this fanOut or, once the signal aborted, nothing: an aborted signal never gets another, so deleting regardless removes the same entry or none); `false` was killed before this mark
    if (fanOuts.get(signal) === fanOut) fanOuts.delete(signal);
    signal.removeEventListener('abort', fanOut.listener);
  };
}

export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
