-- Start watching jobs: due at ARGV[1] (ZADD NX keeps an existing schedule, or with
-- ARGV[2] = 'nudge' moves it to now). Jobs already drained after turning terminal stay
-- dropped. A nudge also asks the next poll to read the job itself (refresh), not only its
-- events: something happened to it. Job hash keys are built from the prefix; ftwatch runs
-- on one Redis.
-- KEYS: 1 schedule, 2 jobs set.  ARGV: 1 due ms, 2 'add'|'nudge', 3 job key prefix, 4.. ids
local changed = 0
for i = 4, #ARGV do
  local job = ARGV[i]
  if redis.call('HGET', ARGV[3] .. job, 'done') ~= '1' then
    redis.call('SADD', KEYS[2], job)
    if ARGV[2] == 'nudge' then
      if redis.call('EXISTS', ARGV[3] .. job) == 1 then  -- a first poll reads it anyway
        redis.call('HINCRBY', ARGV[3] .. job, 'refresh', 1)
      end
      redis.call('ZADD', KEYS[1], ARGV[1], job)
      changed = changed + 1
    elseif redis.call('ZADD', KEYS[1], 'NX', ARGV[1], job) == 1 then
      changed = changed + 1
    end
  end
end
return changed
