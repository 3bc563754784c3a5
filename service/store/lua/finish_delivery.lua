-- Record an attempt's outcome, if the lease is still ours: schedule the retry, or mark
-- the delivery delivered, or park it in the dead-letter stream; in one step.
-- KEYS: 1 delivery record (hash), 2 receiver queue (zset), 3 dead-letter stream
-- ARGV: 1 delivery id, 2 lease token, 3 verdict (retry|delivered|dead), 4 attempts JSON,
--       5 retry due ms, 6 dead-letter JSON, 7 record TTL s, 8 dead stream MAXLEN,
--       9 dead-letter field name
-- Returns 1, or 0 when the lease was lost (another worker owns the delivery now).
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], 'lease')
redis.call('HSET', KEYS[1], 'attempts', ARGV[4])
if ARGV[3] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
  return 1
end
redis.call('ZREM', KEYS[2], ARGV[1])
-- The finished record stays (without the body) as the idempotency record of its id.
redis.call('HSET', KEYS[1], 'state', ARGV[3])
redis.call('HDEL', KEYS[1], 'firing')
redis.call('EXPIRE', KEYS[1], ARGV[7])
if ARGV[3] == 'dead' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', ARGV[9], ARGV[6])
end
return 1
