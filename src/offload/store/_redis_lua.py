"""The Lua scripts of the Redis store: every operation is one script, so it is atomic against every
other, on any instance. Layout (layout version 3) under the key prefix P, passed as ARGV[1]:

- `P task:<id>`: a hash per task (see redis.py);
- `P journal:<id>`: a hash per task with a journal, key -> entry (JSON), deleted with the task; apart
  from the task's hash so `get` (HGETALL) never reads it;
- `P instances`: sorted set, owner -> alive until (ms); a dead owner left with no live task is dropped;
- `P owned:<owner>`: set of the live tasks an owner holds;
- `P queued`: sorted set of live tasks without an owner, by creation time (handed out oldest first);
- `P expires`: sorted set of tasks with a TTL, by `created_ms + ttl_ms`;
- `P answered`: set of tasks with answers waiting for their owner;
- `P live:<principal>`: set of a principal's live tasks (`P live:` for tasks without one), for
  admission limits (tasks created before this set existed are not counted).

Scripts compute these keys from the prefix, so the store needs one Redis (standalone or a
Sentinel-managed primary), not Redis Cluster.
"""

from __future__ import annotations

# Shared Lua: `live(status)`, an integer as text (Lua numbers are doubles: "%d" prints every
# millisecond timestamp exactly, tostring would not), and the index upkeep after a task changed.
_HELPERS = """
local function live(st) return st == 'working' or st == 'input_required' end
local function int(n) return string.format('%d', n) end
local function reindex(P, k, id, old_owner, was_live)
  local f = redis.call('HMGET', k, 'status', 'owner', 'created_ms', 'ttl_ms', 'principal')
  local by_principal = P .. 'live:' .. (f[5] or '')
  if was_live then
    if old_owner then redis.call('SREM', P .. 'owned:' .. old_owner, id) else redis.call('ZREM', P .. 'queued', id) end
  end
  if live(f[1]) then
    redis.call('SADD', by_principal, id)
    if f[2] then
      redis.call('SADD', P .. 'owned:' .. f[2], id)
      redis.call('ZADD', P .. 'instances', 'NX', 0, f[2])  -- an owner nobody heard from is dead
    else
      redis.call('ZADD', P .. 'queued', f[3], id)
    end
  else
    redis.call('SREM', P .. 'answered', id)
    redis.call('SREM', by_principal, id)
  end
  if f[4] then
    redis.call('ZADD', P .. 'expires', int(tonumber(f[3]) + tonumber(f[4])), id)
  else
    redis.call('ZREM', P .. 'expires', id)
  end
end
local function bump(k, stamp)
  local cur = redis.call('HGET', k, 'updated_ms')
  if not cur or tonumber(cur) < tonumber(stamp) then redis.call('HSET', k, 'updated_ms', stamp) end
end
"""

# KEYS: task. ARGV: prefix, id, then field/value pairs. 1 if created, 0 if it exists.
CREATE = (
    _HELPERS
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
reindex(ARGV[1], KEYS[1], ARGV[2], false, false)
return 1
"""
)

# KEYS: task. ARGV: prefix, id, owner-bound ('1'/'0'), owner, stamp, #set pairs, #deleted fields,
# replace input requests ('1'/'0'), then the set pairs, the deleted names, and the new input
# requests as key/value pairs. Returns the task's fields, or nil when nothing changed.
UPDATE = (
    _HELPERS
    + """
local k = KEYS[1]
local cur = redis.call('HMGET', k, 'status', 'owner')
if not live(cur[1]) then return false end
if ARGV[3] == '1' and cur[2] ~= ARGV[4] then return false end
local nset, ndel = tonumber(ARGV[6]), tonumber(ARGV[7])
local i = 9
for _ = 1, nset do redis.call('HSET', k, ARGV[i], ARGV[i + 1]); i = i + 2 end
for _ = 1, ndel do redis.call('HDEL', k, ARGV[i]); i = i + 1 end
if ARGV[8] == '1' then
  for _, f in ipairs(redis.call('HKEYS', k)) do
    if string.sub(f, 1, 2) == 'r:' then redis.call('HDEL', k, f) end
  end
  while i < #ARGV do redis.call('HSET', k, 'r:' .. ARGV[i], ARGV[i + 1]); i = i + 2 end
end
bump(k, ARGV[5])
reindex(ARGV[1], k, ARGV[2], cur[2], true)
return redis.call('HGETALL', k)
"""
)

# KEYS: task, answered, journal. ARGV: id, stamp, hold ('1'/'0'), then key/answer pairs. Returns
# the keys taken. Each is recorded in the journal as the request's JSON object with `"answer"` added
# last (spliced as text, so no number is re-encoded; a repeated key reads as the last one, as in
# `{**request, "answer": a}`); a request that is not an object records the answer alone.
ANSWER = (
    _HELPERS
    + """
local function entry(req, ans)
  local body = string.match(req, '^%s*{(.*)}%s*$')
  if body == nil or string.match(body, '^%s*$') then return '{"answer":' .. ans .. '}' end
  return '{' .. body .. ',"answer":' .. ans .. '}'
end
local k = KEYS[1]
local st = redis.call('HGET', k, 'status')
if not live(st) then return {} end
local hold = ARGV[3] == '1'
local taken = {}
for i = 4, #ARGV, 2 do
  local key, ans = ARGV[i], ARGV[i + 1]
  local req = redis.call('HGET', k, 'r:' .. key)
  if req then
    redis.call('HDEL', k, 'r:' .. key)
    if hold then redis.call('HSET', k, 'a:' .. key, ans) end
    redis.call('HSET', KEYS[3], key, entry(req, ans))
    taken[#taken + 1] = key
  end
end
if #taken == 0 then return {} end
if st == 'input_required' then
  local open = false
  for _, f in ipairs(redis.call('HKEYS', k)) do
    if string.sub(f, 1, 2) == 'r:' then open = true; break end
  end
  if not open then redis.call('HSET', k, 'status', 'working') end
end
bump(k, ARGV[2])
if hold then redis.call('SADD', KEYS[2], ARGV[1]) end
return taken
"""
)

# KEYS: task, journal. ARGV: owner, key, entry. 1 if written (the task is live and the owner's), else 0.
RECORD = (
    _HELPERS
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'owner')
if not live(f[1]) or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
)

# KEYS: task, answered. ARGV: id. Returns the waiting answers as key/value pairs, and removes them.
TAKE_ANSWERS = """
local k = KEYS[1]
local out = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'a:' then
    out[#out + 1] = string.sub(f, 3)
    out[#out + 1] = redis.call('HGET', k, f)
    redis.call('HDEL', k, f)
  end
end
redis.call('SREM', KEYS[2], ARGV[1])
return out
"""

# KEYS: instances. ARGV: owner, until, at. 1 if the owner was alive at `at`, else 0.
HEARTBEAT = """
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if prev and tonumber(prev) >= tonumber(ARGV[3]) then return 1 end
return 0
"""

# ARGV: prefix, at_ms, owner, limit, dead owners to look at. The claimed tasks' fields: queued ones
# (oldest first), then those of owners whose heartbeat ran out before at_ms. O(claimed + dead).
CLAIM = (
    _HELPERS
    + """
local P, me, limit = ARGV[1], ARGV[3], tonumber(ARGV[4])
local out = {}
local function take(id, k)
  redis.call('HSET', k, 'owner', me)
  redis.call('HINCRBY', k, 'attempts', 1)
  redis.call('SADD', P .. 'owned:' .. me, id)
  out[#out + 1] = redis.call('HGETALL', k)
end
while #out < limit do
  local ids = redis.call('ZRANGE', P .. 'queued', 0, limit - #out - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    redis.call('ZREM', P .. 'queued', id)
    local k = P .. 'task:' .. id
    local f = redis.call('HMGET', k, 'status', 'owner')
    if live(f[1]) and not f[2] then take(id, k) end  -- else a stale entry: dropped
  end
end
local dead = redis.call('ZRANGEBYSCORE', P .. 'instances', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[5]))
for _, who in ipairs(dead) do
  if who ~= me then
    local held = P .. 'owned:' .. who
    while #out < limit do
      local ids = redis.call('SPOP', held, limit - #out)
      if #ids == 0 then break end
      for _, id in ipairs(ids) do
        local k = P .. 'task:' .. id
        local f = redis.call('HMGET', k, 'status', 'owner')
        if live(f[1]) and f[2] == who then take(id, k) end
      end
    end
    if redis.call('SCARD', held) == 0 then redis.call('ZREM', P .. 'instances', who) end
  end
end
if #out > 0 then redis.call('ZADD', P .. 'instances', 'NX', 0, me) end
return out
"""
)

# ARGV: prefix, at_ms, batch. Returns {deleted, looked at}.
PURGE = (
    _HELPERS
    + """
local P = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', P .. 'expires', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, id in ipairs(ids) do
  local k = P .. 'task:' .. id
  local f = redis.call('HMGET', k, 'status', 'owner', 'principal')
  if live(f[1]) then
    if f[2] then redis.call('SREM', P .. 'owned:' .. f[2], id) else redis.call('ZREM', P .. 'queued', id) end
    redis.call('SREM', P .. 'live:' .. (f[3] or ''), id)
  end
  n = n + redis.call('DEL', k)
  redis.call('DEL', P .. 'journal:' .. id)
  redis.call('ZREM', P .. 'expires', id)
  redis.call('SREM', P .. 'answered', id)
end
return {n, #ids}
"""
)

# ARGV: prefix. Layout 1 -> 2: per-task leases become instances (alive until an owner's latest
# lease), owners' live tasks go into their `owned` sets, ownerless live tasks into `queued`.
# 1 if it ran, 0 if the layout was not version 1 (another instance migrated first).
MIGRATE_1_TO_2 = (
    _HELPERS
    + """
local P = ARGV[1]
if redis.call('GET', P .. 'schema') ~= '1' then return 0 end
local leases = redis.call('ZRANGE', P .. 'leases', 0, -1, 'WITHSCORES')
for i = 1, #leases, 2 do
  local id, lease = leases[i], tonumber(leases[i + 1])
  local k = P .. 'task:' .. id
  local f = redis.call('HMGET', k, 'status', 'owner', 'created_ms')
  if live(f[1]) then
    if f[2] then
      redis.call('SADD', P .. 'owned:' .. f[2], id)
      local cur = redis.call('ZSCORE', P .. 'instances', f[2])
      if not cur or tonumber(cur) < lease then redis.call('ZADD', P .. 'instances', int(lease), f[2]) end
    else
      redis.call('ZADD', P .. 'queued', f[3], id)
    end
  end
  redis.call('HDEL', k, 'lease_ms')
end
redis.call('DEL', P .. 'leases')
redis.call('SET', P .. 'schema', '2')
return 1
"""
)

# ARGV: prefix. Layout 2 -> 3 adds the per-task journal hashes: nothing to convert, but a store
# holding journals is marked so that an older offload, which would purge tasks and leave their
# journals behind, refuses it. 1 if it ran, 0 if the layout was not version 2.
MIGRATE_2_TO_3 = """
local P = ARGV[1]
if redis.call('GET', P .. 'schema') ~= '2' then return 0 end
redis.call('SET', P .. 'schema', '3')
return 1
"""

#: Upgrades by the layout version they start from: each runs once, in order (`RedisStore.open`).
MIGRATIONS = {1: MIGRATE_1_TO_2, 2: MIGRATE_2_TO_3}

__all__: list[str] = []
