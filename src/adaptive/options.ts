import { checkNumber, describeValue, type NumberRule } from '../core/validate.js';

/** A number of calls, or a function of the current (integer) limit that gives one. */
export type LimitFunction = (limit: number) => number;

/** `value` as a function of the limit: a constant (checked against `rule`) or the user's function. */
export function numberOrFunction(
  option: string,
  value: unknown,
  fallback: LimitFunction,
  rule: NumberRule,
): LimitFunction {
  if (value === undefined) return fallback;
  if (typeof value === 'function') return value as LimitFunction;
  if (typeof value !== 'number') {
    throw new TypeError(`breakwater: option "${option}" must be a number or a function of the limit, received ${describeValue(value)}`);
  }
  const constant = checkNumber(option, value, rule);
  return () => constant;
}

/** `initialLimit` must lie within [minLimit, max]: anything else is a contradiction. */
export function checkLimitRange(initialLimit: number, minLimit: number, max: number, maxOption: string): void {
  if (minLimit > max) {
    throw new RangeError(`breakwater: option "minLimit" (${minLimit}) must be <= "${maxOption}" (${max})`);
  }
  if (initialLimit < minLimit || initialLimit > max) {
    throw new RangeError(
      `breakwater: option "initialLimit" must be within ["minLimit", "${maxOption}"] = [${minLimit}, ${max}], received ${initialLimit}`,
    );
  }
}
