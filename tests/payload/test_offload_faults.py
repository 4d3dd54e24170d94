"""Offloading under faults, and the read rules, in process with the real runtime and a memory store."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from offload.protocol.links import parse_blob_uri
from offload.runtime import TaskDispatch, TaskPolicy, TaskRuntime
from offload.runtime.lifecycle import EXPIRED_GRACE_MS
from offload.store import MemoryStore, TaskRecord, now_ms
from offload.store.blobs import BlobIndex, BlobStore

pytestmark = pytest.mark.anyio

POLICY = TaskPolicy(mode="optional", budget_s=0.0)
BIG = {"content": [{"type": "text", "text": "".join(f"line {i}\n" for i in range(20_000))}]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FlakyBlobs(BlobStore):
    """A blob store whose first `failures` writes fail as an unreachable server's would."""

    def __init__(self, inner: BlobStore, failures: int) -> None:
        self.inner, self.failures = inner, failures

    async def _write_chunks(self, task_id: str, n: int, chunks: list[tuple[int, bytes, int]], exp: int | None) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("blob store unreachable")
        await self.inner._write_chunks(task_id, n, chunks, exp)

    async def _index(self, task_id: str, n: int) -> BlobIndex | None:
        return await self.inner._index(task_id, n)

    async def _read_chunks(self, task_id: str, n: int, first: int, last: int) -> list[bytes]:
        return await self.inner._read_chunks(task_id, n, first, last)

    async def delete(self, task_id: str) -> None:
        await self.inner.delete(task_id)


async def until_terminal(store: MemoryStore, task_id: str) -> TaskRecord:
    with anyio.fail_after(30):
        while True:
            record = await store.get(task_id)
            if record is not None and record.terminal:
                return record
            await anyio.sleep(0.01)


async def test_a_result_survives_a_blob_store_that_fails_for_a_while() -> None:
    store = MemoryStore()
    runtime = TaskRuntime(store, sweep_interval_s=60)
    flaky = FlakyBlobs(runtime.offloader.blobs(), failures=2)
    runtime.offloader.blobs = lambda: flaky  # type: ignore[method-assign]

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await anyio.sleep(0.01)
        return BIG

    async with runtime.running():
        ex = runtime.start(tool, tool="t", policy=POLICY)
        await ex.promote()
        done = await until_terminal(store, ex.task_id)
    assert done.status == "completed" and flaky.failures == 0  # written after the store came back
    link = done.result["content"][1] if done.result else {}
    ref = parse_blob_uri(link["uri"])
    assert ref is not None and await flaky.read_lines(ref.task_id, ref.n, 20_000, 20_000) == b"line 19999\n"


async def test_reads_need_a_visible_task_and_a_linked_item() -> None:
    from mcp.server.mcpserver import MCPServer

    from offload.server.resources import BlobReads

    store = MemoryStore()
    runtime = TaskRuntime(store, sweep_interval_s=60)

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await anyio.sleep(0.01)
        return BIG

    async with runtime.running():
        ex = runtime.start(tool, tool="t", policy=POLICY, principal="alice")
        await ex.promote()
        done = await until_terminal(store, ex.task_id)
        reads = BlobReads(runtime, MCPServer("x"), max_read_bytes=1000)
        assert done.result is not None
        ref = parse_blob_uri(done.result["content"][1]["uri"] + "?lines=1:500")
        assert ref is not None
        page = await reads.read(ref, "alice")
        assert page is not None and page["text"].startswith("line 0\n")
        meta = page["_meta"]["offload/range"]
        assert meta["truncated"] and meta["lines"][1] < 500 and meta["next"].endswith(f":{500}")
        assert len(page["text"].encode()) <= 1000
        assert await reads.read(ref, "bob") is None  # another principal: as unknown
        assert await reads.read(ref, None) is None
        # Expired (the TTL passed): unknown too, even before the sweeper purges it.
        stored = store._tasks[ex.task_id]
        stored.ttl_ms = 1  # a terminal task takes no update: age it directly, as time would
        assert stored.expired(now_ms())
        assert await reads.read(ref, "alice") is None
        await store.purge_expired(now_ms() + EXPIRED_GRACE_MS)
        assert await store.get(ex.task_id) is None
