-- Commit what the rules decided for events (or a timer tick) of one job, atomically:
-- new rule states, the job's event sequence, firings for the audit log, action tasks,
-- delayed actions, deliveries, counters and the events' acknowledgements. Guarded by the
-- state's version, so two workers can never both commit a decision for the same job.
-- KEYS: 1 state hash, 2 events stream, 3 actions stream, 4 action queue, 5 delayed zset,
--       6 deliveries stream, 7 dead events stream
-- ARGV: 1 expected version, 2 plan (JSON whose leaves are strings: inner JSON stays opaque,
--       so NaN inside a state never meets cjson)
local version = redis.call('HGET', KEYS[1], '_v') or '0'
if version ~= ARGV[1] then
  return 0
end
local plan = cjson.decode(ARGV[2])
redis.call('HSET', KEYS[1], '_v', tonumber(version) + 1)
if plan.seq ~= '' then
  redis.call('HSET', KEYS[1], '_seq', plan.seq)
end
for name, state in pairs(plan.states) do
  redis.call('HSET', KEYS[1], name, state)
end
for _, field in ipairs(plan.counters) do
  redis.call('HINCRBY', KEYS[1], field, 1)
end
for _, firing in ipairs(plan.firings) do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', plan.audit_maxlen, '*', 'f', firing)
end
for _, task in ipairs(plan.tasks) do
  redis.call('XADD', KEYS[4], '*', 't', task)
end
for _, delayed in ipairs(plan.delayed) do
  redis.call('ZADD', KEYS[5], delayed[1], delayed[2])
end
for _, delivery in ipairs(plan.deliveries) do
  redis.call('XADD', KEYS[6], '*', 'r', delivery[1], 'f', delivery[2])
end
for _, dead in ipairs(plan.dead) do
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', 100000, '*', 'e', dead[1], 'error', dead[2])
end
if #plan.entries > 0 then
  redis.call('XACK', KEYS[2], plan.group, unpack(plan.entries))
end
return 1
