-- Claim a receiver's due deliveries: each one's due time becomes the lease's end, so a
-- worker that dies mid-attempt leaves it due again once the lease runs out.
-- KEYS: 1 receiver queue (zset)
-- ARGV: 1 now ms, 2 limit, 3 lease end ms, 4 lease token, 5 record key prefix
-- Returns {next due ms or '', id, firing, attempts, since, id, firing, ...}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {''}
for _, id in ipairs(due) do
  local record = ARGV[5] .. id
  local data = redis.call('HMGET', record, 'state', 'firing', 'attempts', 'since')
  if data[1] ~= 'queued' or not data[2] then
    redis.call('ZREM', KEYS[1], id)  -- its record is gone or finished: nothing to send
  else
    redis.call('ZADD', KEYS[1], 'XX', ARGV[3], id)
    redis.call('HSET', record, 'lease', ARGV[4])
    table.insert(out, id)
    table.insert(out, data[2])
    table.insert(out, data[3] or '[]')
    table.insert(out, data[4] or ARGV[1])
  end
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then
  out[1] = head[2]
end
return out
