"""Blobs and tool durations in the PostgreSQL store's database (tables of schema v2, see `postgres.py`).

They use the store's pool. A trigger on `offload_tasks` deletes a task's blobs with the task; a
tool's durations are one array row, appended to and trimmed in a single atomic upsert.
"""

from __future__ import annotations

from offload.store.blobs import BlobIndex, SidecarBlobStore, chunk_rows
from offload.store.durations import SidecarDurationLog
from offload.store.postgres import PostgresStore
from offload.store.record import now_ms

__all__ = ["PostgresBlobStore", "PostgresDurationLog"]


class PostgresBlobStore(SidecarBlobStore[PostgresStore]):
    async def _write_chunks(
        self, task_id: str, n: int, chunks: list[tuple[int, bytes, int]], expires_ms: int | None
    ) -> None:
        async with self.store._conn() as conn, conn.transaction():
            if chunks[0][0] == 0:  # blobs whose task never took them go once expired
                await conn.execute("DELETE FROM offload_blobs WHERE expires_ms <= $1", now_ms())
            await conn.executemany(
                "INSERT INTO offload_blobs (task_id, n, chunk, size, newlines, expires_ms, data) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (task_id, n, chunk) DO UPDATE SET "
                "size=EXCLUDED.size, newlines=EXCLUDED.newlines, expires_ms=EXCLUDED.expires_ms, data=EXCLUDED.data",
                chunk_rows(task_id, n, chunks, expires_ms),
            )

    async def _index(self, task_id: str, n: int) -> BlobIndex | None:
        rows = await self.store._fetch(
            "SELECT size, newlines FROM offload_blobs WHERE task_id=$1 AND n=$2 ORDER BY chunk", task_id, n
        )
        if not rows:
            return None
        return BlobIndex(tuple(int(r[0]) for r in rows), tuple(int(r[1]) for r in rows))

    async def _read_chunks(self, task_id: str, n: int, first: int, last: int) -> list[bytes]:
        rows = await self.store._fetch(
            "SELECT data FROM offload_blobs WHERE task_id=$1 AND n=$2 AND chunk BETWEEN $3 AND $4 ORDER BY chunk",
            task_id,
            n,
            first,
            last,
        )
        return [bytes(r[0]) for r in rows]

    async def delete(self, task_id: str) -> None:
        await self.store._execute("DELETE FROM offload_blobs WHERE task_id=$1", task_id)


class PostgresDurationLog(SidecarDurationLog[PostgresStore]):
    async def add(self, tool: str, duration_ms: int) -> None:
        await self.store._execute(
            "INSERT INTO offload_durations AS d (tool, samples) VALUES ($1, ARRAY[$2::bigint]) "
            "ON CONFLICT (tool) DO UPDATE SET samples = "
            "(d.samples || $2::bigint)[GREATEST(1, cardinality(d.samples) + 2 - $3::int):]",
            tool,
            int(duration_ms),
            self.keep,
        )

    async def recent(self, tool: str) -> list[int]:
        samples = await self.store._fetchval("SELECT samples FROM offload_durations WHERE tool=$1", tool)
        return [] if samples is None else [int(v) for v in samples]
