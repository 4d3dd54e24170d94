"""Redis store: every instance sharing one Redis server (or primary) shares tasks and events.

Layout, under a key prefix (default `offload:`, or `?prefix=` in the URL):

- `<prefix>task:<id>`: a hash per task. Scalar fields are stored as strings, absent when None;
  `result`, `error` and `request` are JSON strings the server never parses. Each outstanding input
  request is its own field `r:<key>` (its JSON as the value) and each answer waiting for the owner
  a field `a:<key>`, so the Lua scripts move answers without decoding any JSON: the documents come
  back exactly as they were written.
- `<prefix>leases`: sorted set of live tasks that have a lease, scored by `lease_ms`.
- `<prefix>expires`: sorted set of tasks with a TTL, scored by `created_ms + ttl_ms`.
- `<prefix>answered`: set of tasks with answers waiting.
- `<prefix>schema`: the layout version; a store refuses a newer one.
- channel `<prefix>events`: TaskEvents as JSON, for every instance.

Every operation is one Lua script (or one command), so it is atomic against every other, on any
instance. Scripts name the index keys in KEYS but compute task keys from the prefix, so the store
needs a single Redis (standalone or a Sentinel-managed primary), not Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised by tests that hide the package
    raise ImportError("the Redis store needs the redis package: pip install 'offload[redis]' (redis>=5,<9)") from exc

from offload.store.base import Change, TaskEvent, TaskRecord, TaskStore, now_ms
from offload.store.urls import redact

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "offload:"
_EVENT_KINDS = ("answer", "cancel", "changed", "new")
_LIVE = ("working", "input_required")
_INT_FIELDS = ("created_ms", "updated_ms", "ttl_ms", "poll_interval_ms", "lease_ms", "attempts")
_JSON_FIELDS = ("result", "error", "request")
_STR_FIELDS = ("status", "status_message", "principal", "owner")
_CHANGE_FIELDS = frozenset(
    ("status", "status_message", "result", "error", "input_requests", "poll_interval_ms", "ttl_ms", "owner", "lease_ms")
)
_PURGE_BATCH = 500

# Shared Lua: `live(status)`, the index upkeep after a task's fields changed, and an integer as text
# (Lua numbers are doubles: "%d" prints every millisecond timestamp exactly, tostring would not).
_LUA_HELPERS = """
local function live(st) return st == 'working' or st == 'input_required' end
local function int(n) return string.format('%d', n) end
local function reindex(k, id, leases, expires, answered)
  local f = redis.call('HMGET', k, 'status', 'lease_ms', 'created_ms', 'ttl_ms')
  if live(f[1]) and f[2] then
    redis.call('ZADD', leases, f[2], id)
  else
    redis.call('ZREM', leases, id)
  end
  if f[4] then
    redis.call('ZADD', expires, int(tonumber(f[3]) + tonumber(f[4])), id)
  else
    redis.call('ZREM', expires, id)
  end
  if not live(f[1]) then redis.call('SREM', answered, id) end
end
local function bump(k, stamp)
  local cur = redis.call('HGET', k, 'updated_ms')
  if not cur or tonumber(cur) < tonumber(stamp) then redis.call('HSET', k, 'updated_ms', stamp) end
end
"""

# KEYS: task, leases, expires, answered. ARGV: id, then field/value pairs. 1 if created, 0 if it exists.
_CREATE = (
    _LUA_HELPERS
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
reindex(KEYS[1], ARGV[1], KEYS[2], KEYS[3], KEYS[4])
return 1
"""
)

# KEYS: task, leases, expires, answered. ARGV: id, owner-bound ('1'/'0'), owner, stamp, #set pairs,
# #deleted fields, replace input requests ('1'/'0'), then the set pairs, the deleted names, and the
# new input requests as key/value pairs. Returns the task's fields, or nil when nothing changed.
_UPDATE = (
    _LUA_HELPERS
    + """
local k = KEYS[1]
if not live(redis.call('HGET', k, 'status')) then return false end
if ARGV[2] == '1' and redis.call('HGET', k, 'owner') ~= ARGV[3] then return false end
local nset, ndel = tonumber(ARGV[5]), tonumber(ARGV[6])
local i = 8
for _ = 1, nset do redis.call('HSET', k, ARGV[i], ARGV[i + 1]); i = i + 2 end
for _ = 1, ndel do redis.call('HDEL', k, ARGV[i]); i = i + 1 end
if ARGV[7] == '1' then
  for _, f in ipairs(redis.call('HKEYS', k)) do
    if string.sub(f, 1, 2) == 'r:' then redis.call('HDEL', k, f) end
  end
  while i < #ARGV do redis.call('HSET', k, 'r:' .. ARGV[i], ARGV[i + 1]); i = i + 2 end
end
bump(k, ARGV[4])
reindex(k, ARGV[1], KEYS[2], KEYS[3], KEYS[4])
return redis.call('HGETALL', k)
"""
)

# KEYS: task, answered. ARGV: id, stamp, then key/answer pairs. Returns the keys taken.
_ANSWER = (
    _LUA_HELPERS
    + """
local k = KEYS[1]
local st = redis.call('HGET', k, 'status')
if not live(st) then return {} end
local taken = {}
for i = 3, #ARGV, 2 do
  if redis.call('HDEL', k, 'r:' .. ARGV[i]) == 1 then
    redis.call('HSET', k, 'a:' .. ARGV[i], ARGV[i + 1])
    taken[#taken + 1] = ARGV[i]
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
redis.call('SADD', KEYS[2], ARGV[1])
return taken
"""
)

# KEYS: task, answered. ARGV: id. Returns the waiting answers as key/value pairs, and removes them.
_TAKE_ANSWERS = """
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

# KEYS: answered. ARGV: prefix, owner. Ids of the owner's live tasks with answers waiting.
_ANSWERED_TASKS = (
    _LUA_HELPERS
    + """
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. 'task:' .. id, 'status', 'owner')
  if not live(f[1]) then
    redis.call('SREM', KEYS[1], id)  -- gone or finished: it will never be answered for again
  elseif f[2] == ARGV[2] then
    out[#out + 1] = id
  end
end
return out
"""
)

# KEYS: leases. ARGV: prefix, at_ms, owner, lease_ms, limit. The claimed tasks' fields.
_CLAIM = (
    _LUA_HELPERS
    + """
local limit = tonumber(ARGV[5])
local out = {}
while #out < limit do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, limit - #out)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local k = ARGV[1] .. 'task:' .. id
    if live(redis.call('HGET', k, 'status')) then
      redis.call('HSET', k, 'owner', ARGV[3], 'lease_ms', ARGV[4])
      redis.call('HINCRBY', k, 'attempts', 1)
      redis.call('ZADD', KEYS[1], ARGV[4], id)
      out[#out + 1] = redis.call('HGETALL', k)
    else
      redis.call('ZREM', KEYS[1], id)  -- a stale entry: never claimable
    end
  end
end
return out
"""
)

# KEYS: leases. ARGV: prefix, owner, lease_ms, then ids. The ids the owner no longer holds.
_RENEW = (
    _LUA_HELPERS
    + """
local lost = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local k = ARGV[1] .. 'task:' .. id
  local f = redis.call('HMGET', k, 'status', 'owner')
  if live(f[1]) and f[2] == ARGV[2] then
    redis.call('HSET', k, 'lease_ms', ARGV[3])
    redis.call('ZADD', KEYS[1], ARGV[3], id)
  else
    lost[#lost + 1] = id
  end
end
return lost
"""
)

# KEYS: expires, leases, answered. ARGV: prefix, at_ms, batch. Returns {deleted, looked at}.
_PURGE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, id in ipairs(ids) do
  n = n + redis.call('DEL', ARGV[1] .. 'task:' .. id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('SREM', KEYS[3], id)
end
return {n, #ids}
"""


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))  # ASCII: a lone surrogate in a document still stores


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _record(fields: dict[str, str]) -> TaskRecord:
    def opt_int(name: str) -> int | None:
        value = fields.get(name)
        return None if value is None else int(value)

    def opt_json(name: str) -> Any:
        value = fields.get(name)
        return None if value is None else json.loads(value)

    return TaskRecord(
        task_id=fields["task_id"],
        tool=fields["tool"],
        status=fields["status"],
        status_message=fields.get("status_message"),
        created_ms=int(fields["created_ms"]),
        updated_ms=int(fields["updated_ms"]),
        ttl_ms=opt_int("ttl_ms"),
        poll_interval_ms=opt_int("poll_interval_ms"),
        principal=fields.get("principal"),
        owner=fields.get("owner"),
        lease_ms=opt_int("lease_ms"),
        attempts=int(fields["attempts"]),
        result=opt_json("result"),
        error=opt_json("error"),
        input_requests={f[2:]: json.loads(v) for f, v in fields.items() if f.startswith("r:")},
        request=opt_json("request"),
    )


def _encode(name: str, value: Any) -> str:
    if name in _JSON_FIELDS:
        return _dump(value)
    if name in _INT_FIELDS:
        return str(int(value))
    return str(value)


def split_url(url: str) -> tuple[str, str | None]:
    """Take offload's own `prefix` query parameter out of a redis:// URL: (URL for redis-py, prefix)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a Redis URL: {url!r} (expected redis://HOST:PORT/DB or rediss://...)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = None
    rest = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


class RedisStore(TaskStore):
    """Tasks in Redis; `publish` reaches every instance through Redis pub/sub."""

    shared_events = True
    #: Seconds without any traffic on the event connection before it is pinged; twice that without
    #: an answer and it is replaced (a half-open TCP connection never errors by itself).
    listener_idle_s: float = 10.0

    def __init__(self, url: str, *, prefix: str | None = None, max_connections: int = 64) -> None:
        super().__init__()
        self._conn_url, url_prefix = split_url(url)
        self.prefix = prefix if prefix is not None else (url_prefix if url_prefix is not None else DEFAULT_PREFIX)
        self.url = redact(url)
        self.max_connections = max_connections
        self.channel = f"{self.prefix}events"
        self._leases = f"{self.prefix}leases"
        self._expires = f"{self.prefix}expires"
        self._answered = f"{self.prefix}answered"
        self._schema = f"{self.prefix}schema"
        # Typed loosely: redis-py's annotations differ between the 5.x and 8.x releases this supports.
        self._client: Any = None
        self._pool: Any = None
        self._scripts: dict[str, Any] = {}
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def _key(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    def _redis(self) -> Any:
        if self._client is None:
            raise RuntimeError("RedisStore is not open")
        return self._client

    # -- lifecycle --

    async def open(self) -> None:
        if self._client is not None:
            return
        pool = aioredis.BlockingConnectionPool.from_url(
            self._conn_url, decode_responses=True, max_connections=self.max_connections, timeout=30
        )
        client: Any = aioredis.Redis(connection_pool=pool)
        try:
            await client.ping()
            await client.set(self._schema, SCHEMA_VERSION, nx=True)
            raw = await client.get(self._schema)
            try:
                version = int(raw)
            except (TypeError, ValueError):
                raise RuntimeError(f"store schema key {self._schema!r} holds {raw!r}, not a version") from None
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"store schema v{version} is newer than this offload (v{SCHEMA_VERSION})")
        except BaseException:
            await client.aclose()
            await pool.aclose()
            raise
        self._client = client
        self._pool = pool
        self._scripts = {
            name: client.register_script(src)
            for name, src in (
                ("create", _CREATE),
                ("update", _UPDATE),
                ("answer", _ANSWER),
                ("take_answers", _TAKE_ANSWERS),
                ("answered_tasks", _ANSWERED_TASKS),
                ("claim", _CLAIM),
                ("renew", _RENEW),
                ("purge", _PURGE),
            )
        }
        self._listening = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(), name=f"offload-redis-events:{self.channel}")
        # Return once events published from now on reach this store's subscribers.
        try:
            await asyncio.wait_for(self._listening.wait(), timeout=30)
        except TimeoutError:
            await self.close()
            raise RuntimeError(f"could not subscribe to {self.channel!r} on {self.url}") from None

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        self._redis()
        return await self._scripts[name](keys=keys, args=args)

    # -- interface --

    async def create(self, record: TaskRecord) -> None:
        args: list[Any] = [record.task_id, "task_id", record.task_id, "tool", record.tool]
        for name in (*_STR_FIELDS, *_INT_FIELDS, *_JSON_FIELDS):
            value = getattr(record, name)
            if value is not None:
                args += [name, _encode(name, value)]
        for key, value in record.input_requests.items():
            args += [f"r:{key}", _dump(value)]
        keys = [self._key(record.task_id), self._leases, self._expires, self._answered]
        if not await self._run("create", keys, args):
            raise ValueError(f"task {record.task_id!r} already exists")

    async def get(self, task_id: str) -> TaskRecord | None:
        fields: dict[str, str] = await self._redis().hgetall(self._key(task_id))
        return _record(fields) if fields else None

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        sets: list[str] = []
        dels: list[str] = []
        requests: list[str] | None = None
        for name, value in change.items():
            if name not in _CHANGE_FIELDS:
                raise ValueError(f"update cannot change {name!r}")
            if name == "input_requests":
                requests = [part for key, req in cast("dict[str, Any]", value).items() for part in (key, _dump(req))]
            elif value is None:
                dels.append(name)
            else:
                sets += [name, _encode(name, value)]
        args: list[Any] = [
            task_id,
            "0" if owner is None else "1",
            owner or "",
            now_ms(),
            len(sets) // 2,
            len(dels),
            "0" if requests is None else "1",
            *sets,
            *dels,
            *(requests or []),
        ]
        flat = await self._run("update", [self._key(task_id), self._leases, self._expires, self._answered], args)
        return None if flat is None else _record(_pairs(flat))

    async def answer(self, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
        if not responses:
            return {}
        args: list[Any] = [task_id, now_ms()]
        for key, value in responses.items():
            args += [key, _dump(value)]
        taken: list[str] = await self._run("answer", [self._key(task_id), self._answered], args)
        return {key: json.loads(_dump(responses[key])) for key in taken}

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        flat = await self._run("take_answers", [self._key(task_id), self._answered], [task_id])
        return {key: json.loads(value) for key, value in _pairs(flat).items()}

    async def answered_tasks(self, owner: str) -> list[str]:
        ids: list[str] = await self._run("answered_tasks", [self._answered], [self.prefix, owner])
        return ids

    async def purge_expired(self, at_ms: int) -> int:
        total = 0
        while True:  # in batches, so one script never holds the server for long
            deleted, seen = await self._run(
                "purge", [self._expires, self._leases, self._answered], [self.prefix, at_ms, _PURGE_BATCH]
            )
            total += int(deleted)
            if int(seen) < _PURGE_BATCH:
                return total

    async def claim_orphans(self, at_ms: int, owner: str, lease_ms: int, limit: int = 100) -> list[TaskRecord]:
        if limit <= 0:
            return []
        rows = await self._run("claim", [self._leases], [self.prefix, at_ms, owner, lease_ms, limit])
        return [_record(_pairs(row)) for row in rows]

    async def renew(self, owner: str, task_ids: list[str], lease_ms: int) -> list[str]:
        if not task_ids:
            return []
        lost: list[str] = await self._run("renew", [self._leases], [self.prefix, owner, lease_ms, *task_ids])
        return lost

    # -- events --

    async def publish(self, event: TaskEvent) -> None:
        """PUBLISH to every instance's listener, this store's own included."""
        payload = _dump({"kind": event.kind, "task_id": event.task_id, "origin": event.origin})
        await self._redis().publish(self.channel, payload)

    def _on_message(self, data: Any) -> None:
        try:
            raw = json.loads(data)
            kind, task_id, origin = raw["kind"], raw["task_id"], raw.get("origin", "")
            if kind not in _EVENT_KINDS or not isinstance(task_id, str) or not isinstance(origin, str):
                raise ValueError(kind)
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring malformed task event on %s: %r", self.channel, data)
            return
        self._deliver(TaskEvent(kind, task_id, origin))

    async def _listen(self) -> None:
        """Deliver what arrives on the channel, on this event loop, reconnecting after any failure."""
        delay = 0.1
        while True:
            pubsub = self._redis().pubsub()
            try:
                await pubsub.subscribe(self.channel)
                last_seen = time.monotonic()
                pinged = False
                while True:
                    msg = await pubsub.get_message(timeout=self.listener_idle_s)
                    now = time.monotonic()
                    if msg is not None:
                        last_seen, pinged = now, False
                        kind = msg.get("type")
                        if kind == "message":
                            self._on_message(msg["data"])
                        elif kind == "subscribe":  # the server has us: from now on nothing is missed
                            self._listening.set()
                            delay = 0.1
                        continue
                    if now - last_seen < self.listener_idle_s:
                        continue
                    if pinged:
                        raise ConnectionError("no reply on the event connection")
                    await pubsub.ping()
                    pinged = True
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                logger.warning("task events from %s interrupted (%s); reconnecting in %.1fs", self.url, exc, delay)
            except Exception:
                logger.exception("task event listener failed; restarting in %.1fs", delay)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- operations: the admin CLI and the console (offload.ops) --
    #
    # No index holds every task (the sorted sets hold only leased and expiring ones), so listing
    # and counting SCAN the task keys: O(tasks) per call, in batches, never blocking the server.
    # docs/operations.md describes the `<prefix>created` sorted set that would make pages O(page).

    async def _scan_step(self, cursor: Any, names: tuple[str, ...]) -> tuple[Any, list[tuple[str, list[Any]]]]:
        """One SCAN step over the task keys: the next cursor (0 when done) and each task's id with
        the named fields (a task deleted meanwhile is skipped)."""
        r = self._redis()
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.prefix) + "task:*"
        skip = len(self.prefix) + len("task:")
        cursor, keys = await r.scan(cursor=cursor, match=pattern, count=1000)
        found: list[tuple[str, list[Any]]] = []
        if keys:
            pipe = r.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, ["task_id", *names])
            for key, values in zip(keys, await pipe.execute(), strict=True):
                if values[0] is not None:
                    found.append((key[skip:], values[1:]))
        return cursor, found

    async def list_tasks(
        self,
        *,
        status: str | list[str] | tuple[str, ...] | None = None,
        tool: str | None = None,
        principal: str | None = None,
        older_than_ms: int | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[TaskRecord], str | None]:
        import heapq

        from offload.store.query import TaskQuery

        q = TaskQuery.build(
            status=status, tool=tool, principal=principal, older_than_ms=older_than_ms, limit=limit, cursor=cursor
        )
        keys: list[tuple[int, str]] = []
        scan: Any = 0
        while True:
            scan, batch = await self._scan_step(scan, ("status", "tool", "principal", "created_ms"))
            for task_id, (st, tl, pr, created) in batch:
                if created is not None and q.matches_fields(st, tl, pr, int(created), task_id):
                    keys.append((int(created), task_id))
            if not int(scan):
                break
        newest = heapq.nlargest(q.limit + 1, keys)
        if not newest:
            return [], None
        pipe = self._redis().pipeline(transaction=False)
        for _, task_id in newest:
            pipe.hgetall(self._key(task_id))
        return q.page([_record(fields) for fields in await pipe.execute() if fields])

    async def stats(self) -> dict[str, Any]:
        from collections import Counter

        from offload.store.query import count_stats

        counts: Counter[tuple[str, str]] = Counter()
        scan: Any = 0
        while True:
            scan, batch = await self._scan_step(scan, ("tool", "status"))
            for _, (tl, st) in batch:
                if tl is not None and st is not None:
                    counts[(tl, st)] += 1
            if not int(scan):
                break
        return count_stats((tl, st, n) for (tl, st), n in counts.items())

    # KEYS: leases, expires, answered. ARGV: prefix, then ids. Deletes the terminal ones; returns their ids.
    _PURGE_TASKS_LUA = (
        _LUA_HELPERS
        + """
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local k = ARGV[1] .. 'task:' .. id
  local st = redis.call('HGET', k, 'status')
  if st and not live(st) then
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('SREM', KEYS[3], id)
    out[#out + 1] = id
  end
end
return out
"""
    )

    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            return []
        script = self._redis().register_script(self._PURGE_TASKS_LUA)
        gone: list[str] = await script(keys=[self._leases, self._expires, self._answered], args=[self.prefix, *ids])
        return gone
