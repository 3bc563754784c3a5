-- Admit one delivery request into its receiver's queue and acknowledge the stream entry,
-- atomically: a crash can neither lose the request nor queue it twice.
-- On a Redis Cluster the stream (a job partition's) and the queue (the `{deliveries}`
-- slot) are in two slots: the caller passes no stream and acknowledges after (a crash
-- in between redelivers the entry, which then finds the record `queued`: a no-op).
-- KEYS: 1 delivery record (hash), 2 receiver queue (zset), 3 delivery stream (optional)
-- ARGV: 1 group, 2 entry id, 3 delivery id, 4 receiver, 5 firing JSON, 6 now ms
-- Returns the state found: 'new' (queued now), 'queued' (already waiting) or 'delivered'.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' or state == 'delivered' then
  if KEYS[3] then
    redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
  end
  return state
end
-- New, or parked earlier and replayed: start afresh with no attempts and no expiry.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'queued', 'receiver', ARGV[4], 'firing', ARGV[5],
           'attempts', '[]', 'since', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
if KEYS[3] then
  redis.call('XACK', KEYS[3], ARGV[1], ARGV[2])
end
return 'new'
