-- Move due delayed actions onto the action queue, atomically (ZREM then XADD), so two
-- replicas running the scheduler never enqueue the same one twice.
-- KEYS: 1 delayed zset, 2 action queue.  ARGV: 1 now ms, 2 limit
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, task in ipairs(due) do
  redis.call('ZREM', KEYS[1], task)
  redis.call('XADD', KEYS[2], '*', 't', task)
end
return #due
