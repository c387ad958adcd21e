import diagnosticsChannel from 'node:diagnostics_channel';
import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { pipeline, timeout } from '../../src/index.js';
import { HTTP_ANSWER } from '../../src/core/errors.js';
import { eventNames, type FailureEvent, type RejectedEvent, type SuccessEvent } from '../../src/core/events.js';
import { GAUGES, type Gauge } from '../../src/core/gauges.js';
import { Observer } from '../../src/core/observe.js';
import { PolicyBase, RUN } from '../../src/core/policy.js';
import { rejectSoon } from '../../src/core/reject.js';
import type { Next, Scope } from '../../src/core/scope.js';
import { rejectionFor } from '../../src/http/rejections.js';
import { instrument as instrumentOtel } from '../../src/telemetry/otel.js';
import { instrument as instrumentPrometheus } from '../../src/telemetry/prometheus.js';
import { TestClock } from '../../src/testing/index.js';
import { otelHarness, parseExposition, pointValue, sample } from '../telemetry/harness.js';

// A policy the library has never heard of: it declares its events, its rejection reason, its
// gauge and its error's HTTP answer, and every part of the library that reports or answers for
// policies picks them up. Nothing outside this file was edited for it.

/** The refusal of the test policy: it declares how a server answers it. */
class KettleBusyError extends Error {
  readonly code = 'ERR_KETTLE_BUSY';
  readonly retryAfterMs = 2500;
}
Object.defineProperty(KettleBusyError.prototype, HTTP_ANSWER, { value: { status: 418, message: 'The kettle is busy' } });

interface KettleEvents {
  success: SuccessEvent;
  failure: FailureEvent;
  rejected: RejectedEvent<'kettle-busy'>;
  /** Its own event, which no other policy has. */
  boiled: { readonly cups: number };
}

const KETTLE_EVENTS = eventNames<KettleEvents>({ success: true, failure: true, rejected: true, boiled: true });

/** Lets one call at a time through; refuses the others. */
class Kettle extends PolicyBase<KettleEvents> {
  readonly kind = 'kettle';
  protected readonly eventNames = KETTLE_EVENTS;
  cups = 0;
  private busy = false;
  private readonly observer: Observer<KettleEvents>;

  constructor(clock: TestClock, name: string) {
    const observer = new Observer<KettleEvents>(() => name, clock, 'kettle-busy');
    super(name, observer);
    this.observer = observer;
  }

  [RUN](scope: Scope, next: Next): Promise<unknown> {
    if (this.busy) {
      const error = new KettleBusyError('busy');
      this.observer.rejected(error);
      return rejectSoon(error);
    }
    this.busy = true;
    const startedAt = this.observer.start();
    return this.observer.watch(
      next(scope).finally(() => {
        this.busy = false;
        this.cups++;
        if (this.events.wants('boiled')) this.events.emit('boiled', { cups: this.cups });
      }),
      startedAt,
    );
  }

  [GAUGES](): readonly Gauge[] {
    return [{ metric: 'kettle.cups', description: 'Cups boiled so far.', unit: '{cup}', read: () => this.cups }];
  }
}

describe('a policy declares its events, rejection reason, gauges and HTTP answer', () => {
  it('its own events can be subscribed to, and are published on breakwater:<event>', async () => {
    const kettle = new Kettle(new TestClock(), 'kettle');
    const seen: unknown[] = [];
    kettle.on('boiled', (event) => seen.push(event));
    const published: unknown[] = [];
    const onMessage = (message: unknown): void => {
      published.push(message);
    };
    diagnosticsChannel.subscribe('breakwater:boiled', onMessage);
    try {
      await kettle.execute(() => 'tea');
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:boiled', onMessage);
    }
    expect(seen).toEqual([{ cups: 1 }]);
    expect(published).toEqual([{ policy: 'kettle', event: 'boiled', cups: 1 }]);
    // Declared names are accepted across policies (one set of events for a whole pipeline).
    expect(() => timeout(10).on('boiled' as never, () => {})).not.toThrow();
  });

  it('its refusal carries its reason, and a server answers it with the status its error declares', async () => {
    const kettle = new Kettle(new TestClock(), 'kettle');
    const rejected: unknown[] = [];
    kettle.on('rejected', (event) => rejected.push(event));
    let release!: () => void;
    const first = kettle.execute(() => new Promise<void>((resolve) => (release = resolve)));
    const refused = await kettle.execute(() => 'second').catch((error: unknown) => error);
    release();
    await first;
    expect(refused).toBeInstanceOf(KettleBusyError);
    expect(rejected).toEqual([{ reason: 'kettle-busy', error: refused }]);
    expect(rejectionFor(refused)).toEqual({ status: 418, code: 'ERR_KETTLE_BUSY', message: 'The kettle is busy', retryAfterSeconds: 3 });
  });

  it('both metrics bridges report its calls and its gauge', async () => {
    const clock = new TestClock();
    const kettle = new Kettle(clock, 'office');
    const registry = new client.Registry();
    const otel = otelHarness();
    const detachPrometheus = instrumentPrometheus(pipeline(kettle, timeout(100, { clock })), { client, registry });
    const detachOtel = instrumentOtel(kettle, { meter: otel.meter });
    await kettle.execute(() => 'tea');
    await kettle.execute(() => 'coffee');
    const samples = parseExposition(await registry.metrics());
    expect(sample(samples, 'breakwater_kettle_cups', { policy: 'office' })).toBe(2);
    expect(sample(samples, 'breakwater_calls_total', { policy: 'office', outcome: 'success' })).toBe(2);
    expect(await registry.getSingleMetric('breakwater_kettle_cups')?.get()).toMatchObject({ help: 'Cups boiled so far.' });
    const metrics = await otel.collect();
    expect(pointValue(metrics, 'breakwater.kettle.cups', { 'breakwater.policy': 'office' })).toBe(2);
    expect(metrics.get('breakwater.kettle.cups')!.descriptor.unit).toBe('{cup}');
    detachPrometheus();
    detachOtel();
    expect(sample(parseExposition(await registry.metrics()), 'breakwater_kettle_cups', { policy: 'office' })).toBeUndefined();
  });
});
