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
// The key holds the bucket in one of two forms:
//   a string  while nobody waits (the common case, one GET and one SET with its expiry): 16
//            bytes, the two doubles `level` (tokens right after its latest grant) and `at` (the
//            time of that grant), little-endian IEEE-754 (Lua's struct.pack('<dd')), so they
//            read back bit for bit without formatting or parsing text.
//   a hash   while callers wait:
//     l, a     the bucket as above, written as numbers (Redis formats them exactly).
//     h, n     the sequence number of the first waiter not yet served and the next one to hand
//              out.
//     <seq>    per waiter: "level at", the bucket right after that waiter's grant, `at` being
//              the time of the grant (the time its caller runs).
//   no key   a full bucket, nobody waiting.
// The first waiter turns the string into a hash; a save with every waiter served turns it back
// (SET replaces the hash). GET of a hash is an error: the script reads with `redis.pcall` and
// takes the hash path then, with no command spent on TYPE.
// Waiters are the local limiter's FIFO queue, served at the times its timers would fire: the
// head when the bucket first has its token, each next one when the bucket has the next token
// after the previous grant. Those times follow from the bucket alone, so the script computes
// each waiter's grant when it arrives (its caller sleeps until then) and moves `l`, `a` along
// the waiters whose time has come, whenever it next runs. Every waiter takes one token.
//
// KEYS[1]  the bucket's key
// ARGV[1]  tokens: > 0 take them, 0 only look, < 0 give a grant back
// ARGV[2]  longest wait this request accepts, ms (0: none, -1: unbounded)
// ARGV[3]  now, ms on the caller's clock; absent = use the server's TIME
//
// `capacity` and `refillPerSecond` are written into the script's text (one script, one SHA1,
// per pair of settings): as arguments they would be parsed (strtod) on every call. Their
// literals are JavaScript's shortest round-trip digits, which Lua's parser reads back as the
// same doubles.
//
// Reply: a grant with no wait (and a look or a give-back): an integer, the whole tokens
// available (a table reply costs the server more). Otherwise { granted 0|1, ms, whole tokens
// available }: for a refusal ms is the exact retryAfterMs; for a queued grant it is the wait
// before the token is the caller's (a string, as Lua numbers reach the client truncated to
// integers), the grant time minus now.
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

/** The script for one bucket size and rate: its text and the SHA1 that EVALSHA names it by. */
export interface TokenBucketScript {
  readonly lua: string;
  readonly sha1: string;
}

/** A double as a Lua numeral that reads back as the same double. */
function luaNumber(x: number): string {
  if (x === Infinity) return 'math.huge';
  if (!Number.isFinite(x) || x <= 0) throw new RangeError(`breakwater: not a positive number for the script: ${x}`);
  return String(x);
}

export function tokenBucketScript(capacity: number, refillPerSecond: number): TokenBucketScript {
  const lua = TOKEN_BUCKET_LUA.replace('@CAPACITY@', luaNumber(capacity)).replace('@REFILL_PER_SECOND@', luaNumber(refillPerSecond));
  return { lua, sha1: createHash('sha1').update(lua).digest('hex') };
}

const TOKEN_BUCKET_LUA = `
-- Redis 7+ has REDIS_VERSION_NUM. Servers before 5 replicate scripts verbatim unless told
-- otherwise, which a script that reads TIME must not be.
local modern = redis.REDIS_VERSION_NUM ~= nil
if not modern and redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local capacity = @CAPACITY@
local refillPerSecond = @REFILL_PER_SECOND@
-- One token is the common request: a string compare (both interned) rather than a strtod.
local tokens = ARGV[1]
if tokens == '1' then tokens = 1 else tokens = tonumber(tokens) end
local now
local serverClock = ARGV[3] == nil
if serverClock then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
else
  now = tonumber(ARGV[3])
end

-- Nobody waits: the key is a string, the bucket's two doubles. Waiters: a hash (see below).
-- GET of a hash is an error, and tells the two apart without one more command.
local state = redis.pcall('GET', key)
local hashed = type(state) == 'table'
local level, at = capacity, -math.huge
if type(state) == 'string' then
  if #state ~= 16 then return redis.error_reply('WRONGTYPE the key holds a value that is not a breakwater bucket') end
  level, at = struct.unpack('<dd', state)
end

-- The common cases: nobody waits, and the request is granted at once, or refused because it
-- does not wait (ARGV[2] '0', compared as a string). The rule's functions are written out in
-- place here, expression for expression (a Lua function call, and making the functions on
-- every run, costs more than their arithmetic): bucketTokens, bucketHas, levelAfterTake,
-- fullTime, bucketRetryAfterMs (offset 0) and bucketAvailable below.
local TOLERANCE = 1 / 68719476736 -- 2^-36, exact
local perMs = refillPerSecond / 1000
local msPerToken = 1000 / refillPerSecond
if not hashed and tokens > 0 and not (at - now > capacity * msPerToken) then
  local t = now
  if t < at then t = at end
  local elapsedMs = t - at
  local held = level
  if elapsedMs > 0 then held = level + elapsedMs * perMs end
  local granted = held >= tokens - tokens * TOLERANCE
  if granted or ARGV[2] == '0' then
    local wait = 0
    if granted then
      if held < capacity then level = held - tokens else level = capacity - tokens end
      at = t
      if level >= capacity then
        -- Full (at >= now, so it holds \`level\` now), nobody waiting: no key.
        redis.call('DEL', key)
      else
        local full = math.ceil(at + (capacity - level) * msPerToken)
        local filled = false
        local i = 0
        while true do
          elapsedMs = full - at
          held = level
          if elapsedMs > 0 then held = level + elapsedMs * perMs end
          filled = held >= capacity
          if filled or i == 8 then break end
          full = full + 1
          i = i + 1
        end
        if not filled then full = full + math.ceil(capacity * msPerToken) end
        -- The expiry goes as integer digits ('%d'): a Lua number argument costs a '%.17g'.
        local value = struct.pack('<dd', level, at)
        if not serverClock then
          redis.call('SET', key, value, 'PX', string.format('%d', math.ceil(full - now) + ${CLIENT_CLOCK_GRACE_MS}))
        elseif modern then
          redis.call('SET', key, value, 'PXAT', string.format('%d', full))
        else
          -- SET's PXAT came in Redis 6.2.
          redis.call('SET', key, value)
          redis.call('PEXPIREAT', key, full)
        end
      end
    else
      -- Refused: nothing is written.
      local needed = tokens - tokens * TOLERANCE
      wait = math.ceil(at + (needed - level) * msPerToken - (now + 0))
      if not (wait > 0) then wait = 0 end
      local i = 0
      while i < 8 do
        elapsedMs = now + wait + 0 - at
        held = level
        if elapsedMs > 0 then held = level + elapsedMs * perMs end
        if held >= needed then break end
        wait = wait + 1
        i = i + 1
      end
      i = 0
      while i < 8 and wait > 0 do
        elapsedMs = now + (wait - 1) + 0 - at
        held = level
        if elapsedMs > 0 then held = level + elapsedMs * perMs end
        if not (held >= needed) then break end
        wait = wait - 1
        i = i + 1
      end
    end
    -- The whole tokens available now.
    elapsedMs = now - at
    held = level
    if elapsedMs > 0 then held = level + elapsedMs * perMs end
    local k
    if held < capacity then k = math.floor(held) else k = math.floor(capacity) end
    if not (k > 0) then k = 0 end
    if k + 1 <= capacity and held >= (k + 1) - (k + 1) * TOLERANCE then k = k + 1 end
    if granted then return k end
    return { 0, wait, k }
  end
end

-- (As in the common case above:) the bucket (level, at), nobody waiting, expires at \`full\` (the first whole millisecond at
-- which it is full again): one SET with its expiry.
local function setBucket(full)
  local value = struct.pack('<dd', level, at)
  if not serverClock then
    redis.call('SET', key, value, 'PX', math.ceil(full - now) + ${CLIENT_CLOCK_GRACE_MS})
  elseif modern then
    redis.call('SET', key, value, 'PXAT', full)
  else
    -- SET's PXAT came in Redis 6.2.
    redis.call('SET', key, value)
    redis.call('PEXPIREAT', key, full)
  end
end


${BUCKET_RULE_LUA}
local function fmt(x) return string.format('%.17g', x) end
-- A whole number as digits (a command argument must not come out as 1.7e+12).
local function int(x) return string.format('%.0f', x) end

local function entry(seq)
  local value = redis.call('HGET', key, int(seq))
  local l, a = string.match(value, '^(%S+) (%S+)$')
  return tonumber(l), tonumber(a)
end

-- The first whole millisecond at which the bucket (level, at) is full again.
local function fullTime(l, a)
  local t = math.ceil(a + (capacity - l) * msPerToken)
  local i = 0
  while i < MAX_CORRECTION and not bucketFull(l, a, t) do t = t + 1; i = i + 1 end
  if not bucketFull(l, a, t) then t = t + math.ceil(capacity * msPerToken) end
  return t
end

-- The hash, while callers wait: l, a as in the string, h, n the first waiter not yet served
-- and the next number to hand out, and one field per waiter.
local present = state ~= false
local head, tail = 0, 0
if hashed then
  local stored = redis.call('HMGET', key, 'l', 'a', 'h', 'n')
  present = stored[1] ~= false
  if present then level = tonumber(stored[1]); at = tonumber(stored[2]) end
  head = tonumber(stored[3]) or 0
  tail = tonumber(stored[4]) or 0
end
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
  local full = fullTime(lastLevel, lastAt)
  if pending == 0 then
    -- The last waiter is served: back to a string (SET replaces the hash).
    setBucket(full)
    return
  end
  redis.call('HSET', key, 'l', level, 'a', at, 'h', head, 'n', tail)
  for seq = storedHead, head - 1 do redis.call('HDEL', key, int(seq)) end
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
  elseif present then
    level = level - tokens
    if level > capacity then level = capacity end
    lastLevel = level
    save()
  elseif dirty then
    save()
  end
  return available()
end

if tokens == 0 then
  if dirty then save() end
  return available()
end

-- A grant never lies before the latest one.
local t = now
if t < at then t = at end

if pending == 0 and bucketHas(level, at, t, tokens) then
  level = levelAfterTake(level, at, t, tokens)
  at = t
  lastLevel, lastAt = level, at
  save()
  return available()
end

-- Behind the waiters: due when the bucket holds their tokens and these.
local wait = bucketRetryAfterMs(level, at, pending + tokens, now, 0)
local maxWaitMs = tonumber(ARGV[2])
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
-- The first waiter turns the string into a hash.
if not hashed and present then redis.call('DEL', key) end
hashed = true
redis.call('HSET', key, int(tail), fmt(lastLevel) .. ' ' .. fmt(lastAt))
tail = tail + 1
pending = pending + 1
save()
return { 1, fmt(grantAt - now), 0 }
`;

