// Signal helpers. Adding a listener to an AbortSignal costs microseconds on Node 20 and a
// forgotten one is a leak that grows with every call (cockatiel#81, p-timeout#42), so every
// helper here returns its own remover and callers remove on every path.

export type Remover = () => void;

const noop: Remover = () => {};

/** Runs `onAbort(reason)` once when `signal` aborts; the returned function detaches it. */
export function onAbort(signal: AbortSignal | undefined, onAbortCallback: (reason: unknown) => void): Remover {
  if (signal === undefined) return noop;
  const listener = (): void => onAbortCallback(signal.reason);
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}
