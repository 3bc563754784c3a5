-- Commit what the rules decided for several jobs (a batch's events, or a timer tick):
-- per job, atomically: new rule states, the job's event sequence, firings for the audit
-- log, action tasks, delayed actions, deliveries, counters and the events'
-- acknowledgements. Each job is guarded by its state's version, so two workers can never
-- both commit a decision for the same job; a job that lost its race is skipped, the
-- others are written. One call per batch: per-command overhead was most of the cost.
-- KEYS: 1 events stream, 2 actions stream, 3 action queue, 4 delayed zset,
--       5 deliveries stream, 6 dead events stream, 7.. one state hash per job
-- ARGV: 1 group, 2 audit maxlen, 3 JSON list of plans, one per state hash, in order
--       (leaves are strings: inner JSON stays opaque, so NaN inside a state never meets
--       cjson)
-- A plan's `next` is the version it writes: unique (the caller's process nonce and
-- counter), so a version seen again means the very same states, even across a Redis
-- restart that lost them (a count alone would start again and repeat).
-- Returns: one 1 (written) or 0 (version moved) per job.
local function apply(state, plan)
  local version = redis.call('HGET', state, '_v') or '0'
  if version ~= plan.version then
    return 0
  end
  redis.call('HSET', state, '_v', plan.next)
  if plan.seq ~= '' then
    redis.call('HSET', state, '_seq', plan.seq)
  end
  for name, value in pairs(plan.states) do
    redis.call('HSET', state, name, value)
  end
  for _, field in ipairs(plan.counters) do
    redis.call('HINCRBY', state, field, 1)
  end
  for _, firing in ipairs(plan.firings) do
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'f', firing)
  end
  for _, task in ipairs(plan.tasks) do
    redis.call('XADD', KEYS[3], '*', 't', task)
  end
  for _, delayed in ipairs(plan.delayed) do
    redis.call('ZADD', KEYS[4], delayed[1], delayed[2])
  end
  for _, delivery in ipairs(plan.deliveries) do
    redis.call('XADD', KEYS[5], '*', 'r', delivery[1], 'f', delivery[2])
  end
  for _, dead in ipairs(plan.dead) do
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', 100000, '*', 'e', dead[1], 'error', dead[2])
  end
  if #plan.entries > 0 then
    redis.call('XACK', KEYS[1], ARGV[1], unpack(plan.entries))
  end
  return 1
end

local plans = cjson.decode(ARGV[3])
local written = {}
for index, plan in ipairs(plans) do
  written[index] = apply(KEYS[6 + index], plan)
end
return written
