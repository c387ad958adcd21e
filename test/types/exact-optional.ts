// Compiled with exactOptionalPropertyTypes (test/types/tsconfig.json, checked by
// test/types/typecheck.test.ts): every optional option accepts an explicit `undefined`, so a
// wrapper can forward what it was given (`{ signal: opts.signal }`, `{ name: maybeName }`).
import type { Clock, ExecuteOptions, HandleOptions } from '../../src/index.js';
import {
  bulkhead,
  circuitBreaker,
  fallback,
  pipeline,
  retry,
  timeout,
  type BulkheadOptions,
  type CircuitBreakerOptions,
  type ExponentialBackoffOptions,
  type FallbackOptions,
  type KeyedRateLimiterOptions,
  type PipelineOptions,
  type RateLimiterOptions,
  type RetryBudgetOptions,
  type RetryOptions,
  type TimeoutOptions,
} from '../../src/index.js';
import type { GuardOptions } from '../../src/http/express.js';
import type { FastifyGuardOptions } from '../../src/http/fastify.js';
import type { ResilientFetchOptions } from '../../src/http/fetch.js';
import type { OtelInstrumentOptions } from '../../src/telemetry/otel.js';
import type { PrometheusInstrumentOptions } from '../../src/telemetry/prometheus.js';

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** The optional options of T that refuse an explicit `undefined` (never, when all accept it). */
export type RefusesUndefined<T> = {
  [K in OptionalKeys<T>]-?: { [P in K]: undefined } extends Pick<T, K> ? never : K;
}[OptionalKeys<T>];

type AllAcceptUndefined<T extends never> = T;

export type Checked = [
  AllAcceptUndefined<RefusesUndefined<ExecuteOptions>>,
  AllAcceptUndefined<RefusesUndefined<HandleOptions>>,
  AllAcceptUndefined<RefusesUndefined<TimeoutOptions>>,
  AllAcceptUndefined<RefusesUndefined<RetryOptions>>,
  AllAcceptUndefined<RefusesUndefined<ExponentialBackoffOptions>>,
  AllAcceptUndefined<RefusesUndefined<RetryBudgetOptions>>,
  AllAcceptUndefined<RefusesUndefined<CircuitBreakerOptions>>,
  AllAcceptUndefined<RefusesUndefined<BulkheadOptions>>,
  AllAcceptUndefined<RefusesUndefined<RateLimiterOptions>>,
  AllAcceptUndefined<RefusesUndefined<KeyedRateLimiterOptions>>,
  AllAcceptUndefined<RefusesUndefined<FallbackOptions>>,
  AllAcceptUndefined<RefusesUndefined<PipelineOptions>>,
  AllAcceptUndefined<RefusesUndefined<GuardOptions>>,
  AllAcceptUndefined<RefusesUndefined<FastifyGuardOptions>>,
  AllAcceptUndefined<RefusesUndefined<ResilientFetchOptions>>,
  AllAcceptUndefined<RefusesUndefined<OtelInstrumentOptions>>,
  AllAcceptUndefined<RefusesUndefined<PrometheusInstrumentOptions>>,
];

// The check itself can fail: an option typed without `| undefined` is reported by name. (If
// exactOptionalPropertyTypes were off, this would be never and the assignment an error.)
export const control: RefusesUndefined<{ strict?: number; loose?: number | undefined }> = 'strict';

/** What a user's wrapper looks like: it forwards its own optional settings as they are. */
export interface CallSettings {
  readonly signal?: AbortSignal | undefined;
  readonly name?: string | undefined;
  readonly clock?: Clock | undefined;
  readonly timeoutMs?: number | undefined;
}

export function callWith(settings: CallSettings): Promise<number | string> {
  const policy = pipeline(
    { name: settings.name, clock: settings.clock },
    fallback('fallback', { name: settings.name, clock: settings.clock }),
    retry({ maxRetries: 1, name: settings.name, clock: settings.clock, maxDelayMs: settings.timeoutMs }),
    circuitBreaker({ halfOpenAfterMs: 1000, name: settings.name, clock: settings.clock, probeTimeoutMs: settings.timeoutMs }),
    bulkhead({ maxConcurrent: 1, name: settings.name, clock: settings.clock, queueTimeoutMs: settings.timeoutMs }),
    timeout(settings.timeoutMs ?? 100, { name: settings.name, clock: settings.clock }),
  );
  return policy.execute(() => 1, { signal: settings.signal });
}
