-- A token bucket shared by every replica: reserve one request and answer how long to wait.
-- Reservation (tokens may go negative) costs one round trip per request and serves callers
-- in arrival order; the debt is bounded by the requests in flight across replicas.
-- Time comes from the Redis server, so replicas' clock skew cannot inflate the rate.
-- KEYS: 1 bucket hash {tokens, at_us}.  ARGV: 1 rate per second, 2 burst (capacity)
-- Returns the wait in microseconds before the reserved request may be sent (0: now).
pcall(redis.replicate_commands)  -- TIME before a write: replicate effects (default on 5+)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at_us')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
  at = now
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at_us', tostring(at))
-- Idle buckets disappear; an hour covers any debt a sane rate can build up.
redis.call('EXPIRE', KEYS[1], 3600)
if tokens >= 0 then
  return 0
end
return math.ceil(-tokens * 1000000 / rate)
