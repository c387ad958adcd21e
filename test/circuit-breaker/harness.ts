import { circuitBreaker, type CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from '../../src/circuit-breaker/index.js';
import { TestClock } from '../../src/testing/index.js';
import { deferred, flush, track, type Tracked } from '../helpers.js';

export const boom = new Error('boom');

export interface Harness {
  clock: TestClock;
  breaker: CircuitBreaker;
  transitions: Array<`${CircuitState}->${CircuitState}`>;
  /** fn invocations so far. */
  readonly calls: number;
  succeed(value?: unknown): Promise<Tracked<unknown>>;
  fail(error?: unknown): Promise<Tracked<unknown>>;
  /** A call whose fn never settles unless the returned controls are used. */
  start(): { tracked: Tracked<unknown>; admitted: boolean; resolve(v?: unknown): void; reject(e: unknown): void };
}

export function harness(options: Omit<CircuitBreakerOptions, 'clock'>, start = 0): Harness {
  const clock = new TestClock(start);
  const breaker = circuitBreaker({ ...options, clock } as CircuitBreakerOptions);
  const transitions: Harness['transitions'] = [];
  breaker.on('stateChange', (e) => transitions.push(`${e.from}->${e.to}`));
  let calls = 0;
  const h: Harness = {
    clock,
    breaker,
    transitions,
    get calls() {
      return calls;
    },
    async succeed(value = 'ok') {
      const t = track(
        breaker.execute(() => {
          calls++;
          return value;
        }),
      );
      await flush();
      return t;
    },
    async fail(error = boom) {
      const t = track(
        breaker.execute(() => {
          calls++;
          throw error;
        }),
      );
      await flush();
      return t;
    },
    start() {
      const d = deferred<unknown>();
      let admitted = false;
      const tracked = track(
        breaker.execute(() => {
          calls++;
          admitted = true;
          return d.promise;
        }),
      );
      return { tracked, admitted, resolve: (v?: unknown) => d.resolve(v), reject: d.reject };
    },
  };
  return h;
}

/** Trips a consecutive-mode breaker with `n` failures. */
export async function failTimes(h: Harness, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await h.fail();
}
