-- Fold one page of the jobs listing into the schedule: a watched job whose listed (raw) status
-- equals its stored one is confirmed fresh (status_at); one whose status differs is asked
-- to read the job (refresh) and made due at once, so its next poll sees the change.
-- Score 0 keeps the nudge across a poll in flight (release_job keeps an earlier score).
-- A watched job never polled gets the listed job kept beside it (with a TTL), so its
-- first poll need not read the job again: the listing read it before the poll's events.
-- KEYS: 1 schedule.  ARGV: 1 now ms, 2 job key prefix, 3 listed key suffix, 4 listed TTL ms,
--       then job id / status / listed job JSON triples
-- Returns the ids whose status changed.
local changed = {}
for i = 5, #ARGV - 2, 3 do
  local job = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], job) then
    local key = ARGV[2] .. job
    -- The listing shows the provider's raw status; hashes stored before ftwatch had its
    -- own lifecycle kept that in `status`.
    local found = redis.call('HMGET', key, 'raw_status', 'status')
    local stored = found[1] or found[2]
    if not stored then
      redis.call('SET', key .. ARGV[3], ARGV[1] .. '|' .. ARGV[i + 2], 'PX', ARGV[4])
    elseif stored == ARGV[i + 1] then
      redis.call('HSET', key, 'status_at', ARGV[1])
    else
      redis.call('HINCRBY', key, 'refresh', 1)
      redis.call('ZADD', KEYS[1], 0, job)
      changed[#changed + 1] = job
    end
  end
end
return changed
