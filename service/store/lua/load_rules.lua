-- Load several jobs' rule states, leaving out those the caller already holds.
-- A worker keeps the states it committed last; most of a batch's jobs are still at that
-- version, and sending their states back (and parsing them again) was a large share of
-- the cost of a batch.
-- KEYS: one state hash per job. ARGV: per job, the version the caller holds ('': none).
-- Returns per job: false (nil) when the caller's copy is current, else the hash's
-- field/value list (empty for a job without state).
local loaded = {}
for index, key in ipairs(KEYS) do
  local version = redis.call('HGET', key, '_v')
  if version and version == ARGV[index] then
    loaded[index] = false
  else
    loaded[index] = redis.call('HGETALL', key)
  end
end
return loaded
