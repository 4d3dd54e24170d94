"""SQLite store, the default: one file, WAL mode, writes group-committed on one thread.

Reads run on the event loop's own connection: a primary-key lookup costs microseconds, less
than a hop to a thread. Writes go to a single writer thread that commits every write waiting
in its queue in one transaction, so many concurrent task creations share one fsync-free WAL
commit (`synchronous=NORMAL`: durable across a process crash, which is what a restart needs).
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from offload.store.base import Change, TaskRecord, TaskStore, now_ms

T = TypeVar("T")

SCHEMA_VERSION = 3
_LIVE = "('working','input_required')"

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE tasks (
            task_id TEXT PRIMARY KEY,
            tool TEXT NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            ttl_ms INTEGER,
            expires_ms INTEGER,
            poll_interval_ms INTEGER,
            principal TEXT,
            owner TEXT,
            lease_ms INTEGER,
            attempts INTEGER NOT NULL DEFAULT 1,
            result TEXT,
            error TEXT,
            input_requests TEXT,
            request TEXT
        ) WITHOUT ROWID""",
        "CREATE INDEX tasks_expires ON tasks(expires_ms) WHERE expires_ms IS NOT NULL",
        f"CREATE INDEX tasks_lease ON tasks(lease_ms) WHERE status IN {_LIVE}",
    ],
    # v2: answers given on one instance wait here for the instance running the task.
    2: [
        "ALTER TABLE tasks ADD COLUMN answers TEXT",
        "CREATE INDEX tasks_answers ON tasks(owner) WHERE answers IS NOT NULL",
    ],
    # v3: large result items in chunks, gone with their task; recent durations per tool (sqlite_sidecar.py).
    3: [
        """CREATE TABLE task_blobs (
            task_id TEXT NOT NULL,
            n INTEGER NOT NULL,
            chunk INTEGER NOT NULL,
            size INTEGER NOT NULL,
            newlines INTEGER NOT NULL,
            expires_ms INTEGER,
            data BLOB NOT NULL,
            PRIMARY KEY (task_id, n, chunk)
        )""",
        "CREATE INDEX task_blobs_expires ON task_blobs(expires_ms) WHERE expires_ms IS NOT NULL",
        "CREATE TRIGGER task_blobs_purge AFTER DELETE ON tasks BEGIN "
        "DELETE FROM task_blobs WHERE task_id = OLD.task_id; END",
        "CREATE TABLE tool_durations (tool TEXT PRIMARY KEY, samples TEXT NOT NULL)",
    ],
}

_COLUMNS = (
    "task_id, tool, status, status_message, created_ms, updated_ms, ttl_ms, poll_interval_ms, "
    "principal, owner, lease_ms, attempts, result, error, input_requests, request"
)
_JSON_FIELDS = ("result", "error", "input_requests", "request")


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _row_to_record(row: tuple[Any, ...]) -> TaskRecord:
    (tid, tool, status, msg, created, updated, ttl, poll, principal, owner, lease, attempts, res, err, inp, req) = row
    return TaskRecord(
        task_id=tid,
        tool=tool,
        status=status,
        status_message=msg,
        created_ms=created,
        updated_ms=updated,
        ttl_ms=ttl,
        poll_interval_ms=poll,
        principal=principal,
        owner=owner,
        lease_ms=lease,
        attempts=attempts,
        result=None if res is None else json.loads(res),
        error=None if err is None else json.loads(err),
        input_requests={} if inp is None else json.loads(inp),
        request=None if req is None else json.loads(req),
    )


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION, one numbered step at a time; return the version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"store schema v{version} is newer than this offload (v{SCHEMA_VERSION})")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for stmt in _MIGRATIONS[step]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version={step}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


class _Writer(threading.Thread):
    """One thread owning the write connection; commits queued operations in batches."""

    def __init__(self, path: str) -> None:
        super().__init__(name="offload-sqlite-writer", daemon=True)
        self.conn = _connect(path)
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
    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._reader: sqlite3.Connection | None = None
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
        writer = _Writer(path)
        try:
            migrate(writer.conn)
        except BaseException:
            writer.conn.close()
            raise
        writer.start()
        self._writer = writer
        self._reader = _connect(path)

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

    def _read(self) -> sqlite3.Connection:
        if self._reader is None:
            raise RuntimeError("SQLiteStore is not open")
        return self._reader

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise RuntimeError("SQLiteStore is not open")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writer.jobs.put((fn, fut))
        return await fut

    # -- interface --

    async def create(self, record: TaskRecord) -> None:
        row = (
            record.task_id,
            record.tool,
            record.status,
            record.status_message,
            record.created_ms,
            record.updated_ms,
            record.ttl_ms,
            record.expires_ms,
            record.poll_interval_ms,
            record.principal,
            record.owner,
            record.lease_ms,
            record.attempts,
            _dump(record.result),
            _dump(record.error),
            _dump(record.input_requests),
            _dump(record.request),
        )

        def op(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tasks (task_id, tool, status, status_message, created_ms, updated_ms, ttl_ms, "
                    "expires_ms, poll_interval_ms, principal, owner, lease_ms, attempts, result, error, "
                    "input_requests, request) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
            except sqlite3.IntegrityError as exc:  # a duplicate id: the ValueError every backend raises
                if exc.sqlite_errorname != "SQLITE_CONSTRAINT_PRIMARYKEY":
                    raise
                raise ValueError(f"task {record.task_id!r} already exists") from exc

        await self._write(op)

    async def get(self, task_id: str) -> TaskRecord | None:
        row = self._read().execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id=?", (task_id,)).fetchone()
        return None if row is None else _row_to_record(row)

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        sets: list[str] = []
        args: list[Any] = []
        for key, value in change.items():
            sets.append(f"{key}=?")
            args.append(_dump(value) if key in _JSON_FIELDS else value)
            if key == "ttl_ms":
                sets.append("expires_ms=CASE WHEN ? IS NULL THEN NULL ELSE created_ms + ? END")
                args.extend([value, value])
        stamp = now_ms()
        sets.append("updated_ms=MAX(updated_ms, ?)")
        args.append(stamp)

        def op(conn: sqlite3.Connection) -> TaskRecord | None:
            where = f"task_id=? AND status IN {_LIVE}" + (" AND owner=?" if owner is not None else "")
            params = (*args, task_id) if owner is None else (*args, task_id, owner)
            cur = conn.execute(f"UPDATE tasks SET {', '.join(sets)} WHERE {where}", params)
            if cur.rowcount == 0:
                return None
            row = conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id=?", (task_id,)).fetchone()
            return _row_to_record(row)

        return await self._write(op)

    async def answer(self, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
        stamp = now_ms()

        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute(
                f"SELECT input_requests, status, answers FROM tasks WHERE task_id=? AND status IN {_LIVE}", (task_id,)
            ).fetchone()
            if row is None:
                return {}
            outstanding: dict[str, Any] = json.loads(row[0]) if row[0] else {}
            taken = {k: v for k, v in responses.items() if k in outstanding}
            if not taken:
                return {}
            for key in taken:
                del outstanding[key]
            waiting = {**(json.loads(row[2]) if row[2] else {}), **taken}
            status = "working" if not outstanding and row[1] == "input_required" else row[1]
            conn.execute(
                "UPDATE tasks SET input_requests=?, status=?, answers=?, updated_ms=MAX(updated_ms, ?) WHERE task_id=?",
                (_dump(outstanding), status, _dump(waiting), stamp, task_id),
            )
            return taken

        return await self._write(op)

    async def take_answers(self, task_id: str) -> dict[str, Any]:
        def op(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute("SELECT answers FROM tasks WHERE task_id=?", (task_id,)).fetchone()
            if row is None or row[0] is None:
                return {}
            conn.execute("UPDATE tasks SET answers=NULL WHERE task_id=?", (task_id,))
            taken: dict[str, Any] = json.loads(row[0])
            return taken

        return await self._write(op)

    async def answered_tasks(self, owner: str) -> list[str]:
        rows = (
            self._read()
            .execute(f"SELECT task_id FROM tasks WHERE owner=? AND answers IS NOT NULL AND status IN {_LIVE}", (owner,))
            .fetchall()
        )
        return [r[0] for r in rows]

    async def purge_expired(self, at_ms: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM tasks WHERE expires_ms IS NOT NULL AND expires_ms <= ?", (at_ms,)).rowcount

        return await self._write(op)

    async def claim_orphans(self, at_ms: int, owner: str, lease_ms: int, limit: int = 100) -> list[TaskRecord]:
        def op(conn: sqlite3.Connection) -> list[TaskRecord]:
            rows = conn.execute(
                f"UPDATE tasks SET owner=?, lease_ms=?, attempts=attempts+1 WHERE task_id IN ("
                f"SELECT task_id FROM tasks WHERE status IN {_LIVE} AND lease_ms < ? LIMIT ?) "
                f"RETURNING {_COLUMNS}",
                (owner, lease_ms, at_ms, limit),
            ).fetchall()
            return [_row_to_record(r) for r in rows]

        return await self._write(op)

    async def renew(self, owner: str, task_ids: list[str], lease_ms: int) -> list[str]:
        if not task_ids:
            return []

        def op(conn: sqlite3.Connection) -> list[str]:
            lost: list[str] = []
            for tid in task_ids:
                cur = conn.execute(
                    f"UPDATE tasks SET lease_ms=? WHERE task_id=? AND owner=? AND status IN {_LIVE}",
                    (lease_ms, tid, owner),
                )
                if cur.rowcount == 0:
                    lost.append(tid)
            return lost

        return await self._write(op)
