"""PostgreSQL store on asyncpg: several server processes on several machines share one database.

Every write is one SQL statement, or one short transaction holding a row lock, so the store's
rules hold however many instances race: a terminal status is final (`WHERE status IN live`),
owner-bound writes apply only for the holder, each answer key is taken once, and
`claim_orphans` locks dead owners' rows and tasks with `FOR UPDATE SKIP LOCKED`, so two
instances never claim one task. Instance heartbeats live in `offload_instances`.

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
character: it is stored as U+FFFD (a failed write would leave a task unfinishable); NaN and
Infinity become null in every backend; and JSONB gives a float such as 1e16 back as
10000000000000000. Driver faults surface as `StoreUnavailable` (server down, connection lost) and
`StoreFull` (53100 disk_full and the other 53xxx resource errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeAlias

try:
    import asyncpg
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the PostgreSQL store needs asyncpg: install offload with the postgres extra (pip install 'offload[postgres]')"
    ) from exc

from offload._backoff import Backoff, retry
from offload.store import _sql
from offload.store._pg_events import CHANNEL, EventListener
from offload.store._pg_schema import MIGRATIONS as _MIGRATIONS
from offload.store._pg_schema import SCHEMA_VERSION
from offload.store._rules import check_change, check_record, check_value, dump_json, journal_entry
from offload.store._sql import COLUMNS, DEAD_OWNERS_PER_CLAIM, INSERT_COLUMNS, LIVE_SQL
from offload.store.base import TaskStore
from offload.store.errors import StoreError, StoreFull, StoreUnavailable
from offload.store.query import TaskQuery, count_stats
from offload.store.record import Change, TaskEvent, TaskRecord, decode_event, encode_event, now_ms
from offload.store.urls import redact

logger = logging.getLogger(__name__)

#: pg_advisory_xact_lock key that serializes migrations (any instance, any offload version).
MIGRATION_LOCK = 0x6F66_666C_6F61_6401  # "offload" + 1
_LIVE = LIVE_SQL

_O_COLUMNS = ", ".join(f"o.{name}" for name in _sql.FIELDS)
_OWNER_PARAM = f"${INSERT_COLUMNS.index('owner') + 1}::text"
#: One statement (one round trip): make the owner known (see `_KNOW_OWNER`), then insert the task.
_INSERT = (
    f"WITH known AS (INSERT INTO offload_instances (owner, alive_until_ms) SELECT {_OWNER_PARAM}, 0 "
    f"WHERE {_OWNER_PARAM} IS NOT NULL ON CONFLICT (owner) DO NOTHING) "
    f"INSERT INTO offload_tasks ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(INSERT_COLUMNS) + 1))}) ON CONFLICT (task_id) DO NOTHING"
)
#: `answer`'s write, once the task row is locked and read: the row's new state ($2-$4, and the
#: answers waiting for the owner, $7, when they are held), and one journal entry per key taken
#: ($5, $6). A key recorded before (by `record`) takes the answer: the last write wins.
_ANSWER = (
    "WITH t AS (UPDATE offload_tasks SET input_requests=$2, status=$3, updated_ms=GREATEST(updated_ms, $4){} "
    "WHERE task_id=$1 RETURNING task_id) "
    "INSERT INTO offload_journal (task_id, key, entry) "
    "SELECT t.task_id, j.key, j.entry::jsonb FROM t, unnest($5::text[], $6::text[]) AS j(key, entry) "
    "ON CONFLICT (task_id, key) DO UPDATE SET entry=EXCLUDED.entry"
)
_ANSWER_HELD = _ANSWER.format(", answers=$7")
_ANSWER = _ANSWER.format("")
#: `record`: the entry goes in only while the task is live and held by the owner ($4).
_RECORD = (
    "INSERT INTO offload_journal (task_id, key, entry) SELECT task_id, $2::text, $3::jsonb FROM offload_tasks "
    f"WHERE task_id=$1 AND owner=$4 AND status IN {_LIVE} "
    "ON CONFLICT (task_id, key) DO UPDATE SET entry=EXCLUDED.entry"
)
#: An owner nobody has heard from is dead until it heartbeats: its tasks are never stranded.
_KNOW_OWNER = "INSERT INTO offload_instances (owner, alive_until_ms) VALUES ($1, 0) ON CONFLICT (owner) DO NOTHING"

#: Failures to connect: nothing reached the server, so the operation can be tried again.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.PostgresConnectionError,
)
#: Everything that means the server is gone or going: reported as StoreUnavailable.
_GONE: tuple[type[BaseException], ...] = (*_UNREACHABLE, asyncpg.exceptions.OperatorInterventionError)

if TYPE_CHECKING:
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record]
    AnyConnection: TypeAlias = Connection | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]


def _fault(exc: BaseException) -> StoreError | None:
    """The store fault a driver error means, if it is one."""
    if isinstance(exc, _GONE):
        return StoreUnavailable(f"PostgreSQL unreachable: {exc}")
    if isinstance(exc, asyncpg.exceptions.InsufficientResourcesError):  # 53100 disk_full, 53200 out of memory
        return StoreFull(f"PostgreSQL: {exc}")
    return None


def _text(value: str | None) -> str | None:
    """A TEXT column cannot hold NUL (a tool's progress message may carry one): U+FFFD instead."""
    return value.replace("\x00", "\ufffd") if value is not None and "\x00" in value else value


def _doc(name: str, value: Any) -> str | None:
    """A JSONB parameter: the shared encoding, with NUL characters (JSONB holds none) as U+FFFD."""
    text = dump_json(name, value)
    if text is not None and "\\u0000" in text:  # maybe a NUL: look closer
        safe = dump_json(name, _no_nul(value))
        if safe != text:
            logger.warning("JSON with NUL characters stored with U+FFFD instead (JSONB cannot hold them)")
        text = safe
    return text


def _no_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k) if isinstance(k, str) else k: _no_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nul(v) for v in value]
    return value


def _row_to_record(row: asyncpg.Record) -> TaskRecord:
    return _sql.record_from_row(row, lambda v: v)  # the jsonb codec decoded the documents already


def _rowcount(status: str) -> int:
    """The count in a command tag such as `DELETE 3` or `INSERT 0 1`."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


async def _init_connection(conn: Connection) -> None:
    # Parameters arrive encoded (`_doc`): the shared rules ran before anything was sent.
    await conn.set_type_codec("jsonb", encoder=lambda text: text, decoder=json.loads, schema="pg_catalog")


class _Schema:
    """The migration runner's view of a connection, inside the migration transaction."""

    def __init__(self, conn: AnyConnection) -> None:
        self.conn = conn

    async def version(self) -> int:
        if await self.conn.fetchval("SELECT to_regclass('offload_schema') IS NULL"):
            await self.conn.execute(
                "CREATE TABLE offload_schema (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)"
            )
        return int(await self.conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM offload_schema"))

    async def execute(self, statement: str) -> None:
        await self.conn.execute(statement)

    async def set_version(self, version: int) -> None:
        await self.conn.execute("INSERT INTO offload_schema (version, applied_ms) VALUES ($1, $2)", version, now_ms())


async def migrate(conn: AnyConnection) -> int:
    """Bring the schema to SCHEMA_VERSION, one numbered step at a time; return the version.

    One transaction holding an advisory lock: instances opening together run the steps once,
    the others wait and then find the schema current. Raises RuntimeError, changing nothing,
    if the database was written by a newer offload.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        return await _sql.migrate(_Schema(conn), _MIGRATIONS, SCHEMA_VERSION)


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
        self._events = EventListener(url, self.url, self._on_payload, listen_check_s)

    # -- lifecycle --

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            pool: Pool = await asyncpg.create_pool(
                self._dsn, min_size=self.min_size, max_size=self.max_size, init=_init_connection
            )
        except Exception as exc:
            raise (_fault(exc) or exc) from exc
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            self._pool = pool
            # Listening before open returns: an event published after it is not missed.
            await self._events.start()
        except BaseException:
            self._pool = None
            await self._events.stop()
            pool.terminate()
            raise

    async def close(self) -> None:
        await self._events.stop()
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
        """A pooled connection; driver faults in the block come out as StoreUnavailable/StoreFull.

        While the server cannot be reached (restarting, failing over, out of connections) this
        waits up to `connect_retry_s`: nothing was sent yet, so trying again is safe.
        """
        pool = self._db()

        def warn(exc: BaseException, delay: float) -> None:
            # Debug only: a request that still fails is reported once per incident by the caller.
            logger.debug("PostgreSQL at %s unreachable (%s); retrying in %.2fs", self.url, exc, delay)

        try:
            conn = await retry(
                pool.acquire,
                backoff=Backoff(initial=0.05, cap=1.0),
                deadline_s=self.connect_retry_s,
                retry_on=_UNREACHABLE,
                on_retry=warn,
            )
        except _UNREACHABLE as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.url} unreachable: {exc}") from exc
        try:
            yield conn
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            fault = _fault(exc)
            if fault is None:
                raise
            raise fault from exc
        finally:
            with contextlib.suppress(Exception):
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

    # -- tasks --

    async def create(self, record: TaskRecord) -> None:
        check_record(record)
        docs = {name: _doc(name, getattr(record, name)) for name in ("result", "error", "input_requests", "request")}
        values = _sql.insert_values(record, docs, _text)
        if _rowcount(await self._execute(_INSERT, *values)) == 0:
            raise ValueError(f"task {record.task_id!r} already exists")

    async def get(self, task_id: str) -> TaskRecord | None:
        row = await self._fetchrow(f"SELECT {COLUMNS} FROM offload_tasks WHERE task_id=$1", task_id)
        return None if row is None else _row_to_record(row)

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        check_change(change)
        args: list[Any] = [task_id, now_ms()]
        sets = ["updated_ms=GREATEST(updated_ms, $2)"]
        for key, value in change.items():
            if key in ("result", "error", "input_requests"):
                args.append(_doc(key, value))
            else:
                args.append(_text(value) if key == "status_message" and isinstance(value, str) else value)
            sets.append(f"{key}=${len(args)}")
            if key == "ttl_ms":
                sets.append(f"expires_ms=created_ms + ${len(args)}")  # NULL when the TTL is cleared
        where = f"task_id=$1 AND status IN {_LIVE}"
        if owner is not None:
            args.append(owner)
            where += f" AND owner=${len(args)}"
        query = f"UPDATE offload_tasks SET {', '.join(sets)} WHERE {where} RETURNING {COLUMNS}"
        new_owner = change.get("owner")
        if new_owner is None:
            row = await self._fetchrow(query, *args)
        else:
            async with self._conn() as conn, conn.transaction():
                await conn.execute(_KNOW_OWNER, new_owner)
                row = await conn.fetchrow(query, *args)
        return None if row is None else _row_to_record(row)

    async def answer(self, task_id: str, responses: dict[str, Any], *, hold: bool = True) -> dict[str, Any]:
        if not responses:
            return {}
        checked = {k: json.loads(_doc("answer", v) or "null") for k, v in responses.items()}
        async with self._conn() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT input_requests, status, answers FROM offload_tasks "
                f"WHERE task_id=$1 AND status IN {_LIVE} FOR UPDATE",
                task_id,
            )
            if row is None:
                return {}
            outstanding: dict[str, Any] = row["input_requests"] or {}
            taken = {k: v for k, v in checked.items() if k in outstanding}
            if not taken:
                return {}
            entries = [_doc("journal", journal_entry(outstanding.pop(k), v)) for k, v in taken.items()]
            status = "working" if not outstanding and row["status"] == "input_required" else row["status"]
            args: list[Any] = [task_id, _doc("input_requests", outstanding), status, now_ms(), list(taken), entries]
            if hold:
                args.append(_doc("answers", {**(row["answers"] or {}), **taken}))
            # One statement: the task row changes and the journal records what it took.
            await conn.execute(_ANSWER_HELD if hold else _ANSWER, *args)
            return taken

    async def journal(self, task_id: str) -> dict[str, Any]:
        rows = await self._fetch("SELECT key, entry FROM offload_journal WHERE task_id=$1", task_id)
        return {row["key"]: row["entry"] for row in rows}

    async def record(self, task_id: str, key: str, entry: dict[str, Any], *, owner: str) -> bool:
        check_value("journal key", key)
        text = _doc("journal entry", entry) or "null"
        try:
            status = await self._execute(_RECORD, task_id, _text(key), text, owner)
        except asyncpg.ForeignKeyViolationError:  # the task was deleted while the entry was written
            return False
        return _rowcount(status) > 0

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

    async def count_live(self, principal: str | None) -> int:
        count: int = await self._fetchval(
            f"SELECT COUNT(*) FROM offload_tasks WHERE principal IS NOT DISTINCT FROM $1 AND status IN {_LIVE}",
            principal,
        )
        return count

    async def purge_expired(self, at_ms: int) -> int:
        total = 0
        while True:  # one short statement per batch: no transaction holds many row locks for long
            status = await self._execute(
                "DELETE FROM offload_tasks WHERE task_id IN (SELECT task_id FROM offload_tasks "
                "WHERE expires_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                at_ms,
                self.purge_batch,
            )
            deleted = _rowcount(status)
            total += deleted
            if deleted < self.purge_batch:
                return total

    # -- instances --

    async def heartbeat(self, owner: str, until_ms: int, *, at_ms: int | None = None) -> bool:
        at = now_ms() if at_ms is None else at_ms
        async with self._conn() as conn:
            prev = await conn.fetchval(
                "UPDATE offload_instances i SET alive_until_ms=$2 FROM (SELECT owner, alive_until_ms "
                "FROM offload_instances WHERE owner=$1 FOR UPDATE) old WHERE i.owner=old.owner "
                "RETURNING old.alive_until_ms",
                owner,
                until_ms,
            )
            if prev is None:  # first heartbeat, or forgotten after it died
                await conn.execute(
                    "INSERT INTO offload_instances (owner, alive_until_ms) VALUES ($1, $2) "
                    "ON CONFLICT (owner) DO UPDATE SET alive_until_ms=EXCLUDED.alive_until_ms",
                    owner,
                    until_ms,
                )
                return False
            return bool(prev >= at)

    async def release(self, owner: str) -> None:
        await self._execute(
            "INSERT INTO offload_instances (owner, alive_until_ms) VALUES ($1, 0) "
            "ON CONFLICT (owner) DO UPDATE SET alive_until_ms=0",
            owner,
        )

    async def owned(self, owner: str) -> list[str]:
        rows = await self._fetch(f"SELECT task_id FROM offload_tasks WHERE owner=$1 AND status IN {_LIVE}", owner)
        return [row["task_id"] for row in rows]

    async def claim_orphans(self, at_ms: int, owner: str, limit: int = 100) -> list[TaskRecord]:
        if limit <= 0:
            return []
        async with self._conn() as conn, conn.transaction():
            # Dead owners first (locked: a concurrent claimer takes other ones, a heartbeat waits),
            # then their live tasks and queued ones through the live-owner index. SKIP LOCKED: a
            # task another instance is claiming or writing right now is left to it.
            dead = [
                row["owner"]
                for row in await conn.fetch(
                    "SELECT owner FROM offload_instances WHERE alive_until_ms < $1 AND owner <> $2 "
                    "ORDER BY alive_until_ms LIMIT $3 FOR UPDATE SKIP LOCKED",
                    at_ms,
                    owner,
                    DEAD_OWNERS_PER_CLAIM,
                )
            ]
            rows = await conn.fetch(
                f"UPDATE offload_tasks o SET owner=$1, attempts=o.attempts + 1 FROM ("
                f"SELECT task_id FROM offload_tasks WHERE status IN {_LIVE} "
                f"AND (owner IS NULL OR owner = ANY($2::text[])) "
                f"ORDER BY owner NULLS FIRST, created_ms LIMIT $3 FOR UPDATE SKIP LOCKED"
                f") c WHERE o.task_id=c.task_id RETURNING {_O_COLUMNS}",
                owner,
                dead,
                limit,
            )
            if dead:
                await conn.execute(
                    f"DELETE FROM offload_instances i WHERE i.owner = ANY($1::text[]) AND NOT EXISTS "
                    f"(SELECT 1 FROM offload_tasks t WHERE t.owner=i.owner AND t.status IN {_LIVE})",
                    dead,
                )
            if rows:
                await conn.execute(_KNOW_OWNER, owner)
        return sorted((_row_to_record(row) for row in rows), key=lambda rec: rec.created_ms)

    # -- events --

    def _on_payload(self, payload: object) -> None:
        event = decode_event(payload, CHANNEL)
        if event is not None:
            self._deliver(event)

    async def publish(self, event: TaskEvent) -> None:
        """NOTIFY every instance on this database (this one included, through its listener).

        Events are hints: if the database cannot be reached the event is dropped with a warning,
        and the write it announces, already stored, stands.
        """
        payload = encode_event(event)
        try:
            await self._execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except (StoreError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("could not publish task event %s for %s: %s", event.kind, event.task_id, exc)

    # -- operations: the admin CLI and the console (offload.ops) --

    async def query_tasks(self, q: TaskQuery) -> tuple[list[TaskRecord], str | None]:
        where: list[str] = []
        args: list[Any] = []
        if q.statuses:
            args.append(list(q.statuses))
            where.append(f"status = ANY(${len(args)}::text[])")
        for column, value in (("tool", q.tool), ("principal", q.principal)):
            if value is not None:
                args.append(value)
                where.append(f"{column}=${len(args)}")
        if q.older_than_ms is not None:
            args.append(q.older_than_ms)
            where.append(f"created_ms < ${len(args)}")
        if q.after is not None:
            args.extend(q.after)
            where.append(f"(created_ms, task_id) < (${len(args) - 1}, ${len(args)})")
        sql = f"SELECT {COLUMNS} FROM offload_tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        args.append(q.limit + 1)
        sql += f" ORDER BY created_ms DESC, task_id DESC LIMIT ${len(args)}"
        rows = await self._fetch(sql, *args)
        return q.page([_row_to_record(row) for row in rows])

    async def stats(self) -> dict[str, Any]:

        rows = await self._fetch("SELECT tool, status, COUNT(*) AS n FROM offload_tasks GROUP BY tool, status")
        return count_stats((row["tool"], row["status"], int(row["n"])) for row in rows)

    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            return []
        rows = await self._fetch(
            f"DELETE FROM offload_tasks WHERE task_id = ANY($1::text[]) AND status NOT IN {_LIVE} RETURNING task_id",
            ids,
        )
        gone = {row["task_id"] for row in rows}
        return [tid for tid in ids if tid in gone]


__all__ = ["CHANNEL", "SCHEMA_VERSION", "PostgresStore", "migrate"]
