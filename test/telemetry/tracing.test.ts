import { AsyncResource } from 'node:async_hooks';
import * as client from 'prom-client';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bulkhead } from '../../src/bulkhead/index.js';
import { circuitBreaker } from '../../src/circuit-breaker/index.js';
import { BulkheadFullError, CircuitOpenError, constantBackoff, pipeline, retry, timeout } from '../../src/index.js';
import { instrument as instrumentOtel } from '../../src/telemetry/otel.js';
import { instrument as instrumentPrometheus } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, track } from '../helpers.js';
import { hasListeners as hasListenersOf, otelHarness } from './harness.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('breakwater-test');
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  context.disable();
  await provider.shutdown();
});
beforeEach(() => {
  exporter.reset();
});

/**
 * A TestClock whose timers run in the async context that armed them, as Node's own timers do
 * (TestClock alone runs every callback in the context of `advance`).
 */
class ContextClock extends TestClock {
  override setTimeout(callback: () => void, ms: number): unknown {
    return super.setTimeout(AsyncResource.bind(callback), ms);
  }
}

function eventsOf(spanName: string): { name: string; attributes: unknown }[] {
  const span = exporter.getFinishedSpans().find((s) => s.name === spanName);
  if (span === undefined) throw new Error(`no finished span ${spanName}`);
  return span.events.map((e) => ({ name: e.name, attributes: e.attributes }));
}

describe('span events (option trace)', () => {
  it('records timeouts, breaker transitions, retries and rejections on the caller’s active span', async () => {
    const clock = new ContextClock();
    const breaker = circuitBreaker({ consecutiveFailures: 1, halfOpenAfterMs: 1000, clock, name: 'cb' });
    const policy = pipeline(
      retry({ maxRetries: 1, backoff: constantBackoff(5), clock, name: 'r' }),
      breaker,
      timeout(10, { clock, name: 't' }),
    );
    const { meter } = otelHarness();
    const detach = instrumentOtel(policy, { meter, trace });

    // Span "quiet" runs at the same time as "failing" and must receive none of its events.
    const gate = deferred<string>();
    const failing = track(
      tracer.startActiveSpan('failing', (span) => policy.execute(() => new Promise(() => {})).finally(() => span.end())),
    );
    const quiet = track(tracer.startActiveSpan('quiet', (span) => policy.execute(() => gate.promise).finally(() => span.end())));
    gate.resolve('ok');
    await clock.advance(10); // timeout → breaker opens → retry scheduled
    await clock.advance(5); // attempt 2: the open breaker rejects → retries exhausted
    expect(quiet.value).toBe('ok');
    expect(failing.error).toBeInstanceOf(CircuitOpenError);

    expect(eventsOf('quiet')).toEqual([]);
    expect(eventsOf('failing')).toEqual([
      { name: 'breakwater.timeout', attributes: { 'breakwater.policy': 't', 'breakwater.timeout_ms': 10, 'breakwater.duration_ms': 10 } },
      { name: 'breakwater.state_change', attributes: { 'breakwater.policy': 'cb', 'breakwater.from': 'closed', 'breakwater.to': 'open' } },
      {
        name: 'breakwater.retry',
        attributes: { 'breakwater.policy': 'r', 'breakwater.attempt': 2, 'breakwater.delay_ms': 5, 'error.type': 'TimeoutError' },
      },
      { name: 'breakwater.rejected', attributes: { 'breakwater.policy': 'cb', 'breakwater.reason': 'circuit-open' } },
    ]);

    detach();
    expect(hasListenersOf(breaker)).toBe(false);
    exporter.reset();
    const after = track(tracer.startActiveSpan('after', (span) => breaker.execute(() => 1).finally(() => span.end())));
    await clock.advance(0);
    expect(after.error).toBeInstanceOf(CircuitOpenError);
    expect(eventsOf('after')).toEqual([]);
  });

  it('does nothing without an active span, and works from the Prometheus bridge too', async () => {
    const registry = new client.Registry();
    const bh = bulkhead({ maxConcurrent: 1, name: 'bh' });
    const detach = instrumentPrometheus(bh, { client, registry, trace });
    const gate = deferred<void>();
    const first = track(bh.execute(() => gate.promise)); // no span: nothing to record on
    const rejected = track(tracer.startActiveSpan('rejected', (span) => bh.execute(() => 1).finally(() => span.end())));
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejected.error).toBeInstanceOf(BulkheadFullError);
    gate.resolve();
    await first.promise;
    expect(eventsOf('rejected')).toEqual([
      { name: 'breakwater.rejected', attributes: { 'breakwater.policy': 'bh', 'breakwater.reason': 'bulkhead-full' } },
    ]);
    expect(await registry.metrics()).toContain('breakwater_calls_total{policy="bh",outcome="rejected"} 1');
    detach();
    expect(hasListenersOf(bh)).toBe(false);
  });

  // A timeout policy fires all its deadlines from ONE shared timer, which runs in the async
  // context of whichever call armed it; the policy captures each caller's context (only when
  // someone listens for timeouts) so the event lands on the span of the call that timed out.
  it('records a timeout on the span of the call that timed out, under concurrency', async () => {
    const clock = new ContextClock();
    const t = timeout(10, { clock, name: 't' });
    const { meter } = otelHarness();
    instrumentOtel(t, { meter, trace });
    // "first" arms the shared timer, finishes at 5 ms; "second" starts at 2 ms and hangs.
    const first = track(
      tracer.startActiveSpan('first', (span) =>
        t.execute(() => new Promise((resolve) => clock.setTimeout(() => resolve('fast'), 5))).finally(() => span.end()),
      ),
    );
    await clock.advance(2);
    const second = track(
      tracer.startActiveSpan('second', (span) => t.execute(() => new Promise(() => {})).finally(() => span.end())),
    );
    await clock.advance(10);
    expect(first.value).toBe('fast');
    expect(second.settled).toBe(true);
    expect(eventsOf('second').map((e) => e.name)).toEqual(['breakwater.timeout']);
  });

  it('adds span events once per policy even when instrumented twice with the same trace API', async () => {
    const clock = new ContextClock();
    const t = timeout(5, { clock, name: 't' });
    const { meter } = otelHarness();
    const d1 = instrumentOtel(t, { meter, trace });
    const d2 = instrumentOtel(pipeline(t), { meter: otelHarness().meter, trace });
    const call = track(tracer.startActiveSpan('twice', (span) => t.execute(() => new Promise(() => {})).finally(() => span.end())));
    await clock.advance(5);
    expect(call.settled).toBe(true);
    expect(eventsOf('twice').map((e) => e.name)).toEqual(['breakwater.timeout']);
    d1();
    expect(hasListenersOf(t)).toBe(true);
    d2();
    expect(hasListenersOf(t)).toBe(false);
  });
});
