import { createHash } from 'node:crypto';

// The one Lua script behind every decision. It runs atomically on the server, so any number
// of processes sharing a key share one bucket.
//
// The bucket is the same as the local limiter's (src/rate-limit/token-bucket.ts): ONE number,
// `fullAt`, the time at which the bucket is full again, stored as the key's value (17
// significant digits, so it round-trips exactly). The arithmetic block below is a line-by-line
// copy of the TypeScript rule; Lua numbers are IEEE doubles and the VM rounds after every
// operation, so the same inputs give the same bits, hence the same decisions and the same
// `retryAfterMs`, to the millisecond.
//
// KEYS[1]  the bucket's key
// ARGV[1]  capacity
// ARGV[2]  refillPerSecond
// ARGV[3]  tokens: > 0 take them, 0 only look, < 0 give back a reservation
// ARGV[4]  longest wait this request accepts, ms (-1: unbounded)
// ARGV[5]  longest wait any request of this limiter accepts, ms (-1: unbounded)
// ARGV[6]  now, ms on the caller's clock; '' = use the server's TIME
//
// Reply: { granted 0|1, ms, tokens left (whole) }. For a grant, ms is the wait before the
// tokens are the caller's (0 = now); for a refusal it is the exact retryAfterMs.
//
// Expiry: with the server's clock the key expires at `fullAt` itself (PXAT, the same time base
// as TIME). With a caller's clock Redis cannot relate that clock to its own: the key lives
// `fullAt − now` ms plus CLIENT_CLOCK_GRACE_MS, so a caller clock that runs slower than the
// server's (or a virtual one) never loses a bucket that is not full yet.
export const CLIENT_CLOCK_GRACE_MS = 1000;

export const TOKEN_BUCKET_LUA = `
-- Redis 7+ has REDIS_VERSION_NUM. Servers before 5 replicate scripts verbatim unless told
-- otherwise, which a script that reads TIME must not be.
local modern = redis.REDIS_VERSION_NUM ~= nil
if not modern and redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local refillPerSecond = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
-- ARGV[4] and ARGV[5] are parsed only on the paths that need them (the common grant does not).
local now
local serverClock = ARGV[6] == ''
if serverClock then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
else
  now = tonumber(ARGV[6])
end

-- ==== Token-bucket arithmetic: mirrors src/rate-limit/token-bucket.ts (keep in step) ====
local perMs = refillPerSecond / 1000
local msPerToken = 1000 / refillPerSecond
local MAX_CORRECTION = 8

-- has: are there \`needed\` tokens at time t? (uncapped accrual, as in TokenBuckets.has)
local function has(fullAt, t, needed)
  return capacity - (fullAt - t) * perMs >= needed
end

-- take: fullAt after taking n tokens at time t (TokenBuckets.take)
local function take(fullAt, t, n)
  if fullAt > t then return fullAt + n * msPerToken end
  return t + n * msPerToken
end

-- dueIn: smallest whole r >= 0 with has(fullAt, t + r, needed) (TokenBuckets.dueIn, offset 0)
local function dueIn(fullAt, needed, t)
  local r = math.ceil(fullAt - (capacity - needed) * msPerToken - t)
  if not (r > 0) then r = 0 end
  local i = 0
  while i < MAX_CORRECTION and not has(fullAt, t + r, needed) do r = r + 1; i = i + 1 end
  i = 0
  while i < MAX_CORRECTION and r > 0 and has(fullAt, t + (r - 1), needed) do r = r - 1; i = i + 1 end
  return r
end

-- tokensAt: tokens at time t, in [0, capacity] (TokenBuckets.tokens)
local function tokensAt(fullAt, t)
  local deficit = fullAt - t
  if deficit <= 0 then return capacity end
  local left = capacity - deficit * perMs
  if left > 0 then return left end
  return 0
end
-- ==== end of the token-bucket arithmetic ====

local stored = redis.call('GET', key)
-- A missing key is a full bucket: the key expired when the bucket was full again.
local fullAt = now
if stored then fullAt = tonumber(stored) end

-- Numbers go to redis.call as numbers: Redis writes them with enough digits (17) to read back
-- as the same double. (SET … PXAT needs 6.2; older servers get two commands.)
local function store(value)
  if not serverClock then
    redis.call('SET', key, value, 'PX', math.ceil(value - now) + ${CLIENT_CLOCK_GRACE_MS})
  elseif modern then
    redis.call('SET', key, value, 'PXAT', math.ceil(value))
  else
    redis.call('SET', key, value)
    redis.call('PEXPIREAT', key, math.ceil(value))
  end
end

-- Under a clock that only moves forward, fullAt never lies further ahead than one empty
-- bucket plus the longest accepted wait. Further means the clock went back (a failover to a
-- host whose clock is behind, an NTP step): the bucket counts as empty from now on, written
-- back once, rather than locking the key out for the size of the jump. No token appears.
local emptyAt = now + capacity * msPerToken
if fullAt > emptyAt then
  local horizonMs = tonumber(ARGV[5])
  if horizonMs >= 0 and fullAt > emptyAt + horizonMs + 1 then
    fullAt = emptyAt + horizonMs
    store(fullAt)
  end
end

if tokens == 0 then
  return { 1, 0, math.floor(tokensAt(fullAt, now)) }
end

if tokens < 0 then
  if stored then
    fullAt = fullAt + tokens * msPerToken
    if fullAt > now then store(fullAt) else redis.call('DEL', key) end
  end
  return { 1, 0, math.floor(tokensAt(fullAt, now)) }
end

if has(fullAt, now, tokens) then
  fullAt = take(fullAt, now, tokens)
  store(fullAt)
  return { 1, 0, math.floor(tokensAt(fullAt, now)) }
end

local wait = dueIn(fullAt, tokens, now)
local maxWaitMs = tonumber(ARGV[4])
if maxWaitMs >= 0 and wait > maxWaitMs then
  -- Refused: nothing is written.
  return { 0, wait, math.floor(tokensAt(fullAt, now)) }
end
-- Granted later: the tokens are reserved now and become the caller's at now + wait, so
-- later requests queue behind this one, whichever process they come from.
fullAt = take(fullAt, now + wait, tokens)
store(fullAt)
return { 1, wait, 0 }
`;

export const TOKEN_BUCKET_SHA1 = createHash('sha1').update(TOKEN_BUCKET_LUA).digest('hex');
