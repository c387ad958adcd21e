// Values for option properties: what each option accepts, and what it must refuse at
// construction. The ranges are the documented ones, written out here independently of the
// validation code they test.
import fc from 'fast-check';
import { bw, TestClock } from './built.js';

export interface OptionValues {
  readonly valid: fc.Arbitrary<unknown>;
  readonly invalid: fc.Arbitrary<unknown>;
}

/** Not a number: every other type, and numbers in disguise (numeric strings, boxed numbers, dates). */
export const notNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('5', '0', '1e3', 'Infinity', ''),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt({ min: -5n, max: 5n }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.constant(Symbol('not a number')),
  fc.constant(() => 5),
  fc.constant(Object(5) as unknown),
  fc.constant(new Date(5)),
);

export const notFunction: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt({ min: -5n, max: 5n }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  fc.constant(Symbol('not a function')),
);

export interface NumberRange {
  /** Smallest valid value (inclusive), or `above` for an exclusive bound. */
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** Infinity is valid. */
  readonly infinite?: boolean;
}

const HUGE = 2 ** 53;

/** Numbers in a range (edges, -0, huge and tiny values) and everything outside it. */
export function numbers(range: NumberRange): OptionValues {
  const exclusive = range.above !== undefined;
  const lo = range.above ?? range.min ?? -Number.MAX_VALUE;
  const hi = range.max ?? (range.integer ? HUGE : Number.MAX_VALUE);
  const validParts: Array<fc.Arbitrary<unknown>> = [];
  const invalidParts: Array<fc.Arbitrary<unknown>> = [notNumber, fc.constant(Number.NaN), fc.constant(-Infinity)];
  if (range.integer) {
    const first = exclusive ? Math.floor(lo) + 1 : Math.ceil(lo);
    validParts.push(fc.integer({ min: first, max: Math.min(hi, first + 1000) }), fc.constantFrom(first, hi));
    if (hi >= 2 ** 31) validParts.push(fc.constantFrom(2 ** 31, 2 ** 31 + 5000));
    invalidParts.push(fc.constantFrom(first + 0.5, first - 1, first - 0.25, first - 1000));
  } else {
    validParts.push(
      fc.double({ min: lo, max: hi, minExcluded: exclusive, noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(...[exclusive ? lo + Number.EPSILON * Math.max(1, Math.abs(lo)) : lo, hi].filter((v) => Number.isFinite(v))),
    );
    if (!exclusive && lo === 0) validParts.push(fc.constant(-0));
    if (lo <= 1e-300 && hi >= 1e-300 && !(exclusive && lo >= 1e-300)) validParts.push(fc.constant(Number.MIN_VALUE));
    // fast-check orders -0 below 0; the library (like IEEE 754) holds -0 >= 0.
    const below = fc.double({ max: lo, maxExcluded: !exclusive, noNaN: true, noDefaultInfinity: true, min: -Number.MAX_VALUE });
    invalidParts.push(exclusive ? below : below.filter((v) => !Object.is(v, -0)));
    if (exclusive && lo === 0) invalidParts.push(fc.constant(-0));
  }
  if (range.max !== undefined) {
    invalidParts.push(fc.double({ min: range.max, minExcluded: true, noNaN: true, noDefaultInfinity: true }));
  }
  if (range.infinite) validParts.push(fc.constant(Infinity));
  else invalidParts.push(fc.constant(Infinity));
  return { valid: fc.oneof(...validParts), invalid: fc.oneof(...invalidParts) };
}

/** An option that takes a number in `range` or a function. */
export function numberOrFunction(range: NumberRange): OptionValues {
  const n = numbers(range);
  return { valid: fc.oneof(n.valid, fc.constant((limit: number) => limit / 2)), invalid: n.invalid.filter((v) => typeof v !== 'function') };
}

export const functions: OptionValues = {
  valid: fc.constantFrom(
    () => true,
    () => false,
    function named() {
      return 0.5;
    },
  ),
  invalid: notFunction,
};

export const randoms: OptionValues = {
  valid: fc.constantFrom(
    () => 0,
    () => 0.999,
    () => 0.5,
  ),
  invalid: notFunction,
};

export const clocks: OptionValues = {
  valid: fc.constant(null).map(() => new TestClock()),
  invalid: fc.oneof(
    notFunction,
    fc.constant({}),
    fc.constant({ now: () => 0, setTimeout: () => 1 }),
    fc.constant({ now: 0, setTimeout: () => 1, clearTimeout: () => {} }),
    fc.constant(() => 0),
  ),
};

export const names: OptionValues = {
  valid: fc.string({ minLength: 1, maxLength: 12 }),
  invalid: fc.oneof(fc.constant(''), notFunction.filter((v) => typeof v !== 'string'), fc.constant(() => 'name')),
};

export function oneOf(values: readonly string[]): OptionValues {
  return {
    valid: fc.constantFrom(...values),
    invalid: fc.oneof(
      fc.string({ maxLength: 8 }).filter((s) => !values.includes(s)),
      fc.constantFrom(...values.map((v) => v.toUpperCase()), ...values.map((v) => ` ${v}`)),
      notNumber.filter((v) => typeof v !== 'string'),
    ),
  };
}

/** Objects that look like a budget or a backoff but are not one. */
const lookalikes = fc.oneof(
  notFunction,
  fc.constant({}),
  fc.constant({ delayMs: 5 }),
  fc.constant({ maxMs: 5 }),
  fc.constant({ recordCall: () => {} }),
  fc.constant({ tryRetry: () => true }),
);

export const budgets: OptionValues = {
  valid: fc.constant(null).map(() => bw.retryBudget({ clock: new TestClock() })),
  invalid: lookalikes,
};

export const backoffs: OptionValues = {
  valid: fc.oneof(
    fc.integer({ min: 0, max: 100 }).map((ms) => bw.constantBackoff(ms)),
    fc.constant(null).map(() => bw.exponentialBackoff({ initialMs: 1, maxMs: 50 })),
  ),
  invalid: lookalikes,
};

/** Any value at all, including hostile ones. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 2, withBigInt: true, withBoxedValues: true, withNullPrototype: true, withObjectString: true }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, -(2 ** 53)),
  fc.constant(Symbol('any')),
  fc.constant(() => undefined),
);
