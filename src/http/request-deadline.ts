// The deadline of one inbound request: read from the caller's header (its remaining budget in
// milliseconds) and/or the guard's own budget, then kept per request for `requestDeadline`.

import type { IncomingMessage } from 'node:http';
import type { Clock } from '../core/clock.js';
import { remainingMs, type Deadline } from '../core/deadline.js';

/** Milliseconds: digits with an optional fraction. Anything else (negative, `1e3`, a list) is ignored. */
const BUDGET = /^\d+(?:\.\d+)?$/;

/** The caller's remaining budget from a header value, or undefined when absent or invalid. */
export function parseBudgetMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!BUDGET.test(text)) return undefined;
  const ms = Number(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** How a guard decides a request's deadline. */
export interface DeadlineSettings {
  /** Lower-case header carrying the caller's remaining budget, or undefined. */
  readonly header: string | undefined;
  /** The budget of a request that brings none, and the most a caller may ask for. */
  readonly maxMs: number | undefined;
  readonly clock: Clock;
}

const deadlines = new WeakMap<IncomingMessage, Deadline>();

/**
 * The deadline of `req` under `settings`, recorded for `requestDeadline`; undefined when the
 * request has none. A deadline an outer guard already set for this request wins if tighter.
 */
export function establishDeadline(req: IncomingMessage, settings: DeadlineSettings): Deadline | undefined {
  let budget = settings.header === undefined ? undefined : parseBudgetMs(req.headers[settings.header]);
  if (settings.maxMs !== undefined && !(budget !== undefined && budget <= settings.maxMs)) budget = settings.maxMs;
  const earlier = deadlines.get(req);
  if (budget === undefined) return earlier;
  if (earlier !== undefined && remainingMs(earlier) <= budget) return earlier;
  const deadline: Deadline = { atMs: settings.clock.now() + budget, clock: settings.clock };
  deadlines.set(req, deadline);
  return deadline;
}

/** The deadline a guard set for this raw request, if any. */
export function deadlineOfRaw(req: IncomingMessage): Deadline | undefined {
  return deadlines.get(req);
}
