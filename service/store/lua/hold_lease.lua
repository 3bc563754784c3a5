-- Take a free lease or extend our own, atomically (a GET then PEXPIRE could extend a
-- lease another replica took in between).  KEYS: 1 lease.  ARGV: 1 owner, 2 ttl ms
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
