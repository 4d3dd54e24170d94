"""PostgreSQL store on asyncpg: several server processes on several machines share one database.

Every write is one SQL statement, or one short transaction holding a row lock, so the store's
rules hold however many instances race: a terminal status is final (`WHERE status IN live`),
owner-bound writes apply only for the holder, each answer key is taken once, and
`claim_orphans` locks with `FOR UPDATE SKIP LOCKED`, so two instances never claim one task.

The schema is created and upgraded on `open`, one numbered step at a time, in a transaction
that holds an advisory lock (instances starting together wait for one another); the steps
applied are recorded in `offload_schema`, and a database written by a newer offload is refused.

Events go through `NOTIFY offload_events` and reach every instance on the database: each store
keeps one connection of its own that LISTENs, and reconnects when it is lost (events sent while
it was away are missed; they are hints, the store holds the state). Tables are unqualified, so
they live in the first schema of the connection's `search_path` (`?search_path=NAME` in the URL
picks one; other query parameters such as `sslmode` pass to asyncpg too).

Needs the asyncio event loop (asyncpg); install with `pip install 'offload[postgres]'`. Connect
to PostgreSQL directly or through a pooler in session mode: LISTEN and asyncpg's prepared
statements do not survive transaction pooling. JSON columns are JSONB, which holds no NUL
character and no NaN or Infinity: those are stored as U+FFFD and null (a failed write would
leave a task unfinishable); and JSONB gives a float such as 1e16 back as 10000000000000000.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeAlias

try:
    import asyncpg
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the PostgreSQL store needs asyncpg: install offload with the postgres extra (pip install 'offload[postgres]')"
    ) from exc

from offload.store.base import Change, TaskEvent, TaskRecord, TaskStore, now_ms
from offload.store.urls import redact

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
CHANNEL = "offload_events"
#: pg_advisory_xact_lock key that serializes migrations (any instance, any offload version).
MIGRATION_LOCK = 0x6F66_666C_6F61_6401  # "offload" + 1
_LIVE = "('working','input_required')"

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE offload_tasks (
            task_id TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL,
            ttl_ms BIGINT,
            expires_ms BIGINT,
            poll_interval_ms BIGINT,
            principal TEXT,
            owner TEXT,
            lease_ms BIGINT,
            attempts INTEGER NOT NULL DEFAULT 1,
            result JSONB,
            error JSONB,
            input_requests JSONB,
            request JSONB,
            answers JSONB
        )""",
        "CREATE INDEX offload_tasks_expires ON offload_tasks (expires_ms) WHERE expires_ms IS NOT NULL",
        f"CREATE INDEX offload_tasks_lease ON offload_tasks (lease_ms) WHERE status IN {_LIVE}",
        "CREATE INDEX offload_tasks_answers ON offload_tasks (owner) WHERE answers IS NOT NULL",
    ],
    # v2: large result items in chunks, gone with their task; recent durations per tool (postgres_sidecar.py).
    2: [
        """CREATE TABLE offload_blobs (
            task_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            chunk INTEGER NOT NULL,
            size INTEGER NOT NULL,
            newlines INTEGER NOT NULL,
            expires_ms BIGINT,
            data BYTEA NOT NULL,
            PRIMARY KEY (task_id, n, chunk)
        )""",
        "CREATE INDEX offload_blobs_expires ON offload_blobs (expires_ms) WHERE expires_ms IS NOT NULL",
        """CREATE FUNCTION offload_blobs_purge() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM offload_blobs WHERE task_id = OLD.task_id; RETURN NULL; END $$""",
        "CREATE TRIGGER offload_blobs_purge AFTER DELETE ON offload_tasks "
        "FOR EACH ROW EXECUTE FUNCTION offload_blobs_purge()",
        "CREATE TABLE offload_durations (tool TEXT PRIMARY KEY, samples BIGINT[] NOT NULL)",
    ],
}

_FIELDS = (
    "task_id",
    "tool",
    "status",
    "status_message",
    "created_ms",
    "updated_ms",
    "ttl_ms",
    "poll_interval_ms",
    "principal",
    "owner",
    "lease_ms",
    "attempts",
    "result",
    "error",
    "input_requests",
    "request",
)
_COLUMNS = ", ".join(_FIELDS)
_O_COLUMNS = ", ".join(f"o.{name}" for name in _FIELDS)
#: What `update` may set: the keys of `Change`.
_UPDATABLE = frozenset(
    ("status", "status_message", "result", "error", "input_requests", "poll_interval_ms", "ttl_ms", "owner", "lease_ms")
)

#: Failures to connect: nothing reached the server, so the operation can be tried again.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.PostgresConnectionError,
)

if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record]
    AnyConnection: TypeAlias = Connection | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]


def _dump(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    if "\\u0000" in text or "NaN" in text or "Infinity" in text:  # maybe what JSONB cannot hold: look closer
        safe = json.dumps(_jsonb_safe(value), separators=(",", ":"), allow_nan=False)
        if safe != text:
            logger.warning("JSON with NUL characters or NaN/Infinity stored as U+FFFD and null (JSONB holds neither)")
        text = safe
    return text


def _text(value: str | None) -> str | None:
    """A TEXT column cannot hold NUL either (a tool's progress message may carry one)."""
    return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


def _jsonb_safe(value: Any) -> Any:
    """`value` with what JSONB cannot store replaced: NUL characters by U+FFFD, NaN and ±Infinity by
    null (as JSON.stringify does). A write that fails instead would leave its task unfinishable."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_jsonb_safe(k) if isinstance(k, str) else k: _jsonb_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonb_safe(v) for v in value]
    return value


def _row_to_record(row: asyncpg.Record) -> TaskRecord:
    return TaskRecord(
        task_id=row["task_id"],
        tool=row["tool"],
        status=row["status"],
        status_message=row["status_message"],
        created_ms=row["created_ms"],
        updated_ms=row["updated_ms"],
        ttl_ms=row["ttl_ms"],
        poll_interval_ms=row["poll_interval_ms"],
        principal=row["principal"],
        owner=row["owner"],
        lease_ms=row["lease_ms"],
        attempts=row["attempts"],
        result=row["result"],
        error=row["error"],
        input_requests=row["input_requests"] or {},
        request=row["request"],
    )


def _rowcount(status: str) -> int:
    """The count in a command tag such as `DELETE 3` or `INSERT 0 1`."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


async def _init_connection(conn: Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_dump, decoder=json.loads, schema="pg_catalog")


async def migrate(conn: AnyConnection) -> int:
    """Bring the schema to SCHEMA_VERSION, one numbered step at a time; return the version.

    One transaction holding an advisory lock: instances opening together run the steps once,
    the others wait and then find the schema current. Raises RuntimeError, changing nothing,
    if the database was written by a newer offload.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        if await conn.fetchval("SELECT to_regclass('offload_schema') IS NULL"):
            await conn.execute("CREATE TABLE offload_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        version: int = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM offload_schema")
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"store schema v{version} is newer than this offload (v{SCHEMA_VERSION})")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for stmt in _MIGRATIONS[step]:
                await conn.execute(stmt)
            await conn.execute("INSERT INTO offload_schema (version, applied_ms) VALUES ($1, $2)", step, now_ms())
    return SCHEMA_VERSION


class PostgresStore(TaskStore):
    """Tasks in a PostgreSQL table; events over LISTEN/NOTIFY.

    `url` is a libpq-style URL (`postgresql://user:password@host:port/db`, `postgres://` too;
    query parameters such as `sslmode` pass to asyncpg). `self.url` hides the password.
    """

    shared_events = True

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        listen_check_s: float = 10.0,
        connect_retry_s: float = 10.0,
    ) -> None:
        super().__init__()
        self._dsn = url
        self.url = redact(url)
        self.min_size = min_size
        self.max_size = max_size
        self.listen_check_s = listen_check_s
        self.connect_retry_s = connect_retry_s
        self._pool: Pool | None = None
        self._listener: Connection | None = None
        self._listener_lost = asyncio.Event()
        self._listen_task: asyncio.Task[None] | None = None

    # -- lifecycle --

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._listener_lost = asyncio.Event()  # of this event loop
        pool: Pool = await asyncpg.create_pool(
            self._dsn, min_size=self.min_size, max_size=self.max_size, init=_init_connection
        )
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            self._pool = pool
            # Listening before open returns: an event published after it is not missed.
            await self._listen()
        except BaseException:
            self._pool = None
            await self._drop_listener()
            pool.terminate()
            raise
        self._listen_task = asyncio.create_task(self._keep_listening(), name="offload-postgres-listener")

    async def close(self) -> None:
        task, self._listen_task = self._listen_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_listener()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    def _db(self) -> Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[AnyConnection]:
        """A pooled connection. While the server cannot be reached (restarting, failing over, out of
        connections) this waits up to `connect_retry_s`: nothing was sent yet, so trying again is safe."""
        pool = self._db()
        delay = 0.05
        deadline = time.monotonic() + self.connect_retry_s
        while True:
            try:
                conn = await pool.acquire()
                break
            except _UNREACHABLE as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("PostgreSQL at %s unreachable (%s); retrying in %.2fs", self.url, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield conn
        finally:
            await pool.release(conn)

    async def _execute(self, query: str, *args: Any) -> str:
        async with self._conn() as conn:
            return await conn.execute(query, *args)

    async def _fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._conn() as conn:
            return await conn.fetch(query, *args)

    async def _fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self._conn() as conn:
            return await conn.fetchrow(query, *args)

    async def _fetchval(self, query: str, *args: Any) -> Any:
        async with self._conn() as conn:
            return await conn.fetchval(query, *args)

    # -- interface --

    async def create(self, record: TaskRecord) -> None:
        status = await self._execute(
            "INSERT INTO offload_tasks (task_id, tool, status, status_message, created_ms, updated_ms, ttl_ms, "
            "expires_ms, poll_interval_ms, principal, owner, lease_ms, attempts, result, error, input_requests, "
            "request) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17) "
            "ON CONFLICT (task_id) DO NOTHING",
            record.task_id,
            record.tool,
            record.status,
            _text(record.status_message),
            record.created_ms,
            record.updated_ms,
            record.ttl_ms,
            record.expires_ms,
            record.poll_interval_ms,
            record.principal,
            record.owner,
            record.lease_ms,
            record.attempts,
            record.result,
            record.error,
            record.input_requests,
            record.request,
        )
        if _rowcount(status) == 0:
            raise ValueError(f"task {record.task_id!r} already exists")

    async def get(self, task_id: str) -> TaskRecord | None:
        row = await self._fetchrow(f"SELECT {_COLUMNS} FROM offload_tasks WHERE task_id=$1", task_id)
        return None if row is None else _row_to_record(row)

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        args: list[Any] = [task_id, now_ms()]
        sets = ["updated_ms=GREATEST(updated_ms, $2)"]
        for key, value in change.items():
            if key not in _UPDATABLE:
                raise ValueError(f"a task has no field {key!r} to update")
            args.append(_text(value) if key == "status_message" and isinstance(value, str) else value)
            sets.append(f"{key}=${len(args)}")
            if key == "ttl_ms":
                sets.append(f"expires_ms=created_ms + ${len(args)}")  # NULL when the TTL is cleared
        where = f"task_id=$1 AND status IN {_LIVE}"
        if owner is not None:
            args.append(owner)
            where += f" AND owner=${len(args)}"
        row = await self._fetchrow(
            f"UPDATE offload_tasks SET {', '.join(sets)} WHERE {where} RETURNING {_COLUMNS}", *args
        )
        return None if row is None else _row_to_record(row)

    async def answer(self, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
        if not responses:
            return {}
        async with self._conn() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT input_requests, status, answers FROM offload_tasks "
                f"WHERE task_id=$1 AND status IN {_LIVE} FOR UPDATE",
                task_id,
            )
            if row is None:
                return {}
            outstanding: dict[str, Any] = row["input_requests"] or {}
            taken = {k: v for k, v in responses.items() if k in outstanding}
            if not taken:
                return {}
            for key in taken:
                del outstanding[key]
            waiting = {**(row["answers"] or {}), **taken}
            status = "working" if not outstanding and row["status"] == "input_required" else row["status"]
            await conn.execute(
                "UPDATE offload_tasks SET input_requests=$2, status=$3, answers=$4, "
                "updated_ms=GREATEST(updated_ms, $5) WHERE task_id=$1",
                task_id,
                outstanding,
                status,
                waiting,
                now_ms(),
            )
            return taken

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        # The sub-select locks the row and reads the answers as of that lock: an `answer` racing
        # with this either lands before (and is taken) or after (and waits for the next take).
        taken: dict[str, Any] | None = await self._fetchval(
            "UPDATE offload_tasks o SET answers=NULL FROM ("
            "SELECT task_id, answers FROM offload_tasks WHERE task_id=$1 AND answers IS NOT NULL FOR UPDATE"
            ") old WHERE o.task_id=old.task_id RETURNING old.answers",
            task_id,
        )
        return taken or {}

    async def answered_tasks(self, owner: str) -> list[str]:
        rows = await self._fetch(
            f"SELECT task_id FROM offload_tasks WHERE owner=$1 AND answers IS NOT NULL AND status IN {_LIVE}", owner
        )
        return [row["task_id"] for row in rows]

    async def purge_expired(self, at_ms: int) -> int:
        status = await self._execute("DELETE FROM offload_tasks WHERE expires_ms <= $1", at_ms)
        return _rowcount(status)

    async def claim_orphans(self, at_ms: int, owner: str, lease_ms: int, limit: int = 100) -> list[TaskRecord]:
        # SKIP LOCKED: a task another instance is claiming (or writing) right now is left to it;
        # a row whose lease changed since the snapshot is re-checked against `lease_ms < at_ms`.
        rows = await self._fetch(
            f"UPDATE offload_tasks o SET owner=$1, lease_ms=$2, attempts=o.attempts + 1 FROM ("
            f"SELECT task_id FROM offload_tasks WHERE status IN {_LIVE} AND lease_ms < $3 "
            f"ORDER BY lease_ms LIMIT $4 FOR UPDATE SKIP LOCKED"
            f") c WHERE o.task_id=c.task_id RETURNING {_O_COLUMNS}",
            owner,
            lease_ms,
            at_ms,
            limit,
        )
        return [_row_to_record(row) for row in rows]

    async def renew(self, owner: str, task_ids: list[str], lease_ms: int) -> list[str]:
        if not task_ids:
            return []
        # Rows are locked in id order, so two renewals of overlapping lists cannot deadlock.
        rows = await self._fetch(
            f"UPDATE offload_tasks o SET lease_ms=$3 FROM ("
            f"SELECT task_id FROM offload_tasks WHERE task_id = ANY($1::text[]) AND owner=$2 AND status IN {_LIVE} "
            f"ORDER BY task_id FOR UPDATE"
            f") held WHERE o.task_id=held.task_id RETURNING o.task_id",
            task_ids,
            owner,
            lease_ms,
        )
        renewed = {row["task_id"] for row in rows}
        return [tid for tid in task_ids if tid not in renewed]

    # -- events --

    async def publish(self, event: TaskEvent) -> None:
        """NOTIFY every instance on this database (this one included, through its listener).

        Events are hints: if the database cannot be reached the event is dropped with a warning,
        and the write it announces, already stored, stands.
        """
        payload = json.dumps({"kind": event.kind, "task_id": event.task_id, "origin": event.origin})
        try:
            await self._execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("could not publish task event %s for %s: %s", event.kind, event.task_id, exc)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            data = json.loads(str(payload))
            event = TaskEvent(data["kind"], str(data["task_id"]), str(data.get("origin", "")))
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed task event on %s: %.200r", CHANNEL, payload)
            return
        self._deliver(event)

    def _on_listener_lost(self, conn: object) -> None:
        if conn is self._listener:  # not one this store closed, or replaced, already
            self._listener_lost.set()

    async def _listen(self) -> Connection:
        conn: Connection = await asyncpg.connect(self._dsn)
        try:
            self._listener_lost.clear()
            conn.add_termination_listener(self._on_listener_lost)
            await conn.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        self._listener = conn
        return conn

    async def _drop_listener(self) -> None:
        conn, self._listener = self._listener, None
        if conn is None or conn.is_closed():
            return
        try:
            await asyncio.wait_for(conn.close(), 2)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            conn.terminate()

    async def _keep_listening(self) -> None:
        """Watch the LISTEN connection (closed, or silent to a ping) and open a new one when lost."""
        delay = 0.1
        while True:
            try:
                conn = self._listener
                if conn is None or conn.is_closed():
                    await self._drop_listener()
                    conn = await self._listen()
                    logger.info("task event listener reconnected to %s", self.url)
                    delay = 0.1
                try:
                    await asyncio.wait_for(self._listener_lost.wait(), self.listen_check_s)
                except TimeoutError:
                    await conn.execute("SELECT 1", timeout=self.listen_check_s)
                else:
                    self._listener_lost.clear()  # the connection is closed now: the next turn replaces it
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("task event listener on %s lost (%s); reconnecting in %.1fs", self.url, exc, delay)
                await self._drop_listener()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
