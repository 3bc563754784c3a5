-- Admit one delivery request into its receiver's queue and acknowledge the stream entry,
-- atomically: a crash can neither lose the request nor queue it twice.
-- KEYS: 1 delivery record (hash), 2 receiver queue (zset), 3 delivery stream
-- ARGV: 1 group, 2 entry id, 3 delivery id, 4 receiver, 5 firing JSON, 6 now ms
-- Returns the state found: 'new' (queued now), 'queued' (already waiting) or 'delivered'.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' or state == 'delivered' then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  return state
end
-- New, or parked earlier and replayed: start afresh with no attempts and no expiry.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'queued', 'receiver', ARGV[4], 'firing', ARGV[5],
           'attempts', '[]', 'since', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
return 'new'
