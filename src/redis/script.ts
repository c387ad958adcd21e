import { createHash } from 'node:crypto';

// The one Lua script behind every decision. It runs atomically on the server, so any number
// of processes sharing a key share one bucket.
//
// It decides exactly like the local `rateLimiter`: the block marked "the token-bucket rule" is
// a line-by-line copy of src/rate-limit/bucket-rule.ts, Lua numbers are IEEE doubles, the VM
// rounds after every operation, and every stored number reads back as the same double: the
// bucket's numbers go to Redis as Lua numbers, which Redis itself writes out exactly (`%.17g`;
// Redis 7.2+ and Valkey: whole numbers as digits, others in the shortest form that reads back
// the same), cheaper than formatting them in Lua; a waiter's pair is formatted with `%.17g`.
// The same inputs give the same bits, hence the same grants, refusals, `retryAfterMs` and
// `available`.
//
// The key is a hash:
//   l, a     the bucket as `rateLimiter` holds it now: `level` (tokens right after its latest
//            grant) and `at` (the time of that grant). No key: a full bucket, nobody waiting.
//   h, n     while callers wait: the sequence number of the first waiter not yet served and the
//            next one to hand out (absent: 0, nobody waits).
//   <seq>    per waiter: "level at", the bucket right after that waiter's grant, `at` being the
//            time of the grant (the time its caller runs).
// Waiters are the local limiter's FIFO queue, served at the times its timers would fire: the
// head when the bucket first has its token, each next one when the bucket has the next token
// after the previous grant. Those times follow from the bucket alone, so the script computes
// each waiter's grant when it arrives (its caller sleeps until then) and moves `l`, `a` along
// the waiters whose time has come, whenever it next runs. Every waiter takes one token.
//
// KEYS[1]  the bucket's key
// ARGV[1]  capacity
// ARGV[2]  refillPerSecond
// ARGV[3]  tokens: > 0 take them, 0 only look, < 0 give a grant back
// ARGV[4]  longest wait this request accepts, ms (0: none, -1: unbounded)
// ARGV[5]  now, ms on the caller's clock; '' = use the server's TIME
//
// Reply: { granted 0|1, ms, whole tokens available }. For a refusal ms is the exact
// retryAfterMs; for a grant it is the wait before the token is the caller's: 0, or (a string,
// as Lua numbers reach the client truncated to integers) the grant time minus now.
//
// Expiry: no earlier than the time the bucket is full again with every waiter served, in
// whole milliseconds at which `bucketFull` holds. With the server's clock that time is a
// PEXPIREAT (the same time base as TIME). With a caller's clock Redis cannot relate that clock
// to its own: the key lives the time-to-full plus CLIENT_CLOCK_GRACE_MS, so a caller clock
// that runs somewhat slower than the server's (or a virtual one) never loses a bucket that is
// not full yet.
export const CLIENT_CLOCK_GRACE_MS = 1000;

/**
 * src/rate-limit/bucket-rule.ts in Lua, function by function and expression by expression
 * (keep in step). It reads `capacity` and `refillPerSecond` from the enclosing chunk; `perMs`
 * and `msPerToken` are computed as `rateLimiter` computes them.
 */
export const BUCKET_RULE_LUA = `-- ==== The token-bucket rule: src/rate-limit/bucket-rule.ts, line by line (keep in step) ====
local TOLERANCE = 1 / 68719476736 -- 2^-36, exact
local MAX_CORRECTION = 8
local perMs = refillPerSecond / 1000
local msPerToken = 1000 / refillPerSecond

local function bucketTokens(level, at, t)
  local elapsedMs = t - at
  if elapsedMs > 0 then return level + elapsedMs * perMs end
  return level
end

local function bucketHas(level, at, t, needed)
  return bucketTokens(level, at, t) >= needed - needed * TOLERANCE
end

local function levelAfterTake(level, at, t, taken)
  local tokens = bucketTokens(level, at, t)
  if tokens < capacity then return tokens - taken end
  return capacity - taken
end

local function bucketFull(level, at, t)
  return bucketTokens(level, at, t) >= capacity
end

local function bucketAvailable(level, at, t)
  local tokens = bucketTokens(level, at, t)
  local k
  if tokens < capacity then k = math.floor(tokens) else k = math.floor(capacity) end
  if not (k > 0) then k = 0 end
  if k + 1 <= capacity and bucketHas(level, at, t, k + 1) then k = k + 1 end
  return k
end

local function bucketRetryAfterMs(level, at, needed, now, offset)
  local r = math.ceil(at + (needed - needed * TOLERANCE - level) * msPerToken - (now + offset))
  if not (r > 0) then r = 0 end
  local i = 0
  while i < MAX_CORRECTION and not bucketHas(level, at, now + r + offset, needed) do r = r + 1; i = i + 1 end
  i = 0
  while i < MAX_CORRECTION and r > 0 and bucketHas(level, at, now + (r - 1) + offset, needed) do r = r - 1; i = i + 1 end
  return r
end
-- ==== end of the token-bucket rule ====
`;

export const TOKEN_BUCKET_LUA = `
-- Redis 7+ has REDIS_VERSION_NUM. Servers before 5 replicate scripts verbatim unless told
-- otherwise, which a script that reads TIME must not be.
if redis.REDIS_VERSION_NUM == nil and redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local refillPerSecond = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local now
local serverClock = ARGV[5] == ''
if serverClock then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
else
  now = tonumber(ARGV[5])
end

${BUCKET_RULE_LUA}
local function fmt(x) return string.format('%.17g', x) end
-- A whole number as digits (a command argument must not come out as 1.7e+12).
local function int(x) return string.format('%.0f', x) end

local function entry(seq)
  local value = redis.call('HGET', key, int(seq))
  local level, at = string.match(value, '^(%S+) (%S+)$')
  return tonumber(level), tonumber(at)
end

-- The first whole millisecond at which the bucket (level, at) is full again.
local function fullTime(level, at)
  local t = math.ceil(at + (capacity - level) * msPerToken)
  local i = 0
  while i < MAX_CORRECTION and not bucketFull(level, at, t) do t = t + 1; i = i + 1 end
  if not bucketFull(level, at, t) then t = t + math.ceil(capacity * msPerToken) end
  return t
end

local stored = redis.call('HMGET', key, 'l', 'a', 'h', 'n')
local level, at = capacity, -math.huge
if stored[1] then level = tonumber(stored[1]); at = tonumber(stored[2]) end
local head = tonumber(stored[3]) or 0
local tail = tonumber(stored[4]) or 0
local storedHead = head
local dirty = false

-- The clock reads earlier than the latest grant: another process's clock is behind, or this
-- one stepped back. Grants never move back in time (no token appears twice), which costs at
-- most the difference in refill. A difference beyond one full refill is a jump, not skew: the
-- key's times move back by it, written once, rather than lock the key out for its size.
if at - now > capacity * msPerToken then
  local shift = now - at
  at = at + shift
  for seq = head, tail - 1 do
    local l, a = entry(seq)
    redis.call('HSET', key, int(seq), fmt(l) .. ' ' .. fmt(a + shift))
  end
  dirty = true
end

-- Waiters whose time has come have their token: the bucket is the one after their grants.
while head < tail do
  local l, a = entry(head)
  if a > now then break end
  level, at = l, a
  head = head + 1
end
local pending = tail - head
-- The bucket once every waiter is served.
local lastLevel, lastAt = level, at
if pending > 0 then lastLevel, lastAt = entry(tail - 1) end

-- Writes the bucket back, with its expiry; a full bucket nobody waits on is no key at all.
local function save()
  if pending == 0 and bucketFull(level, at, now) then
    redis.call('DEL', key)
    return
  end
  if pending == 0 then
    redis.call('HSET', key, 'l', level, 'a', at)
    if stored[4] then redis.call('HDEL', key, 'h', 'n') end
  else
    redis.call('HSET', key, 'l', level, 'a', at, 'h', head, 'n', tail)
  end
  for seq = storedHead, head - 1 do redis.call('HDEL', key, int(seq)) end
  local full = fullTime(lastLevel, lastAt)
  if serverClock then
    redis.call('PEXPIREAT', key, full)
  else
    redis.call('PEXPIRE', key, math.ceil(full - now) + ${CLIENT_CLOCK_GRACE_MS})
  end
end

local function available()
  if pending > 0 then return 0 end
  return bucketAvailable(level, at, now)
end

if tokens < 0 then
  -- A caller left before using its grant. The newest reservation goes back (the callers
  -- behind the one that left keep their times, which are no earlier than the ones left);
  -- with none, the tokens go back into the bucket, as \`rateLimiter\`'s refund does.
  if pending > 0 then
    tail = tail - 1
    redis.call('HDEL', key, int(tail))
    pending = pending - 1
    lastLevel, lastAt = level, at
    if pending > 0 then lastLevel, lastAt = entry(tail - 1) end
    save()
  elseif stored[1] then
    level = level - tokens
    if level > capacity then level = capacity end
    lastLevel = level
    save()
  elseif dirty then
    save()
  end
  return { 1, 0, available() }
end

if tokens == 0 then
  if dirty then save() end
  return { 1, 0, available() }
end

-- A grant never lies before the latest one.
local t = now
if t < at then t = at end

if pending == 0 and bucketHas(level, at, t, tokens) then
  level = levelAfterTake(level, at, t, tokens)
  at = t
  lastLevel, lastAt = level, at
  save()
  return { 1, 0, available() }
end

-- Behind the waiters: due when the bucket holds their tokens and these.
local wait = bucketRetryAfterMs(level, at, pending + tokens, now, 0)
local maxWaitMs = tonumber(ARGV[4])
-- A request that does not wait is refused whenever it is not granted at once, even when its
-- tokens would be due at once behind the waiters (\`tryAcquire\` never queues).
if maxWaitMs == 0 or (maxWaitMs > 0 and wait > maxWaitMs) then
  -- Refused: nothing is written.
  if dirty then save() end
  return { 0, wait, available() }
end

-- Queued: granted at the time the local limiter's timer would serve it.
local grantAt
if pending == 0 then
  grantAt = now + wait
else
  grantAt = lastAt + bucketRetryAfterMs(lastLevel, lastAt, tokens, lastAt, 0)
end
lastLevel = levelAfterTake(lastLevel, lastAt, grantAt, tokens)
lastAt = grantAt
redis.call('HSET', key, int(tail), fmt(lastLevel) .. ' ' .. fmt(lastAt))
tail = tail + 1
pending = pending + 1
save()
return { 1, fmt(grantAt - now), 0 }
`;

export const TOKEN_BUCKET_SHA1 = createHash('sha1').update(TOKEN_BUCKET_LUA).digest('hex');
