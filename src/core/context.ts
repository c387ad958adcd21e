/** What `fn` receives: read-only facts about this attempt of the call. */
export interface ExecutionContext {
  /** Aborted on timeout, caller abort or cancellation. Created on first read: unread, it costs nothing. */
  readonly signal: AbortSignal;
  /** 1 = first call, 2 = first retry (or the second attempt of a hedge), … */
  readonly attempt: number;
}

/** The second argument of `execute`: what the caller brings to one call. */
export interface ExecuteOptions {
  /** The caller's signal; `null` or `undefined` mean none (as in RequestInit). */
  readonly signal?: AbortSignal | null | undefined;
}

export type UserFunction<T = unknown> = (ctx: ExecutionContext) => T | PromiseLike<T>;
