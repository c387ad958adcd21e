// Adversarial option objects for every public factory, against the built package: wrong types,
// out-of-range, NaN, ±Infinity, -0, huge and tiny numbers, unknown keys, getters that throw,
// Proxies, frozen objects. A factory either builds, or refuses at construction with a
// TypeError/RangeError whose message names the option; a user's own error (a throwing getter or
// trap) comes out as it is.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyValue } from './arbitraries.js';
import { FACTORIES, type FactorySpec } from './factories.js';

type Outcome = { ok: true } | { ok: false; error: unknown };

/** Runs a factory; an async one (simulate) must not throw synchronously. */
async function attempt(spec: FactorySpec, options: unknown): Promise<Outcome> {
  let built: unknown;
  try {
    built = spec.build(options);
  } catch (error) {
    if (spec.async) throw new Error(`threw synchronously: ${String(error)}`);
    return { ok: false, error };
  }
  if (spec.async) {
    try {
      await built;
    } catch (error) {
      return { ok: false, error };
    }
  }
  return { ok: true };
}

/** The library's own refusal of an option: a TypeError or RangeError that says it is breakwater's. */
function isRefusal(error: unknown): error is Error {
  return (error instanceof TypeError || error instanceof RangeError) && /^breakwater/.test(error.message);
}

function expectRefusalNaming(outcome: Outcome, option: string, spec: FactorySpec): void {
  expect(outcome.ok, `"${option}" was accepted`).toBe(false);
  const error = (outcome as { error: unknown }).error;
  expect(isRefusal(error), `not a TypeError/RangeError of breakwater's: ${String(error)}`).toBe(true);
  // The option's full name as a word of the message: `"capacity"`, `"load.rps"`, `callers options`.
  const name = `${spec.prefix ?? ''}${option}`.replace(/[.[\]]/g, (c) => `\\${c}`);
  expect((error as Error).message).toMatch(new RegExp(`(^|[^\\w.])${name}($|[^\\w])`));
}

/** The base options with `option` set to `value` (and what it needs beside it). */
function withOption(spec: FactorySpec, option: string, value: unknown): Record<string, unknown> {
  const options = { ...spec.base(), ...spec.options[option]!.with };
  for (const key of spec.options[option]!.without ?? []) delete options[key];
  options[option] = value;
  return options;
}

const pickOption = (spec: FactorySpec, filter: (name: string) => boolean = () => true): fc.Arbitrary<string> =>
  fc.constantFrom(...Object.keys(spec.options).filter(filter));

const RUNS = { numRuns: 60 };
const entries = Object.entries(FACTORIES);
const objectEntries = entries.filter(([, spec]) => !spec.positional);

describe('adversarial options: each option alone', () => {
  it.each(entries)('%s: accepts every valid value, also in a frozen object, and leaves the object unchanged', async (_, spec) => {
    await fc.assert(
      fc.asyncProperty(
        pickOption(spec).chain((option) => fc.tuple(fc.constant(option), spec.options[option]!.valid)),
        async ([option, value]) => {
          const options = Object.freeze(withOption(spec, option, value));
          const before = Object.entries(options);
          const outcome = await attempt(spec, options);
          expect(outcome, `"${option}": ${String(value)}`).toEqual({ ok: true });
          expect(Object.entries(options)).toEqual(before);
        },
      ),
      { numRuns: spec.async ? 25 : 100 },
    );
  });

  it.each(entries)('%s: refuses every invalid value of an option with a TypeError/RangeError naming the option', async (_, spec) => {
    await fc.assert(
      fc.asyncProperty(
        pickOption(spec, (name) => spec.options[name]!.invalid !== undefined).chain((option) =>
          fc.tuple(fc.constant(option), spec.options[option]!.invalid!),
        ),
        async ([option, value]) => {
          expectRefusalNaming(await attempt(spec, withOption(spec, option, value)), option, spec);
        },
      ),
      { numRuns: 150 },
    );
  });

  // Not for the simulator: an arbitrary valid duration could be a simulation of years.
  it.each(entries.filter(([, spec]) => !spec.async))('%s: any value at all for an option builds, or is refused naming that option', async (_, spec) => {
    await fc.assert(
      fc.asyncProperty(pickOption(spec), anyValue, async (option, value) => {
        const outcome = await attempt(spec, withOption(spec, option, value));
        if (!outcome.ok) expectRefusalNaming(outcome, option, spec);
      }),
      RUNS,
    );
  });
});

describe('adversarial options: the options object itself', () => {
  it.each(objectEntries)('%s: an unknown key is refused with a TypeError naming it, and a typo gets a suggestion', async (_, spec) => {
    const known = [...Object.keys(spec.options), ...Object.keys(spec.base())];
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !known.includes(key) && key !== '__proto__'),
        fc.oneof(anyValue, fc.constant(undefined)),
        async (key, value) => {
          const outcome = await attempt(spec, { ...spec.base(), [key]: value });
          expect(outcome.ok).toBe(false);
          const error = (outcome as { error: unknown }).error;
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).toContain(JSON.stringify(key));
        },
      ),
      RUNS,
    );
    // A typo: one letter dropped from a known name.
    for (const name of Object.keys(spec.options).filter((n) => n.length >= 5)) {
      const typo = name.slice(0, 2) + name.slice(3);
      if (known.includes(typo)) continue;
      const outcome = await attempt(spec, { ...spec.base(), [typo]: 1 });
      expect(outcome.ok).toBe(false);
      expect((outcome as { error: Error }).error.message).toContain(JSON.stringify(name));
    }
  });

  it.each(objectEntries)('%s: any value as the options object builds or is refused with a TypeError/RangeError', async (_, spec) => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (options) => {
        const outcome = await attempt(spec, options);
        if (!outcome.ok) expect(isRefusal(outcome.error), String(outcome.error)).toBe(true);
      }),
      RUNS,
    );
  });

  it.each(objectEntries)('%s: a getter that throws passes its error through unchanged (or the option is refused first)', async (_, spec) => {
    await fc.assert(
      fc.asyncProperty(pickOption(spec), fc.oneof(fc.constant(new Error('getter')), fc.string(), fc.constant(undefined), fc.constant(null)), async (option, thrownValue) => {
        const thrown = { value: thrownValue };
        const options = withOption(spec, option, undefined);
        Object.defineProperty(options, option, {
          enumerable: true,
          get() {
            throw thrown;
          },
        });
        const outcome = await attempt(spec, options);
        if (!outcome.ok && outcome.error !== thrown) expect(isRefusal(outcome.error), String(outcome.error)).toBe(true);
      }),
      RUNS,
    );
  });

  it.each(objectEntries)('%s: a Proxy builds like its target; a trap that throws passes its error through unchanged', async (_, spec) => {
    const traps = ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.subarray([...traps]),
        async (throwing) => {
          const target = spec.base();
          const thrown = new Error('trap');
          const handler: ProxyHandler<object> = {};
          for (const trap of throwing) {
            (handler as Record<string, unknown>)[trap] = () => {
              throw thrown;
            };
          }
          const outcome = await attempt(spec, new Proxy(target, handler));
          if (throwing.length === 0) expect(outcome).toEqual({ ok: true });
          else if (!outcome.ok) expect(outcome.error).toBe(thrown);
        },
      ),
      RUNS,
    );
  });

  it.each(objectEntries)('%s: every option is read at most once, so the value checked is the value used', async (_, spec) => {
    await fc.assert(
      fc.asyncProperty(
        pickOption(spec).chain((option) => fc.tuple(fc.constant(option), spec.options[option]!.valid)),
        async ([option, value]) => {
          const options = withOption(spec, option, value);
          const reads = new Map<string, number>();
          for (const key of Object.keys(options)) {
            const held = options[key];
            Object.defineProperty(options, key, {
              enumerable: true,
              get() {
                reads.set(key, (reads.get(key) ?? 0) + 1);
                return held;
              },
            });
          }
          expect(await attempt(spec, options)).toEqual({ ok: true });
          for (const [key, count] of reads) expect(count, `"${key}" read ${count} times`).toBe(1);
        },
      ),
      { numRuns: spec.async ? 10 : 40 },
    );
  });
});
