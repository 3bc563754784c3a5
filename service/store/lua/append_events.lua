-- Append a job's new events (returns the 0-based indexes of those that were new) to the stream exactly once, move its cursor and snapshot.
-- Atomic, so a crash can never leave events appended with the cursor behind (or the
-- reverse), and idempotent by event id, so an overlapping poll appends nothing twice.
-- Each entry carries the job id (j) and a per-job sequence number (s) so rule workers can
-- keep each job's events in order even when several workers share the stream.
-- KEYS: 1 events stream, 2 seen zset, 3 job hash, 4 lease key
-- ARGV: 1 owner ('' = no fencing), 2 stream maxlen, 3 seen window, 4 new cursor ('' = keep),
--       5 number of snapshot field/value pairs N, 6 ms when this poll read the job ('' = it
--       did not), 7 the refresh request count the poll saw before reading it, then N pairs,
--       then event id/json pairs, and last the job id.
if ARGV[1] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return -1  -- the lease moved to another replica: it will fetch these events itself
end
local seq = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')
local nsnap = tonumber(ARGV[5])
local first_event = 8 + 2 * nsnap
local added = {}
local job_id = ARGV[#ARGV]
for i = first_event, #ARGV - 1, 2 do
  if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    seq = seq + 1
    redis.call('ZADD', KEYS[2], seq, ARGV[i])
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'j', job_id, 's', seq, 'e', ARGV[i + 1])
    added[#added + 1] = (i - first_event) / 2
  end
end
redis.call('HSET', KEYS[3], 'seq', seq)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], 'cursor', ARGV[4])
end
for i = 8, 7 + 2 * nsnap, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[3], 'status_at', ARGV[6])
  -- A refresh asked for after this poll loaded the job is kept for the next poll.
  if ARGV[7] ~= '' and redis.call('HGET', KEYS[3], 'refresh') == ARGV[7] then
    redis.call('HDEL', KEYS[3], 'refresh')
  end
end
local window = tonumber(ARGV[3])
local size = redis.call('ZCARD', KEYS[2])
if size > window then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, size - window - 1)
end
return added
