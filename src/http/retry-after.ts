// Retry-After in both directions: milliseconds to whole seconds for answers, and the header's
// two forms (delta-seconds, HTTP-date) parsed for `resilientFetch`.

/** Longest wait a parsed Retry-After may ask for: one day. Longer values are clamped to it. */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * Milliseconds → Retry-After delta-seconds: rounded up, at least 1 (a `Retry-After: 0` invites
 * an immediate retry storm), and at most one day. Undefined for unknown (NaN, ±Infinity, < 0).
 *
 * @example
 * ```ts
 * import { toRetryAfterSeconds } from 'breakwater/fetch';
 *
 * console.log(toRetryAfterSeconds(1_200), toRetryAfterSeconds(0), toRetryAfterSeconds(NaN)); // 2 1 undefined
 * ```
 */
export function toRetryAfterSeconds(ms: number): number | undefined {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return undefined;
  const seconds = Math.ceil(Math.min(ms, MAX_RETRY_AFTER_MS) / 1000);
  return seconds < 1 ? 1 : seconds;
}

const DELTA_SECONDS = /^\d+$/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete forms recipients must still accept.
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function utc(year: number, monthName: string, day: number, h: number, m: number, s: number): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month === -1 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
  const time = Date.UTC(year, month, day, h, m, s);
  // Date.UTC rolls 31 Feb over into March; a date that does not exist is garbage.
  return new Date(time).getUTCDate() === day ? time : undefined;
}

/**
 * Milliseconds since the epoch for an HTTP-date, or undefined. Stricter than `Date.parse`.
 *
 * `nowMs` (wall-clock epoch milliseconds) places the two-digit year of the obsolete RFC 850 form.
 *
 * @example
 * ```ts
 * import { parseHttpDate } from 'breakwater/fetch';
 *
 * console.log(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', Date.now())); // 784111777000
 * console.log(parseHttpDate('1994-11-06T08:49:37Z', Date.now())); // undefined: ISO 8601 is not an HTTP-date
 * ```
 */
export function parseHttpDate(value: string, nowMs: number): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match !== null) return utc(+match[3]!, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!);
  match = RFC850_DATE.exec(value);
  if (match !== null) {
    // Two-digit year: RFC 9110 says a year more than 50 years in the future is in the past century.
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + +match[3]!;
    if (year > nowYear + 50) year -= 100;
    return utc(year, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!);
  }
  match = ASCTIME_DATE.exec(value);
  if (match !== null) return utc(+match[6]!, match[1]!, +match[2]!.trim(), +match[3]!, +match[4]!, +match[5]!);
  return undefined;
}

/**
 * Parses a Retry-After field value into milliseconds to wait, or undefined when it is invalid.
 * - delta-seconds: ASCII digits only (`1.5`, `+3`, `-5`, `1e3` are invalid);
 * - HTTP-date: relative to `nowMs` (wall-clock epoch ms); a date in the past means 0;
 * - anything else (including several comma-joined values) is ignored;
 * - the result is clamped to `maxMs` (default one day).
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from 'breakwater/fetch';
 *
 * const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT');
 * console.log(parseRetryAfter('120', now)); // 120000
 * console.log(parseRetryAfter('Sun, 06 Nov 1994 08:49:47 GMT', now)); // 10000
 * console.log(parseRetryAfter('1.5', now)); // undefined
 * ```
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
  maxMs: number = MAX_RETRY_AFTER_MS,
): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length === 0) return undefined;
  if (DELTA_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    return ms > maxMs ? maxMs : ms;
  }
  const date = parseHttpDate(text, nowMs);
  if (date === undefined) return undefined;
  const ms = date - nowMs;
  if (!(ms > 0)) return 0;
  return ms > maxMs ? maxMs : ms;
}
