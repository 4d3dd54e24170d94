"""Blobs and tool durations on every backend (memory, SQLite, Redis, PostgreSQL), real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from offload.store import TaskRecord, TaskStore, now_ms
from offload.store.blobs import BlobStore
from offload.store.sidecars import blob_store_for, duration_log_for
from store_contract import BACKENDS

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=list(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TaskStore]:
    backend = await BACKENDS[request.param](tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


def _log_text(lines: int) -> bytes:
    return "".join(f"line {i} ü {'x' * (i % 97)}\n" for i in range(1, lines + 1)).encode()


async def test_durations_keep_the_most_recent_per_tool(store: TaskStore) -> None:
    log = duration_log_for(store)
    assert await log.recent("build") == []
    for ms in range(log.keep + 10):
        await log.add("build", ms)
    await log.add("other", 7)
    assert await log.recent("build") == list(range(10, log.keep + 10))
    assert await log.recent("other") == [7]


async def test_a_blob_reads_back_whole_and_in_byte_and_line_ranges(store: TaskStore) -> None:
    blobs = blob_store_for(store)
    blobs.chunk_bytes = 4096  # many chunks, so ranges cross chunk boundaries
    data = _log_text(3000)
    index = await blobs.put("t1", 0, data, now_ms() + 60_000)
    assert index.size == len(data) and sum(index.newlines) == 3000
    assert await blobs.index("t1", 0) == index
    assert await blobs.read_bytes("t1", 0, 0, len(data) + 10) == data
    assert await blobs.read_bytes("t1", 0, 5000, 9000) == data[5000:9000]
    lines = data.decode().splitlines(keepends=True)
    for first, last in [(1, 1), (1, 3), (250, 260), (999, 1400), (2990, None), (3000, 3000)]:
        got = await blobs.read_lines("t1", 0, first, last)
        assert got.decode() == "".join(lines[first - 1 : last]), (first, last)
    assert await blobs.read_lines("t1", 0, 3001, 3005) == b""
    assert await blobs.read_bytes("t1", 1, 0, 10) == b"" and await blobs.index("t1", 1) is None


async def test_a_blob_without_a_final_newline_and_an_empty_blob(store: TaskStore) -> None:
    blobs = blob_store_for(store)
    blobs.chunk_bytes = 8
    await blobs.put("t2", 0, b"alpha\nbeta\ngamma", None)
    assert await blobs.read_lines("t2", 0, 3, 3) == b"gamma"
    assert await blobs.read_lines("t2", 0, 2, None) == b"beta\ngamma"
    await blobs.put("t2", 1, b"", None)
    assert await blobs.read_bytes("t2", 1, 0, 10) == b""
    await blobs.delete("t2")
    assert await blobs.index("t2", 0) is None


async def test_blobs_go_when_their_task_is_purged(store: TaskStore) -> None:
    blobs: BlobStore = blob_store_for(store)
    created = now_ms() - 10_000
    record = TaskRecord(task_id="purged", tool="log", status="completed", created_ms=created, ttl_ms=1000)
    await store.create(record)
    await blobs.put("purged", 0, b"payload\n" * 100, record.expires_ms)
    keep = TaskRecord(task_id="kept", tool="log", status="completed", ttl_ms=3_600_000)
    await store.create(keep)
    await blobs.put("kept", 0, b"stays\n", keep.expires_ms)
    assert await store.purge_expired(now_ms()) == 1
    if type(store).__name__ == "RedisStore":
        # Redis expires the keys itself, a grace period after the task: check the deadline it set.
        import redis.asyncio as aioredis

        from redis_server import redis_url

        client = aioredis.Redis.from_url(redis_url())
        try:
            prefix = store.prefix  # type: ignore[attr-defined]
            deadline = now_ms() + await client.pttl(f"{prefix}blobdata:purged:0")
        finally:
            await client.aclose()
        assert record.expires_ms is not None and record.expires_ms < deadline <= 1000 + record.expires_ms + 300_000
    elif type(store).__name__ == "MemoryStore":
        await blobs.put("next", 0, b"x", None)  # the memory store drops expired blobs as new ones arrive
        assert await blobs.index("purged", 0) is None
    else:
        assert await blobs.index("purged", 0) is None
    assert await blobs.read_bytes("kept", 0, 0, 100) == b"stays\n"


async def test_two_store_objects_share_blobs_and_durations(store: TaskStore, tmp_path: Path) -> None:
    if type(store).__name__ == "MemoryStore":
        pytest.skip("the memory store is one process's")
    from offload.store import open_store

    other: TaskStore
    if type(store).__name__ == "SQLiteStore":
        other = open_store(store.url)
    elif type(store).__name__ == "RedisStore":
        from offload.store.redis import RedisStore

        other = RedisStore(store._conn_url, prefix=store.prefix)  # type: ignore[attr-defined]
    else:
        from offload.store.postgres import PostgresStore

        other = PostgresStore(store._dsn)  # type: ignore[attr-defined]
    await other.open()
    try:
        await duration_log_for(store).add("shared", 1234)
        assert await duration_log_for(other).recent("shared") == [1234]
        await blob_store_for(store).put("s", 3, b"one\ntwo\n", None)
        assert await blob_store_for(other).read_lines("s", 3, 2, 2) == b"two\n"
    finally:
        await other.close()
