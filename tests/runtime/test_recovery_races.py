"""The runtime's state machine in-process, on the memory store: promotion races and store hiccups."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from offload.runtime import TaskPolicy, TaskRuntime
from offload.runtime.execution import TaskDispatch
from offload.store import Change, MemoryStore, TaskRecord


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FlakyStore(MemoryStore):
    """Fails the first `failures` terminal writes, as a store failing over would."""

    def __init__(self, failures: int = 0, create_delay: float = 0.0) -> None:
        super().__init__()
        self.failures = failures
        self.create_delay = create_delay

    async def create(self, record: TaskRecord) -> None:
        await anyio.sleep(self.create_delay)
        await super().create(record)

    async def update(self, task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        if change.get("status") in ("completed", "failed", "cancelled") and self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unreachable")
        return await super().update(task_id, change, owner=owner)


async def _settle(store: MemoryStore, task_id: str) -> TaskRecord:
    with anyio.fail_after(30):
        while True:
            record = await store.get(task_id)
            if record is not None and record.terminal:
                return record
            await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_a_finished_result_survives_a_store_hiccup() -> None:
    store = FlakyStore(failures=3)
    runtime = TaskRuntime(store, sweep_interval_s=60)
    gate = anyio.Event()

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await gate.wait()
        return {"content": [{"type": "text", "text": "done"}]}

    async with runtime.running():
        ex = runtime.start(tool, tool="t", policy=TaskPolicy(mode="optional"))
        await ex.promote()
        gate.set()
        record = await _settle(store, ex.task_id)
    assert store.failures == 0  # every failure was met with a retry
    assert record.status == "completed"
    assert record.result == {"content": [{"type": "text", "text": "done"}]}


@pytest.mark.anyio
async def test_a_tool_that_finishes_while_its_task_is_being_stored_is_written_once() -> None:
    store = FlakyStore(create_delay=0.2)  # the tool settles during the create
    runtime = TaskRuntime(store, sweep_interval_s=60)
    writes: list[Change] = []
    original = store.update

    async def counting_update(task_id: str, change: Change, *, owner: str | None = None) -> TaskRecord | None:
        writes.append(change)
        return await original(task_id, change, owner=owner)

    store.update = counting_update  # type: ignore[method-assign]

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await anyio.sleep(0.05)
        return {"content": [], "isError": False}

    async with runtime.running():
        ex = runtime.start(tool, tool="t", policy=TaskPolicy(mode="optional"))
        created = await ex.promote()
        assert created.status == "working"  # stored before the tool finished...
        record = await _settle(store, ex.task_id)
    assert record.status == "completed"  # ...and completed by exactly one write afterwards
    assert [w["status"] for w in writes if "status" in w] == ["completed"]


@pytest.mark.anyio
async def test_an_instance_that_lost_its_task_cannot_complete_it() -> None:
    store = MemoryStore()
    first = TaskRuntime(store, sweep_interval_s=60, lease_s=0.05, instance_id="first")
    second = TaskRuntime(store, sweep_interval_s=60, lease_s=30, instance_id="second")
    gate = anyio.Event()

    async def tool(dispatch: TaskDispatch) -> dict[str, Any]:
        await gate.wait()
        return {"content": [{"type": "text", "text": "first"}]}

    async with first.running(), second.running():
        ex = first.start(tool, tool="t", policy=TaskPolicy(mode="optional"))
        await ex.promote()
        await anyio.sleep(0.1)  # the first instance stops heartbeating: it is dead
        claimed = await store.claim_orphans(10**15, "second")
        assert [r.task_id for r in claimed] == [ex.task_id]
        gate.set()
        with anyio.fail_after(10):
            while not ex.settled:
                await anyio.sleep(0.01)
        record = await store.get(ex.task_id)
        assert record is not None and record.status == "working" and record.owner == "second"
