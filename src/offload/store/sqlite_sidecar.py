"""Blobs and tool durations in the SQLite store's file (tables of schema v3, see `sqlite.py`).

They share the store's connections: reads on its event-loop reader, writes through its one writer
thread, so a large blob is written in bounded jobs that other writes interleave with.
"""

from __future__ import annotations

import json
import sqlite3

from offload.store.blobs import BlobIndex, SidecarBlobStore, chunk_rows
from offload.store.durations import SidecarDurationLog
from offload.store.record import now_ms
from offload.store.sqlite import SQLiteStore

__all__ = ["SQLiteBlobStore", "SQLiteDurationLog"]


class SQLiteBlobStore(SidecarBlobStore[SQLiteStore]):
    async def _write_chunks(
        self, task_id: str, n: int, chunks: list[tuple[int, bytes, int]], expires_ms: int | None
    ) -> None:
        first = chunks[0][0] == 0
        at = now_ms()

        def op(conn: sqlite3.Connection) -> None:
            if first:  # blobs whose task never took them (its outcome was not stored) go once expired
                conn.execute("DELETE FROM task_blobs WHERE expires_ms IS NOT NULL AND expires_ms <= ?", (at,))
            conn.executemany(
                "INSERT OR REPLACE INTO task_blobs (task_id, n, chunk, size, newlines, expires_ms, data) "
                "VALUES (?,?,?,?,?,?,?)",
                chunk_rows(task_id, n, chunks, expires_ms),
            )

        await self.store._write(op)

    async def _index(self, task_id: str, n: int) -> BlobIndex | None:
        rows = self.store._query(
            "SELECT size, newlines FROM task_blobs WHERE task_id=? AND n=? ORDER BY chunk", (task_id, n)
        )
        if not rows:
            return None
        return BlobIndex(tuple(r[0] for r in rows), tuple(r[1] for r in rows))

    async def _read_chunks(self, task_id: str, n: int, first: int, last: int) -> list[bytes]:
        rows = self.store._query(
            "SELECT data FROM task_blobs WHERE task_id=? AND n=? AND chunk BETWEEN ? AND ? ORDER BY chunk",
            (task_id, n, first, last),
        )
        return [bytes(r[0]) for r in rows]

    async def delete(self, task_id: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM task_blobs WHERE task_id=?", (task_id,))

        await self.store._write(op)


class SQLiteDurationLog(SidecarDurationLog[SQLiteStore]):
    async def add(self, tool: str, duration_ms: int) -> None:
        keep = self.keep

        def op(conn: sqlite3.Connection) -> None:  # read-modify-write is atomic on the one writer thread
            row = conn.execute("SELECT samples FROM tool_durations WHERE tool=?", (tool,)).fetchone()
            samples: list[int] = json.loads(row[0]) if row else []
            samples = [*samples, int(duration_ms)][-keep:]
            conn.execute(
                "INSERT OR REPLACE INTO tool_durations (tool, samples) VALUES (?, ?)",
                (tool, json.dumps(samples, separators=(",", ":"))),
            )

        await self.store._write(op)

    async def recent(self, tool: str) -> list[int]:
        rows = self.store._query("SELECT samples FROM tool_durations WHERE tool=?", (tool,))
        return [] if not rows else [int(v) for v in json.loads(rows[0][0])]
