-- End a hold of take_pace.lua: the next send may start `after` ms from now (0: at once).
-- Only the holder releases: a worker that outlived its hold must not cut another's short.
-- KEYS: 1 pace hash.  ARGV: 1 token, 2 after ms.  Returns 1 if released, 0 if not ours.
pcall(redis.replicate_commands)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
local after = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'until_us', tostring(now + after * 1000), 'token', '')
redis.call('PEXPIRE', KEYS[1], after + 60000)
return 1
