// The token-bucket rule: every decision a bucket makes, as pure functions of plain numbers.
// Anything that must decide exactly like `rateLimiter` (a port of the rule to another runtime,
// a script in a shared store) evaluates these same IEEE-754 double expressions, in this order,
// and so reaches the same decisions bit for bit.
//
// State of a bucket: `level`, the tokens it held right after its last grant, and `at`, the
// time of that grant in milliseconds. A bucket never granted from is (capacity, −∞). Inputs:
// `capacity`; `perMs` = refillPerSecond / 1000 (one division); `t`, the time in milliseconds,
// never earlier than `at` (the limiter's effective time does not go back).
//
//   tokens(t)       = level + (t − at) · perMs                   (level itself when t ≤ at)
//   has n at t      ⇔ tokens(t) ≥ n − n · 2^-36
//   take n at t     : level ← min(capacity, tokens(t)) − n;  at ← t      (only when has n)
//   full at t       ⇔ tokens(t) ≥ capacity                      (no tolerance)
//   a refusal writes nothing.
//
// Why (level, at) and not GCRA's single "full again at" time: GCRA stores `t + n · 1000/rate`
// and later measures `(fullAt − t) · rate/1000` to get n back, which misses n by a rounding
// (capacity 2, rate 7, 115 ms in: the second of two immediate requests was refused). Here a
// take at the instant of the previous one adds `0 · perMs` = 0, so a full bucket grants
// exactly `capacity` immediate requests and holds exactly `capacity − k` after k of them (whole
// numbers below 2^53 subtract exactly), at any clock offset and any rate.
//
// Why the tolerance n · 2^-36 (≈ 1.5e-11 · n): tokens earned over time come out of a rounded
// rate (0.3/s is not a binary fraction) and three rounded operations, so a bucket drained and
// refilled for exactly the right time can compute 2.9999999999999996 tokens where 3 are due
// (capacity 3, rate 0.3, 10 s). Near the threshold every quantity involved — level, the tokens
// earned, their sum — is at most about n, and each of the four roundings (rate, subtraction,
// product, sum) errs by at most 2^-53 of its result, so the total error is below 5 · 2^-53 · n:
// the tolerance is 25 000 times larger, and a request that exact arithmetic grants is always
// granted. What it costs is bounded, too: a grant leaves `level ≥ −n · 2^-36`, and since each
// take re-bases on the level it wrote, the tolerance never accumulates — in any window the
// tokens granted exceed `capacity + rate·t/1000` by less than 2^-36 · capacity (a request comes
// at most n · 2^-36 / perMs ms early: 15 picoseconds for one token at 1/s). For whole requests
// the tolerance is below one token while n < 2^36, so it cannot grant an extra request.
//
// `has` is monotone in t (a rounded subtraction, a product with a positive constant and a sum
// are each monotone), which is what makes `retryAfterMs` exact. `min` never matters to `has`:
// for n ≤ capacity, min(capacity, x) ≥ m ⇔ x ≥ m. Waiters may ask for more than `capacity` in
// total (the queue's reservations plus one request), and then the uncapped accrual is the right
// one, because a bucket with waiters is never full (its head would have been served).

/** Relative slack of `has`, a power of two so that `n · TOLERANCE` is exact. */
const TOLERANCE = 2 ** -36;

/** Tokens the bucket holds at `t`, before the cap at `capacity`. */
export function bucketTokens(level: number, at: number, t: number, perMs: number): number {
  const elapsedMs = t - at;
  // Stryker disable next-line EqualityOperator: `elapsedMs >= 0` is equivalent (at 0 both give level, as level + 0 is level); `elapsedMs <= 0` was killed before this mark
  return elapsedMs > 0 ? level + elapsedMs * perMs : level;
}

/** Does the bucket hold `needed` tokens at `t`? */
export function bucketHas(level: number, at: number, t: number, needed: number, perMs: number): boolean {
  return bucketTokens(level, at, t, perMs) >= needed - needed * TOLERANCE;
}

/** The new `level` after taking `taken` tokens at `t` (the new `at` is `t`). Call only when `bucketHas`. */
export function levelAfterTake(level: number, at: number, t: number, taken: number, capacity: number, perMs: number): number {
  const tokens = bucketTokens(level, at, t, perMs);
  // Stryker disable next-line EqualityOperator: `tokens <= capacity` is equivalent (when they are equal both branches give capacity); `tokens >= capacity` was killed before this mark
  return (tokens < capacity ? tokens : capacity) - taken;
}

/** Is the bucket full at `t`, i.e. indistinguishable from a bucket never used? */
export function bucketFull(level: number, at: number, t: number, capacity: number, perMs: number): boolean {
  return bucketTokens(level, at, t, perMs) >= capacity;
}

/** The largest whole k ≤ capacity (or 0) such that `bucketHas(k)`: what `tryAcquire(k)` would get. */
export function bucketAvailable(level: number, at: number, t: number, capacity: number, perMs: number): number {
  const tokens = bucketTokens(level, at, t, perMs);
  // Stryker disable next-line EqualityOperator: `tokens <= capacity` is equivalent (when they are equal both branches give capacity); `tokens >= capacity` was killed before this mark
  let k = Math.floor(tokens < capacity ? tokens : capacity);
  // Stryker disable next-line EqualityOperator: `!(k >= 0)` is equivalent (it differs only at k = 0, which it sets to 0); `!(k <= 0)` was killed before this mark
  if (!(k > 0)) k = 0;
  // floor(tokens) always passes `has`; the next whole number may pass too, within the tolerance.
  if (k + 1 <= capacity && bucketHas(level, at, t, k + 1, perMs)) k++;
  return k;
}

/**
 * Whole milliseconds to wait: the smallest integer r ≥ 0 such that `bucketHas` holds at time
 * `(now + r) + offset` — evaluated exactly as a later call will see that time (`now + r` is
 * the clock reading then, `offset` the correction the limiter adds to readings after a
 * backward clock jump, 0 for a clock that never goes back). Because `bucketHas` is monotone,
 * that r is unique: acquiring at `now + r` succeeds and at `now + r − 1` fails.
 *
 * `msPerToken` (= 1000 / refillPerSecond) only feeds the first estimate, which is a few
 * roundings away from the boundary, each below half a unit in the last place of the times and
 * durations involved (far below 1 ms for clock readings under 2^50 ms), so the correction
 * loops take a step or two, and `MAX_CORRECTION` is slack.
 */
export function bucketRetryAfterMs(
  level: number,
  at: number,
  needed: number,
  now: number,
  offset: number,
  perMs: number,
  msPerToken: number,
): number {
  let r = Math.ceil(at + (needed - needed * TOLERANCE - level) * msPerToken - (now + offset));
  if (!(r > 0)) r = 0;
  for (let i = 0; i < MAX_CORRECTION && !bucketHas(level, at, now + r + offset, needed, perMs); i++) r++;
  for (let i = 0; i < MAX_CORRECTION && r > 0 && bucketHas(level, at, now + (r - 1) + offset, needed, perMs); i++) r--;
  return r;
}

const MAX_CORRECTION = 8;
