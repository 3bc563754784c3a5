-- Fold one page of the jobs listing into the schedule: a watched job whose listed (raw) status
-- equals its stored one is confirmed fresh (status_at); one whose status differs is asked
-- to read the job (refresh) and made due at once, so its next poll sees the change.
-- Score 0 keeps the nudge across a poll in flight (release_job keeps an earlier score).
-- A watched job never polled gets the listed job kept beside it (with a TTL), so its
-- first poll need not read the job again: the listing read it before the poll's events.
-- Every key comes in KEYS (one partition's per call).
-- KEYS: 1 schedule, then per job: its hash, its listed key
-- ARGV: 1 now ms, 2 listed TTL ms, then per job (KEYS' order): id, status, listed job JSON
-- Returns the ids whose status changed.
local changed = {}
for n = 0, (#KEYS - 1) / 2 - 1 do
  local key, listed = KEYS[2 + 2 * n], KEYS[3 + 2 * n]
  local job, status, body = ARGV[3 + 3 * n], ARGV[4 + 3 * n], ARGV[5 + 3 * n]
  if redis.call('ZSCORE', KEYS[1], job) then
    -- The listing shows the provider's raw status; hashes stored before ftwatch had its
    -- own lifecycle kept that in `status`.
    local found = redis.call('HMGET', key, 'raw_status', 'status')
    local stored = found[1] or found[2]
    if not stored then
      redis.call('SET', listed, ARGV[1] .. '|' .. body, 'PX', ARGV[2])
    elseif stored == status then
      redis.call('HSET', key, 'status_at', ARGV[1])
    else
      redis.call('HINCRBY', key, 'refresh', 1)
      redis.call('ZADD', KEYS[1], 0, job)
      changed[#changed + 1] = job
    end
  end
end
return changed
