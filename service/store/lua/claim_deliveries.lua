-- Claim a receiver's due deliveries, read by the caller (ZRANGEBYSCORE) and checked again
-- here: each one's due time becomes the lease's end, so a worker that dies mid-attempt
-- leaves it due again once the lease runs out. Every record key comes in KEYS (a
-- cluster routes by them; keys.py gives the queue and the records one hash tag).
-- KEYS: 1 receiver queue (zset), 2.. one record (hash) per candidate
-- ARGV: 1 now ms, 2 lease end ms, 3 lease token, 4.. the candidates' ids, in KEYS' order
-- Returns {next due ms or '', id, firing, attempts, since, id, firing, ...}.
local out = {''}
local now = tonumber(ARGV[1])
for i = 2, #KEYS do
  local id, record = ARGV[i + 2], KEYS[i]
  local due = redis.call('ZSCORE', KEYS[1], id)
  if due and tonumber(due) <= now then
    local data = redis.call('HMGET', record, 'state', 'firing', 'attempts', 'since')
    if data[1] ~= 'queued' or not data[2] then
      redis.call('ZREM', KEYS[1], id)  -- its record is gone or finished: nothing to send
    else
      redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id)
      redis.call('HSET', record, 'lease', ARGV[3])
      table.insert(out, id)
      table.insert(out, data[2])
      table.insert(out, data[3] or '[]')
      table.insert(out, data[4] or ARGV[1])
    end
  end
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if head[2] then
  out[1] = head[2]
end
return out
