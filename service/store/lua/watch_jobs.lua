-- Start watching jobs: due at ARGV[1] (ZADD NX keeps an existing schedule, or with
-- ARGV[2] = 'nudge' moves it to now). Jobs already drained after turning terminal stay
-- dropped. A nudge also asks the next poll to read the job itself (refresh), not only its
-- events: something happened to it. Every key comes in KEYS (one partition's per call).
-- KEYS: 1 schedule, 2 jobs set, 3.. one job hash per id
-- ARGV: 1 due ms, 2 'add'|'nudge', 3.. ids, in KEYS' order
local changed = 0
for i = 3, #KEYS do
  local job = ARGV[i]
  local hash = KEYS[i]
  if redis.call('HGET', hash, 'done') ~= '1' then
    redis.call('SADD', KEYS[2], job)
    if ARGV[2] == 'nudge' then
      if redis.call('EXISTS', hash) == 1 then  -- a first poll reads it anyway
        redis.call('HINCRBY', hash, 'refresh', 1)
      end
      redis.call('ZADD', KEYS[1], ARGV[1], job)
      changed = changed + 1
    elseif redis.call('ZADD', KEYS[1], 'NX', ARGV[1], job) == 1 then
      changed = changed + 1
    end
  end
end
return changed
