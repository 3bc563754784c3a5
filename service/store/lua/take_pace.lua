-- Take a receiver's send slot, shared by every replica: free once its `until` has passed.
-- The holder keeps it `hold` ms at most (its lease: a worker that dies frees it then);
-- release_pace.lua ends the hold and sets when the next send may start.
-- Time comes from the Redis server, so replicas' clock skew cannot shorten the pace.
-- KEYS: 1 pace hash {until_us, token}.  ARGV: 1 token, 2 hold ms
-- Returns 0 (the slot is ours) or the ms to wait before asking again.
pcall(redis.replicate_commands)  -- TIME before a write: replicate effects (default on 5+)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'until_us', 'token')
local busy = tonumber(state[1]) or 0
if busy > now and state[2] ~= ARGV[1] then
  return math.ceil((busy - now) / 1000)
end
local hold = tonumber(ARGV[2]) * 1000
redis.call('HSET', KEYS[1], 'until_us', tostring(now + hold), 'token', ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 60000)
return 0
