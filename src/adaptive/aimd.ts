import { checkNumber, checkOptionsObject, optionalNumber, optionNames } from '../core/validate.js';
import { LimitBase, usableInflight, type LimitSample } from './limit.js';
import { checkLimitRange } from './options.js';

/** Options of `aimdLimit()`; all optional. */
export interface AimdLimitOptions {
  /** Limit before any sample (default 20). */
  initialLimit?: number | undefined;
  /** The limit never falls below this (default 20). */
  minLimit?: number | undefined;
  /** The limit never rises above this (default 200). */
  maxLimit?: number | undefined;
  /** Factor applied to the limit on a drop, in [0.5, 1) (default 0.9). */
  backoffRatio?: number | undefined;
  /** A call slower than this counts as a drop (default 5000). */
  timeoutMs?: number | undefined;
}

const AIMD_LIMIT_OPTIONS = optionNames<AimdLimitOptions>({ initialLimit: true, minLimit: true, maxLimit: true, backoffRatio: true, timeoutMs: true });

/**
 * Netflix concurrency-limits' AIMDLimit: additive increase (one per sample while the limit
 * is in use), multiplicative decrease on a drop or a call slower than `timeoutMs`. Loss-based:
 * latency below `timeoutMs` never lowers it. The reference's recommendation for clients.
 *
 * @example
 * ```ts
 * import { adaptiveConcurrency, aimdLimit } from 'breakwater';
 *
 * // a call slower than 100 ms, or one that failed as overloaded, cuts the limit by 10 %
 * const limiter = adaptiveConcurrency({ limit: aimdLimit({ initialLimit: 20, maxLimit: 100, timeoutMs: 100 }) });
 * ```
 */
export function aimdLimit(options?: AimdLimitOptions): AimdLimit {
  const opts = checkOptionsObject('aimdLimit', options, false, AIMD_LIMIT_OPTIONS);
  const initialLimit = optionalNumber('initialLimit', opts['initialLimit'], 20, { min: 1, integer: true });
  const minLimit = optionalNumber('minLimit', opts['minLimit'], 20, { min: 1, integer: true });
  const maxLimit = optionalNumber('maxLimit', opts['maxLimit'], 200, { min: 1, integer: true });
  checkLimitRange(initialLimit, minLimit, maxLimit, 'maxLimit');
  const backoffRatio =
    opts['backoffRatio'] === undefined ? 0.9 : checkNumber('backoffRatio', opts['backoffRatio'], { min: 0.5 });
  if (backoffRatio >= 1) {
    throw new RangeError(`breakwater: option "backoffRatio" must be in [0.5, 1), received ${backoffRatio}`);
  }
  const timeoutMs = optionalNumber('timeoutMs', opts['timeoutMs'], 5000, { above: 0, infinite: true });
  return new AimdLimit(initialLimit, minLimit, maxLimit, backoffRatio, timeoutMs);
}

/**
 * The AIMD estimator `aimdLimit()` builds: +1 per sample while the limit is in use, × `backoffRatio` on a drop.
 *
 * @example
 * ```ts
 * import { aimdLimit } from 'breakwater';
 *
 * const limit = aimdLimit({ initialLimit: 20, minLimit: 5 });
 * limit.onSample({ rttMs: 10, inflight: 20, dropped: true }); // a drop: 20 × 0.9
 * console.log(limit.limit); // 18
 * ```
 */
export class AimdLimit extends LimitBase {
  /** @hidden Skips validation: build one with `aimdLimit()`. */
  constructor(
    initialLimit: number,
    /** The floor of the limit. */
    readonly minLimit: number,
    /** The ceiling of the limit. */
    readonly maxLimit: number,
    private readonly backoffRatio: number,
    private readonly timeoutMs: number,
  ) {
    super(initialLimit);
  }

  /** The reference, formula for formula. Any finite RTT ≥ 0 counts (0 included: a drop needs none). */
  onSample(sample: LimitSample): void {
    const rtt = sample.rttMs;
    const inflight = usableInflight(sample);
    if (typeof rtt !== 'number' || !(rtt >= 0) || rtt === Infinity || inflight === undefined) return;
    let limit = this.limit;
    if (sample.dropped === true || rtt > this.timeoutMs) {
      limit = Math.floor(limit * this.backoffRatio);
    } else if (inflight * 2 >= limit) {
      limit = limit + 1;
    }
    this.setLimit(Math.min(this.maxLimit, Math.max(this.minLimit, limit)));
  }
}
