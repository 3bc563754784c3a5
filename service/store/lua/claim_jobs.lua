-- Claim up to ARGV[4] due jobs for this replica: a lease per job (SET NX PX) and the
-- schedule pushed to the lease's expiry, so a dead replica's job falls due again then.
-- Lease keys are built here from the prefix; ftwatch runs on one Redis, not a cluster.
-- KEYS: 1 schedule zset.  ARGV: 1 now ms, 2 lease ms, 3 owner, 4 limit, 5 lease prefix
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
local claimed = {}
local expiry = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, job in ipairs(due) do
  if redis.call('SET', ARGV[5] .. job, ARGV[3], 'NX', 'PX', ARGV[2]) then
    redis.call('ZADD', KEYS[1], expiry, job)
    claimed[#claimed + 1] = job
  end
end
return claimed
