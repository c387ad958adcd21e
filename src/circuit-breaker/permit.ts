/**
 * What a settled call says about the dependency. `ignored`: nothing either way (the caller
 * gave up, the library cancelled the attempt, or `handle` excludes the error).
 */
export type Verdict = 'success' | 'failure' | 'ignored';

/**
 * Admission to one call, and where its verdict goes when it settles. The closed state is its
 * own permit, shared by every call of the period; a half-open probe gets one of its own.
 * A permit of a state the breaker has left is stale: whatever it is told counts for nothing.
 */
export interface Permit {
  /** The clock at admission when admitting read it (a probe): the start of the call. */
  readonly admittedAt: number | undefined;
  /** `settledAt`: the clock when the call settled, undefined when nothing needed to read it. */
  onSuccess(durationMs: number, settledAt: number | undefined): void;
  onFailure(durationMs: number, settledAt: number | undefined): void;
  onIgnore(): void;
}
