-- Give a polled job back: schedule its next poll (or drop it when terminal) and free
-- the lease, only if this replica still owns it. A nudge (score set below the claim
-- time by an inbound webhook while we polled) is kept, so that poll still happens.
-- KEYS: 1 schedule zset, 2 lease key, 3 job hash
-- ARGV: 1 owner, 2 job id, 3 next due ms ('' = drop: terminal and drained), 4 claimed at ms
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[2])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[3], 'done', '1')
  return 1
end
local due = tonumber(ARGV[3])
local current = redis.call('ZSCORE', KEYS[1], ARGV[2])
if current and tonumber(current) < tonumber(ARGV[4]) then
  due = tonumber(current)
end
redis.call('ZADD', KEYS[1], due, ARGV[2])
return 1
