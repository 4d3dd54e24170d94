"""SQLite store, the default: one file, WAL mode, writes group-committed on one thread.

Reads run on the event loop's own connection: a primary-key lookup costs microseconds, less
than a hop to a thread. Writes go to a single writer thread that commits every write waiting
in its queue in one transaction, so many concurrent task creations share one fsync-free WAL
commit (`synchronous=NORMAL`: durable across a process crash, which is what a restart needs;
see docs/durability.md). Several processes may share the file (SQLite locks it); they share
tasks and instance heartbeats, not events.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from offload.store import _sql
from offload.store._rules import check_change, check_record, check_value, dump_json, journal_entry, load_json
from offload.store._sql import COLUMNS, DEAD_OWNERS_PER_CLAIM, INSERT_COLUMNS, LIVE_SQL
from offload.store._sqlite_schema import MIGRATIONS as _MIGRATIONS
from offload.store._sqlite_schema import SCHEMA_VERSION
from offload.store.base import TaskStore
from offload.store.errors import StoreError, StoreFull, StoreUnavailable
from offload.store.query import TaskQuery, count_stats
from offload.store.record import Change, TaskRecord, now_ms

T = TypeVar("T")

#: `PRAGMA synchronous` settings offered: NORMAL (the default) survives a process crash; FULL
#: syncs the WAL at every commit (group-committed here), so a task also survives a machine crash.
SYNCHRONOUS = ("NORMAL", "FULL")
_LIVE = LIVE_SQL

_INSERT = f"INSERT INTO tasks ({', '.join(INSERT_COLUMNS)}) VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})"
#: One journal entry, put or replaced (the last write under a key wins, as in every backend).
_JOURNAL_PUT = (
    "INSERT INTO task_journal (task_id, key, entry) VALUES (?, ?, ?) "
    "ON CONFLICT (task_id, key) DO UPDATE SET entry=excluded.entry"
)
#: `record`: the same, only while the task is live and held by the owner (its `updated_ms` stays).
_JOURNAL_RECORD = (
    "INSERT INTO task_journal (task_id, key, entry) SELECT ?, ?, ? WHERE EXISTS "
    f"(SELECT 1 FROM tasks WHERE task_id=? AND owner=? AND status IN {_LIVE}) "
    "ON CONFLICT (task_id, key) DO UPDATE SET entry=excluded.entry"
)
#: An owner nobody has heard from is dead until it heartbeats: its tasks are never stranded.
_KNOW_OWNER = "INSERT OR IGNORE INTO instances (owner, alive_until_ms) VALUES (?, 0)"


def _keep(text: str | None) -> str | None:
    return text


def _record(row: sqlite3.Row) -> TaskRecord:
    return _sql.record_from_row(row, load_json)


def _connect(path: str, synchronous: str = "NORMAL") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _fault(exc: sqlite3.Error) -> StoreError | None:
    """The store fault a driver error means, if it is one (a full disk, an unreadable file)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name == "SQLITE_FULL" or "database or disk is full" in str(exc):
        return StoreFull(f"SQLite: {exc}")
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_READONLY")):
        return StoreUnavailable(f"SQLite: {exc}")
    return None


class _Schema:
    """The migration runner's view of a SQLite connection (already in a transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    async def execute(self, statement: str) -> None:
        self.conn.execute(statement)

    async def set_version(self, version: int) -> None:
        self.conn.execute(f"PRAGMA user_version={int(version)}")


async def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION in one transaction; return the version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        await _sql.migrate(_Schema(conn), _MIGRATIONS, SCHEMA_VERSION)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


class _Writer(threading.Thread):
    """One thread owning the write connection; commits queued operations in batches."""

    def __init__(self, path: str, synchronous: str) -> None:
        super().__init__(name="offload-sqlite-writer", daemon=True)
        self.conn = _connect(path, synchronous)
        self.jobs: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                break
            batch = [job]
            stop = False
            while len(batch) < 512:
                try:
                    nxt = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop:
                break
        self.conn.close()

    def _commit(self, batch: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for fn, fut in batch:
                self.conn.execute("SAVEPOINT op")
                try:
                    value = fn(self.conn)
                except Exception as exc:
                    self.conn.execute("ROLLBACK TO op")
                    outcomes.append((fut, False, exc))
                else:
                    outcomes.append((fut, True, value))
                self.conn.execute("RELEASE op")
            self.conn.execute("COMMIT")
        except Exception as exc:  # the commit itself failed: every op in the batch failed
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            outcomes = [(fut, False, exc) for _, fut in batch]
        for fut, ok, value in outcomes:
            fut.get_loop().call_soon_threadsafe(_settle, fut, ok, value)


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class SQLiteStore(TaskStore):
    """Tasks in one SQLite file (`:memory:`: a private temporary file, removed on close).

    `synchronous="FULL"` (URL `sqlite:///PATH?synchronous=full`) makes every acknowledged write
    survive a power loss too, at the cost of one fsync per group commit (docs/durability.md).
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        super().__init__()
        self.synchronous = synchronous.upper()
        if self.synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous={synchronous!r}: expected one of {', '.join(SYNCHRONOUS)}")
        self.path = str(path)
        self.url = f"sqlite:///{self.path}" + ("" if self.synchronous == "NORMAL" else f"?synchronous={synchronous}")
        self._reader: sqlite3.Connection | None = None
        self._data_version: Any = None  # of the writer connection: moves when another process writes
        self._foreign_at: int | None = None  # when a write by another process was last noticed
        self._writer: _Writer | None = None
        self._tmpdir: str | None = None

    async def open(self) -> None:
        if self._writer is not None:
            return
        path = self.path
        if path == ":memory:":
            # The reader and the writer are two connections, and each ":memory:" connection is its
            # own empty database: use a private file instead, removed on close.
            self._tmpdir = tempfile.mkdtemp(prefix="offload-store-")
            path = str(Path(self._tmpdir) / "tasks.db")
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            writer = _Writer(path, self.synchronous)
        except sqlite3.Error as exc:
            raise (_fault(exc) or exc) from exc
        try:
            await migrate(writer.conn)
        except BaseException:
            writer.conn.close()
            raise
        writer.start()
        self._writer = writer
        self._reader = _connect(path, self.synchronous)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.jobs.put(None)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        if self._reader is None:
            raise RuntimeError("SQLiteStore is not open")
        try:
            return self._reader.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise (_fault(exc) or exc) from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise RuntimeError("SQLiteStore is not open")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.jobs.put((fn, fut))
        try:
            return await fut
        except sqlite3.Error as exc:
            raise (_fault(exc) or exc) from exc

    # -- tasks --

    async def create(self, record: TaskRecord) -> None:
        row = _sql.insert_values(record, check_record(record), _keep)
        owner = record.owner

        def op(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_INSERT, row)
            except sqlite3.IntegrityError as exc:  # a duplicate id: the ValueError every backend raises
                if exc.sqlite_errorname != "SQLITE_CONSTRAINT_PRIMARYKEY":
                    raise
                raise ValueError(f"task {record.task_id!r} already exists") from exc
            if owner is not None:
                conn.execute(_KNOW_OWNER, (owner,))

        await self._write(op)

    async def get(self, task_id: str) -> TaskRecord | None:
        rows = self._query(f"SELECT {COLUMNS} FROM tasks WHERE task_id=?", (task_id,))
        return _record(rows[0]) if rows else None

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        check_change(change)
        sets: list[str] = []
        args: list[Any] = []
        for key, value in change.items():
            sets.append(f"{key}=?")
            args.append(dump_json(key, value) if key in ("result", "error", "input_requests") else value)
            if key == "ttl_ms":
                sets.append("expires_ms=CASE WHEN ? IS NULL THEN NULL ELSE created_ms + ? END")
                args.extend([value, value])
        sets.append("updated_ms=MAX(updated_ms, ?)")
        args.append(now_ms())
        new_owner = change.get("owner")
        where = f"task_id=? AND status IN {_LIVE}" + (" AND owner=?" if owner is not None else "")
        params = (*args, task_id) if owner is None else (*args, task_id, owner)
        statement = f"UPDATE tasks SET {', '.join(sets)} WHERE {where} RETURNING {COLUMNS}"

        def op(conn: sqlite3.Connection) -> TaskRecord | None:
            row = conn.execute(statement, params).fetchone()
            if row is None:
                return None
            if new_owner is not None:
                conn.execute(_KNOW_OWNER, (new_owner,))
            return _record(row)

        return await self._write(op)

    async def answer(self, task_id: str, responses: dict[str, Any], *, hold: bool = True) -> dict[str, Any]:
        if not responses:
            return {}
        stamp = now_ms()
        encoded = {k: dump_json("answer", v) for k, v in responses.items()}

        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute(
                f"SELECT input_requests, status, answers FROM tasks WHERE task_id=? AND status IN {_LIVE}", (task_id,)
            ).fetchone()
            if row is None:
                return {}
            outstanding: dict[str, Any] = load_json(row[0]) or {}
            taken = {k: load_json(encoded[k]) for k in responses if k in outstanding}
            if not taken:
                return {}
            entries = [
                (task_id, k, dump_json("journal", journal_entry(outstanding.pop(k), v))) for k, v in taken.items()
            ]
            waiting = dump_json("answers", {**(load_json(row[2]) or {}), **taken}) if hold else row[2]
            status = "working" if not outstanding and row[1] == "input_required" else row[1]
            conn.execute(
                "UPDATE tasks SET input_requests=?, status=?, answers=?, updated_ms=MAX(updated_ms, ?) WHERE task_id=?",
                (dump_json("input_requests", outstanding), status, waiting, stamp, task_id),
            )
            conn.executemany(_JOURNAL_PUT, entries)
            return taken

        return await self._write(op)

    async def journal(self, task_id: str) -> dict[str, Any]:
        rows = self._query("SELECT key, entry FROM task_journal WHERE task_id=?", (task_id,))
        return {key: load_json(entry) for key, entry in rows}

    async def record(self, task_id: str, key: str, entry: dict[str, Any], *, owner: str) -> bool:
        check_value("journal key", key)
        args = (task_id, key, dump_json("journal entry", entry) or "null", task_id, owner)
        return await self._write(lambda conn: conn.execute(_JOURNAL_RECORD, args).rowcount > 0)

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute("SELECT answers FROM tasks WHERE task_id=?", (task_id,)).fetchone()
            if row is None or row[0] is None:
                return {}
            conn.execute("UPDATE tasks SET answers=NULL WHERE task_id=?", (task_id,))
            taken: dict[str, Any] = load_json(row[0])
            return taken

        return await self._write(op)

    async def answered_tasks(self, owner: str) -> list[str]:
        rows = self._query(
            # The small answers index, not the live-owner one: that would visit every task the owner runs.
            f"SELECT task_id FROM tasks INDEXED BY tasks_answers "
            f"WHERE owner=? AND answers IS NOT NULL AND status IN {_LIVE}",
            (owner,),
        )
        return [r[0] for r in rows]

    async def changed_since(self, task_ids: Collection[str], since_ms: int) -> list[TaskRecord]:
        # PRAGMA data_version moves on a connection when another connection commits. Every write of
        # this process goes through the writer connection, so on that one it moves only when another
        # process wrote: if it did not, nothing changed that this process did not announce itself.
        # Several callers ask (the runtime's sweep, the push watcher): each must see a foreign write
        # once it looks back past the moment it was noticed, not only the first caller to look.
        checked_at = now_ms()
        version = await self._write(lambda conn: conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._data_version:
            self._data_version = version
            self._foreign_at = checked_at
        if self._foreign_at is None or since_ms >= self._foreign_at:
            return []
        rows = self._query("SELECT task_id FROM tasks WHERE updated_ms >= ?", (since_ms,))
        out: list[TaskRecord] = []
        for (task_id,) in rows:
            if task_id in task_ids and (record := await self.get(task_id)) is not None:
                out.append(record)
        return out

    async def count_live(self, principal: str | None) -> int:
        rows = self._query(f"SELECT COUNT(*) FROM tasks WHERE principal IS ? AND status IN {_LIVE}", (principal,))
        return int(rows[0][0])

    async def purge_expired(self, at_ms: int) -> int:
        batch = self.purge_batch

        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tasks WHERE task_id IN "
                "(SELECT task_id FROM tasks WHERE expires_ms IS NOT NULL AND expires_ms <= ? LIMIT ?)",
                (at_ms, batch),
            ).rowcount

        total = 0
        while True:  # one writer job per batch: other writes get their turn in between
            deleted = await self._write(op)
            total += deleted
            if deleted < batch:
                return total

    # -- instances --

    async def heartbeat(self, owner: str, until_ms: int, *, at_ms: int | None = None) -> bool:
        at = now_ms() if at_ms is None else at_ms

        def op(conn: sqlite3.Connection) -> bool:
            prev = conn.execute("SELECT alive_until_ms FROM instances WHERE owner=?", (owner,)).fetchone()
            conn.execute(
                "INSERT INTO instances (owner, alive_until_ms) VALUES (?, ?) "
                "ON CONFLICT (owner) DO UPDATE SET alive_until_ms=excluded.alive_until_ms",
                (owner, until_ms),
            )
            return prev is not None and prev[0] >= at

        return await self._write(op)

    async def release(self, owner: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO instances (owner, alive_until_ms) VALUES (?, 0) "
                "ON CONFLICT (owner) DO UPDATE SET alive_until_ms=0",
                (owner,),
            )

        await self._write(op)

    async def owned(self, owner: str) -> list[str]:
        rows = self._query(f"SELECT task_id FROM tasks WHERE owner=? AND status IN {_LIVE}", (owner,))
        return [r[0] for r in rows]

    async def claim_orphans(self, at_ms: int, owner: str, limit: int = 100) -> list[TaskRecord]:
        if limit <= 0:
            return []
        take = (
            f"UPDATE tasks SET owner=?, attempts=attempts+1 WHERE task_id IN ("
            f"SELECT task_id FROM tasks WHERE status IN {_LIVE} AND owner {{}} ORDER BY created_ms LIMIT ?"
            f") RETURNING {COLUMNS}"
        )

        def op(conn: sqlite3.Connection) -> list[TaskRecord]:
            # Queued tasks first, then those of dead owners, each through the live-owner index.
            rows = conn.execute(take.format("IS NULL"), (owner, limit)).fetchall()
            claimed = sorted((_record(r) for r in rows), key=lambda rec: rec.created_ms)  # RETURNING has no order
            dead = conn.execute(
                "SELECT owner FROM instances WHERE alive_until_ms < ? AND owner != ? ORDER BY alive_until_ms LIMIT ?",
                (at_ms, owner, DEAD_OWNERS_PER_CLAIM),
            ).fetchall()
            for (gone,) in dead:
                room = limit - len(claimed)
                if room > 0:
                    rows = conn.execute(take.format("= ?"), (owner, gone, room)).fetchall()
                    claimed.extend(_record(r) for r in rows)
                conn.execute(
                    f"DELETE FROM instances WHERE owner=? AND NOT EXISTS "
                    f"(SELECT 1 FROM tasks WHERE owner=? AND status IN {_LIVE})",
                    (gone, gone),
                )
            if claimed:
                conn.execute(_KNOW_OWNER, (owner,))
            return claimed

        return await self._write(op)

    # -- operations: the admin CLI and the console (offload.ops) --

    async def _scan(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a query that may read the whole table on a connection of its own, off the event
        loop: a server mounting the console keeps answering while an operator lists tasks.
        (Indexes that would make these cheap on big tables are listed in docs/operations.md.)"""
        path = self._query("PRAGMA database_list")[0][2]

        def run() -> T:
            conn = sqlite3.connect(path, timeout=30)
            conn.row_factory = sqlite3.Row  # what `_record` reads
            try:
                return fn(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    async def query_tasks(self, q: TaskQuery) -> tuple[list[TaskRecord], str | None]:
        where: list[str] = []
        args: list[Any] = []
        if q.statuses:
            where.append(f"status IN ({','.join('?' * len(q.statuses))})")
            args.extend(q.statuses)
        for column, value in (("tool", q.tool), ("principal", q.principal)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        if q.older_than_ms is not None:
            where.append("created_ms < ?")
            args.append(q.older_than_ms)
        if q.after is not None:
            where.append("(created_ms, task_id) < (?, ?)")
            args.extend(q.after)
        sql = f"SELECT {COLUMNS} FROM tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_ms DESC, task_id DESC LIMIT ?"
        args.append(q.limit + 1)
        rows = await self._scan(lambda conn: conn.execute(sql, args).fetchall())
        return q.page([_record(r) for r in rows])

    async def stats(self) -> dict[str, Any]:

        rows = await self._scan(
            lambda conn: conn.execute("SELECT tool, status, COUNT(*) FROM tasks GROUP BY tool, status").fetchall()
        )
        return count_stats(rows)

    async def purge_tasks(self, task_ids: list[str]) -> list[str]:
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            return []

        def op(conn: sqlite3.Connection) -> list[str]:
            gone: list[str] = []
            for tid in ids:
                row = conn.execute(
                    f"DELETE FROM tasks WHERE task_id=? AND status NOT IN {_LIVE} RETURNING task_id", (tid,)
                ).fetchone()
                if row is not None:
                    gone.append(row[0])
            return gone

        return await self._write(op)


__all__ = ["SCHEMA_VERSION", "SYNCHRONOUS", "SQLiteStore", "migrate"]
