-- Claim the due jobs the caller read from the schedule (ZRANGEBYSCORE) for this replica:
-- a lease per job (SET NX PX) and the schedule pushed to the lease's expiry, so a dead
-- replica's job falls due again then. Each candidate's score is checked again here (it
-- may have been claimed or rescheduled since the read), so the claim stays atomic.
-- Every lease key comes in KEYS (a cluster routes a script by its keys; keys.py gives a
-- partition's schedule and its jobs' leases one hash tag).
-- KEYS: 1 schedule zset, 2.. one lease key per candidate
-- ARGV: 1 now ms, 2 lease ms, 3 owner, 4.. the candidates' ids, in KEYS' order
local now = tonumber(ARGV[1])
local claimed = {}
local expiry = now + tonumber(ARGV[2])
for i = 2, #KEYS do
  local job = ARGV[i + 2]
  local due = redis.call('ZSCORE', KEYS[1], job)
  if due and tonumber(due) <= now and redis.call('SET', KEYS[i], ARGV[3], 'NX', 'PX', ARGV[2]) then
    redis.call('ZADD', KEYS[1], expiry, job)
    claimed[#claimed + 1] = job
  end
end
return claimed
