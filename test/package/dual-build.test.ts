import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ensureBuilt, projectRoot } from './built.js';

describe('the ESM and the CJS build loaded together', () => {
  it('recognise each other\'s errors with instanceof', async () => {
    ensureBuilt();
    const esm = (await import('breakwater')) as unknown as typeof import('../../src/index.js');
    const cjs = createRequire(`${projectRoot}/package.json`)('breakwater') as typeof import('../../src/index.js');
    expect(esm.TimeoutError).not.toBe(cjs.TimeoutError);
    const fromCjs = new cjs.TimeoutError(5);
    const fromEsm = new esm.CircuitOpenError(5);
    expect(fromCjs).toBeInstanceOf(esm.TimeoutError);
    expect(fromCjs).toBeInstanceOf(esm.BreakwaterError);
    expect(fromEsm).toBeInstanceOf(cjs.CircuitOpenError);
    expect(fromEsm).not.toBeInstanceOf(cjs.TimeoutError);
    expect(new cjs.CircuitIsolatedError()).toBeInstanceOf(esm.CircuitOpenError);
  });

  it('recognise each other\'s HttpStatusError, which neither counts as a breakwater error', async () => {
    ensureBuilt();
    const esm = (await import('breakwater/fetch')) as unknown as typeof import('../../src/http/fetch.js');
    const cjs = createRequire(`${projectRoot}/package.json`)('breakwater/fetch') as typeof import('../../src/http/fetch.js');
    const core = createRequire(`${projectRoot}/package.json`)('breakwater') as typeof import('../../src/index.js');
    expect(esm.HttpStatusError).not.toBe(cjs.HttpStatusError);
    const fromCjs = new cjs.HttpStatusError(new Response(null, { status: 503 }), undefined);
    expect(fromCjs).toBeInstanceOf(esm.HttpStatusError);
    expect(new esm.HttpStatusError(new Response(null, { status: 502 }), 10)).toBeInstanceOf(cjs.HttpStatusError);
    expect(fromCjs.name).toBe('HttpStatusError');
    expect(core.isBreakwaterError(fromCjs)).toBe(false);
    expect(core.isFastRefusal(fromCjs)).toBe(false);
    expect(new core.TimeoutError(1)).not.toBeInstanceOf(esm.HttpStatusError);
  });

  it('compose policies from both builds in one pipeline', async () => {
    ensureBuilt();
    const esm = (await import('breakwater')) as unknown as typeof import('../../src/index.js');
    const cjs = createRequire(`${projectRoot}/package.json`)('breakwater') as typeof import('../../src/index.js');
    const p = esm.pipeline(cjs.fallback('fb'), esm.retry({ maxRetries: 1, backoff: esm.constantBackoff(0) }), cjs.timeout(1000));
    let calls = 0;
    await expect(p.execute(() => (++calls === 1 ? Promise.reject(new Error('x')) : 'second'))).resolves.toBe('second');
    await expect(p.execute(() => Promise.reject(new Error('y')))).resolves.toBe('fb');
  });
});
