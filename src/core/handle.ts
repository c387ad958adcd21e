import { optionalFunction } from './validate.js';

/** Decides whether a thrown value counts as a failure for a policy. */
export type ErrorFilter = (error: unknown) => boolean;
/**
 * Decides whether a returned value counts as a failure for a policy. `R` is the result type
 * when you know it (annotate the parameter: `handleResult: (r: Response) => !r.ok`).
 */
export type ResultFilter<R = unknown> = (value: R) => boolean;

/**
 * The failure filters a policy shares with the others (`retry`, `circuitBreaker`, `fallback`,
 * `hedge`): which thrown values and which results it counts as failures.
 */
export interface HandleOptions<R = unknown> {
  /** Which thrown values count as failures. Default: all (a caller abort never does). */
  handle?: ErrorFilter | undefined;
  /** Which results count as failures. Default: none. */
  handleResult?: ResultFilter<R> | undefined;
}

/** The default `handle`: every thrown value counts as a failure. */
export const handleAll: ErrorFilter = () => true;

/**
 * `handle` that matches instances of any of the given classes.
 *
 * @example
 * ```ts
 * import { handleType, retry } from 'breakwater';
 *
 * class NetworkError extends Error {}
 * // retry network errors only: any other error passes through at once
 * const retrying = retry({ maxRetries: 2, handle: handleType(NetworkError) });
 * ```
 */
export function handleType(...classes: Array<abstract new (...args: never[]) => unknown>): ErrorFilter {
  for (const [index, cls] of classes.entries()) {
    if (typeof cls !== 'function') throw new TypeError(`breakwater: handleType argument ${index} must be a class`);
  }
  return (error) => classes.some((cls) => error instanceof cls);
}

/** Validated `handle`/`handleResult` with defaults filled in; `handleResult` stays undefined when unset. */
export function readHandleOptions(options: Record<string, unknown>): {
  handle: ErrorFilter;
  handleResult: ResultFilter | undefined;
} {
  return {
    handle: optionalFunction<ErrorFilter>('handle', options['handle']) ?? handleAll,
    handleResult: optionalFunction<ResultFilter>('handleResult', options['handleResult']),
  };
}

/**
 * Runs a user predicate; a predicate that throws counts as "not handled" so the original
 * outcome passes through untouched rather than being replaced by the predicate's error.
 */
export function safeTest(filter: ErrorFilter | ResultFilter, value: unknown): boolean {
  try {
    return filter(value) === true;
  } catch {
    return false;
  }
}
