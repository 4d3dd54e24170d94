"""Redis store: every instance sharing one Redis server (or primary) shares tasks and events.

Each task is a hash `<prefix>task:<id>` (default prefix `offload:`, or `?prefix=` in the URL).
Scalar fields are stored as strings, absent when None; `result`, `error` and `request` are JSON
strings the server never parses. Each outstanding input request is its own field `r:<key>` (its
JSON as the value) and each answer waiting for the owner a field `a:<key>`, so the Lua scripts move
answers without decoding any JSON: the documents come back exactly as they were written. A
task's journal is a hash of its own, `<prefix>journal:<id>`, so reading the task never reads it. The
indexes (instances, owned tasks, the queue, expiry) and the scripts are in `_redis_lua.py`;
`<prefix>schema` holds the layout version (a store refuses a newer one and upgrades an older one
on open); events go over the channel `<prefix>events`.

Durability is Redis's own: without AOF (`appendonly no`, the default) a Redis crash or restart
loses what was written since the last RDB snapshot, so `open` warns once (docs/durability.md).
Driver faults surface as `StoreUnavailable` (server down, connection lost) and `StoreFull`
(`OOM` past maxmemory, `MISCONF` when Redis cannot persist).
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
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import ReadOnlyError, RedisError, ResponseError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - exercised by tests that hide the package
    raise ImportError("the Redis store needs the redis package: pip install 'offload[redis]' (redis>=5,<9)") from exc

from offload._backoff import Backoff
from offload.store import _redis_lua as lua
from offload.store._rules import check_change, check_record, check_value, dump_json
from offload.store.base import TaskStore
from offload.store.errors import StoreError, StoreFull, StoreUnavailable
from offload.store.query import TaskQuery, count_stats
from offload.store.record import Change, TaskEvent, TaskRecord, decode_event, encode_event, now_ms
from offload.store.urls import redact

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 3
DEFAULT_PREFIX = "offload:"
_INT_FIELDS = ("created_ms", "updated_ms", "ttl_ms", "poll_interval_ms", "attempts")
_JSON_FIELDS = ("result", "error", "request")
_STR_FIELDS = ("status", "status_message", "principal", "owner")
#: Dead owners `claim_orphans` looks at per call (the SQL backends use the same bound).
_DEAD_PER_CLAIM = 100
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError, TimeoutError)


def _fault(exc: BaseException) -> StoreError | None:
    """The store fault a driver error means, if it is one."""
    if isinstance(exc, _UNREACHABLE):
        return StoreUnavailable(f"Redis unreachable: {exc}")
    # Inside a script the reply reads "Error running script ...: -OOM command not allowed ...".
    if isinstance(exc, ResponseError) and ("OOM command not allowed" in str(exc) or "MISCONF" in str(exc)):
        return StoreFull(f"Redis: {str(exc).rsplit(': -', 1)[-1]}")
    return None


def _dump(value: Any) -> str:
    text = dump_json("answer", value)
    assert text is not None
    return text


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
        attempts=int(fields["attempts"]),
        result=opt_json("result"),
        error=opt_json("error"),
        input_requests={f[2:]: json.loads(v) for f, v in fields.items() if f.startswith("r:")},
        request=opt_json("request"),
    )


def _encode(name: str, value: Any) -> str:
    if name in _JSON_FIELDS:
        return cast(str, dump_json(name, value))
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
        self._instances = f"{self.prefix}instances"
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

    def _journal(self, task_id: str) -> str:
        return f"{self.prefix}journal:{task_id}"

    def _redis(self) -> Any:
        if self._client is None:
            raise RuntimeError("RedisStore is not open")
        return self._client

    # -- lifecycle --

    async def open(self) -> None:
        if self._client is not None:
            return
        # No automatic retry of commands: a script sent again after a lost reply could apply twice.
        # health_check_interval: a pooled connection idle for a second is pinged before use, so the first
        # request after a Redis restart gets a fresh connection instead of failing on a dead one.
        pool = aioredis.BlockingConnectionPool.from_url(
            self._conn_url,
            decode_responses=True,
            max_connections=self.max_connections,
            timeout=30,
            health_check_interval=1,
        )
        client: Any = aioredis.Redis(connection_pool=pool)
        try:
            try:
                await client.ping()
            except RedisError as exc:
                raise (_fault(exc) or exc) from exc
            await client.set(self._schema, SCHEMA_VERSION, nx=True)
            raw = await client.get(self._schema)
            try:
                version = int(raw)
            except (TypeError, ValueError):
                version = 0
            if version < 1:
                raise RuntimeError(f"store schema key {self._schema!r} holds {raw!r}, not a version")
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"store schema v{version} is newer than this offload (v{SCHEMA_VERSION})")
            for step in range(version, SCHEMA_VERSION):
                if await client.eval(lua.MIGRATIONS[step], 0, self.prefix):
                    logger.info("Redis store %s (prefix %r) upgraded to layout v%d", self.url, self.prefix, step + 1)
            await self._check_durability(client)
        except BaseException:
            await client.aclose()
            await pool.aclose()
            raise
        self._client = client
        self._pool = pool
        self._scripts = {
            name: client.register_script(src)
            for name, src in (
                ("create", lua.CREATE),
                ("update", lua.UPDATE),
                ("answer", lua.ANSWER),
                ("record", lua.RECORD),
                ("take_answers", lua.TAKE_ANSWERS),
                ("heartbeat", lua.HEARTBEAT),
                ("claim", lua.CLAIM),
                ("purge", lua.PURGE),
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

    async def _check_durability(self, client: Any) -> None:
        """Warn once if an acknowledged task would not survive a Redis crash or restart."""
        try:
            config = {**await client.config_get("appendonly"), **await client.config_get("save")}
        except ResponseError:  # CONFIG disabled (a managed Redis): nothing to tell
            return
        if config.get("appendonly") == "yes":
            return
        snapshots = config.get("save") or ""
        since = (
            f"since the last RDB snapshot (save {snapshots!r})" if snapshots.strip() else "(no RDB snapshots either)"
        )
        logger.warning(
            "Redis at %s runs without AOF (appendonly no): a Redis crash or restart loses every task written %s. "
            "Set appendonly yes (appendfsync everysec) for tasks to survive it; see docs/durability.md",
            self.url,
            since,
        )

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

    async def _call(self, name: str, *args: Any) -> Any:
        """A client command, its driver faults as store faults."""
        try:
            return await getattr(self._redis(), name)(*args)
        except RedisError as exc:
            raise (_fault(exc) or exc) from exc

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        self._redis()
        try:
            return await self._scripts[name](keys=keys, args=args)
        except RedisError as exc:
            raise (_fault(exc) or exc) from exc

    # -- tasks --

    async def create(self, record: TaskRecord) -> None:
        check_record(record)
        args: list[Any] = [self.prefix, record.task_id, "task_id", record.task_id, "tool", record.tool]
        for name in (*_STR_FIELDS, *_INT_FIELDS, *_JSON_FIELDS):
            value = getattr(record, name)
            if value is not None:
                args += [name, _encode(name, value)]
        for key, value in record.input_requests.items():
            args += [f"r:{key}", _dump(value)]
        if not await self._run("create", [self._key(record.task_id)], args):
            raise ValueError(f"task {record.task_id!r} already exists")

    async def get(self, task_id: str) -> TaskRecord | None:
        fields: dict[str, str] = await self._call("hgetall", self._key(task_id))
        return _record(fields) if fields else None

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        check_change(change)
        sets: list[str] = []
        dels: list[str] = []
        requests: list[str] | None = None
        for name, value in change.items():
            if name == "input_requests":
                requests = [part for key, req in cast("dict[str, Any]", value).items() for part in (key, _dump(req))]
            elif value is None:
                dels.append(name)
            else:
                sets += [name, _encode(name, value)]
        args: list[Any] = [
            self.prefix,
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
        flat = await self._run("update", [self._key(task_id)], args)
        return None if flat is None else _record(_pairs(flat))

    async def answer(self, task_id: str, responses: dict[str, Any], *, hold: bool = True) -> dict[str, Any]:
        if not responses:
            return {}
        args: list[Any] = [task_id, now_ms(), "1" if hold else "0"]
        encoded = {key: _dump(value) for key, value in responses.items()}
        for key, text in encoded.items():
            args += [key, text]
        keys = [self._key(task_id), self._answered, self._journal(task_id)]
        taken: list[str] = await self._run("answer", keys, args)
        return {key: json.loads(encoded[key]) for key in taken}

    async def journal(self, task_id: str) -> dict[str, Any]:
        fields: dict[str, str] = await self._call("hgetall", self._journal(task_id))
        return {key: json.loads(text) for key, text in fields.items()}

    async def record(self, task_id: str, key: str, entry: dict[str, Any], *, owner: str) -> bool:
        check_value("journal key", key)
        text = dump_json("journal entry", entry) or "null"
        return bool(await self._run("record", [self._key(task_id), self._journal(task_id)], [owner, key, text]))

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        flat = await self._run("take_answers", [self._key(task_id), self._answered], [task_id])
        return {key: json.loads(value) for key, value in _pairs(flat).items()}

    async def answered_tasks(self, owner: str) -> list[str]:
        ids: set[str] = await self._call("sinter", f"{self.prefix}owned:{owner}", self._answered)
        return list(ids)

    async def count_live(self, principal: str | None) -> int:
        count: int = await self._call("scard", f"{self.prefix}live:{principal or ''}")
        return count

    async def purge_expired(self, at_ms: int) -> int:
        total = 0
        while True:  # in batches, so one script never holds the server for long
            deleted, seen = await self._run("purge", [], [self.prefix, at_ms, self.purge_batch])
            total += int(deleted)
            if int(seen) < self.purge_batch:
                return total

    # -- instances --

    async def heartbeat(self, owner: str, until_ms: int, *, at_ms: int | None = None) -> bool:
        at = now_ms() if at_ms is None else at_ms
        return bool(await self._run("heartbeat", [self._instances], [owner, until_ms, at]))

    async def release(self, owner: str) -> None:
        await self._call("zadd", self._instances, {owner: 0})

    async def owned(self, owner: str) -> list[str]:
        ids: set[str] = await self._call("smembers", f"{self.prefix}owned:{owner}")
        return list(ids)

    async def claim_orphans(self, at_ms: int, owner: str, limit: int = 100) -> list[TaskRecord]:
        if limit <= 0:
            return []
        rows = await self._run("claim", [], [self.prefix, at_ms, owner, limit, _DEAD_PER_CLAIM])
        return [_record(_pairs(row)) for row in rows]

    # -- events --

    async def publish(self, event: TaskEvent) -> None:
        """PUBLISH to every instance's listener, this store's own included.

        Events are hints: if Redis cannot be reached the event is dropped with a warning (as the
        PostgreSQL store does), and the write it announces, already stored, stands.
        """
        payload = encode_event(event)
        try:
            await self._call("publish", self.channel, payload)
        except StoreError as exc:
            logger.warning("could not publish task event %s for %s: %s", event.kind, event.task_id, exc)

    def _on_message(self, data: Any) -> None:
        event = decode_event(data, self.channel)
        if event is not None:
            self._deliver(event)

    async def _listen(self) -> None:
        """Deliver what arrives on the channel, on this event loop, reconnecting after any failure."""
        backoff = Backoff(initial=0.1, cap=5.0)
        interrupted = False  # one log line when events stop, one when they resume
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
                            backoff.reset()
                            if interrupted:
                                interrupted = False
                                logger.warning("task events from %s resumed", self.url)
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
                delay = backoff.next()
                if not interrupted:
                    interrupted = True
                    logger.warning("task events from %s interrupted (%s); reconnecting", self.url, exc)
            except Exception:
                delay = backoff.next()
                logger.exception("task event listener failed; restarting in %.1fs", delay)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
            await asyncio.sleep(delay)

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

    async def query_tasks(self, q: TaskQuery) -> tuple[list[TaskRecord], str | None]:
        import heapq

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

    # ARGV: prefix, then ids. Deletes the terminal ones (live tasks are in no index this touches); returns their ids.
    _PURGE_TASKS_LUA = """
local P = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local k = P .. 'task:' .. id
  local st = redis.call('HGET', k, 'status')
  if st and st ~= 'working' and st ~= 'input_required' then
    redis.call('DEL', k, P .. 'journal:' .. id)
    redis.call('ZREM', P .. 'expires', id)
    redis.call('SREM', P .. 'answered', id)
    out[#out + 1] = id
  end
end
return out
"""

    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            return []
        script = self._redis().register_script(self._PURGE_TASKS_LUA)
        gone: list[str] = await script(keys=[], args=[self.prefix, *ids])
        return gone


__all__ = ["DEFAULT_PREFIX", "SCHEMA_VERSION", "RedisStore", "split_url"]
