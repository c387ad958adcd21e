import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from './built.js';

// The bundler used to rename classes that refer to themselves (`class _TimeoutError`), so logs
// said `_TimeoutError: …` and `err.name === 'TimeoutError'` failed; src/ never shows it.

type Module = Record<string, unknown>;
type NameProblems = (mod: object) => string[];

const pkg = JSON.parse(readFileSync(`${projectRoot}/package.json`, 'utf8')) as { exports: Record<string, unknown> };
const specifiers = Object.keys(pkg.exports)
  .filter((subpath) => subpath !== './package.json')
  .map((subpath) => (subpath === '.' ? 'breakwater' : `breakwater/${subpath.slice(2)}`));
const requireFromRoot = createRequire(`${projectRoot}/package.json`);

const loaders: Record<string, (specifier: string) => Promise<Module>> = {
  import: (specifier) => import(specifier) as Promise<Module>,
  require: async (specifier) => requireFromRoot(specifier) as Module,
};

const isClass = (value: unknown): value is abstract new (...args: never[]) => unknown =>
  typeof value === 'function' && /^class\b/.test(Function.prototype.toString.call(value));

beforeAll(() => ensureBuilt());

describe.each(Object.keys(loaders))('the built package loaded with %s', (how) => {
  const load = loaders[how]!;

  it('names every exported class after its export, on every subpath', async () => {
    const wrong: string[] = [];
    const seen: string[] = [];
    for (const specifier of specifiers) {
      for (const [exportName, value] of Object.entries(await load(specifier))) {
        if (!isClass(value)) continue;
        seen.push(exportName);
        if (value.name !== exportName) wrong.push(`${specifier}: ${exportName} is named ${value.name}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining(['Pipeline', 'TimeoutError', 'CircuitOpenError', 'TestClock', 'HttpStatusError']));
  });

  it('gives every error its class name in err.name, String(err) and the stack', async () => {
    const bw = await load('breakwater');
    const { HttpStatusError } = (await load('breakwater/fetch')) as { HttpStatusError: new (r: Response, ms: number | undefined) => Error };
    const E = bw as unknown as typeof import('../../src/index.js');
    const cases: Array<[string, Error]> = [
      ['TimeoutError', new E.TimeoutError(250)],
      ['TimeoutError', E.TimeoutError.fast(250)],
      ['CircuitOpenError', new E.CircuitOpenError(1000)],
      ['CircuitOpenError', E.CircuitOpenError.fast(1000)],
      ['CircuitIsolatedError', new E.CircuitIsolatedError()],
      ['CircuitIsolatedError', E.CircuitIsolatedError.fast()],
      ['BulkheadFullError', new E.BulkheadFullError()],
      ['BulkheadFullError', E.BulkheadFullError.fast()],
      ['RateLimitedError', new E.RateLimitedError(40)],
      ['RateLimitedError', E.RateLimitedError.fast(40)],
      ['HttpStatusError', new HttpStatusError(new Response(null, { status: 503 }), undefined)],
    ];
    for (const [name, error] of cases) {
      expect(error.name).toBe(name);
      expect(String(error)).toBe(`${name}: ${error.message}`);
      expect(error.stack!.split('\n')[0]).toBe(`${name}: ${error.message}`);
    }
    expect(E.BreakwaterError.prototype.name).toBe('BreakwaterError');
  });

  it('names the errors the policies reject with, and the policies themselves', async () => {
    const bw = (await load('breakwater')) as unknown as typeof import('../../src/index.js');
    const { TestClock } = (await load('breakwater/testing')) as unknown as typeof import('../../src/testing/index.js');
    const clock = new TestClock();
    const never = () => new Promise<never>(() => {});
    const reason = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as Error);

    const timedOut = reason(bw.timeout(5, { clock }).execute(never));
    await clock.advance(5);
    const breaker = bw.circuitBreaker({ halfOpenAfterMs: 1000, consecutiveFailures: 1, clock });
    await reason(breaker.execute(() => Promise.reject(new Error('down'))));
    const bulkhead = bw.bulkhead({ maxConcurrent: 1 });
    void bulkhead.execute(never);
    const limiter = bw.rateLimiter({ capacity: 1, refillPerSecond: 1, clock });
    await limiter.execute(() => 'first');
    const rejections: Array<[string, Error | undefined]> = [
      ['TimeoutError', await timedOut],
      ['CircuitOpenError', await reason(breaker.execute(() => 1))],
      ['BulkheadFullError', await reason(bulkhead.execute(() => 1))],
      ['RateLimitedError', await reason(limiter.execute(() => 1))],
    ];
    for (const [name, error] of rejections) {
      expect(error?.name).toBe(name);
      expect(String(error)).toBe(`${name}: ${error?.message}`);
    }

    expect(bw.pipeline().constructor.name).toBe('Pipeline');
    expect(bw.timeout(10).constructor.name).toBe('TimeoutPolicy');
    expect(bw.retry({ maxRetries: 1 }).constructor.name).toBe('RetryPolicy');
    expect(breaker.constructor.name).toBe('CircuitBreaker');
    expect(bulkhead.constructor.name).toBe('Bulkhead');
    expect(limiter.constructor.name).toBe('RateLimiter');
    expect(bw.fallback(0).constructor.name).toBe('FallbackPolicy');
  });
});

describe('the name check that scripts/pack-smoke.mjs runs on the packed tarball', () => {
  const checker = new URL('../../scripts/check-names.mjs', import.meta.url).href;

  it('finds nothing wrong in dist/, with import and require', async () => {
    const { nameProblems } = (await import(checker)) as { nameProblems: NameProblems };
    for (const specifier of specifiers) {
      expect(nameProblems(await loaders['import']!(specifier)), specifier).toEqual([]);
      expect(nameProblems(await loaders['require']!(specifier)), specifier).toEqual([]);
    }
  });

  it('reports a class bundled under another name, and an error class it cannot build', async () => {
    const { nameProblems } = (await import(checker)) as { nameProblems: NameProblems };
    const renamed = class _TimeoutError extends Error {};
    Object.defineProperty(renamed.prototype, 'name', { value: renamed.name });
    const mangled = { TimeoutError: renamed, NewError: class NewError extends Error {}, pipeline: () => new (class _Pipeline {})() };
    expect(nameProblems(mangled)).toEqual([
      'class TimeoutError is named "_TimeoutError"',
      'TimeoutError.prototype.name is "_TimeoutError"',
      'new TimeoutError().name is "_TimeoutError"',
      'String(new TimeoutError()) is "_TimeoutError: 250"',
      'new TimeoutError().stack starts "_TimeoutError: 250"',
      'NewError.prototype.name is "Error"',
      'error class NewError has no sample arguments in scripts/check-names.mjs',
      'pipeline().constructor.name is "_Pipeline", not Pipeline',
    ]);
  });
});
